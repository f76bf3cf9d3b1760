"""`npm run models:faces64`: make models/faces64/teacher.onnx (not committed: 12.8 MB) from the shipped teacher
checkpoint, byte for byte the file its manifest lists.

    python -m seedface.models_faces64 [--out models/faces64] [--manifest OUT/manifest.json]
                                      [--checkpoint training/checkpoints/faces64/teacher.pt] [--force]

The teacher network is exported (seedface.export.export_teacher, with its onnxruntime parity check) from the
checkpoint's published `state_dict` (the EMA teacher, fp32) into a temp file next to the target; its sha256 and
size must be the manifest's teacher.onnx entry, then it is renamed into place. If they differ (another
torch/onnx version exports other bytes) the temp file is deleted, nothing is written, and the command fails
saying what differs. An existing teacher.onnx that already matches is left alone (unless --force).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import onnx
import torch

from seedface.console import logger
from seedface.models.checkpoint import load_published
from seedface.models.config import ModelConfig
from seedface.paths import repo_root
from seedface.release.export import export_teacher
from seedface.release.manifest import sha256_file
from seedface.train.trainckpt import load

MODEL_DIR = repo_root() / "models" / "faces64"
CHECKPOINT = repo_root() / "training" / "checkpoints" / "faces64" / "teacher.pt"
TEACHER_FILE = "teacher.onnx"


class ModelsError(RuntimeError):
    pass


log = logger("models:faces64")


def teacher_entry(manifest: dict, manifest_path: Path) -> dict:
    net = (manifest.get("networks") or {}).get("teacher")
    if not net:
        raise ModelsError(f"{manifest_path}: the manifest has no teacher network")
    name = (net.get("files") or {}).get("fp32")
    entry = next((f for f in manifest.get("files", []) if f.get("path") == name), None)
    if name != TEACHER_FILE or entry is None or not entry.get("sha256") or not entry.get("bytes"):
        raise ModelsError(f"{manifest_path}: no files[] entry with sha256 and bytes for the teacher ({name!r})")
    return entry


def load_teacher(checkpoint: Path, manifest: dict):
    """The EMA teacher (fp32) from the checkpoint's published part, with the checkpoint's own config."""

    ck = load(checkpoint)
    config = ModelConfig.from_dict({**ck["config"], "student_channels": None})
    want = manifest.get("config") or {}
    for k in ("resolution", "style_dim", "n_mlp", "teacher_channels"):
        if k in want and want[k] != ck["config"].get(k):
            raise ModelsError(f"{checkpoint}: config {k}={ck['config'].get(k)!r}, the manifest's is {want[k]!r}: "
                              f"not the checkpoint this model was made from")
    sd = {k: v for k, v in ck["state_dict"].items() if k != "style_mean"}
    _, _, teacher, _, _ = load_published(sd, config)
    return teacher.float().eval()


def versions() -> str:

    return f"torch {torch.__version__}, onnx {onnx.__version__}"


def build(out: Path = MODEL_DIR, manifest_path: Path | None = None, checkpoint: Path = CHECKPOINT,
          force: bool = False) -> Path:
    """Write out/teacher.onnx (atomically) iff the export matches the manifest's entry; returns its path."""
    out = Path(out)
    manifest_path = Path(manifest_path) if manifest_path else out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = teacher_entry(manifest, manifest_path)
    target = out / TEACHER_FILE
    if not force and target.is_file() and target.stat().st_size == entry["bytes"] \
            and sha256_file(target) == entry["sha256"]:
        log(f"{target} is up to date (sha256 {entry['sha256'][:12]}…)")
        return target
    if not Path(checkpoint).is_file():
        raise ModelsError(f"{checkpoint} not found: it is the source of {TEACHER_FILE}")


    torch.manual_seed(0)
    teacher = load_teacher(Path(checkpoint), manifest)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{TEACHER_FILE}.tmp-{os.getpid()}"
    try:
        errs = export_teacher(teacher, tmp)
        got_bytes, got_sha = tmp.stat().st_size, sha256_file(tmp)
        if got_bytes != entry["bytes"] or got_sha != entry["sha256"]:
            made = (manifest.get("provenance") or {}).get("hardware", "unknown")
            raise ModelsError(
                f"the export from {checkpoint} is not the {TEACHER_FILE} that {manifest_path} lists: "
                f"got {got_bytes} bytes, sha256 {got_sha}; manifest: {entry['bytes']} bytes, sha256 "
                f"{entry['sha256']}. The export's parity vs PyTorch is fine (max rel err "
                f"{max(errs.values()):.3g}), so this is most likely another torch/onnx version ({versions()} here; "
                f"the model was made with {made}) or a changed checkpoint/manifest; nothing was written")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log(f"wrote {target} ({got_bytes} bytes, sha256 {got_sha[:12]}…, as the manifest lists; {versions()})")
    return target
