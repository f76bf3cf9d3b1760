"""MobileStyleGAN student synthesis network (layout of the MobileStyleGAN release).

constant input -> conv1 (full 3x3 modulated conv, static demodulation) -> to_img1 (12-ch wavelet head)
-> blocks [IDWT upsample with modulation -> depthwise-separable modulated conv1 -> conv2 -> to_img 12ch]
-> inverse Haar of the last head.

W+ indices: conv1 w[0], to_img1 w[1]; block i: up + conv1 w[3i+1], conv2 w[3i+2], to_img w[3i+3].
"""
from __future__ import annotations

import math

import torch
from torch import nn

from seedface.models import haar
from seedface.models.layers import ConstantInput, NoiseInjection, conv2d, linear

_G = 1.0 / math.sqrt(2.0)


class DWTInverse(nn.Module):
    """Inverse single-level Haar. Holds the published filter buffers (db1 synthesis filters); the transform itself
    is the closed form in :mod:`seedface.haar`, which equals the filters' result for db1."""

    def __init__(self):
        super().__init__()
        self.register_buffer("g0_col", torch.tensor([_G, _G]).reshape(1, 1, 2, 1))
        self.register_buffer("g1_col", torch.tensor([_G, -_G]).reshape(1, 1, 2, 1))
        self.register_buffer("g0_row", torch.tensor([_G, _G]).reshape(1, 1, 1, 2))
        self.register_buffer("g1_row", torch.tensor([_G, -_G]).reshape(1, 1, 1, 2))

    def forward(self, x, channels: int, h: int, w: int):
        return haar.idwt_static(x, channels, h, w)


class ModulatedConv2d(nn.Module):
    """Full modulated conv with static demodulation (buffer ``style_inv``) or none (to_img heads)."""

    def __init__(self, channels_in, channels_out, style_dim, kernel_size, demodulate=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels_out, channels_in, kernel_size, kernel_size))
        self.modulation = nn.Linear(style_dim, channels_in, bias=True)
        self.modulation.bias.data.fill_(1.0)
        self.demodulate = demodulate
        if demodulate:
            self.register_buffer("style_inv", torch.randn(1, 1, channels_in, 1, 1))
        self.scale = 1.0 / math.sqrt(channels_in * kernel_size ** 2)
        self.padding = kernel_size // 2

    def get_modulation(self, style):
        return (self.scale * linear(style, self.modulation.weight, self.modulation.bias)).unsqueeze(-1).unsqueeze(-1)

    def full_weight(self):
        return self.weight

    def get_demodulation(self):
        if getattr(self, "demod_folded", False):  # weights imported with the static demodulation multiplied in
            return torch.ones(1, self.weight_permute.shape[0] if hasattr(self, "weight_permute")
                              else self.weight.shape[0], 1, 1)
        w = self.full_weight().unsqueeze(0)
        norm = torch.rsqrt((self.scale * self.style_inv * w).pow(2).sum([2, 3, 4]) + 1e-8)  # [1, out]
        return norm.view(1, -1, 1, 1)

    def _conv(self, x):
        return conv2d(x, self.weight, padding=self.padding)

    def _weights(self, demod):
        """The conv weights, with the per-output demodulation `demod` [out,1,1,1] folded in (None: none)."""
        return (self.weight if demod is None else self.weight * demod,)

    def forward(self, x, style):
        x = self._conv(self.get_modulation(style) * x)
        if self.demodulate:
            x = self.get_demodulation() * x
        return x

    def folded(self):
        """(modulation weight, modulation bias, conv weights...) with scale and static demod folded in."""
        mw = self.modulation.weight * self.scale
        mb = self.modulation.bias * self.scale
        demod = self.get_demodulation().view(-1, 1, 1, 1) if self.demodulate else None
        return mw, mb, self._weights(demod)


class ModulatedDWConv2d(ModulatedConv2d):
    """Depthwise-separable modulated conv: modulation -> depthwise kxk -> pointwise 1x1 -> static demodulation."""

    def __init__(self, channels_in, channels_out, style_dim, kernel_size, demodulate=True):
        nn.Module.__init__(self)
        self.weight_dw = nn.Parameter(torch.randn(channels_in, 1, kernel_size, kernel_size))
        self.weight_permute = nn.Parameter(torch.randn(channels_out, channels_in, 1, 1))
        self.modulation = nn.Linear(style_dim, channels_in, bias=True)
        self.modulation.bias.data.fill_(1.0)
        self.demodulate = demodulate
        if demodulate:
            self.register_buffer("style_inv", torch.randn(1, 1, channels_in, 1, 1))
        self.scale = 1.0 / math.sqrt(channels_in * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.groups = channels_in

    def full_weight(self):
        return self.weight_dw.transpose(0, 1) * self.weight_permute  # [out, in, k, k]

    def _conv(self, x):
        x = conv2d(x, self.weight_dw, padding=self.padding, groups=self.groups)
        return conv2d(x, self.weight_permute)

    def _weights(self, demod):
        return (self.weight_dw, self.weight_permute if demod is None else self.weight_permute * demod)


class StyledConv2d(nn.Module):
    def __init__(self, channels_in, channels_out, style_dim, kernel_size, demodulate=True,
                 conv_module=ModulatedConv2d):
        super().__init__()
        self.conv = conv_module(channels_in, channels_out, style_dim, kernel_size, demodulate=demodulate)
        self.noise = NoiseInjection()
        self.bias = nn.Parameter(torch.zeros(1, channels_out, 1, 1))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x, style, noise=None):
        out = self.conv(x, style)
        out = self.noise(out, noise=noise)
        return self.act(out + self.bias)


