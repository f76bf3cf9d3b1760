"""Image-quality metrics with no pretrained networks: PSNR, SSIM, and the multi-scale sliced Wasserstein
distance on Laplacian-pyramid patches (Karras et al. 2018, "Progressive Growing of GANs", appendix D).

The one copy of PSNR and SSIM for every tool (evaluation, quantization, the int8 edge files, the fitted heads).
Images are float tensors [N, C, H, W] in [-1, 1] (data range 2) unless stated otherwise; numpy arrays are accepted
too and computed in float64 like tensors.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

DATA_RANGE = 2.0


def _f64(x) -> torch.Tensor:
    return torch.from_numpy(np.asarray(x, dtype=np.float64)) if isinstance(x, np.ndarray) else x.double()


def psnr_db(mse: float, data_range: float = DATA_RANGE) -> float:
    """PSNR in dB of one mean squared error; +inf for 0."""
    return float("inf") if mse <= 0 else float(10.0 * np.log10(data_range ** 2 / mse))


def mse(a, b, clip: bool = False) -> torch.Tensor:
    """Per-image mean squared error ([N], float64); clip: both images clamped to [-1, 1] first."""
    x, y = _f64(a), _f64(b)
    if clip:
        x, y = x.clamp(-1, 1), y.clamp(-1, 1)
    return (x - y).pow(2).flatten(1).mean(1)


def psnr(a, b, data_range: float = DATA_RANGE, clip: bool = False, min_mse: float = 0.0) -> torch.Tensor:
    """Per-image PSNR in dB ([N]); +inf where the images are identical unless min_mse > 0 bounds it."""
    m = mse(a, b, clip)
    if min_mse > 0:
        m = m.clamp_min(min_mse)
    return 10 * torch.log10(data_range ** 2 / m)  # mse 0 -> inf


def _gauss_window(size: int, sigma: float, channels: int) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(a, b, data_range: float = DATA_RANGE) -> torch.Tensor:
    """Per-image SSIM ([N]), Wang et al. 2004: Gaussian window 11 / sigma 1.5, K1 0.01, K2 0.03, valid windows,
    averaged over channels. Images smaller than 11 px use the largest odd window that fits (sigma scaled)."""
    x, y = _f64(a), _f64(b)
    size = min(11, x.shape[-1] - (1 - x.shape[-1] % 2))
    win = _gauss_window(size, 1.5 * size / 11, x.shape[1]).to(x.device)
    c = x.shape[1]

    def blur(t):
        return F.conv2d(t, win, groups=c)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)


def ssim_uint8(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of 8-bit images [N, C, H, W] (L = 255) over the set."""
    return float(ssim(a, b, 255.0).mean())


# ---- sliced Wasserstein distance ----------------------------------------------------------------------------

_BINOM5 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64) / 16


def _blur5(x: torch.Tensor) -> torch.Tensor:
    k = (_BINOM5[:, None] * _BINOM5[None, :]).to(x).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=x.shape[1])


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    return _blur5(x)[:, :, ::2, ::2]


def pyr_up(x: torch.Tensor) -> torch.Tensor:
    up = torch.zeros(x.shape[0], x.shape[1], x.shape[2] * 2, x.shape[3] * 2, dtype=x.dtype, device=x.device)
    up[:, :, ::2, ::2] = x * 4
    return _blur5(up)


def laplacian_pyramid(x: torch.Tensor, min_size: int = 16) -> list[torch.Tensor]:
    """Finest band first; the last entry is the Gaussian level at min_size."""
    levels = []
    while x.shape[-1] > min_size:
        down = pyr_down(x)
        levels.append(x - pyr_up(down))
        x = down
    levels.append(x)
    return levels


