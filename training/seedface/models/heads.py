"""The fitted wavelet heads of an imported student as a small file (format ``seedface-heads/1``): fp16 tensors
keyed by our parameter names plus metadata; seedface.train.heads fits them, seedface.release.from_ir loads them."""
from __future__ import annotations

from pathlib import Path

import torch

from seedface.models.student import StudentSynthesis


HEADS_FORMAT = "seedface-heads/1"


def head_names(student: StudentSynthesis) -> list[str]:
    return ["to_img1"] + [f"layers.{i}.to_img" for i in range(len(student.layers))]


def head_module(student: StudentSynthesis, k: int):
    return student.to_img1 if k == 0 else student.layers[k - 1].to_img


def heads_state(student: StudentSynthesis, levels: list[int]) -> dict:
    sd = {}
    for k, _ in enumerate(levels):
        name = head_names(student)[k]
        for pk, pv in head_module(student, k).state_dict().items():
            sd[f"{name}.{pk}"] = pv.detach().half().clone()  # fp16 on disk: half the committed bytes
    return sd


def save_heads(path: Path, student: StudentSynthesis, levels: list[int], meta: dict) -> None:
    """The fitted heads as a small file: fp16 tensors keyed by our parameter names, plus metadata. The file
    defines the heads (they are loaded back as float32 of these fp16 values everywhere)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": HEADS_FORMAT, "meta": meta, "state_dict": heads_state(student, levels)}, path)


def load_heads(path: Path, student: StudentSynthesis, expect_sha256: str | None = None) -> dict:
    ck = torch.load(path, map_location="cpu")
    if not isinstance(ck, dict) or ck.get("format") != HEADS_FORMAT:
        raise ValueError(f"{path}: not a {HEADS_FORMAT} file")
    meta = ck.get("meta", {})
    if expect_sha256 and meta.get("release_synthesis_sha256") not in (None, expect_sha256):
        raise ValueError(f"{path}: these heads were fitted to a release with SynthesisNetwork.bin sha256 "
                         f"{meta.get('release_synthesis_sha256')}, not {expect_sha256}")
    ours = student.state_dict()
    bad = [k for k, v in ck["state_dict"].items() if k not in ours or tuple(ours[k].shape) != tuple(v.shape)]
    if bad:
        raise ValueError(f"{path}: heads do not fit this student: {', '.join(bad[:8])}")
    student.load_state_dict({k: v.float() for k, v in ck["state_dict"].items()}, strict=False)
    return meta
