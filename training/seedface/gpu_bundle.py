"""What travels back from the GPU box, and how it becomes a model directory here.

    python -m seedface.gpu_bundle pack <work dir> <out dir>      (on the GPU box, at the end of run.sh --gpu)
    python -m seedface.gpu_bundle finish <fetched dir> --id ID   (here: rebuild, export ONNX + int8, evaluate)

The work is done by seedface.train.bundle; this module parses the flags.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from seedface.console import cli
from seedface.paths import repo_root
from seedface.train.bundle import finish, pack, unpack


def run(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("work")
    p.add_argument("out")
    u = sub.add_parser("unpack")
    u.add_argument("src")
    u.add_argument("dest")
    f = sub.add_parser("finish")
    f.add_argument("src", help="the fetched $OUT folder")
    f.add_argument("--id", required=True)
    f.add_argument("--models", default=str(repo_root() / "models"))
    f.add_argument("--runs", default=str(repo_root() / "training" / "runs"))
    f.add_argument("--seeds", type=int, default=1000)
    f.add_argument("--data", default=None)
    f.add_argument("--reports", default=None, help="default training/reports")
    f.add_argument("--quantize", action=argparse.BooleanOptionalAction, default=True)
    a = ap.parse_args(argv)
    if a.cmd == "pack":
        pack(Path(a.work), Path(a.out))
    elif a.cmd == "unpack":
        unpack(Path(a.src), Path(a.dest))
    else:
        finish(Path(a.src), a.id, Path(a.models), Path(a.runs), a.seeds, a.quantize, a.data,
               Path(a.reports) if a.reports else None)


def main(argv=None) -> None:
    cli(run, argv)


if __name__ == "__main__":
    main()
