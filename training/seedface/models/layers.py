"""Shared building blocks, in pure PyTorch ops (no CUDA extensions): runs on CPU and exports to ONNX.

Parameter and buffer names follow the published checkpoints (the widely used PyTorch StyleGAN2 port and the
MobileStyleGAN release), so their state dicts load with strict=True.

Convolutions and linear layers go through :func:`conv2d`, :func:`conv_transpose2d` and :func:`linear` so that
:class:`MacCounter` can count multiply-accumulates of a forward pass (used for configurations too large to export
quickly, e.g. FFHQ-1024).
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)

# ---------------------------------------------------------------------------------------------------------------
# MAC counting hook


class MacCounter:
    """Counts MACs of conv2d / conv_transpose2d / linear calls made through this module while active.

    Conventions (the same as :func:`seedface.counting.count_onnx`): conv = output elements x C_in/groups x kh x kw;
    transposed conv = input elements x C_out/groups x kh x kw (the multiplications actually performed);
    linear = output elements x in_features.
    """

    active: "MacCounter | None" = None

    def __init__(self):
        self.macs = 0
        self.macs_output_convention = 0  # transposed convs counted at their output resolution
        self.by_kind: dict[str, int] = {}

    def add(self, kind: str, n: int, n_output_convention: int | None = None):
        self.macs += int(n)
        self.macs_output_convention += int(n if n_output_convention is None else n_output_convention)
        self.by_kind[kind] = self.by_kind.get(kind, 0) + int(n)


@contextmanager
def count_macs():
    prev = MacCounter.active
    c = MacCounter()
    MacCounter.active = c
    try:
        yield c
    finally:
        MacCounter.active = prev


def conv2d(x, weight, bias=None, stride=1, padding=0, groups=1):
    out = F.conv2d(x, weight, bias, stride=stride, padding=padding, groups=groups)
    c = MacCounter.active
    if c is not None:
        c.add("conv", out.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3])
    return out


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, groups=1):
    out = F.conv_transpose2d(x, weight, bias, stride=stride, padding=padding, groups=groups)
    c = MacCounter.active
    if c is not None:
        # weight: [C_in, C_out/groups, kh, kw]
        c.add("conv_transpose", x.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3],
              out.numel() * (weight.shape[0] // groups) * weight.shape[2] * weight.shape[3])
    return out


def linear(x, weight, bias=None):
    out = F.linear(x, weight, bias)
    c = MacCounter.active
    if c is not None:
        c.add("linear", out.numel() * weight.shape[1])
    return out


# ---------------------------------------------------------------------------------------------------------------
# StyleGAN2 (PyTorch port) primitives


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)


def fused_leaky_relu(x, bias, negative_slope: float = 0.2, scale: float = SQRT2):
    shape = [1, -1] + [1] * (x.dim() - 2)
    return F.leaky_relu(x + bias.view(shape), negative_slope) * scale


class FusedLeakyReLU(nn.Module):
    def __init__(self, channel: int, negative_slope: float = 0.2, scale: float = SQRT2):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel))
        self.negative_slope = negative_slope
        self.scale = scale

    def forward(self, x):
        return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale)


class EqualLinear(nn.Module):
    """Linear with equalized learning rate: stored weight = randn / lr_mul, used weight * lr_mul / sqrt(in)."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: str | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init)) if bias else None
        self.activation = activation
        self.scale = (1.0 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def effective(self):
        w = self.weight * self.scale
        b = self.bias * self.lr_mul if self.bias is not None else None
        return w, b

    def forward(self, x):
        w, b = self.effective()
        if self.activation:
            out = linear(x, w)
            return fused_leaky_relu(out, b)
        return linear(x, w, b)


class EqualConv2d(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_channel * kernel_size ** 2)
        self.stride = stride
        self.padding = padding
        self.bias = nn.Parameter(torch.zeros(out_channel)) if bias else None

    def forward(self, x):
        return conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


def make_kernel(k) -> torch.Tensor:
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x, kernel, up: int = 1, down: int = 1, pad=(0, 0), channels: int | None = None,
              ksize: int | None = None, dw_kernel: torch.Tensor | None = None):
    """upfirdn2d of the StyleGAN2 port (same up/down/pad on both axes), in plain PyTorch ops.

    Zero-insertion upsampling, zero padding (pad0 before, pad1 after), FIR filtering with the flipped kernel
    (a true convolution, per channel), then decimation. `dw_kernel` optionally gives the kernel already expanded to
    the depthwise weight [C, 1, k, k] (unflipped), which keeps exported graphs free of shape computations.
    """
    c = int(channels) if channels is not None else int(x.shape[1])
    pad0, pad1 = pad
    kh = kw = int(ksize) if ksize is not None else int(kernel.shape[0])
    if dw_kernel is None:
        dw_kernel = kernel.reshape(1, 1, kh, kw).expand(c, 1, kh, kw)
    if up > 1 and 0 <= kh - 1 - pad0 and 0 <= up - 1 + pad1 - pad0 < up:
        # Zero insertion + padding + FIR == a depthwise transposed conv: out[n] = (upsampled * K)[n + k - 1 - pad0].
        x = F.conv_transpose2d(x, dw_kernel, stride=up, padding=kh - 1 - pad0, output_padding=up - 1 + pad1 - pad0,
                               groups=c)
        cnt = MacCounter.active
        if cnt is not None:
            cnt.add("conv_transpose", x.numel() // (up * up) * kh * kw, x.numel() * kh * kw)
    else:
        if up > 1:
            h, w = x.shape[2], x.shape[3]
            x = x.reshape(-1, c, h, 1, w, 1)
            x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
            x = x.reshape(-1, c, h * up, w * up)
        wgt = torch.flip(dw_kernel, [2, 3])
        if pad0 == pad1 and pad0 >= 0:
            x = conv2d(x, wgt, padding=pad0, groups=c)
        else:
            if pad0 > 0 or pad1 > 0:
                x = F.pad(x, [max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)])
            if pad0 < 0 or pad1 < 0:
                hh, ww = x.shape[2], x.shape[3]
                x = x[:, :, max(-pad0, 0): hh - max(-pad1, 0), max(-pad0, 0): ww - max(-pad1, 0)]
            x = conv2d(x, wgt, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


class _FIR(nn.Module):
    def _init_kernel(self, k: torch.Tensor, channels):
        self.register_buffer("kernel", k)
        self.ksize = int(k.shape[0])
        self.channels = channels
        if channels is not None:
            # Not part of the published layout (non-persistent): the kernel expanded for a depthwise conv.
            self.register_buffer("kernel_dw", k.reshape(1, 1, *k.shape).repeat(channels, 1, 1, 1).contiguous(),
                                 persistent=False)
        else:
            self.kernel_dw = None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if self.channels is not None:
            with torch.no_grad():
                self.kernel_dw.copy_(self.kernel.reshape(1, 1, *self.kernel.shape).expand_as(self.kernel_dw))


class Blur(_FIR):
    def __init__(self, kernel, pad, upsample_factor: int = 1, channels: int | None = None):
        super().__init__()
        k = make_kernel(kernel)
        if upsample_factor > 1:
            k = k * (upsample_factor ** 2)
        self._init_kernel(k, channels)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad, channels=self.channels, ksize=self.ksize,
                         dw_kernel=self.kernel_dw)


class Upsample(_FIR):
    def __init__(self, kernel, factor: int = 2, channels: int | None = None):
        super().__init__()
        self.factor = factor
        k = make_kernel(kernel) * (factor ** 2)
        self._init_kernel(k, channels)
        p = k.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad, channels=self.channels, ksize=self.ksize,
                         dw_kernel=self.kernel_dw)


class ConstantInput(nn.Module):
    def __init__(self, channel: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch_like=None):
        # Batch 1; the first modulation broadcasts it to the batch (keeps the ONNX graph free of shape ops).
        return self.input


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, image, noise=None):
        if noise is None:
            b, _, h, w = image.shape
            noise = image.new_empty(b, 1, h, w).normal_()
        return image + self.weight * noise
