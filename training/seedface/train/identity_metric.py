"""An identity-aware metric for the attribute edit (issue 16): move w so that dlib's face descriptor moves least.

    python -m seedface.attributes_identity [--labels training/runs/attributes/ffhq]     # describe the labeled faces

The shipped edit is the smallest Euclidean move in w that puts the asked projections in their classes. Euclidean in
w is not what a viewer (or dlib) sees as "the same person": some directions of w change the face's identity much
more than others. Here the labeled faces' dlib descriptors (128-d, the identity judge of the evaluation) are fitted
by a linear map ``desc ~ B w + b`` (ridge), and the edit minimises

    |delta|^2 + lam * |P B delta|^2 / s      subject to   n_k . delta = t_k - p_k  for every direction k

where P removes from descriptor space the axes that carry the attributes themselves (a ridge fit of log age,
female and smile from the descriptor: a face asked to be older *should* move along the descriptor's age axis) and
s is the mean of |P B n_k|^2 over the directions (so ``lam`` is unitless). The minimiser is ``delta = sum_k c_k u_k``
with ``u_k = M^-1 n_k``, ``M = I + lam B^T P B / s``: each direction gets a *move* vector ``u_k``, written into
attributes.json as ``move`` (the runtime solves ``G c = t - p`` with ``G_kl = n_k . u_l``; without ``move``,
``u_k = n_k`` and the edit is the Euclidean one). Closed form, linear, and still one small solve per request.

Descriptors: ``chunk_NNNN.dlib.npy`` (float64 [n, 128], NaN rows where dlib found no face) beside the label chunks,
computed by dlib (seedface.eval.face_judge) on the 256 px faces reduced to the evaluation's 128 px; resumable.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from seedface.paths import REPO
from seedface.train.attribute_directions import ridge

DESC_SIZE = 128
B_LAMBDAS = (1.0, 10.0, 100.0, 1000.0)


def log(msg: str) -> None:
    print(f"[identity] {msg}", file=sys.stderr, flush=True)


def _shrink(img: np.ndarray, size: int) -> np.ndarray:
    from seedface.pipeline.resample import resample, to_rgb8

    if img.shape[0] == size:
        return img
    planar = img.astype(np.float32).transpose(2, 0, 1) / np.float32(127.5) - np.float32(1.0)
    return to_rgb8(resample(planar, size, size))


def describe_labels(label_dir, size: int = DESC_SIZE, part: tuple[int, int] = (0, 1)) -> int:
    """dlib descriptors of every labeled chunk that has none yet (``part`` (i, n): only every n-th chunk from the
    i-th, so n processes share the work); returns how many chunks were described."""
    from seedface.eval.face_judge import FaceJudge
    from seedface.eval.attribute_labels import save_atomic

    d = Path(label_dir)
    judge = FaceJudge()
    done = 0
    t0 = time.time()
    chunks = sorted(f for f in d.glob("chunk_*.npy") if f.name.count(".") == 1)
    for f in chunks[part[0]::part[1]]:
        out = f.with_name(f.stem + ".dlib.npy")
        if out.exists():
            continue
        imgs = np.load(f)
        rows = np.full((len(imgs), 128), np.nan)
        for i, im in enumerate(imgs):
            ok, desc = judge.describe(_shrink(im, size))
            if ok:
                rows[i] = desc
        save_atomic(out, rows)
        done += 1
        log(f"{f.name}: {np.isfinite(rows[:, 0]).sum()}/{len(rows)} described ({time.time() - t0:.0f} s)")
    return done


def load_descriptors(label_dir, index: np.ndarray, chunk: int) -> np.ndarray:
    """[N, 128] descriptors for the label rows `index` (seed numbers), NaN where missing."""
    d = Path(label_dir)
    out = np.full((len(index), 128), np.nan)
    cache: dict[int, np.ndarray] = {}
    for j, i in enumerate(index):
        c = int(i) // chunk
        if c not in cache:
            f = d / f"chunk_{c:04d}.dlib.npy"
            cache[c] = np.load(f) if f.exists() else np.full((chunk, 128), np.nan)
        out[j] = cache[c][int(i) % chunk]
    return out


def descriptor_map(W: np.ndarray, D: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, dict]:
    """B [128, 512] of desc ~ B w + b (ridge, lambda chosen on the held-out rows), and the held-out R^2."""
    best = None
    for lam in B_LAMBDAS:
        c, b = ridge(W[~test], D[~test], lam)
        pred = W[test] @ c + b
        r2 = 1 - ((pred - D[test]) ** 2).sum() / ((D[test] - D[test].mean(0)) ** 2).sum()
        if best is None or r2 > best[1]:
            best = (lam, r2)
    c, _ = ridge(W, D, best[0])
    return c.T, {"ridge_lambda": best[0], "held_out_r2": float(best[1])}


def attribute_axes(D: np.ndarray, targets: list[np.ndarray]) -> np.ndarray:
    """Orthonormal [k, 128] descriptor-space axes that predict the attributes (ridge on the descriptor)."""
    axes = []
    for y in targets:
        c, _ = ridge(D, y, 1e-2)
        axes.append(c)
    q, _ = np.linalg.qr(np.stack(axes).T)
    return q.T


def move_vectors(normals: np.ndarray, B: np.ndarray, axes: np.ndarray, lam: float) -> tuple[np.ndarray, dict]:
    """u_k = M^-1 n_k with M = I + lam B^T P B / s (module docstring), and how much less each direction moves the
    identity part of the descriptor per unit of its projection than its normal does."""
    P = np.eye(B.shape[0]) - axes.T @ axes
    PB = P @ B
    s = float(np.mean([(PB @ n) @ (PB @ n) for n in normals]))
    M = np.eye(B.shape[1]) + lam * PB.T @ PB / s
    U = np.linalg.solve(M, normals.T).T
    info = []
    for n, u in zip(normals, U):
        u1 = u / (n @ u)  # a unit of projection along u
        info.append({"identity_per_unit_normal": float(np.linalg.norm(PB @ n)),
                     "identity_per_unit_move": float(np.linalg.norm(PB @ u1)),
                     "w_norm_per_unit_move": float(np.linalg.norm(u1)), "cos_normal": float(n @ u / np.linalg.norm(u))})
    return U, {"lambda": lam, "scale": s, "directions": info}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", default=str(REPO / "training" / "runs" / "attributes" / "ffhq"))
    ap.add_argument("--jobs", type=int, default=2, help="processes (each takes every n-th chunk)")
    ap.add_argument("--part", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.part is None and a.jobs > 1:
        import subprocess

        procs = [subprocess.Popen([sys.executable, "-m", "seedface.train.identity_metric", "--labels", a.labels,
                                   "--part", f"{i}/{a.jobs}"]) for i in range(a.jobs)]
        return max(p.wait() for p in procs)
    i, k = (int(x) for x in (a.part or "0/1").split("/"))
    n = describe_labels(a.labels, part=(i, k))
    log(f"described {n} chunks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
