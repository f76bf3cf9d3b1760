"""Where and how a training run executes: device, precision, paths relative to the repo root, provenance."""
from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path

import torch

from seedface.paths import repo_root

TRAINING_DATA = {
    "name": "faces128 (UTKFace-derived, 21,719 aligned 128x128 face photos)",
    "licence": "non-commercial research only (UTKFace terms); copyright stays with the photos' owners",
    "note": "see ../shared/datasets/faces128/PROVENANCE.md; weights trained on it are not licensed for "
            "commercial use without legal review",
}


def resolve(p: str | None) -> Path | None:
    """Paths relative to the repo root also work when the CLI is started from training/."""
    if p is None:
        return None
    path = Path(p)
    if path.is_absolute() or path.exists() or path.parent.exists():
        return path
    return repo_root() / path


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def amp_dtype(name: str, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or name == "none":
        return None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[name]


def setup_device(device: torch.device, threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        try:  # TF32 for the fp32 parts (R1, path length); newer PyTorch may prefer other switches
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        except Exception:  # noqa: BLE001 - a speed setting must never stop a run
            pass


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    return f"CPU {platform.machine()} x{torch.get_num_threads()} threads (torch {torch.__version__})"


def provenance(tool: str, steps: int, elapsed_s: float, hardware_str: str, **extra) -> dict:
    return {"source": "trained-here", "from": extra.pop("source_from", None), "tool": tool, "steps": steps,
            "minutes": round(elapsed_s / 60, 2), "hardware": hardware_str,
            "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(), **extra}
