"""`npm run models:faces64`: make models/faces64/teacher.onnx (not committed: 12.8 MB) from the shipped teacher

    python -m seedface.models_faces64 [--out models/faces64] [--manifest OUT/manifest.json]
                                      [--checkpoint training/checkpoints/faces64/teacher.pt] [--force]

The work is done by seedface.release.faces64; this module parses the flags.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seedface.release.export import ExportError
from seedface.release.faces64 import CHECKPOINT, MODEL_DIR, ModelsError, build


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m seedface.models_faces64", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=MODEL_DIR, help="model directory to write teacher.onnx into")
    ap.add_argument("--manifest", type=Path, default=None, help="manifest to check against (default OUT/manifest.json)")
    ap.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    ap.add_argument("--force", action="store_true", help="export again even if teacher.onnx already matches")
    a = ap.parse_args(argv)

    try:
        build(a.out, a.manifest, a.checkpoint, a.force)
    except (ModelsError, ExportError, OSError, ValueError) as e:
        print(f"models:faces64: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
