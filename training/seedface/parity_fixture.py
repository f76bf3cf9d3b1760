"""Fixture for the TypeScript parity test (test/models/parity.test.ts): a tiny exported model directory plus the

    python -m seedface.parity_fixture --out DIR


    {"seeds": [...], "z": {"shape", "data"}, "w": {...},                       # mapping, all seeds in one batch
     "cases": [{"seed", "student_w", "teacher_w", "noise": [{name, shape, data}],
                "student": {"img_8": {...}, ...}, "teacher": {"img_64": {...}}}]}

The work is done by seedface.release.parity; this module parses the flags.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from seedface.release.parity import build_fixture


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="directory to write model/ and reference.json into")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    ref = build_fixture(args.out)
    print(f"wrote {args.out / 'model'} and {args.out / 'reference.json'} ({len(ref['cases'])} seeds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
