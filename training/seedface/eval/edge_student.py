"""Does an edge student draw the same person as the release it was distilled from?

Seeds ``eval/0`` .. ``eval/<N-1>`` are rendered as the service renders them (seedface.pipeline.face.FaceRenderer):
the candidate at its edge precision (int8, what the edge would serve) and the reference (the release's origin
files, fp32, the quality reference) at ``size``, both through their own serving tables. Judged by dlib
(seedface.eval.face_judge): detection rate of each, the candidate-vs-reference descriptor distance per seed
(median, p90), and each model's look-alike rate (pairs of different seeds closer than 0.6).

Fidelity per level: for every level the candidate serves, PSNR of its output (fp32 and int8) against the release's
1024 px output area-downsampled to that size, and against the release's own output at that level; dB on [-1, 1]
images, medians over the first ``--psnr-seeds`` seeds.

Targets (issue 15): median distance <= 0.35, candidate detection >= 98%, look-alike rate within 2 points of the
reference's.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from matplotlib.figure import Figure

from seedface.console import logger
from seedface.eval import metrics
from seedface.eval.face_judge import SAME_PERSON_THRESHOLD, FaceJudge, descriptor_distance
from seedface.eval.faces import _framed, _stats, lookalike_stats, sample_grid, seed_names
from seedface.pipeline.face import FaceRenderer

EXACT_DB = 126.02  # psnr at the 1e-12 mse floor
TARGETS = {"distance_median": 0.35, "detection_rate": 0.98, "lookalike_points": 2.0}

log = logger("eval:edge")


def _area(x: np.ndarray, size: int) -> np.ndarray:
    return F.interpolate(torch.from_numpy(x[None]), size=(size, size), mode="area")[0].numpy()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """dB between two [3, s, s] images on [-1, 1]; identical images read EXACT_DB (JSON has no infinity)."""
    return float(metrics.psnr(a[None], b[None], clip=True, min_mse=1e-12)[0])


def fidelity(cand: FaceRenderer, ref: FaceRenderer, seeds: list[str]) -> list[dict]:
    """PSNR per candidate level vs the release's 1024 output downsampled, and vs the release's own level."""
    full = ref.levels()[-1]["output"]
    ref_levels = {x["size"]: x["output"] for x in ref.levels()}
    vals: dict[int, dict[str, list[float]]] = {}
    for s in seeds:
        big = ref.planar(s, output=full)
        for lv in cand.levels():
            size, out = lv["size"], lv["output"]
            down, v = _area(big, size), vals.setdefault(size, {})
            own = cand.planar(s, precision="fp32", output=out)
            v.setdefault("fp32", []).append(_psnr(own, down))
            if "int8" in cand.available:
                v.setdefault("int8", []).append(_psnr(cand.planar(s, precision="int8", output=out), down))
            if size in ref_levels:
                theirs = ref.planar(s, output=ref_levels[size])
                v.setdefault("vs_release_level", []).append(_psnr(own, theirs))
                v.setdefault("release_level", []).append(_psnr(theirs, down))
    rows = []
    for lv in cand.levels():
        row = {"size": lv["size"], "output": lv["output"]}
        row.update({f"psnr_{k}_db": round(float(np.median(x)), 2) for k, x in vals[lv["size"]].items()})
        rows.append(row)
        log(f"level {lv['size']}: {row}")
    return rows


def evaluate(candidate: Path, reference: Path, n_seeds: int = 200, size: int = 128, psnr_seeds: int = 32,
             judge: FaceJudge | None = None, grid_seeds: int = 8) -> tuple[dict, np.ndarray]:
    t0 = time.time()
    cand, ref = FaceRenderer(candidate), FaceRenderer(reference)
    judge = judge or FaceJudge()
    precision = cand.student.get("edge_precision", "fp32")
    seeds = seed_names(n_seeds)
    log(f"{cand.man['id']}@{cand.man['version']} ({precision}, {cand.output_for(size)}) vs "
        f"{ref.man['id']}@{ref.man['version']} (fp32, {ref.output_for(size)}) at {size}px, {n_seeds} seeds")
    got = {"candidate": [], "reference": []}
    dists, rows = [], {"reference": [], "candidate": []}
    for i, s in enumerate(seeds):
        imgs = {"candidate": cand.render(s, size, precision=precision), "reference": ref.render(s, size)}
        res = {k: judge.describe(v) for k, v in imgs.items()}
        for k in got:
            got[k].append(res[k])
            if i < grid_seeds:
                rows[k].append(_framed(imgs[k], res[k][0]))
        if res["candidate"][0] and res["reference"][0]:
            dists.append(descriptor_distance(res["candidate"][1], res["reference"][1]))
        if (i + 1) % 50 == 0 or i + 1 == n_seeds:
            log(f"{i + 1}/{n_seeds} seeds, median distance so far {np.median(dists):.3f} ({time.time() - t0:.0f} s)")
    faces = {}
    for k, res in got.items():
        det = sum(ok for ok, _ in res)
        faces[k] = {"detected": det, "detection_rate": det / n_seeds,
                    **lookalike_stats([d for ok, d in res if ok], SAME_PERSON_THRESHOLD)}
    dist = _stats(dists)
    la_gap = 100 * (faces["candidate"]["lookalike_rate"] - faces["reference"]["lookalike_rate"])
    checks = {"distance_median": dist["median"] is not None and dist["median"] <= TARGETS["distance_median"],
              "detection_rate": faces["candidate"]["detection_rate"] >= TARGETS["detection_rate"],
              "lookalike_points": abs(la_gap) <= TARGETS["lookalike_points"]}
    report = {
        "tool": "seedface.eval_edge", "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "candidate": {"id": cand.man["id"], "version": cand.man["version"], "dir": str(candidate),
                      "precision": precision, "output": cand.output_for(size),
                      "channels": cand.student.get("channels"),
                      "steps": cand.man.get("provenance", {}).get("steps"),
                      "minutes": cand.man.get("provenance", {}).get("minutes")},
        "reference": {"id": ref.man["id"], "version": ref.man["version"], "precision": "fp32",
                      "output": ref.output_for(size)},
        "size": size, "seeds": {"n": n_seeds, "names": f"'{seeds[0]}'..'{seeds[-1]}'"},
        "judge": judge.procedure, "faces": faces,
        "distance_vs_reference": dist,
        "same_person_rate": sum(d < SAME_PERSON_THRESHOLD for d in dists) / max(1, len(dists)),
        "lookalike_gap_points": round(la_gap, 2),
        "fidelity": fidelity(cand, ref, seeds[:psnr_seeds]),
        "targets": TARGETS, "checks": checks, "meets_targets": all(checks.values()),
    }
    report["seconds"] = round(time.time() - t0, 1)
    return report, sample_grid([rows["reference"], rows["candidate"]])


def markdown(r: dict, grid_name: str) -> str:
    c, f, d = r["candidate"], r["faces"], r["distance_vs_reference"]
    lines = [f"# Edge student {c['id']}@{c['version']} vs {r['reference']['id']}@{r['reference']['version']}", "",
             f"{r['seeds']['n']} seeds ({r['seeds']['names']}) at {r['size']} px; candidate {c['precision']} from "
             f"{c['output']}, reference fp32 from {r['reference']['output']}; judge dlib (HOG + ResNet descriptor). "
             f"Made by `{r['tool']}` on {r['when']} in {r['seconds']:.0f} s.", "",
             "| figure | candidate | release | target | met |", "|---|---|---|---|---|",
             f"| median descriptor distance to the release's face | {d['median']:.3f} (p90 {d['p90']:.3f}) | 0 | "
             f"<= {r['targets']['distance_median']} | {'yes' if r['checks']['distance_median'] else 'no'} |",
             f"| detection rate | {f['candidate']['detection_rate']:.1%} | {f['reference']['detection_rate']:.1%} | "
             f">= {r['targets']['detection_rate']:.0%} | {'yes' if r['checks']['detection_rate'] else 'no'} |",
             f"| look-alike pair rate | {f['candidate']['lookalike_rate']:.2%} | {f['reference']['lookalike_rate']:.2%}"
             f" | within {r['targets']['lookalike_points']:g} points | "
             f"{'yes' if r['checks']['lookalike_points'] else 'no'} |",
             f"| same-person rate (distance < 0.6) | {r['same_person_rate']:.1%} | | | |", "",
             "## Fidelity per level (median PSNR, dB)", "",
             "| size | output | fp32 vs release 1024 downsampled | int8 vs same | fp32 vs release's own level | "
             "release's own level vs its 1024 |", "|---|---|---|---|---|---|"]
    def db(row, key):
        v = row.get(key)
        return "" if v is None else ("exact" if v >= EXACT_DB - 0.01 else f"{v:.2f}")
    for row in r["fidelity"]:
        lines.append(f"| {row['size']} | {row['output']} | " + " | ".join(db(row, k) for k in (
            "psnr_fp32_db", "psnr_int8_db", "psnr_vs_release_level_db", "psnr_release_level_db")) + " |")
    lines += ["", f"![release (top) vs edge student (bottom)]({grid_name})", "",
              "Top row: the release's face; bottom: the edge student's, same seeds (a red frame: no face found).", ""]
    return "\n".join(lines)


def add_to_history(path: Path, report: dict) -> list[dict]:
    """The curve's points: one row per evaluated training step (a re-evaluation of a step replaces its row)."""
    rows = json.loads(path.read_text()) if path.is_file() else []
    c = report["candidate"]
    row = {"steps": c.get("steps"), "minutes": c.get("minutes"), "seeds": report["seeds"]["n"],
           "distance_median": report["distance_vs_reference"]["median"],
           "detection_rate": report["faces"]["candidate"]["detection_rate"],
           "lookalike_rate": report["faces"]["candidate"]["lookalike_rate"],
           "reference_lookalike_rate": report["faces"]["reference"]["lookalike_rate"], "when": report["when"]}
    rows = sorted([r for r in rows if r.get("steps") != row["steps"]] + [row], key=lambda r: r.get("steps") or 0)
    path.write_text(json.dumps(rows, indent=1) + "\n")
    return rows


def curve_plot(path: Path, history: list[dict], run_log: Path | None = None) -> Path:
    """Median distance to the release's face (dlib) per evaluated step, with the target; and, from the run's
    log.csv, the training-side face-descriptor distance (the perceptual term) where it was on."""
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    pts = [(r["steps"], r["distance_median"]) for r in history if r.get("steps") is not None]
    if pts:
        x, y = zip(*pts)
        ax.plot(x, y, "o-", label="eval: median dlib distance to the release (int8, 128 px)")
    if run_log is not None and run_log.is_file():
        rows = [r for r in csv.DictReader(run_log.open()) if float(r.get("perceptual") or 0) > 0]
        if rows:
            ax.plot([int(r["step"]) for r in rows], [float(r["perceptual"]) for r in rows], lw=0.6, alpha=0.6,
                    label="training: face-descriptor distance (256 px, per step)")
    ax.axhline(TARGETS["distance_median"], color="red", lw=1, ls="--", label="target")
    ax.set_xlabel("training step (batch 8)")
    ax.set_ylabel("descriptor distance")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path
