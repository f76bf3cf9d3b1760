"""int8 variants of a model directory's student, measured against fp32; the best one becomes `student_int8.onnx`.

The work is done by seedface.release.quantize; this module parses the flags.
"""
from __future__ import annotations

import argparse
import sys

from seedface.release.quantize import ALL_VARIANTS, quantize_model_dir


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m seedface.quantize", description=__doc__.split("\n")[0])
    ap.add_argument("model_dir", nargs="?", default="models/default")
    ap.add_argument("--n-calib", type=int, default=64)
    ap.add_argument("--n-eval", type=int, default=256)
    ap.add_argument("--n-sens", type=int, default=16, help="seeds for the per-layer sensitivity scan")
    ap.add_argument("--variants", default=",".join(ALL_VARIANTS))
    ap.add_argument("--results-dir", default=None)
    ap.add_argument("--keep-variants", default=None, metavar="DIR", help="also save every variant here")
    a = ap.parse_args(argv)
    try:
        quantize_model_dir(a.model_dir, n_calib=a.n_calib, n_eval=a.n_eval, n_sens=a.n_sens,
                           variants=a.variants.split(","), results_dir=a.results_dir, keep_dir=a.keep_variants)
    except (ValueError, FileNotFoundError) as e:
        print(f"quantize: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
