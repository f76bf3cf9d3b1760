"""Python port of ``src/shared/resample.ts``: the service's resize of a planar [-1, 1] image to an exact size and
its conversion to 8-bit RGB.

Area (box-coverage) filter when shrinking, bicubic (Catmull-Rom, a = -0.5, taps outside the image folded onto the
edge pixels) when enlarging; separable, horizontal pass first, float64 sums in the same order as the TypeScript
(so the result is the same float32 image), then ``round(clamp((x + 1) * 127.5, 0, 255))`` with JavaScript's
``Math.round`` (halves round up).
"""
from __future__ import annotations

import math

import numpy as np


def _cubic(x: float) -> float:
    a, t = -0.5, abs(x)
    if t <= 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    if t < 2:
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return 0.0


def resample_taps(in_n: int, out_n: int) -> list[tuple[int, np.ndarray]]:
    """Per output index: (first input index, float64 weights of the contiguous input taps), as resampleTaps."""
    taps = []
    if out_n <= in_n:
        scale = in_n / out_n
        for o in range(out_n):
            lo, hi = o * scale, (o + 1) * scale
            start, end = math.floor(lo), min(in_n, math.ceil(hi))
            w = np.array([(min(hi, i + 1) - max(lo, i)) / scale for i in range(start, end)], np.float64)
            taps.append((start, w))
        return taps
    scale = out_n / in_n
    for o in range(out_n):
        src = (o + 0.5) / scale - 0.5
        base = math.floor(src) - 1
        f = src - math.floor(src)
        folded = [0.0] * in_n
        first, last = in_n, -1
        for k in range(4):
            i = min(in_n - 1, max(0, base + k))
            folded[i] = folded[i] + _cubic(k - 1 - f)
            first, last = min(first, i), max(last, i)
        taps.append((first, np.array(folded[first:last + 1], np.float64)))
    return taps


def _tap_arrays(in_n: int, out_n: int) -> tuple[np.ndarray, np.ndarray]:
    """[out_n, K] input indices and weights; short tap lists are padded with weight 0 (adding +0.0 to a float64 sum
    leaves it unchanged, so the padded sum equals the TypeScript loop's)."""
    taps = resample_taps(in_n, out_n)
    k = max(len(w) for _, w in taps)
    idx = np.zeros((out_n, k), np.int64)
    wts = np.zeros((out_n, k), np.float64)
    for o, (start, w) in enumerate(taps):
        idx[o, :len(w)] = np.arange(start, start + len(w))
        idx[o, len(w):] = start
        wts[o, :len(w)] = w
    return idx, wts


def resample(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Planar float image [C, H, W] -> float32 [C, height, width]; returned unchanged when the size matches."""
    img = np.asarray(img)
    if img.ndim != 3:
        raise ValueError(f"expected a planar [C, H, W] image, got shape {img.shape}")
    c, h, w = img.shape
    if w == width and h == height:
        return img
    x = img.astype(np.float64)
    ix, wx = _tap_arrays(w, width)
    row = np.zeros((c, h, width), np.float64)
    for k in range(ix.shape[1]):  # s += w[k] * x[start + k], in k order
        row = row + wx[None, None, :, k] * x[:, :, ix[:, k]]
    iy, wy = _tap_arrays(h, height)
    out = np.zeros((c, height, width), np.float64)
    for k in range(iy.shape[1]):
        out = out + wy[None, :, k, None] * row[:, iy[:, k], :]
    return out.astype(np.float32)


def to_rgb8(img: np.ndarray) -> np.ndarray:
    """Planar [3, H, W] in about [-1, 1] -> interleaved uint8 [H, W, 3] (toRgb8)."""
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[0] != 3:
        raise ValueError(f"expected 3 channels [3, H, W], got shape {img.shape}")
    v = (img.astype(np.float32).astype(np.float64) + 1.0) * 127.5
    v = np.where(np.isnan(v), 0.0, v)  # Math.round(NaN) stored in a Uint8Array is 0
    v = np.floor(np.clip(v, 0.0, 255.0) + 0.5)  # Math.round: halves up; clamp first as the TS does
    return np.ascontiguousarray(v.astype(np.uint8).transpose(1, 2, 0))


def finish_pixels(img: np.ndarray, size: int) -> np.ndarray:
    """Planar [-1, 1] image -> exactly size x size RGB uint8 [size, size, 3] (finishPixels in src/shared/face.ts)."""
    return to_rgb8(resample(img, size, size))
