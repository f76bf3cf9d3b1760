"""Import published MobileStyleGAN / StyleGAN2 weights into a model directory (docs/model-format.md).

    python -m seedface.convert <file...> --out models/<id> [--id ID] [--psi 0.7]

The work is done by seedface.release.convert; this module parses the flags.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seedface.release.convert import ConvertError, convert


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m seedface.convert",
                                 description="Import published MobileStyleGAN/StyleGAN2 weights into models/<id>.")
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--id", default=None, help="model id (default: the --out directory name)")
    ap.add_argument("--psi", type=float, default=0.7, help="default truncation psi in the manifest")
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--no-quantize", action="store_true", help="skip the int8 student")
    ap.add_argument("--n-eval", type=int, default=256, help="seeds for the int8 quality measurement")
    ap.add_argument("--n-calib", type=int, default=64)
    ap.add_argument("--force", action="store_true", help="replace an existing --out")
    ap.add_argument("--heads", type=Path, default=None,
                    help="release-ir: fitted heads file (default: the committed training/heads/<release>.heads.pt)")
    a = ap.parse_args(argv)
    try:
        convert(a.files, a.out, model_id=a.id, psi=a.psi, version=a.version, quantize=not a.no_quantize,
                n_eval=a.n_eval, n_calib=a.n_calib, force=a.force, heads=a.heads)
    except ConvertError as e:
        print(f"convert: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
