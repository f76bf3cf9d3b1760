"""Fixture for the TypeScript parity test (test/models/parity.test.ts): a tiny exported model directory plus the
PyTorch outputs it must reproduce.

    python -m seedface.parity_fixture --out DIR

writes DIR/model/ (mapping.onnx, student_fp32.onnx, teacher.onnx, manifest.json; made by
``seedface.export.export_model_dir``) and DIR/reference.json:

    {"seeds": [...], "z": {"shape", "data"}, "w": {...},                       # mapping, all seeds in one batch
     "cases": [{"seed", "student_w", "teacher_w", "noise": [{name, shape, data}],
                "student": {"img_8": {...}, ...}, "teacher": {"img_64": {...}}}]}

Every tensor is {"shape": [...], "data": [flat float32 values, row-major]}. z and the noise maps come from
``seedface.seeding`` (the versioned seed algorithm), so the TS side can also check its own seed derivation.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from seedface.models import build, preset
from seedface.pipeline import seeding
from seedface.release import export as ex

SEEDS = ["parity-0", "alice@example.com", "🙂 seed with spaces"]
TORCH_SEED = 1234


def _tensor(a) -> dict:
    a = np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.ravel()]}


def build_fixture(out: Path) -> dict:
    torch.manual_seed(TORCH_SEED)
    cfg = preset("tiny")
    mapping, teacher, student = build(cfg)
    with torch.no_grad():
        # Fresh models have zero noise strengths and biases; give them values so the noise inputs and biases matter.
        for mod in (teacher, student):
            for n, p in mod.named_parameters():
                if n.endswith("noise.weight") or n.endswith("bias"):
                    p.normal_(0, 0.1)
    mapping, teacher, student = mapping.eval(), teacher.eval(), student.eval()
    mean = mapping.mean_w(200)
    model_dir = out / "model"
    ex.export_model_dir(model_dir, cfg, mapping, student, teacher, mean, model_id="parity-tiny", version="0.0.1",
                        provenance={"source": "random-init", "from": "seedface.parity_fixture"}, trained=False,
                        status="untrained: parity fixture", training_data=None, quantize=False)

    z = torch.from_numpy(np.stack([seeding.latent(s, cfg.style_dim) for s in SEEDS]))
    g = torch.Generator().manual_seed(TORCH_SEED)
    ref = {"seeds": SEEDS, "torch_seed": TORCH_SEED, "z": _tensor(z)}
    with torch.no_grad():
        w = mapping(z)
        ref["w"] = _tensor(w)
        cases = []
        t_sizes = teacher.noise_sizes()
        s_count = len(student.noise_sizes())
        for i, seed in enumerate(SEEDS):
            noise = [torch.from_numpy(n) for n in seeding.noise_maps(seed, t_sizes)]
            # W+ with a different style per slot, so a slot mix-up in the graph would show.
            sw = w[i][None, None].repeat(1, student.n_w, 1) + 0.1 * torch.randn(1, student.n_w, cfg.style_dim,
                                                                                 generator=g)
            tw = w[i][None, None].repeat(1, teacher.n_w, 1) + 0.1 * torch.randn(1, teacher.n_w, cfg.style_dim,
                                                                                generator=g)
            imgs = student(sw, noise[:s_count])["imgs"]
            t_img = teacher(tw, noise)
            cases.append({
                "seed": seed,
                "student_w": _tensor(sw),
                "teacher_w": _tensor(tw),
                "noise": [{"name": f"noise_{k}", **_tensor(n)} for k, n in enumerate(noise)],
                "student": {f"img_{int(im.shape[-1])}": _tensor(im) for im in imgs},
                "teacher": {f"img_{int(t_img.shape[-1])}": _tensor(t_img)},
            })
    ref["cases"] = cases
    (out / "reference.json").write_text(json.dumps(ref))
    return ref
