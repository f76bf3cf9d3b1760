"""Judge a model's faces with pretrained face networks (dlib, seedface.face_judge): are they faces, are they

    python -m seedface.eval_faces MODEL_DIR [--seeds 200] [--size 128] [--psi 0.5,0.7,1.0] [--write-manifest]
                                            [--set-default-psi] [--out training/reports/]
    npm run eval:faces -- models/faces64

The work is done by seedface.eval.faces; this module parses the flags.
"""
from __future__ import annotations

import argparse
import json
import sys

from seedface.eval.face_judge import FaceJudge, FaceJudgeUnavailable
from seedface.eval.faces import DEFAULT_PSIS, LOOKALIKE_TOLERANCE, MIN_DETECTION, _resolve_model, evaluate_faces, manifest_metrics, write_report
from seedface.release import manifest as mf


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="model directory (with manifest.json)")
    ap.add_argument("--seeds", type=int, default=200, help="number of seeds eval/0..eval/N-1 (default 200)")
    ap.add_argument("--size", type=int, default=128, help="size the faces are rendered and judged at (default 128)")
    ap.add_argument("--psi", default=",".join(map(str, DEFAULT_PSIS)), help="comma-separated psi values")
    ap.add_argument("--int8-psi", type=float, default=None, help="psi of the int8 vs fp32 comparison "
                    "(default the manifest's truncation.default_psi)")
    ap.add_argument("--min-detection", type=float, default=MIN_DETECTION)
    ap.add_argument("--lookalike-tolerance", type=float, default=LOOKALIKE_TOLERANCE)
    ap.add_argument("--out", default=None, help="report directory or .json path (default training/reports/)")
    ap.add_argument("--write-manifest", action="store_true", help="store the figures under manifest metrics.faces")
    ap.add_argument("--set-default-psi", action="store_true",
                    help="also set truncation.default_psi to the recommended psi (implies --write-manifest)")
    a = ap.parse_args(argv)
    if a.seeds < 2:
        ap.error("--seeds must be at least 2 (look-alike pairs)")
    try:
        psis = [float(x) for x in a.psi.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--psi must be comma-separated numbers, got {a.psi!r}")
    if not psis or any(not 0 <= p <= 1 for p in psis):
        ap.error("--psi values must be in [0, 1]")
    model_dir = _resolve_model(a.model)
    try:
        judge = FaceJudge()
    except FaceJudgeUnavailable as e:
        print(f"eval_faces: {e}", file=sys.stderr)
        return 2
    report, grid = evaluate_faces(model_dir, a.seeds, a.size, psis, a.int8_psi, judge=judge,
                                  min_detection=a.min_detection, tolerance=a.lookalike_tolerance)
    files = write_report(report, grid, a.out)
    if a.write_manifest or a.set_default_psi:
        man = mf.load(model_dir)
        man["metrics"] = {**(man.get("metrics") or {}), "faces": manifest_metrics(report)}
        if a.set_default_psi:
            man["truncation"]["default_psi"] = report["recommended_psi"]["psi"]
        mf.validate(man, model_dir)
        mf.save(model_dir, man)
        files["manifest"] = str(model_dir / mf.MANIFEST)
    q = report["int8"]
    print(json.dumps({
        "report": files,
        "detection_rate": {str(r["psi"]): r["detection_rate"] for r in report["fp32"]["per_psi"]},
        "lookalike_rate": {str(r["psi"]): r["lookalike_rate"] for r in report["fp32"]["per_psi"]},
        "int8": ({"detection_rate": q["detection_rate"], "distance_vs_fp32": q["distance_vs_fp32"]}
                 if q.get("available") else None),
        "recommended_psi": report["recommended_psi"]["psi"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
