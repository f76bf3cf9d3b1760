"""Build the UNTRAINED default model (random weights, fixed torch seed) and export it to a model directory.

    python -m seedface.make_default --out ../models/default [--preset default128]

The work is done by seedface.models.untrained; this module parses the flags.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from seedface.models.untrained import NOISE_STRENGTH, STATUS, TORCH_SEED, build_default
from seedface.release.export import export_model_dir


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Export the untrained default model.")
    ap.add_argument("--out", default="../models/default", help="model directory to write")
    ap.add_argument("--preset", default="default128", help="model preset (see seedface.models.config.PRESETS)")
    ap.add_argument("--with-teacher", action="store_true",
                    help="also export teacher.onnx (default off: ~19 MB for default128, keeps the committed default "
                         "under ~25 MB; the edge never uses the teacher)")
    ap.add_argument("--set-default", action="store_true", help="also point models/default.json at it")
    ap.add_argument("--no-quantize", action="store_true", help="skip seedface.quantize")
    ap.add_argument("--version", default="0.1.0")
    args = ap.parse_args(argv)
    t0 = time.time()
    out = Path(args.out)
    cfg, mapping, teacher, student, style_mean = build_default(args.preset)
    man = export_model_dir(
        out, cfg, mapping, student, teacher if args.with_teacher else None, style_mean,
        model_id=out.name, version=args.version,
        provenance={"source": "random-init", "from": f"seedface.make_default --preset {args.preset}",
                    "torch_seed": TORCH_SEED, "noise_strength": NOISE_STRENGTH,
                    "style_mean": "mean of mapping(z) over 10000 z ~ N(0, I) (torch generator seeded with torch_seed)",
                    "torch": torch.__version__},
        trained=False, status=STATUS, training_data=None, quantize=not args.no_quantize)
    if args.set_default:
        (out.parent / "default.json").write_text(json.dumps({"default": out.name}) + "\n")
    total = sum(f["bytes"] for f in man["files"])
    print(f"wrote {out} ({total / 1e6:.2f} MB, {len(man['files'])} files){' and ' + str(out.parent / 'default.json') if args.set_default else ''} "
          f"in {time.time() - t0:.1f} s; edge_precision={man['networks']['student']['edge_precision']}")
    for f in man["files"]:
        print(f"  {f['path']}: {f['bytes']} bytes ({f['precision']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
