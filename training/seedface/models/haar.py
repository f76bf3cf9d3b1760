"""Single-level 2-D Haar (db1) DWT / IDWT with the student's 12-channel layout, in plain ONNX-exportable ops.

For a 2x2 block [[a, b], [c, d]] (rows, then columns) the transform used by the original code (pytorch_wavelets,
db1, mode zero; pinned by ``../shared/vectors/haar_db1.json``) is orthonormal:

    low = (a + b + c + d) / 2
    h0  = (a + b - c - d) / 2      (detail band 0 in the library's order)
    h1  = (a - b + c - d) / 2      (detail band 1)
    h2  = (a - b - c + d) / 2      (detail band 2)

Layout of a wavelet tensor with 4C channels: channels [0:C] = low band, channels [C:4C] viewed as (C, 3 bands),
i.e. channel C + 3*c + k is band k of colour/channel c. The student heads use C = 3 (12 channels).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def dwt_bands(x: torch.Tensor):
    """x [B,C,H,W] -> (low [B,C,H/2,W/2], high [B,C,3,H/2,W/2])."""
    a = x[:, :, 0::2, 0::2]
    b = x[:, :, 0::2, 1::2]
    c = x[:, :, 1::2, 0::2]
    d = x[:, :, 1::2, 1::2]
    low = (a + b + c + d) * 0.5
    h0 = (a + b - c - d) * 0.5
    h1 = (a - b + c - d) * 0.5
    h2 = (a - b - c + d) * 0.5
    return low, torch.stack([h0, h1, h2], dim=2)


def dwt(x: torch.Tensor) -> torch.Tensor:
    """x [B,C,H,W] -> [B,4C,H/2,W/2] (low band first, then (C,3) detail bands)."""
    low, high = dwt_bands(x)
    b, c, _, h, w = high.shape
    return torch.cat([low, high.reshape(b, 3 * c, h, w)], dim=1)


def idwt_bands(low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """low [B,C,H,W], high [B,C,3,H,W] -> [B,C,2H,2W]."""
    return _idwt(low, high, int(low.shape[1]), int(low.shape[2]), int(low.shape[3]))


def _idwt(low, high, c: int, h: int, w: int):
    h0, h1, h2 = high[:, :, 0], high[:, :, 1], high[:, :, 2]
    s = low + h0
    t = low - h0
    u = h1 + h2
    v = h1 - h2
    a = (s + u) * 0.5
    b = (s - u) * 0.5
    cc = (t + v) * 0.5
    d = (t - v) * 0.5
    # [B, C, 4, H, W] with the 4 = (row, col) position in the 2x2 block -> depth-to-space.
    x = torch.stack([a, b, cc, d], dim=2).reshape(-1, 4 * c, h, w)
    return F.pixel_shuffle(x, 2)


def idwt(x: torch.Tensor, channels: int | None = None) -> torch.Tensor:
    """x [B,4C,H,W] (low band first, then (C,3) detail bands) -> [B,C,2H,2W]."""
    c = int(x.shape[1]) // 4 if channels is None else int(channels)
    return idwt_static(x, c, int(x.shape[2]), int(x.shape[3]))


def idwt_static(x: torch.Tensor, c: int, h: int, w: int) -> torch.Tensor:
    """idwt with the channel count and spatial size given as Python ints (keeps exported graphs shape-static)."""
    return _idwt(x[:, :c], x[:, c:].reshape(-1, c, 3, h, w), c, h, w)


# Interleaved layout for export: channel 4*c + k is band k (0 = low, 1..3 = details) of channel c. With it, the
# inverse is one grouped 2x2 stride-2 transposed convolution, which onnxruntime runs several times faster than the
# closed form's elementwise ops followed by DepthToSpace (a generic 6-D transpose in ORT).

# Rows: output position in the 2x2 block (a, b, c, d in row-major order); columns: bands (low, h0, h1, h2).
_SYNTHESIS = ((1.0, 1.0, 1.0, 1.0), (1.0, 1.0, -1.0, -1.0), (1.0, -1.0, 1.0, -1.0), (1.0, -1.0, -1.0, 1.0))


def interleave_index(c: int) -> torch.Tensor:
    """Indices that reorder the packed layout (low band first, then (C, 3) details) into the interleaved one:
    interleaved = packed[:, interleave_index(C)]."""
    return torch.tensor([[ch] + [c + 3 * ch + k for k in range(3)] for ch in range(c)]).reshape(-1)


def idwt_kernel(c: int) -> torch.Tensor:
    """Weight [4C, 1, 2, 2] of the grouped (groups=C) stride-2 transposed conv that inverts the interleaved layout."""
    m = torch.tensor(_SYNTHESIS) * 0.5  # [position, band]
    per_band = m.t().reshape(4, 1, 2, 2)  # band k -> its 2x2 contribution
    return per_band.repeat(c, 1, 1, 1)


def idwt_interleaved(x: torch.Tensor, kernel: torch.Tensor, c: int) -> torch.Tensor:
    """x [B,4C,H,W] in the interleaved layout, kernel = idwt_kernel(C) -> [B,C,2H,2W]."""
    return F.conv_transpose2d(x, kernel, stride=2, groups=c)
