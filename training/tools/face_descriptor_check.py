"""How well seedface.models.face_descriptor agrees with dlib's judge on generated faces, and what it costs.

    PYTHONPATH=training training/.venv/bin/python training/tools/face_descriptor_check.py [--model-dir DIR] [--n 50]

Renders seeds ``descriptor/<i>`` through DIR (default models/ffhq: needs its fp32 mapping.onnx + student_fp32.onnx)
at psi 0.7 and 128 and 256 px. Pairs: each face with a perturbed copy of itself (Gaussian blur sigma 1.5 px at 256,
i.e. 0.75 at 128; down to a quarter of the side and back up; JPEG quality 20; additive Gaussian noise sd 12/255)
and every pair of different seeds. Both descriptors see the same uint8 image: dlib through
seedface.eval.face_judge (its detector, landmarks and aligned chip), ours through FaceDescriptor (fixed crop).
Prints Pearson and Spearman correlations of the two distances (all pairs, same-seed pairs, different-seed pairs),
how often both agree on dlib's 0.6 threshold, and forward + backward time of a batch of 8 at 128x128, 1 thread.
"""
from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from seedface.eval.face_judge import SAME_PERSON_THRESHOLD, FaceJudge
from seedface.models.face_descriptor import FaceDescriptor, descriptor_distance
from seedface.pipeline.face import FaceRenderer
from seedface.pipeline.resample import finish_pixels
from seedface.paths import REPO


def perturbations(rgb: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    s = rgb.shape[0]
    im = Image.fromarray(rgb)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=20)
    noise = rgb.astype(np.float64) + rng.normal(0, 12, rgb.shape)
    return {"blur": np.asarray(im.filter(ImageFilter.GaussianBlur(1.5 * s / 256))),
            "down4": np.asarray(im.resize((s // 4, s // 4), Image.BILINEAR).resize((s, s), Image.BILINEAR)),
            "jpeg20": np.asarray(Image.open(buf).convert("RGB")),
            "noise12": np.clip(np.rint(noise), 0, 255).astype(np.uint8)}


def ranks(x: np.ndarray) -> np.ndarray:
    r = np.empty(len(x))
    r[np.argsort(x, kind="stable")] = np.arange(len(x))
    return r


def corr(a, b) -> tuple[float, float]:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.corrcoef(a, b)[0, 1]), float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def ours(net: FaceDescriptor, images: list[np.ndarray]) -> np.ndarray:
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    with torch.no_grad():
        return torch.cat([net(x[i:i + 16]) for i in range(0, len(x), 16)]).numpy()


def check(renderer: FaceRenderer, judge: FaceJudge, net: FaceDescriptor, n: int, size: int) -> None:
    rng = np.random.default_rng(0)
    faces = [finish_pixels(renderer.planar(f"descriptor/{i}", 0.7, output="img_256"), size) for i in range(n)]
    pert = [perturbations(f, rng) for f in faces]
    names = list(pert[0])
    dl = [judge.describe(f)[1] for f in faces]
    dlp = [{k: judge.describe(p[k])[1] for k in names} for p in pert]
    e = ours(net, faces)
    ep = {k: ours(net, [p[k] for p in pert]) for k in names}

    same, diff = [], []  # (dlib distance, our distance, kind)
    missed = 0
    for i in range(n):
        for k in names:
            if dl[i] is None or dlp[i][k] is None:
                missed += 1
                continue
            same.append((np.linalg.norm(dl[i] - dlp[i][k]), np.linalg.norm(e[i] - ep[k][i]), k))
        for j in range(i + 1, n):
            if dl[i] is not None and dl[j] is not None:
                diff.append((np.linalg.norm(dl[i] - dl[j]), np.linalg.norm(e[i] - e[j]), "diff"))
    print(f"\n{size} px: {n} seeds, {len(same)} same-seed pairs ({missed} without a dlib face), "
          f"{len(diff)} different-seed pairs")
    for label, rows in (("all", same + diff), ("same", same), ("diff", diff)) + tuple(
            (k, [r for r in same if r[2] == k]) for k in names):
        a, b = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
        p, s = corr(a, b)
        agree = np.mean((a < SAME_PERSON_THRESHOLD) == (b < SAME_PERSON_THRESHOLD))
        print(f"  {label:8s} n={len(rows):5d}  pearson {p:.3f}  spearman {s:.3f}  dlib mean {a.mean():.3f}  "
              f"ours mean {b.mean():.3f}  agree@0.6 {agree:.3f}")
    # our descriptor of the raw face vs dlib's own descriptor of it (alignment + quantization gap)
    gap = [np.linalg.norm(e[i] - dl[i]) for i in range(n) if dl[i] is not None]
    print(f"  |ours - dlib| on the same face: mean {np.mean(gap):.3f}, max {np.max(gap):.3f}")


def timing(net: FaceDescriptor, reps: int = 5) -> None:
    x = torch.rand(8, 3, 128, 128) * 2 - 1
    ref = net(torch.rand(8, 3, 128, 128) * 2 - 1)
    times = []
    for _ in range(reps + 1):
        xi = x.clone().requires_grad_(True)
        t = time.perf_counter()
        loss = descriptor_distance(net(xi), ref).mean()
        loss.backward()
        times.append(time.perf_counter() - t)
    print(f"\nforward + backward, batch 8 at 128x128, {torch.get_num_threads()} thread: "
          f"median {np.median(times[1:]) * 1000:.0f} ms, min {np.min(times[1:]) * 1000:.0f} ms ({reps} runs)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, default=REPO / "models" / "ffhq")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    args = ap.parse_args()
    torch.set_num_threads(1)
    net = FaceDescriptor()
    timing(net)
    renderer, judge = FaceRenderer(args.model_dir, threads=1), FaceJudge()
    for size in args.sizes:
        check(renderer, judge, net, args.n, size)


if __name__ == "__main__":
    main()
