"""Probe how the judge's age reading changes when w moves (issue 16: an age direction that works as an edit).

    python -m seedface.attributes_probe [--model models/ffhq] [--pairs 2048] [--eps 0.3] [--chunk 64]
                                        [--out training/runs/attributes/ffhq-probes] [--max-minutes 30]

The ridge direction of the fit predicts the age of natural faces, but as an edit it moves features that only
co-vary with age in FFHQ: edited faces read younger than natural faces at the same projection (docs/attributes.md).
Probes measure the edit itself. Each probe is a pair of faces of one seed ``attr-probe/<i>`` (the seed's noise):
``b + d`` and ``b - d``, where the base ``b`` is the seed's w (psi 1.0), in two of three pairs first moved along the
model's current age direction to a projection drawn uniformly from ``BASE_P`` (so the pairs also sample the
regions that child and senior edits land in), and ``d = eps (w_a - w_b) / sqrt 2`` is the difference of two other
seeds' w: a step distributed like w itself varies. Half the judged age change of a pair, in log-years, is then
about ``g . d``, with ``g`` the judge's mean gradient in w; ``attributes_fit --age-probes DIR`` fits it by ridge
regression and uses its direction for age.

Files: ``chunk_NNNN.npy`` (uint8 [2n, 256, 256, 3], pairs in consecutive rows) and ``chunk_NNNN.w.npy`` (the w
that drew them), judged by face-api into ``chunk_NNNN.faceapi.json`` alongside (``scripts/face-attributes-judge.cjs``
in watch mode, started here), plus ``chunk_NNNN.probe.npz`` (base b [n, 512], step d [n, 512]). Chunks already
written are skipped: a stopped run resumes.
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

SEED_PREFIX = "attr-probe/"
STEP_PREFIX = "attr-probe-step/"
BASE_P = (-3.0, 4.5)
PSI = 1.0


def log(msg: str) -> None:
    print(f"[probe] {msg}", file=sys.stderr, flush=True)


def pair_plan(i: int, age_normal: np.ndarray, w: np.ndarray, wa: np.ndarray, wb: np.ndarray, eps: float):
    """(base, step) of probe i: deterministic in i (numpy's PCG64 seeded with i) and the three w."""
    rng = np.random.default_rng(i)
    base = w.astype(np.float64)
    if i % 3:
        t = rng.uniform(*BASE_P)
        base = base + (t - float(base @ age_normal)) * age_normal
    step = eps * (wa.astype(np.float64) - wb) / np.sqrt(2.0)
    return base, step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "models" / "ffhq"))
    ap.add_argument("--pairs", type=int, default=2048)
    ap.add_argument("--eps", type=float, default=0.3)
    ap.add_argument("--chunk", type=int, default=64, help="pairs per chunk")
    ap.add_argument("--out", default=str(REPO / "training" / "runs" / "attributes" / "ffhq-probes"))
    ap.add_argument("--max-minutes", type=float, default=30.0)
    ap.add_argument("--no-judge", action="store_true")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    r = FaceRenderer(a.model, precisions=("fp32",))
    data = at.load(a.model, r.man)
    age = next(x for x in data["attributes"] if x["name"] == "age")
    n_age = np.asarray(age["normal"], np.float64)
    meta = {"model": r.man["id"], "version": r.man["version"], "seed_prefix": SEED_PREFIX, "psi": PSI,
            "output": OUTPUT, "size": SIZE, "chunk": 2 * a.chunk, "eps": a.eps, "base_p": list(BASE_P),
            "age_direction_of": r.man["version"], "pairs": a.pairs}
    prev = out / "meta.json"
    if prev.exists() and json.loads(prev.read_text()) | {"pairs": a.pairs} != meta:
        raise SystemExit(f"{out} holds probes of another plan ({prev}); use another --out")
    prev.write_text(json.dumps(meta, indent=2) + "\n")
    sess = r.session("student", "fp32", OUTPUT)
    t0 = time.time()
    n_chunks = (a.pairs + a.chunk - 1) // a.chunk
    with judging(out, not a.no_judge):
        for c in range(n_chunks):
            if (out / f"chunk_{c:04d}.npy").exists() and (out / f"chunk_{c:04d}.probe.npz").exists():
                continue
            if time.time() - t0 > a.max_minutes * 60:
                log(f"time budget of {a.max_minutes} min reached at chunk {c}; stopping")
                break
            imgs, ws, bases, steps = [], [], [], []
            for i in range(c * a.chunk, min(a.pairs, (c + 1) * a.chunk)):
                seed = f"{SEED_PREFIX}{i}"
                w = r.style(seed, PSI)[0]
                wa, wb = r.style(f"{STEP_PREFIX}{2 * i}", PSI)[0], r.style(f"{STEP_PREFIX}{2 * i + 1}", PSI)[0]
                base, step = pair_plan(i, n_age, w, wa, wb, a.eps)
                for sign in (1.0, -1.0):
                    wp = (base + sign * step).astype(np.float32)[None]
                    imgs.append(finish_pixels(sess.run([OUTPUT], r.feeds(seed, wp))[0][0], SIZE))
                    ws.append(wp[0])
                bases.append(base)
                steps.append(step)
            np.savez(out / f"chunk_{c:04d}.probe.npz", base=np.stack(bases), step=np.stack(steps))
            save_atomic(out / f"chunk_{c:04d}.w.npy", np.stack(ws))
            save_atomic(out / f"chunk_{c:04d}.npy", np.stack(imgs))
            log(f"chunk {c + 1}/{n_chunks} ({min(a.pairs, (c + 1) * a.chunk)} pairs) rendered, {time.time() - t0:.0f} s")
    log(f"done in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
