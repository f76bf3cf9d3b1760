"""How close each fitted head draws the release's face, per serving size, and which level should serve each size.

    python -m seedface.heads_report models/ffhq [--seeds 500] [--write-manifest] [--figures training/heads/X.json]

For seeds "heads-eval/<i>" at the model's default psi (never used for fitting), rendered as the service renders
them (fp32, the seed's own noise), the reference at size s is the level-1024 face area-downsampled to s. Each level
L >= s is drawn, area-downsampled to s and compared: PSNR (dB, [-1, 1] range) and the pretrained face judge's
descriptor distance (dlib; same person below 0.6; faces under 128 px are enlarged to 128 for judging, see
seedface.face_judge). Rule per size: the cheapest level (fewest MACs) whose median PSNR >= 25 dB and whose median
distance <= 0.3 (distance counted where the judge finds the reference face in >= 80% of seeds; below that the
size is judged by PSNR alone), among the levels the edge may draw (<= --edge-level); if none does, the size goes
above the edge (edge_max_size is the largest size below it) and the origin draws it from the best level.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from seedface.console import logger
from seedface.eval import metrics
from seedface.eval.face_judge import FaceJudge
from seedface.pipeline.face import FaceRenderer
from seedface.pipeline.resample import finish_pixels

TARGET_PSNR = 25.0
TARGET_DISTANCE = 0.3
MIN_DETECTION = 0.8
SIZES = [16, 32, 64, 128, 256]
JUDGE_FROM = 32  # smaller faces are judged by PSNR alone (the judge cannot see a 16 px face)
MAX_FACTOR = 4  # candidate levels for size s: s .. 4s and the full resolution


log = logger("heads_report")


def area_down(img: np.ndarray, size: int) -> np.ndarray:
    f = img.shape[-1] // size
    if f == 1:
        return img
    c, h, w = img.shape
    return img.reshape(c, h // f, f, w // f, f).mean(axis=(2, 4))


def measure(model_dir: Path, n_seeds: int, sizes: list[int]) -> dict:
    r = FaceRenderer(model_dir, precisions=("fp32",))
    levels = [l["size"] for l in r.levels()]
    full = max(levels)
    outputs = [f"img_{l}" for l in levels]
    sess = r.session("student", "fp32")
    judge = FaceJudge()
    cand_levels = {s: [L for L in levels if s <= L <= MAX_FACTOR * s or L == full] for s in sizes}
    stats = {(s, L): {"psnr": [], "dist": []} for s in sizes for L in cand_levels[s]}
    ref_detect = {s: 0 for s in sizes}
    t0 = time.time()
    for i in range(n_seeds):
        seed = f"heads-eval/{i}"
        imgs = dict(zip(levels, (o[0] for o in sess.run(outputs, r.feeds(seed, r.style(seed))))))
        for s in sizes:
            ref = area_down(imgs[full], s)
            ok, ref_desc = judge.describe(finish_pixels(ref, s)) if s >= JUDGE_FROM else (False, None)
            ref_detect[s] += int(ok)
            for L in cand_levels[s]:
                cand = area_down(imgs[L], s) if L != full else ref
                st = stats[(s, L)]
                st["psnr"].append(float(metrics.psnr(cand[None], ref[None], clip=True, min_mse=1e-12)[0])
                                 if L != full else float("inf"))
                if ok:
                    okc, d = judge.describe(finish_pixels(cand, s)) if L != full else (True, ref_desc)
                    st["dist"].append(float(np.linalg.norm(d - ref_desc)) if okc else 1.0)
        if i % 25 == 0 or i == n_seeds - 1:
            el = time.time() - t0
            eta = el / (i + 1) * (n_seeds - i - 1) / 60
            log(f"{i + 1}/{n_seeds} seeds ({el / (i + 1):.2f} s/seed, eta {eta:.1f} min)")
    macs = {l["size"]: l.get("macs", 0) for l in r.levels()}
    table = []
    for (s, L), st in stats.items():
        p = np.asarray(st["psnr"])
        d = np.asarray(st["dist"])
        table.append({"size": s, "level": L, "output": f"img_{L}", "macs": macs.get(L, 0),
                      "psnr_db": round(float(np.median(p)), 2) if L != full else None,
                      "psnr_p10_db": round(float(np.percentile(p, 10)), 2) if L != full else None,
                      "face_distance": round(float(np.median(d)), 3) if len(d) else None,
                      "face_distance_p90": round(float(np.percentile(d, 90)), 3) if len(d) else None,
                      "judged": int(len(d))})
    return {"seeds": n_seeds, "psi": r.default_psi, "levels": levels, "table": table,
            "reference_detection": {str(s): round(ref_detect[s] / n_seeds, 3) for s in sizes},
            "judge": judge.procedure, "seconds": round(time.time() - t0, 1)}


def meets(row: dict, detection: float) -> bool:
    if row["psnr_db"] is None:  # the full-resolution level is the reference itself
        return True
    if row["psnr_db"] < TARGET_PSNR:
        return False
    if detection >= MIN_DETECTION and row["face_distance"] is not None:
        return row["face_distance"] <= TARGET_DISTANCE
    return True


def choose(m: dict, edge_level: int) -> dict:
    rows = []
    edge_max, contiguous = None, True
    for s in sorted({t["size"] for t in m["table"]}):
        det = m["reference_detection"][str(s)]
        cands = sorted((t for t in m["table"] if t["size"] == s), key=lambda t: (t["macs"], t["level"]))
        ok = [t for t in cands if meets(t, det)]
        at_edge = [t for t in ok if t["level"] <= edge_level]
        pick = at_edge[0] if at_edge else ok[0]
        contiguous = contiguous and bool(at_edge)
        if contiguous:
            edge_max = s
        rows.append({"up_to": s, "output": pick["output"], "psnr_db": pick["psnr_db"],
                     "face_distance": pick["face_distance"], "judged_by": "psnr+face" if det >= MIN_DETECTION
                     else "psnr (judge finds the reference face in %.0f%% of seeds)" % (100 * det),
                     "edge": bool(at_edge)})
    return {"edge_max_size": edge_max, "sizes": rows,
            "rule": f"per size, the cheapest level with median PSNR >= {TARGET_PSNR} dB and median same-person "
                    f"distance <= {TARGET_DISTANCE} vs the 1024 face area-downsampled to that size "
                    f"(heads_report.py); the edge draws levels <= {edge_level}",
            "measured": {"seeds": m["seeds"], "psi": m["psi"], "seed_names": "heads-eval/<i>"}}


def write_markdown(m: dict, serving: dict, path: Path) -> None:
    lines = [f"# Fitted heads vs the release's 1024 face ({m['seeds']} seeds, psi {m['psi']})", "",
             "| size | level | MACs | median PSNR | p10 PSNR | median face distance | p90 | judged |",
             "|---|---|---|---|---|---|---|---|"]
    for t in sorted(m["table"], key=lambda t: (t["size"], t["level"])):
        lines.append(f"| {t['size']} | {t['level']} | {t['macs'] / 1e9:.2f} G | {t['psnr_db']} | {t['psnr_p10_db']} | "
                     f"{t['face_distance']} | {t['face_distance_p90']} | {t['judged']} |")
    lines += ["", "Reference detection rate per size: " + ", ".join(f"{k}: {v:.0%}" for k, v in
                                                                m["reference_detection"].items()), "",
              "## Chosen", "", f"edge_max_size = {serving['edge_max_size']}; rule: {serving['rule']}", "",
              "| sizes up to | drawn from | PSNR | face distance | edge |", "|---|---|---|---|---|"]
    for r in serving["sizes"]:
        lines.append(f"| {r['up_to']} | {r['output']} | {r['psnr_db']} | {r['face_distance']} | {r['edge']} |")
    path.write_text("\n".join(lines) + "\n")
