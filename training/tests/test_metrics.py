"""Metrics on constructed cases."""
import math

import numpy as np
import pytest
import torch

from seedface.eval import metrics


def _images(n=64, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    # smooth random images (blurred noise), so the pyramid has structure at every level
    x = torch.rand(n, 3, size // 4, size // 4, generator=g) * 2 - 1
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def test_psnr_identical_is_inf_and_known_value():
    x = _images(4)
    assert torch.isinf(metrics.psnr(x, x)).all()
    y = x + 0.1  # mse 0.01, range 2 -> 10 log10(4 / 0.01) = 26.02 dB
    assert torch.allclose(metrics.psnr(x, y), torch.full((4,), 10 * math.log10(400.0), dtype=torch.float64),
                          atol=1e-6)


def test_ssim_identical_is_one_and_drops_with_noise():
    x = _images(4)
    assert torch.allclose(metrics.ssim(x, x), torch.ones(4, dtype=torch.float64))
    g = torch.Generator().manual_seed(1)
    s1 = metrics.ssim(x, x + 0.05 * torch.randn(x.shape, generator=g)).mean()
    s2 = metrics.ssim(x, x + 0.3 * torch.randn(x.shape, generator=g)).mean()
    assert 1 > s1 > s2 > 0
    small = _images(2, 8)
    assert torch.allclose(metrics.ssim(small, small), torch.ones(2, dtype=torch.float64))


def test_laplacian_pyramid_reconstructs():
    x = _images(2, 32).double()
    pyr = metrics.laplacian_pyramid(x, 8)
    assert [p.shape[-1] for p in pyr] == [32, 16, 8]
    rec = pyr[-1]
    for band in reversed(pyr[:-1]):
        rec = metrics.pyr_up(rec) + band
    assert torch.allclose(rec, x, atol=1e-10)


def test_swd_self_is_zero_and_grows_with_noise():
    x = _images(48, 32)
    d = metrics.swd_descriptors(x, seed=0, patches_per_image=32)
    assert metrics.swd(d, d, projections=64)["mean"] == pytest.approx(0.0, abs=1e-9)
    # independently drawn patches of the same set: small, compared with noisy versions
    same = metrics.swd(x, x, projections=64, patches_per_image=32)["mean"]
    g = torch.Generator().manual_seed(3)
    values = [metrics.swd(x, x + s * torch.randn(x.shape, generator=g), projections=64,
                          patches_per_image=32)["mean"] for s in (0.1, 0.3, 1.0)]
    assert same < values[0] < values[1] < values[2]
    assert len(metrics.swd(x, x, projections=8, patches_per_image=8)["levels"]) == len(metrics.pyramid_sizes(32))


def test_sliced_wasserstein_of_shifted_gaussians():
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.standard_normal((4000, 3)).astype(np.float32))
    shift = torch.tensor([0.5, 0.0, 0.0])
    # W1 along a unit direction u of a shift s is |u . s|; E|u_1| for u uniform on the 2-sphere is 1/2
    est = metrics.sliced_wasserstein(a, a + shift, 2000, 1, np.random.default_rng(1))
    assert est == pytest.approx(0.25, rel=0.08)
