"""The flags both training commands take (train_teacher, distill), declared once, and --resume's defaults."""
from __future__ import annotations

import argparse

from seedface.console import cli
from seedface.train import trainckpt
from seedface.train.runenv import resolve

# Flags a resumed run takes from its command line, not from the checkpoint it continues.
NOT_INHERITED = {"resume", "run", "minutes", "steps", "export", "id", "version", "device", "threads", "data",
                 "teacher", "grid_every", "ckpt_every", "quantize", "log_every", "limit"}


def add_run_flags(ap: argparse.ArgumentParser, *, run: str, batch_help: str, lr: float, r1: float | None,
                  r1_help: str | None = None, export_help: str) -> None:
    """Run directory, budget, optimiser basics, device and export flags (the per-command defaults as arguments)."""
    ap.add_argument("--run", default=run, help="run directory (checkpoint, logs, grids)")
    ap.add_argument("--resume", nargs="?", const="auto", default=None,
                    help="continue from a checkpoint (default: <run>/checkpoint.pt)")
    ap.add_argument("--minutes", type=float, default=None, help="time budget for this invocation")
    ap.add_argument("--steps", type=int, default=None, help="stop at this total step count")
    ap.add_argument("--batch", type=int, default=None, help=batch_help)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--r1", type=float, default=r1, help=r1_help)
    ap.add_argument("--r1-every", type=int, default=16)
    ap.add_argument("--amp", choices=("bf16", "fp16", "none"), default="bf16", help="CUDA only")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--grid-every", type=float, default=5.0, help="minutes between sample grids / plots")
    ap.add_argument("--ckpt-every", type=float, default=15.0, help="minutes between checkpoints")
    ap.add_argument("--mean-samples", type=int, default=10000)
    ap.add_argument("--export", default=None, help=export_help)
    ap.add_argument("--id", default=None, help="model id for --export (default: the directory name)")
    ap.add_argument("--version", default="0.1.0")


def checkpoint_for(a: argparse.Namespace):
    """The checkpoint --resume continues: <run>/checkpoint.pt, or the path given."""
    return resolve(a.run) / "checkpoint.pt" if a.resume == "auto" else resolve(a.resume)


def parse_resumable(parser: argparse.ArgumentParser, argv) -> argparse.Namespace:
    """Parse argv; with --resume, the checkpoint's saved hyperparameters become the defaults (flags given on the
    command line still win), so a resumed run trains exactly like the run it continues."""
    a = parser.parse_args(argv)
    if not a.resume:
        return a
    saved = trainckpt.load(checkpoint_for(a))["train"].get("args", {})
    parser.set_defaults(**{k: v for k, v in saved.items() if k not in NOT_INHERITED and hasattr(a, k)})
    return parser.parse_args(argv)


def entry_points(parse_args, train):
    """(run, main) of a training command: run(argv) parses and trains, returning the run's result; main(argv) is
    run behind seedface.console.cli (one clear error line, exit status 2)."""
    def run(argv=None) -> dict:
        return train(parse_args(argv))

    def main(argv=None) -> None:
        cli(run, argv)
    return run, main
