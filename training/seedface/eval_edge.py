"""Judge an edge student against the release it was distilled from (same person, detection, look-alikes, PSNR per
level); see seedface.eval.edge_student for the procedure and the targets.

    python -m seedface.eval_edge CANDIDATE_DIR [--reference models/ffhq] [--seeds 200] [--size 128]
                                               [--psnr-seeds 32] [--out training/reports/edge_student.json]
    npm run eval:edge -- training/runs/edge_fast/model

Writes the report as .json and .md and a grid (release row, edge-student row) beside it. Exit status 0 whether or
not the targets are met (the report says); 2 on bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image

from seedface.console import cli
from seedface.eval.edge_student import add_to_history, curve_plot, evaluate, markdown
from seedface.eval.faces import _resolve_model
from seedface.paths import REPO
from seedface.release import manifest as mf
from seedface.release.edge_student import CARD, write_edge_card

DEFAULT_OUT = REPO / "training" / "reports" / "edge_student.json"


def run(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("candidate", help="the edge student's model directory")
    ap.add_argument("--reference", default="models/ffhq", help="the release's model directory (with its fp32 files)")
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--psnr-seeds", type=int, default=32, help="seeds for the per-level PSNR")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="report .json path")
    ap.add_argument("--run-log", default="training/runs/edge_fast/log.csv",
                    help="the run's log.csv, for the training-side curve (skipped when absent)")
    a = ap.parse_args(argv)
    if a.seeds < 2:
        ap.error("--seeds must be at least 2 (look-alike pairs)")
    report, grid = evaluate(_resolve_model(a.candidate), _resolve_model(a.reference), a.seeds, a.size,
                            min(a.psnr_seeds, a.seeds))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    grid_path = out.with_name(out.stem + "_grid.jpg")
    Image.fromarray(grid).save(grid_path, quality=90)
    out.write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report, grid_path.name))
    cand_dir = _resolve_model(a.candidate)
    if (cand_dir / CARD).is_file():  # the candidate's card gains the figures
        write_edge_card(cand_dir, mf.load(cand_dir), mf.load(_resolve_model(a.reference)), report)
    history = add_to_history(out.with_name(out.stem + "_history.json"), report)
    curve_plot(out.with_name(out.stem + "_curve.png"), history, REPO / a.run_log)
    print(json.dumps({"meets_targets": report["meets_targets"], "checks": report["checks"],
                      "distance_median": report["distance_vs_reference"]["median"], "report": str(out)}))
    return report


def main(argv=None) -> None:
    cli(run, argv)


if __name__ == "__main__":
    main()
