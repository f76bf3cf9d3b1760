"""StyleGAN2 synthesis network (teacher), in the layout of the widely used PyTorch port.

Modulated convolutions are computed by modulating the activations rather than the weights ("non-fused"
formulation): conv(x * s, scale * W) * demod, demod[b, o] = rsqrt(sum_{i,k} (scale * W[o,i,k] * s[b,i])^2 + 1e-8).
It is mathematically the same as the port's grouped-conv formulation, needs no batch-dependent groups and so exports
to ONNX with a dynamic batch.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from seedface.models.layers import (Blur, ConstantInput, EqualLinear, FusedLeakyReLU, NoiseInjection, Upsample,
    conv2d, conv_transpose2d, linear)


class ModulatedConv2d(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, demodulate=True, upsample=False,
                 blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.eps = 1e-8
        self.kernel_size = kernel_size
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.upsample = upsample
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            pad0 = (p + 1) // 2 + factor - 1
            pad1 = p // 2 + 1
            self.blur = Blur(blur_kernel, pad=(pad0, pad1), upsample_factor=factor, channels=out_channel)
        self.scale = 1.0 / math.sqrt(in_channel * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
        self.demodulate = demodulate

    _frozen = None

    def freeze(self, on: bool = True):
        """Precompute the scaled (and, for upsampling, transposed) weight and its squared sums as constants, so
        that an ONNX export carries each weight once (used by seedface.export)."""
        if not on:
            self._frozen = None
            return
        with torch.no_grad():
            w = self.weight[0] * self.scale
            self._frozen = {"w": (w.transpose(0, 1) if self.upsample else w).contiguous().clone(),
                            "wsq": (w * w).sum([2, 3]).contiguous().clone()}

    def forward(self, x, style):
        s = self.modulation(style)  # [B, in]
        x = x * s.unsqueeze(-1).unsqueeze(-1)
        if self._frozen is not None:
            w, wsq = self._frozen["w"], self._frozen["wsq"]
            wt = w
        else:
            w = self.weight[0] * self.scale  # [out, in, k, k]
            wt = w.transpose(0, 1) if self.upsample else w
            wsq = (w * w).sum([2, 3])  # [out, in]
        if self.upsample:
            out = conv_transpose2d(x, wt, stride=2, padding=0)
        else:
            out = conv2d(x, wt, padding=self.padding)
        if self.demodulate:
            demod = torch.rsqrt(linear(s * s, wsq) + self.eps)  # [B, out]
            out = out * demod.unsqueeze(-1).unsqueeze(-1)
        if self.upsample:
            out = self.blur(out)
        return out


class StyledConv(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False, blur_kernel=(1, 3, 3, 1),
                 demodulate=True):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, demodulate=demodulate,
                                    upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x, style, noise=None):
        out = self.conv(x, style)
        out = self.noise(out, noise=noise)
        return self.activate(out)


class ToRGB(nn.Module):
    def __init__(self, in_channel, style_dim, upsample=True, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel, channels=3)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class TeacherBlock(nn.Module):
    def __init__(self, in_channel, out_channel, style_dim, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.conv1 = StyledConv(in_channel, out_channel, 3, style_dim, upsample=True, blur_kernel=blur_kernel)
        self.conv2 = StyledConv(out_channel, out_channel, 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb = ToRGB(out_channel, style_dim, blur_kernel=blur_kernel)


class TeacherSynthesis(nn.Module):
    """StyleGAN2 synthesis: w [B, n_w, D] (or [B, D]) + noise list -> image [B, 3, size, size]."""

    def __init__(self, size: int, style_dim: int, channels: list[int], blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        log_size = int(math.log2(size))
        if 2 ** log_size != size or len(channels) != log_size - 1:
            raise ValueError(f"teacher: {len(channels)} channel entries do not fit size {size} "
                             f"(need log2(size) - 1 = {log_size - 1})")
        self.size = size
        self.resolution = size
        self.style_dim = style_dim
        self.channels = list(channels)
        self.log_size = log_size
        self.n_w = log_size * 2 - 2
        self.input = ConstantInput(channels[0])
        self.conv1 = StyledConv(channels[0], channels[0], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(channels[0], style_dim, upsample=False)
        self.layers = nn.ModuleList(
            TeacherBlock(cin, cout, style_dim, blur_kernel) for cin, cout in zip(channels[:-1], channels[1:]))
        # Present in the published layout (the release keeps a top-level Upsample); unused by forward.
        self.upsample = Upsample(blur_kernel, channels=3)

    def noise_sizes(self) -> list[int]:
        sizes = [4]
        for i in range(len(self.layers)):
            sizes += [2 ** (i + 3)] * 2
        return sizes

    def _styles(self, w):
        if w.dim() == 2:
            return [w] * self.n_w
        if not torch.jit.is_tracing() and w.shape[1] != self.n_w:
            raise ValueError(f"teacher expects w [B, {self.n_w}, {self.style_dim}] or [B, {self.style_dim}], "
                             f"got {list(w.shape)}")
        return [w[:, i] for i in range(self.n_w)]

    def forward(self, w, noise=None):
        styles = self._styles(w)
        n_noise = len(self.noise_sizes())
        if noise is None:
            noise = [None] * n_noise
        elif len(noise) < n_noise:
            raise ValueError(f"teacher needs {n_noise} noise maps, got {len(noise)}")
        out = self.input()
        out = self.conv1(out, styles[0], noise=noise[0])
        skip = self.to_rgb1(out, styles[1])
        for j, blk in enumerate(self.layers):
            out = blk.conv1(out, styles[2 * j + 1], noise=noise[2 * j + 1])
            out = blk.conv2(out, styles[2 * j + 2], noise=noise[2 * j + 2])
            skip = blk.to_rgb(out, styles[2 * j + 3], skip)
        return skip
