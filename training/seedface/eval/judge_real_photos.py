"""How well does the attribute judge (face-api) read real faces? Its age and gender on UTKFace photos vs their labels.

    python -m seedface.eval.judge_real_photos [--photos 1600] [--seniors-from 6000] [--work DIR]   (~7 min)

The attribute figures say "face-api puts the edited face in the class"; this says what face-api's classes mean on
real photos with known ages (UTKFace, ``../shared/datasets/faces128``, non-commercial research terms): photos
5000..5000+N (disjoint from the ones the second judge was fitted on), plus every photo aged 60 or more among the
next ``--seniors-from`` files (seniors are rare). Judged exactly as generated faces are
(``scripts/face-attributes-judge.cjs``). Writes ``training/reports/attribute_judge_real_photos.json``.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from seedface.eval.attribute_labels import JUDGE_SCRIPT, save_atomic
from seedface.eval.attributes import AGE_YEARS, age_class
from seedface.eval.second_judge import DATASET
from seedface.paths import REPO

FIRST = 5000
CHUNK = 100
OUT = REPO / "training" / "reports" / "attribute_judge_real_photos.json"


def select(n: int, seniors_from: int) -> list[dict]:
    rows = list(csv.DictReader((DATASET / "manifest.csv").open()))
    return rows[FIRST:FIRST + n] + [r for r in rows[FIRST + n:FIRST + n + seniors_from] if int(r["age"]) >= 60]


def figures(sel: list[dict], judged: list[dict], n_random: int) -> dict:
    det = np.array([bool(r.get("detected")) for r in judged])
    true = np.array([float(r["age"]) for r in sel])
    female = np.array([r["gender"] == "1" for r in sel])
    age = np.array([r.get("age", np.nan) for r in judged], np.float64)
    said_female = np.array([r.get("gender") == "female" for r in judged])
    rand = np.arange(len(sel)) < n_random
    tc = np.array([age_class(a) for a in true])
    pc = np.array([age_class(a) if d else "" for a, d in zip(age, det)])
    per = {}
    for k in AGE_YEARS:
        m = det & (tc == k)
        per[k] = {"photos": int(m.sum()), "recall": float((pc[m] == k).mean()),
                  "face_api_age_p10_p50_p90": [round(float(x), 1) for x in np.percentile(age[m], [10, 50, 90])]}
    adult = det & (true >= 18)
    said_adult = det & (age >= 18)
    return {"photos": len(sel), "random_photos": n_random, "detected": float(det.mean()),
            "gender_accuracy": float((said_female[det] == female[det]).mean()),
            "age_mae_years": float(np.abs(age[det & rand] - true[det & rand]).mean()),
            "age_classes": per,
            "age_min_18": {"recall": float((age[adult] >= 18).mean()), "precision": float((true[said_adult] >= 18).mean())}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=1600)
    ap.add_argument("--seniors-from", type=int, default=6000)
    ap.add_argument("--work", default=str(REPO / "training" / "runs" / "judge_real_photos"))
    a = ap.parse_args(argv)
    from PIL import Image

    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    sel = select(a.photos, a.seniors_from)
    for c in range(0, len(sel), CHUNK):
        f = work / f"chunk_{c // CHUNK:04d}.npy"
        if not f.exists():
            save_atomic(f, np.stack([np.asarray(Image.open(DATASET / r["file"]).convert("RGB")) for r in sel[c:c + CHUNK]]))
    subprocess.run(["node", str(JUDGE_SCRIPT), str(work)], cwd=str(REPO), check=True)
    judged, judge = [], None
    for c in range(0, len(sel), CHUNK):
        j = json.loads((work / f"chunk_{c // CHUNK:04d}.faceapi.json").read_text())
        judged += j["rows"]
        judge = j["judge"]
    rep = {"tool": "seedface.eval.judge_real_photos", "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "judge": judge, "photos": f"UTKFace (../shared/datasets/faces128) files {FIRST}..{FIRST + a.photos - 1} and "
                                     f"every photo aged >= 60 among the next {a.seniors_from}",
           **figures(sel, judged, a.photos)}
    OUT.write_text(json.dumps(rep, indent=1) + "\n")
    print(json.dumps(rep, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
