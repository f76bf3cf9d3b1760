"""Label generated faces for the attribute directions (issue 16, step 1).

    python -m seedface.attributes_label [--model models/ffhq] [--faces 4000] [--chunk 64] [--psi 1.0]
                                        [--out training/runs/attributes/ffhq] [--max-minutes 35]

Seeds ``attr-train/0`` .. ``attr-train/<N-1>`` (seedface-seed/1) are drawn exactly as the service draws them
(seedface.face_render.FaceRenderer: mapping -> truncation -> W+ -> fp32 student with the seed's noise) from the
``img_256`` level at 256 px, at psi 1.0 (the whole of w space, so every class is represented). Each chunk writes
``chunk_NNNN.npy`` (uint8 [n, 256, 256, 3]) and ``chunk_NNNN.w.npy`` (the truncated w' [n, 512] float32 that drew
them); the attribute judge (``node scripts/face-attributes-judge.cjs DIR --watch``, face-api age/gender +
expression nets) runs alongside and writes ``chunk_NNNN.faceapi.json``. This script starts the judge itself unless
``--no-judge``; chunks already written are skipped, so a stopped run resumes. ``--max-minutes`` stops rendering
after that wall time (the chunks done so far count).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from seedface.paths import REPO
from seedface.pipeline.face import FaceRenderer

SEED_PREFIX = "attr-train/"
JUDGE_SCRIPT = REPO / "scripts" / "face-attributes-judge.cjs"
OUTPUT = "img_256"
SIZE = 256


def log(msg: str) -> None:
    print(f"[label] {msg}", file=sys.stderr, flush=True)


def start_judge(out: Path) -> subprocess.Popen:
    return subprocess.Popen(["node", str(JUDGE_SCRIPT), str(Path(out).resolve()), "--watch"], cwd=str(REPO))


@contextmanager
def judging(out: Path, enabled: bool = True):
    """The face-api judge in watch mode on `out` while the body writes chunks; on exit (also on an error) DONE is
    written and the judge finishes the chunks left."""
    (out / "DONE").unlink(missing_ok=True)
    judge = start_judge(out) if enabled else None
    try:
        yield
    finally:
        (out / "DONE").write_text("done\n")
        if judge is not None:
            judge.wait()


def render_chunk(r: FaceRenderer, seeds: list[str], psi: float) -> tuple[np.ndarray, np.ndarray]:
    sess = r.session("student", "fp32", OUTPUT)
    from seedface.pipeline.resample import finish_pixels

    imgs, ws = [], []
    for s in seeds:
        w = r.style(s, psi, "fp32")
        img = sess.run([OUTPUT], r.feeds(s, w))[0][0]
        imgs.append(finish_pixels(img, SIZE))
        ws.append(w[0])
    return np.stack(imgs), np.stack(ws).astype(np.float32)


def save_atomic(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, arr)
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "models" / "ffhq"))
    ap.add_argument("--faces", type=int, default=4000)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--psi", type=float, default=1.0)
    ap.add_argument("--out", default=str(REPO / "training" / "runs" / "attributes" / "ffhq"))
    ap.add_argument("--max-minutes", type=float, default=35.0)
    ap.add_argument("--no-judge", action="store_true")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    r = FaceRenderer(a.model, precisions=("fp32",))
    meta = {"model": r.man["id"], "version": r.man["version"], "seed_prefix": SEED_PREFIX, "psi": a.psi,
            "output": OUTPUT, "size": SIZE, "chunk": a.chunk}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    t0 = time.time()
    n_chunks = (a.faces + a.chunk - 1) // a.chunk
    with judging(out, not a.no_judge):
        for c in range(n_chunks):
            f = out / f"chunk_{c:04d}.npy"
            if f.exists() and (out / f"chunk_{c:04d}.w.npy").exists():
                continue
            if time.time() - t0 > a.max_minutes * 60:
                log(f"time budget of {a.max_minutes} min reached at chunk {c}; stopping")
                break
            lo, hi = c * a.chunk, min(a.faces, (c + 1) * a.chunk)
            imgs, ws = render_chunk(r, [f"{SEED_PREFIX}{i}" for i in range(lo, hi)], a.psi)
            save_atomic(out / f"chunk_{c:04d}.w.npy", ws)
            save_atomic(f, imgs)
            log(f"chunk {c + 1}/{n_chunks} ({hi} faces) rendered, {time.time() - t0:.0f} s")
    log(f"done in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