def _patches(level: torch.Tensor, per_image: int, size: int, rng: np.random.Generator) -> torch.Tensor:
    """[N * per_image, C * size * size] random size x size patches from every image."""
    n, c, h, w = level.shape
    ys = torch.from_numpy(rng.integers(0, h - size + 1, (n, per_image)))
    xs = torch.from_numpy(rng.integers(0, w - size + 1, (n, per_image)))
    off = torch.arange(size)
    rows = (ys[:, :, None] + off)[:, :, :, None].expand(n, per_image, size, size)
    cols = (xs[:, :, None] + off)[:, :, None, :].expand(n, per_image, size, size)
    bi = torch.arange(n)[:, None, None, None].expand_as(rows)
    p = level.permute(0, 2, 3, 1)[bi, rows, cols]  # [N, P, s, s, C]
    return p.permute(0, 1, 4, 2, 3).reshape(n * per_image, c * size * size)


def _normalise(desc: torch.Tensor, channels: int) -> torch.Tensor:
    """Per colour channel: zero mean, unit std over all patches and pixels of this set (Karras et al.)."""
    d = desc.view(desc.shape[0], channels, -1)
    mean = d.mean(dim=(0, 2), keepdim=True)
    std = d.std(dim=(0, 2), keepdim=True).clamp_min(1e-12)
    return ((d - mean) / std).view_as(desc)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, projections: int, repeats: int,
                       rng: np.random.Generator) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance between the projected sets
    (`projections` directions per repeat, on the descriptors' device)."""
    n = min(a.shape[0], b.shape[0])
    a, b = a[:n].float(), b[:n].float()
    results = []
    for _ in range(repeats):
        dirs = torch.from_numpy(rng.standard_normal((a.shape[1], projections)).astype(np.float32))
        dirs = (dirs / dirs.norm(dim=0, keepdim=True)).to(a.device)
        pa, _ = torch.sort((a @ dirs).t().contiguous(), dim=1)  # sorting along the contiguous axis is ~10x faster
        pb, _ = torch.sort((b @ dirs).t().contiguous(), dim=1)
        results.append(float((pa - pb).abs().mean()))
    return float(np.mean(results))


def swd_descriptors(images: torch.Tensor, seed: int = 0, patches_per_image: int = 128, patch: int = 7,
                    min_size: int = 16, batch: int = 256, device=None) -> list[torch.Tensor]:
    """Normalised patch descriptors per pyramid level (finest first) for a set of images, on `device`
    (default: the images' device) where the projections and sorts then run."""
    rng = np.random.default_rng(seed)
    per_level: list[list[torch.Tensor]] = []
    for i in range(0, images.shape[0], batch):
        pyr = laplacian_pyramid(images[i:i + batch].float(), min_size)
        if not per_level:
            per_level = [[] for _ in pyr]
        for lst, lev in zip(per_level, pyr):
            lst.append(_patches(lev, patches_per_image, patch, rng))
    return [_normalise(torch.cat(lst), images.shape[1]).to(device or images.device) for lst in per_level]


def swd(a: torch.Tensor | list[torch.Tensor], b: torch.Tensor | list[torch.Tensor], seed: int = 0,
        projections: int = 128, repeats: int = 4, **desc_kw) -> dict:
    """Multi-scale SWD between two image sets (or precomputed descriptors). Returns per-level values (finest
    first, each x 1e3 as in the paper) and their mean. Defaults as Karras et al.'s code: 4 repeats of 128
    random directions (512 projections in all)."""
    da = a if isinstance(a, list) else swd_descriptors(a, seed, **desc_kw)
    db = b if isinstance(b, list) else swd_descriptors(b, seed + 1, **desc_kw)
    rng = np.random.default_rng(seed + 2)
    levels = [1e3 * sliced_wasserstein(x, y, projections, repeats, rng) for x, y in zip(da, db)]
    return {"levels": levels, "mean": float(np.mean(levels))}


def pyramid_sizes(resolution: int, min_size: int = 16) -> list[int]:
    sizes = []
    while resolution > min_size:
        sizes.append(resolution)
        resolution //= 2
    return sizes + [resolution]


def finite_mean(x: torch.Tensor) -> float:
    x = x.double()
    return math.inf if torch.isinf(x).all() else float(x[torch.isfinite(x)].mean())
