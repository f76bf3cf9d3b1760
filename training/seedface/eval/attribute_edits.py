"""Label edited faces: how old does face-api judge a seed moved along the age direction? (issue 16, start weights)

    python -m seedface.attributes_edits [--model models/ffhq] [--faces 2048] [--out training/runs/attributes/ffhq-edits]
    python -m seedface.attributes_edits --fit [--out ...]        # the start weights, from the judged edits

Each fitting seed ``attr-train/<i>`` (psi 1.0, its own noise) is moved along the model's age direction to a
projection ``t`` drawn uniformly from ``T_RANGE`` (numpy PCG64 seeded with 10000 + i), the other directions held
(the service's minimum-norm move), drawn from ``img_256`` and judged by face-api (``scripts/face-attributes-judge.cjs``,
started here). Files: ``chunk_NNNN.npy`` (uint8 faces), ``chunk_NNNN.w.npy`` (the seeds' unedited w),
``chunk_NNNN.t.npy`` (the landing projections), ``chunk_NNNN.faceapi.json``. Resumable by chunk.

``--fit``: for each age class, among the edits that land near its bound (``SIDES``), the logistic fit
``P(judged in the class's range | t, p0) = sigmoid(a + b_t t + b_0 p0)`` (p0: the seed's projection before the move)
gives the class's start weight ``b_0 / b_t`` (adult: the mean of its two sides): how much a unit of start is worth
in units of landing. Natural faces would give 0 if the judge saw
only p; ffhq's edited faces give about 1 (senior, adult) and 1.5 (child): a seed that starts younger stays younger
after the same landing, so it must land deeper. Printed and written to ``OUT/start_weights.json``.

``start_vectors`` (used by ``attributes_fit --start-vectors OUT``): the same edits, with the seed's whole w instead
of p0: per class region a ridge model of the judged log-age gives each seed its own start (docs/attributes.md,
step 7; ffhq 1.4.0's senior class).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from seedface.eval.attribute_labels import OUTPUT, SIZE, judging, save_atomic
from seedface.paths import REPO
from seedface.pipeline import attributes as at
from seedface.pipeline.face import FaceRenderer
from seedface.pipeline.resample import finish_pixels

SEED_PREFIX = "attr-train/"
T_RANGE = (-3.5, 5.0)
PSI = 1.0
CHUNK = 64
# per class, the sides of its age range judged: (landing projections around that bound, in the units of the ffhq
# 1.2.0 age direction whose bounds are child p <= -2.6, adult 2.6..3.4, senior p >= 4.2; years: >= Y, or < -Y)
SIDES = {"child": [((-4.0, -1.0), -13)], "adult": [((1.0, 4.0), 30), ((1.5, 5.0), -60)],
         "senior": [((2.5, 5.1), 60)]}


def log(msg: str) -> None:
    print(f"[edits] {msg}", file=sys.stderr, flush=True)


def landing(i: int) -> float:
    return float(np.random.default_rng(10_000 + i).uniform(*T_RANGE))


def moved(normals: np.ndarray, w: np.ndarray, k: int, t: float) -> np.ndarray:
    """w moved so that direction k's projection is t and every other direction's stays (minimum-norm move)."""
    rhs = np.zeros(len(normals))
    rhs[k] = t - normals[k] @ w
    return w + np.linalg.solve(normals @ normals.T, rhs) @ normals


def render(a) -> int:
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    r = FaceRenderer(a.model, precisions=("fp32",))
    data = at.load(a.model, r.man)
    names = [x["name"] for x in data["attributes"]]
    normals = np.asarray([x["normal"] for x in data["attributes"]], np.float64)
    meta = {"model": r.man["id"], "version": r.man["version"], "seed_prefix": SEED_PREFIX, "psi": PSI,
            "output": OUTPUT, "size": SIZE, "chunk": CHUNK, "t_range": list(T_RANGE), "direction": "age"}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    sess = r.session("student", "fp32", OUTPUT)
    t0 = time.time()
    n_chunks = (a.faces + CHUNK - 1) // CHUNK
    with judging(out):
        for c in range(n_chunks):
            if (out / f"chunk_{c:04d}.npy").exists():
                continue
            imgs, ws, ts = [], [], []
            for i in range(c * CHUNK, min(a.faces, (c + 1) * CHUNK)):
                s = f"{SEED_PREFIX}{i}"
                w = r.style(s, PSI)[0].astype(np.float64)
                t = landing(i)
                wp = moved(normals, w, names.index("age"), t).astype(np.float32)[None]
                imgs.append(finish_pixels(sess.run([OUTPUT], r.feeds(s, wp))[0][0], SIZE))
                ws.append(w)
                ts.append(t)
            np.save(out / f"chunk_{c:04d}.w.npy", np.stack(ws))
            np.save(out / f"chunk_{c:04d}.t.npy", np.asarray(ts))
            save_atomic(out / f"chunk_{c:04d}.npy", np.stack(imgs))
            log(f"chunk {c + 1}/{n_chunks} rendered, {time.time() - t0:.0f} s")
    return 0


def load(out: Path, normal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(landing t, start p0, judged age in years) of the edits the judge detected."""
    T, W, A = load_w(out)
    return T, W @ normal, A


