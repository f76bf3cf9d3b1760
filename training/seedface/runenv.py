"""Where and how a training run executes: device, precision, paths relative to the repo root, provenance."""
from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path

import torch

from .data import repo_root

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


NOT_INHERITED = {"resume", "run", "minutes", "steps", "export", "id", "version", "device", "threads", "data",
                 "teacher", "grid_every", "ckpt_every", "quantize", "log_every", "limit"}


def parse_resumable(parser, argv, checkpoint_for) -> "argparse.Namespace":
    """Parse argv; with --resume, the checkpoint's saved hyperparameters become the defaults (flags given on the
    command line still win), so a resumed run trains exactly like the run it continues."""
    a = parser.parse_args(argv)
    if not a.resume:
        return a
    from . import trainckpt
    saved = trainckpt.load(checkpoint_for(a))["train"].get("args", {})
    parser.set_defaults(**{k: v for k, v in saved.items() if k not in NOT_INHERITED and hasattr(a, k)})
    return parser.parse_args(argv)


def cli(fn, argv=None) -> None:
    """Run a CLI entry point; input problems (missing files, wrong checkpoint kinds) end with one clear line
    and exit status 2 instead of a traceback."""
    import sys
    from .checkpoint import CheckpointError
    try:
        fn(argv)
    except (FileNotFoundError, ValueError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)
