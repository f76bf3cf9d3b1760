"""int8 edge files for a large imported model: student and mapping, weight-only int8, measured at every level.

    python -m seedface.edge_quant models/ffhq [--seeds 64] [--edge-max 256]

Weight-only int8 (symmetric per output channel + DequantizeLinear, seedface.quantize.weight_only_int8) for both
networks: activations stay fp32, so the quality loss is the weights' rounding alone. Measured over seeds
"eval/<i>" rendered as the edge renders them (int8 mapping -> truncation -> int8 student) against the origin's
fp32 pair, per level: PSNR (median, min) on [-1, 1] images. Targets: median >= 35 dB at every level the edge serves
(the rule seedface.quantize uses),
edge files >= 3x smaller than fp32.
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
