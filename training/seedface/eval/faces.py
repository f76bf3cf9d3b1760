"""Judge a model's faces with pretrained face networks (dlib, seedface.face_judge): are they faces, are they
different people, does the edge's int8 student draw the same person as the origin's fp32 one.

    python -m seedface.eval_faces MODEL_DIR [--seeds 200] [--size 128] [--psi 0.5,0.7,1.0] [--write-manifest]
                                            [--set-default-psi] [--out training/reports/]
    npm run eval:faces -- models/faces64

Seeds ``eval/0`` .. ``eval/<N-1>`` (the quantizer's evaluation seeds, seedface-seed/1) are rendered exactly as the
service renders them (seedface.face_render: mapping -> truncation with the manifest's mean and psi -> W+ -> student
with the seed's noise -> the output serving ``--size`` -> the service's resampling, bit-exact with
src/shared/resample.ts -> uint8 RGB), then judged at that size (FaceJudge: dlib HOG detector with 1 upsample, 68
landmarks, 128-d ResNet descriptor).

Figures:
- detection rate (share of seeds with a detected face) of the fp32 student at every psi, and of the int8 (edge)
  student at the manifest's default psi;
- int8 vs fp32 descriptor distance per seed at the default psi (median, p90, max over seeds detected by both;
  target median <= 0.2, far below dlib's 0.6 same-person threshold);
- look-alike rate at every psi (fp32): share of the pairs of different seeds (both detected) closer than 0.6.
Recommended psi, the rule: the smallest psi whose fp32 detection rate is >= 98% (``--min-detection``) and whose
look-alike rate is at most 1 point (``--lookalike-tolerance``) above that of the largest psi evaluated (psi 1.0, full
variety); when no psi passes, the one with the highest detection rate. ``truncation.default_psi`` changes only with
``--set-default-psi``.

Writes training/reports/<model-id>_faces.json (``--out DIR`` or ``--out FILE.json``), ``.md`` and
``_faces_grid.jpg`` (first 8 seeds: one row per psi, then the int8 student at the default psi; a red frame marks a
face the detector did not find). ``--write-manifest`` stores the compact figures in the manifest's ``metrics.faces``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import onnxruntime
from PIL import Image

from seedface.console import logger
from seedface.eval.face_judge import SAME_PERSON_THRESHOLD, FaceJudge, descriptor_distance, pairwise_distances
from seedface.paths import REPO
from seedface.pipeline import seeding
from seedface.pipeline.face import FaceRenderer, round2

REPORTS = REPO / "training" / "reports"
SEED_PREFIX = "eval/"
DEFAULT_PSIS = (0.5, 0.7, 1.0)
MIN_DETECTION = 0.98
LOOKALIKE_TOLERANCE = 0.01
INT8_TARGET_MEDIAN = 0.2
GRID_SEEDS = 8
RESAMPLING = ("service resampling, bit-exact port of src/shared/resample.ts (seedface.resample): area when "
              "shrinking, Catmull-Rom when enlarging; uint8 by round(clamp((x + 1) * 127.5))")


log = logger("faces", err=True)


def seed_names(n: int) -> list[str]:
    return [f"{SEED_PREFIX}{i}" for i in range(n)]


def _stats(x: list[float]) -> dict:
    if not x:
        return {"n": 0, "median": None, "p90": None, "max": None, "mean": None}
    a = np.asarray(x, np.float64)
    return {"n": int(a.size), "median": float(np.median(a)), "p90": float(np.percentile(a, 90)),
            "max": float(a.max()), "mean": float(a.mean())}


def lookalike_stats(descs: list[np.ndarray], threshold: float = SAME_PERSON_THRESHOLD) -> dict:
    n = len(descs)
    if n < 2:
        return {"faces": n, "pairs": 0, "lookalike_pairs": 0, "lookalike_rate": None, "pair_distance_median": None}
    dist = pairwise_distances(descs)[np.triu_indices(n, 1)]
    close = int((dist < threshold).sum())
    return {"faces": n, "pairs": int(dist.size), "lookalike_pairs": close, "lookalike_rate": close / dist.size,
            "pair_distance_median": float(np.median(dist))}


def recommend_psi(per_psi: list[dict], min_detection: float = MIN_DETECTION,
                  tolerance: float = LOOKALIKE_TOLERANCE) -> dict:
    """The documented rule (module docstring) over [{psi, detection_rate, lookalike_rate}, ...]."""
    rows = sorted(per_psi, key=lambda r: r["psi"])
    ref = rows[-1]
    rule = (f"smallest psi with fp32 detection >= {min_detection:.0%} and look-alike rate <= that of psi "
            f"{ref['psi']} + {tolerance * 100:g} point(s); else the psi with the highest detection rate")
    ref_la = ref["lookalike_rate"]
    for r in rows:
        la = r["lookalike_rate"]
        if r["detection_rate"] >= min_detection and la is not None and ref_la is not None and la <= ref_la + tolerance:
            return {"psi": r["psi"], "met_rule": True, "reference_psi": ref["psi"], "rule": rule}
    best = max(rows, key=lambda r: (r["detection_rate"], r["psi"]))
    return {"psi": best["psi"], "met_rule": False, "reference_psi": ref["psi"], "rule": rule}


def _framed(img: np.ndarray, detected: bool, width: int = 2) -> np.ndarray:
    if detected:
        return img
    out = img.copy()
    red = np.array([230, 20, 20], np.uint8)
    out[:width], out[-width:], out[:, :width], out[:, -width:] = red, red, red, red
    return out


def sample_grid(rows: list[list[np.ndarray]], pad: int = 2) -> np.ndarray:
    size = rows[0][0].shape[0]
    n = max(len(r) for r in rows)
    out = np.full((len(rows) * (size + pad) + pad, n * (size + pad) + pad, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        for j, im in enumerate(r):
            y, x = pad + i * (size + pad), pad + j * (size + pad)
            out[y:y + size, x:x + size] = im
    return out


def _versions() -> str:
    try:
        import dlib
        dv = dlib.__version__
    except ImportError:
        dv = "missing"
    return (f"python {platform.python_version()}, numpy {np.__version__}, onnxruntime {onnxruntime.__version__}, "
            f"dlib {dv}")


def evaluate_faces(model_dir, n_seeds: int = 200, size: int = 128, psis=DEFAULT_PSIS, int8_psi: float | None = None,
                   judge: FaceJudge | None = None, min_detection: float = MIN_DETECTION,
                   tolerance: float = LOOKALIKE_TOLERANCE, grid_seeds: int = GRID_SEEDS,
                   threshold: float = SAME_PERSON_THRESHOLD) -> tuple[dict, np.ndarray]:
    """(report, sample grid uint8 image)."""
    t0 = time.time()
    model_dir = Path(model_dir)
    renderer = FaceRenderer(model_dir)
    judge = judge or FaceJudge()
    man = renderer.man
    psis = sorted({round2(float(p)) for p in psis})
    if not psis:
        raise ValueError("no psi values to evaluate")
    int8_psi = round2(renderer.default_psi if int8_psi is None else int8_psi)
    seeds = seed_names(n_seeds)
    output = renderer.output_for(size)
    log(f"{man['id']} {man['version']}: {n_seeds} seeds ({seeds[0]}..{seeds[-1]}) at {size}px from {output}, "
        f"psi {', '.join(map(str, psis))}; int8 at psi {int8_psi}")

    fp32: dict[float, list] = {}
    grid_rows: list[list[np.ndarray]] = []
    for psi in sorted(set(psis) | {int8_psi}):
        t1 = time.time()
        res = []
        for i, s in enumerate(seeds):
            img = renderer.render(s, size, psi, "fp32")
            ok, d = judge.describe(img)
            res.append((ok, d))
            if psi in psis and i < grid_seeds:
                if len(grid_rows) <= psis.index(psi):
                    grid_rows.append([])
                grid_rows[psis.index(psi)].append(_framed(img, ok))
            if (i + 1) % 50 == 0 or i + 1 == n_seeds:
                log(f"fp32 psi {psi}: {i + 1}/{n_seeds} seeds, {sum(r[0] for r in res)} faces "
                    f"({time.time() - t1:.0f} s)")
        fp32[psi] = res

    per_psi = []
    for psi in psis:
        res = fp32[psi]
        det = sum(r[0] for r in res)
        la = lookalike_stats([d for ok, d in res if ok], threshold)
        per_psi.append({"psi": psi, "detected": det, "detection_rate": det / n_seeds, **la})
        log(f"psi {psi}: detection {det / n_seeds:.1%}, look-alike {_fmt(la['lookalike_rate'], True)}")

    int8 = {"available": "int8" in renderer.available}
    if int8["available"]:
        files = renderer.files("int8")
        int8.update({"psi": int8_psi, "files": {k: v[0] for k, v in files.items()},
                     "session_config": files["student"][1], "edge_precision": renderer.student.get("edge_precision")})
        t1 = time.time()
        per_seed, dists, det8, pix = [], [], 0, []
        int8_row = []
        for i, s in enumerate(seeds):
            img = renderer.render(s, size, int8_psi, "int8")
            ok, d = judge.describe(img)
            det8 += ok
            ok32, d32 = fp32[int8_psi][i]
            dist = descriptor_distance(d, d32) if ok and ok32 else None
            if dist is not None:
                dists.append(dist)
            per_seed.append({"seed": s, "fp32_detected": bool(ok32), "int8_detected": bool(ok),
                             "distance": None if dist is None else round(dist, 5)})
            if i < grid_seeds:
                int8_row.append(_framed(img, ok))
                pix.append(img)
            if (i + 1) % 50 == 0 or i + 1 == n_seeds:
                log(f"int8 psi {int8_psi}: {i + 1}/{n_seeds} seeds ({time.time() - t1:.0f} s)")
        grid_rows.append(int8_row)
        st = _stats(dists)
        int8.update({
            "detected": det8, "detection_rate": det8 / n_seeds,
            "both_detected": len(dists),
            "distance_vs_fp32": st,
            "same_person_rate": (sum(x < threshold for x in dists) / len(dists)) if dists else None,
            "target_median": INT8_TARGET_MEDIAN,
            "meets_target": st["median"] is not None and st["median"] <= INT8_TARGET_MEDIAN,
            "per_seed": per_seed,
        })
        log(f"int8 vs fp32 at psi {int8_psi}: detection {det8 / n_seeds:.1%}, distance median "
            f"{st['median'] if st['median'] is None else round(st['median'], 4)}, p90 "
            f"{st['p90'] if st['p90'] is None else round(st['p90'], 4)}, max "
            f"{st['max'] if st['max'] is None else round(st['max'], 4)}")

    rec = recommend_psi(per_psi, min_detection, tolerance)
    log(f"recommended psi {rec['psi']} ({'rule met' if rec['met_rule'] else 'rule not met by any psi'})")
    report = {
        "bench": "faces",
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()}), onnxruntime CPU execution provider",
        "versions": _versions(),
        "tool": "seedface.eval_faces",
        "model": {"id": man["id"], "version": man["version"], "dir": str(model_dir),
                  "resolution": man["resolution"], "default_psi": renderer.default_psi},
        "seed_algorithm": seeding.ALGORITHM,
        "seeds": {"n": n_seeds, "names": f"'{seeds[0]}'..'{seeds[-1]}'"},
        "size": size,
        "output": output,
        "resampling": RESAMPLING,
        "judge": judge.procedure,
        "threshold": threshold,
        "fp32": {"files": {k: v[0] for k, v in renderer.files("fp32").items()}, "per_psi": per_psi},
        "int8": int8,
        "recommended_psi": {**rec, "min_detection": min_detection, "lookalike_tolerance": tolerance},
        "seconds": round(time.time() - t0, 1),
    }
    return report, sample_grid(grid_rows)


def _fmt(x, pct=False, nd=3):
    if x is None:
        return "n/a"
    return f"{x * 100:.1f}%" if pct else f"{x:.{nd}f}"


def markdown(report: dict, grid_name: str) -> str:
    m = report["model"]
    lines = [f"# Face judge: {m['id']} {m['version']}", "",
             f"{report['seeds']['n']} seeds ({report['seeds']['names']}, {report['seed_algorithm']}) rendered as the "
             f"service does at {report['size']} px (student output `{report['output']}`, {report['resampling']}); "
             f"judged by dlib (HOG detector, {report['judge']['upsample']} upsample, 68 landmarks, 128-d ResNet "
             f"descriptor; same person below {report['threshold']}). {report['when']}, {report['seconds']} s.", "",
             "| psi | detection (fp32) | look-alike pairs | pairs | median pair distance |", "|---|---|---|---|---|"]
    for r in report["fp32"]["per_psi"]:
        lines.append(f"| {r['psi']} | {_fmt(r['detection_rate'], True)} ({r['detected']}) | "
                     f"{_fmt(r['lookalike_rate'], True)} ({r['lookalike_pairs']}) | {r['pairs']} | "
                     f"{_fmt(r['pair_distance_median'])} |")
    q = report["int8"]
    lines.append("")
    if q.get("available"):
        d = q["distance_vs_fp32"]
        lines += [f"Edge int8 (`{q['files']['student']}` + `{q['files']['mapping']}`, session config "
                  f"{json.dumps(q['session_config'])}) vs origin fp32 at psi {q['psi']}: detection "
                  f"{_fmt(q['detection_rate'], True)}; descriptor distance over {d['n']} seeds detected by both: "
                  f"median {_fmt(d['median'], nd=4)}, p90 {_fmt(d['p90'], nd=4)}, max {_fmt(d['max'], nd=4)} "
                  f"(target median <= {q['target_median']}: {'met' if q['meets_target'] else 'NOT met'})."]
    else:
        lines.append("No int8 student in this model directory.")
    r = report["recommended_psi"]
    lines += ["", f"Recommended psi: **{r['psi']}** ({r['rule']}; {'met' if r['met_rule'] else 'no psi met the rule'}). "
                  f"Manifest default_psi: {m['default_psi']}.", "",
              f"![first seeds: one row per psi ({', '.join(str(p['psi']) for p in report['fp32']['per_psi'])})"
              f"{', then int8 at psi ' + str(q['psi']) if q.get('available') else ''}; red frame = no face "
              f"detected]({grid_name})", ""]
    return "\n".join(lines)


def manifest_metrics(report: dict) -> dict:
    """The compact form stored as manifest metrics.faces."""
    q = report["int8"]
    out = {
        "tool": report["tool"], "when": report["when"], "seeds": report["seeds"]["n"],
        "seed_names": report["seeds"]["names"], "size": report["size"], "output": report["output"],
        "judge": "dlib HOG detector (1 upsample) + 68 landmarks + 128-d ResNet descriptor",
        "threshold": report["threshold"],
        "psi": [{k: r[k] for k in ("psi", "detection_rate", "lookalike_rate")} for r in report["fp32"]["per_psi"]],
        "recommended_psi": report["recommended_psi"]["psi"],
        "rule": report["recommended_psi"]["rule"],
    }
    if q.get("available"):
        d = q["distance_vs_fp32"]
        out["int8"] = {"psi": q["psi"], "detection_rate": q["detection_rate"],
                       "distance_vs_fp32": {k: d[k] for k in ("n", "median", "p90", "max")},
                       "meets_target": q["meets_target"]}
    return out


def output_paths(out: str | None, model_id: str) -> tuple[Path, Path, Path]:
    if out and out.endswith(".json"):
        j = Path(out)
        if not j.is_absolute() and not j.parent.exists():
            j = REPO / j
    else:
        d = Path(out) if out else REPORTS
        if out and not d.is_absolute() and not d.exists() and not d.parent.exists():
            d = REPO / d
        j = d / f"{model_id}_faces.json"
    return j, j.with_suffix(".md"), j.with_name(j.stem + "_grid.jpg")


def write_report(report: dict, grid: np.ndarray, out: str | None = None) -> dict:

    j, md, png = output_paths(out, report["model"]["id"])
    j.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(png, quality=90)
    j.write_text(json.dumps(report, indent=1) + "\n")
    md.write_text(markdown(report, png.name))
    return {"json": str(j), "md": str(md), "grid": str(png)}


def _resolve_model(p: str) -> Path:
    path = Path(p)
    if not path.exists() and (REPO / path).exists():
        path = REPO / path
    return path
