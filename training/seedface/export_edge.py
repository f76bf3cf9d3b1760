"""A model directory (fp32 + int8 edge files, manifest) from an edge-student distillation run.

    python -m seedface.export_edge --run training/runs/edge_fast [--out training/runs/edge_fast/model]
                                   [--reference models/ffhq] [--id ffhq-edge] [--version 0.1.0]

The work is done by seedface.release.edge_student (the release's mapping and truncation mean, its edge quantizer).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from seedface.console import cli
from seedface.release.edge_student import export_edge_student
from seedface.train.runenv import resolve


def run(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="training/runs/edge_fast", help="the distillation run directory")
    ap.add_argument("--checkpoint", default=None, help="default: <run>/checkpoint.pt")
    ap.add_argument("--out", default=None, help="default: <run>/model")
    ap.add_argument("--reference", default="models/ffhq")
    ap.add_argument("--id", default="ffhq-edge")
    ap.add_argument("--version", default="0.1.0")
    a = ap.parse_args(argv)
    run_dir = resolve(a.run)
    ckpt = resolve(a.checkpoint) if a.checkpoint else run_dir / "checkpoint.pt"
    out = resolve(a.out) if a.out else run_dir / "model"
    man = export_edge_student(ckpt, out, resolve(a.reference), a.id, a.version)
    summary = {"out": str(out), "id": man["id"], "version": man["version"],
               "channels": man["networks"]["student"]["channels"],
               "edge_precision": man["networks"]["student"]["edge_precision"],
               "int8_levels": man["quantization"]["levels"]}
    print(json.dumps(summary))
    return summary


def main(argv=None) -> None:
    cli(run, argv)


if __name__ == "__main__":
    main()
