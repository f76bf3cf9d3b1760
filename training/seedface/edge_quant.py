"""int8 edge files for a large imported model: student and mapping, weight-only int8, measured at every level.

    python -m seedface.edge_quant models/ffhq [--seeds 64] [--edge-max 256]

The work is done by seedface.release.edge_quant; this module parses the flags.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seedface.release.edge_quant import quantize_edge


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m seedface.edge_quant", description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--seeds", type=int, default=64)
    ap.add_argument("--edge-max", type=int, default=256)
    a = ap.parse_args(argv)
    quantize_edge(a.model_dir, a.seeds, a.edge_max)
    return 0


if __name__ == "__main__":
    sys.exit(main())
