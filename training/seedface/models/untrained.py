"""Build the UNTRAINED default model (random weights, fixed torch seed) and export it to a model directory.

    python -m seedface.make_default --out ../models/default [--preset default128]

With ``--set-default`` also writes ``<out>/../default.json`` = {"default": "<id>"} (the id is the output directory's name).
For plumbing and tests only: the faces are noise-like patterns, and the manifest says so.
"""
from __future__ import annotations

import torch

from seedface.models import build, preset

TORCH_SEED = 20260428
NOISE_STRENGTH = 0.1  # random init has zero noise strength; a small value makes the noise inputs observable
STATUS = "untrained: random weights, for plumbing and tests only"


def build_default(preset_name: str = "default128", n_mean: int = 10000, seed: int = TORCH_SEED):
    cfg = preset(preset_name)
    torch.manual_seed(seed)
    mapping, teacher, student = build(cfg)
    with torch.no_grad():
        for net in (teacher, student):
            for name, p in net.named_parameters():
                if name.endswith("noise.weight"):
                    p.fill_(NOISE_STRENGTH)
    mean = mapping.mean_w(n_mean, seed=seed)
    style_mean = mean.view(1, 1, -1).repeat(1, student.n_w, 1)
    return cfg, mapping, teacher, student, style_mean