class MultichannelImage(nn.Module):
    def __init__(self, channels_in, channels_out, style_dim, kernel_size=1):
        super().__init__()
        self.conv = ModulatedConv2d(channels_in, channels_out, style_dim, kernel_size, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, channels_out, 1, 1))

    def forward(self, hidden, style):
        return self.conv(hidden, style) + self.bias


class IDWTUpsample(nn.Module):
    def __init__(self, channels_in, style_dim):
        super().__init__()
        self.channels = channels_in // 4
        assert self.channels * 4 == channels_in
        self.idwt = DWTInverse()
        self.modulation = nn.Linear(style_dim, channels_in, bias=True)
        self.modulation.bias.data.fill_(1.0)

    def forward(self, x, style, h: int, w: int):
        x = linear(style, self.modulation.weight, self.modulation.bias).unsqueeze(-1).unsqueeze(-1) * x
        return self.idwt(x, self.channels, h, w)


class MobileSynthesisBlock(nn.Module):
    def __init__(self, channels_in, channels_out, style_dim, kernel_size=3):
        super().__init__()
        self.up = IDWTUpsample(channels_in, style_dim)
        self.conv1 = StyledConv2d(channels_in // 4, channels_out, style_dim, kernel_size,
                                  conv_module=ModulatedDWConv2d)
        self.conv2 = StyledConv2d(channels_out, channels_out, style_dim, kernel_size, conv_module=ModulatedDWConv2d)
        self.to_img = MultichannelImage(channels_out, 12, style_dim, kernel_size=1)


class StudentSynthesis(nn.Module):
    """MobileStyleGAN synthesis: w [B, n_w, D] (or [B, D]) + noise -> dict(img, freqs, imgs)."""

    def __init__(self, style_dim: int, channels: list[int]):
        super().__init__()
        if len(channels) < 1:
            raise ValueError("student needs at least one channel entry")
        self.style_dim = style_dim
        self.channels = list(channels)
        self.input = ConstantInput(channels[0])
        self.conv1 = StyledConv2d(channels[0], channels[0], style_dim, 3, conv_module=ModulatedConv2d)
        self.to_img1 = MultichannelImage(channels[0], 12, style_dim, kernel_size=1)
        self.layers = nn.ModuleList(
            MobileSynthesisBlock(cin, cout, style_dim, 3) for cin, cout in zip(channels[:-1], channels[1:]))
        self.idwt = DWTInverse()
        self.register_buffer("device_info", torch.zeros(1))
        self.n_blocks = len(self.layers)
        self.n_w = 3 * self.n_blocks + 2
        self.resolution = 2 ** (self.n_blocks + 3)

    def mark_demodulation_folded(self) -> None:
        """The conv weights already include the static demodulation (the release's export folded it in)."""
        for m in self.modules():
            if isinstance(m, ModulatedConv2d) and m.demodulate:
                m.demod_folded = True

    def noise_sizes(self) -> list[int]:
        sizes = [4]
        for i in range(self.n_blocks):
            sizes += [2 ** (i + 3)] * 2
        return sizes

    def output_sizes(self) -> list[int]:
        return [2 ** (i + 3) for i in range(self.n_blocks + 1)]

    def _styles(self, w):
        if w.dim() == 2:
            return [w] * self.n_w
        if not torch.jit.is_tracing() and w.shape[1] != self.n_w:
            raise ValueError(f"student expects w [B, {self.n_w}, {self.style_dim}] or [B, {self.style_dim}], "
                             f"got {list(w.shape)}")
        return [w[:, i] for i in range(self.n_w)]

    def forward(self, w, noise=None, levels: int | None = None, hidden: bool = False):
        """levels: compute only the first `levels` heads (default all). hidden: also return each head's input
        feature map as "hidden" (used to fit heads on a frozen trunk)."""
        styles = self._styles(w)
        n_noise = len(self.noise_sizes())
        if noise is None:
            noise = [None] * n_noise
        elif len(noise) < n_noise:
            raise ValueError(f"student needs {n_noise} noise maps, got {len(noise)}")
        n_heads = self.n_blocks + 1 if levels is None else levels
        keep = hidden
        hidden = self.conv1(self.input(), styles[0], noise=noise[0])
        hiddens = [hidden]
        freqs = [self.to_img1(hidden, styles[1])]
        for i, blk in enumerate(self.layers[: n_heads - 1]):
            s = 2 ** (i + 2)  # spatial size before the IDWT upsample
            hidden = blk.up(hidden, styles[3 * i + 1], s, s)
            hidden = blk.conv1(hidden, styles[3 * i + 1], noise=noise[2 * i + 1])
            hidden = blk.conv2(hidden, styles[3 * i + 2], noise=noise[2 * i + 2])
            hiddens.append(hidden)
            freqs.append(blk.to_img(hidden, styles[3 * i + 3]))
        imgs = [haar.idwt_static(f, 3, 2 ** (k + 2), 2 ** (k + 2)) for k, f in enumerate(freqs)]
        out = {"img": imgs[-1], "freqs": freqs, "imgs": imgs}
        if keep:
            out["hidden"] = hiddens
        return out