def fit(out: Path, model) -> dict:
    from seedface.train.attribute_directions import logistic

    data = at.load(model)
    normal = np.asarray(next(x for x in data["attributes"] if x["name"] == "age")["normal"])
    T, P0, age = load(out, normal)
    res = {"edits": int(len(T)), "classes": {}}
    for cls, sides in SIDES.items():
        weights = []
        for (lo, hi), years in sides:
            m = (T >= lo) & (T < hi)
            y = ((age >= years) if years > 0 else (age < -years)).astype(np.float64)
            (b_t, b_0), _ = logistic(np.c_[T[m], P0[m]], y[m], 1e-6)
            weights.append({"region": [lo, hi], "edits": int(m.sum()), "judged": f"age {'>=' if years > 0 else '<'} {abs(years)}",
                            "b_t": float(b_t), "b_0": float(b_0), "start_weight": float(b_0 / b_t)})
        res["classes"][cls] = {"sides": weights, "start_weight": float(np.mean([x["start_weight"] for x in weights]))}
        per_side = ", ".join(f"{x['judged']}: {x['start_weight']:.3f}" for x in weights)
        log(f"{cls}: start weight {res['classes'][cls]['start_weight']:.3f} ({per_side})")
    (out / "start_weights.json").write_text(json.dumps(res, indent=1) + "\n")
    return res


# per class, the landings whose judged age fits its start vector (same units as SIDES)
VECTOR_REGIONS = {"child": (-4.0, -1.0), "adult": (0.5, 3.5), "senior": (2.5, 5.1)}
VECTOR_LAMBDA = 100.0


def load_w(out: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(landing t, unedited w [n, 512], judged age) of the edits the judge detected."""
    T, W, A = [], [], []
    for f in sorted(out.glob("chunk_*.faceapi.json")):
        c = f.name.split(".")[0]
        rows = json.loads(f.read_text())["rows"]
        w, t = np.load(out / f"{c}.w.npy"), np.load(out / f"{c}.t.npy")
        for wi, ti, row in zip(w, t, rows):
            if row["detected"]:
                T.append(ti)
                W.append(wi)
                A.append(row["age"])
    return np.asarray(T), np.asarray(W, np.float64), np.asarray(A, np.float64)


def start_vectors(out: Path, lam: float = VECTOR_LAMBDA) -> dict:
    """Per class, a start vector from the judged edits: log(judged age) ~ a t + b . w0 + c (ridge, t not shrunk)
    over the edits that land in the class's region; the class bound then shifts by (b . (w0 - mean w0)) / a for each
    seed, written as start {normal: b/|b|, weight: |b|/a, ref: normal . mean w0}; with the model's 5-fold
    out-of-fold R^2."""
    from seedface.train.attribute_directions import ridge

    T, W, A = load_w(out)
    y = np.log(np.maximum(A, 0.5))
    X = np.c_[T, W]
    folds = np.arange(len(T)) % 5
    wbar = W.mean(0)
    res = {}
    for cls, (lo, hi) in VECTOR_REGIONS.items():
        m = (T >= lo) & (T < hi)
        pred = np.zeros(len(T))
        for k in range(5):
            tr, te = m & (folds != k), m & (folds == k)
            c, b = ridge(X[tr], y[tr], lam, unpenalized=(0,))
            pred[te] = X[te] @ c + b
        r, yc = y[m] - pred[m], y[m] - y[m].mean()
        coef, _ = ridge(X[m], y[m], lam, unpenalized=(0,))
        a, b = float(coef[0]), coef[1:]
        normal = b / np.linalg.norm(b)
        res[cls] = {"region": [lo, hi], "edits": int(m.sum()), "lambda": lam, "a": a,
                    "oof_r2": float(1 - (r @ r) / (yc @ yc)),
                    "start": {"weight": float(np.linalg.norm(b) / a), "ref": float(normal @ wbar),
                              "normal": normal.tolist()}}
        log(f"{cls}: {m.sum()} edits, out-of-fold R^2 {res[cls]['oof_r2']:.3f}, start weight "
            f"{res[cls]['start']['weight']:.2f}")
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "models" / "ffhq"))
    ap.add_argument("--faces", type=int, default=2048)
    ap.add_argument("--out", default=str(REPO / "training" / "runs" / "attributes" / "ffhq-edits"))
    ap.add_argument("--fit", action="store_true", help="fit the start weights from the judged edits")
    a = ap.parse_args(argv)
    if a.fit:
        print(json.dumps(fit(Path(a.out), a.model), indent=1))
        return 0
    return render(a)


if __name__ == "__main__":
    sys.exit(main())
