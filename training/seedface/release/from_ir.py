"""Write a model directory from the MobileStyleGAN authors' OpenVINO release (the `random-face` wheel).

mapping.onnx + student_fp32.onnx (origin, every level up to 1024) from our own modules loaded with the release's
weights and the committed fitted heads; release_noise.bin (the release's frozen noise, for exact parity with
`random_face`); the int8 edge files (seedface.edge_quant); the serving table and figures of the heads; the model
card. Called by seedface.convert, which owns the atomic directory handling.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seedface.paths import repo_root
from seedface.release import manifest as mf
from seedface.release.export import export_model_dir
from seedface.release.ir_modules import extract
from seedface.release.wheel import PINNED, open_release, style_mean
from seedface.models.heads import load_heads

HEADS_DIR = repo_root() / "training" / "heads"
MEAN_SAMPLES = 65536
RELEASE_NOISE = "release_noise.bin"
PRODUCED_BY = "npm run models:ffhq"

TRAINING_DATA = {
    "name": "FFHQ (Flickr-Faces-HQ, NVIDIA), through StyleGAN2 config-f and MobileStyleGAN distillation",
    "licence": "NON-COMMERCIAL USE ONLY: FFHQ is CC BY-NC-SA 4.0 and NVIDIA's StyleGAN2 weights are under the NVIDIA "
               "Source Code License-NC; the random-face package code is Apache-2.0, which does not extend to the "
               "weights' provenance",
    "note": "weights distilled by the MobileStyleGAN authors from StyleGAN2 trained on FFHQ; imported unchanged "
            "(heads for levels 8..512 fitted here on the frozen trunk)",
}


def heads_file_for(label: str) -> Path:
    return HEADS_DIR / f"{label}.heads.pt"


def heads_figures_for(label: str) -> Path:
    return HEADS_DIR / f"{label}.heads.json"


def write_release_noise(tmp: Path, draws: list[np.ndarray], strengths: list[float]) -> dict:
    """The release's frozen N(0,1) draws, float32 little-endian, noise_0 .. noise_K concatenated row-major."""
    data = b"".join(np.ascontiguousarray(d, dtype="<f4").tobytes() for d in draws)
    (tmp / RELEASE_NOISE).write_bytes(data)
    return {"file": RELEASE_NOISE, "sha256": mf.sha256_file(tmp / RELEASE_NOISE), "bytes": len(data),
            "dtype": "float32-le", "sizes": [int(d.shape[-1]) for d in draws],
            "strengths": [float(s) for s in strengths],
            "how": "each frozen constant c_k of the IR (strength x N(0,1) draw, added after its conv) gives "
                   "strength_k = std(c_k) and draw_k = c_k / strength_k; feeding draw_k as noise_k reproduces the "
                   "release exactly, per-seed noise uses strength_k with the service's own draws"}


def import_release(tmp: Path, paths: list[Path], *, model_id: str, version: str, heads: Path | None,
                   log, mean_samples: int = MEAN_SAMPLES) -> dict:

    rel = open_release(paths)
    log(f"release: {rel.label}")
    r = extract(rel.mapping_xml, rel.synthesis_xml)
    log(f"config: {r.config.resolution}px, style_dim {r.config.style_dim}, mapping {r.config.n_mlp} layers, "
        f"student channels {r.config.student_channels}; heads to supply: {', '.join(r.missing_heads)}")
    heads_path = Path(heads) if heads else heads_file_for(rel.label)
    if not heads_path.is_file():
        raise FileNotFoundError(
            f"no fitted heads for {rel.label} at {heads_path}: fit them with `python -m seedface.fit_heads "
            f"--release <wheel> --run training/runs/heads` and pass --heads training/runs/heads/heads.pt")
    meta = load_heads(heads_path, r.student, expect_sha256=rel.synthesis_bin_sha256)
    log(f"heads: {heads_path.name} ({meta.get('train_faces')} faces, {meta.get('steps')} steps)")
    sm = style_mean(r.mapping, mean_samples)
    w_plus_mean = sm.repeat(r.student.n_w, 1)
    prov = {"source": "imported", "kind": "release-ir",
            "from": rel.sources, "release": dict(PINNED, label=rel.label), "tool": "seedface.convert",
            "heads": {"file": str(heads_path.relative_to(repo_root())) if heads_path.is_relative_to(repo_root())
                      else heads_path.name, "sha256": mf.sha256_file(heads_path), **meta}}
    man = export_model_dir(tmp, r.config, r.mapping, r.student, None, w_plus_mean, model_id=model_id,
                           version=version, provenance=prov, trained=True,
                           status=f"imported: the MobileStyleGAN authors' FFHQ {r.config.resolution}px student "
                                  f"({rel.label}); non-commercial use only",
                           training_data=TRAINING_DATA, quantize=False)
    man["truncation"]["mean_source"] = (f"estimated: average mapping output over {mean_samples} z from "
                                        f"torch.Generator().manual_seed(0) (the release ships no mean)")
    man["config"]["teacher_channels"] = None
    man["networks"]["student"]["release_noise"] = write_release_noise(tmp, r.release_noise, r.noise_strengths)
    for e in man["files"]:
        if e["precision"] == "fp32":
            e["produced_by"] = PRODUCED_BY  # the origin's fp32 files are not committed
    man["networks"]["student"]["release_noise"]["produced_by"] = PRODUCED_BY
    fig = heads_figures_for(rel.label)
    if fig.is_file():
        man["networks"]["student"]["serving"] = json.loads(fig.read_text())["serving"]
    mf.validate(man, tmp)
    mf.save(tmp, man)
    return {"student": True, "label": rel.label}


def load_release_noise(model_dir: Path) -> list[np.ndarray]:
    """The release's own frozen noise draws of an imported model, noise_0 .. noise_K as [1, 1, s, s] float32.
    Feeding them (instead of the seed's noise) reproduces `random_face`'s images exactly for the same w."""
    model_dir = Path(model_dir)
    spec = mf.load(model_dir)["networks"]["student"].get("release_noise")
    if not spec:
        raise ValueError(f"{model_dir}: not an imported release (no networks.student.release_noise)")
    path = model_dir / spec["file"]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: `{spec.get('produced_by', 'npm run models:ffhq')}` makes it")
    if mf.sha256_file(path) != spec["sha256"]:
        raise ValueError(f"{path}: sha256 differs from the manifest")
    flat = np.frombuffer(path.read_bytes(), dtype="<f4")
    out, off = [], 0
    for s in spec["sizes"]:
        out.append(flat[off:off + s * s].reshape(1, 1, s, s).astype(np.float32))
        off += s * s
    return out
