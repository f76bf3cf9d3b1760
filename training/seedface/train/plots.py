"""PNG outputs of long runs: loss curves (matplotlib, Agg) and sample grids (PIL)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """[N, 3, H, W] in [-1, 1] -> [N, H, W, 3] uint8 (the spec's rounding)."""
    x = ((img.detach().float().cpu() + 1) * 127.5).clamp(0, 255).round()
    return x.to(torch.uint8).permute(0, 2, 3, 1).numpy()


def image_grid(rows: list[torch.Tensor], pad: int = 2, size: int | None = None) -> np.ndarray:
    """Each row a batch [N, 3, h, w]; rows are resized (nearest) to a common size and stacked."""
    size = size or max(r.shape[-1] for r in rows)
    n = max(r.shape[0] for r in rows)
    out = np.full((len(rows) * (size + pad) + pad, n * (size + pad) + pad, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        if r.shape[-1] != size:
            r = torch.nn.functional.interpolate(r.float(), size=(size, size), mode="nearest")
        for j, im in enumerate(to_uint8(r)):
            y, x = pad + i * (size + pad), pad + j * (size + pad)
            out[y:y + size, x:x + size] = im
    return out


def save_grid(path: Path, rows: list[torch.Tensor], size: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(rows, size=size)).save(path)
    return path


def _smooth(y: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(y) < k:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    head = c[1:k] / np.arange(1, k)
    return np.concatenate([head, (c[k:] - c[:-k]) / k])


def loss_plot(path: Path, history: list[dict], keys: list[str], title: str) -> Path | None:
    """One panel per key (raw and smoothed), x = step."""
    rows = [r for r in history if "step" in r]
    keys = [k for k in keys if any(k in r for r in rows)]
    if not rows or not keys:
        return None
    cols = min(3, len(keys))
    nrow = (len(keys) + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols, 2.8 * nrow))
    axes = fig.subplots(nrow, cols, squeeze=False)
    for ax, k in zip(axes.flat, keys):
        pts = [(r["step"], r[k]) for r in rows if k in r and r[k] is not None and np.isfinite(r[k])]
        if not pts:
            continue
        x, y = np.array(pts, dtype=float).T
        ax.plot(x, y, lw=0.6, alpha=0.4)
        ax.plot(x, _smooth(y, max(1, len(y) // 30)), lw=1.4)
        ax.set_title(k, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    return path


@torch.no_grad()
def grid_inputs(mapping, style_dim: int, noise_sizes: list[int], n: int, seed: int, device):
    """A sample grid's inputs: w = mapping(z) and noise from one fixed torch generator (z first, then the noise
    maps), and the truncation mean (2000 z) to draw its truncated rows with (seedface.pipeline.face.truncate)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, style_dim, generator=g).to(device)
    noise = [torch.randn(n, 1, s, s, generator=g).to(device) for s in noise_sizes]
    return mapping(z), noise, mapping.mean_w(n=2000, seed=0).to(device)
