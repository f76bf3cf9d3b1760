"""StyleGAN2 residual discriminator with minibatch-stddev (PyTorch port layout), pure PyTorch ops."""
from __future__ import annotations

import math

import torch
from torch import nn

from seedface.models.layers import Blur, EqualConv2d, EqualLinear, FusedLeakyReLU

DEFAULT_CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


class ConvLayer(nn.Sequential):
    def __init__(self, in_channel, out_channel, kernel_size, downsample=False, blur_kernel=(1, 3, 3, 1), bias=True,
                 activate=True):
        layers = []
        if downsample:
            factor = 2
            p = (len(blur_kernel) - factor) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2), channels=in_channel))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channel, out_channel, kernel_size, padding=padding, stride=stride,
                                  bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channel))
        super().__init__(*layers)


class ResBlock(nn.Module):
    def __init__(self, in_channel, out_channel, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.conv1 = ConvLayer(in_channel, in_channel, 3)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, activate=False, bias=False,
                              blur_kernel=blur_kernel)

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        return (out + self.skip(x)) / math.sqrt(2)


class Discriminator(nn.Module):
    """channels: None (StyleGAN2 defaults), a dict {resolution: channels}, or a list indexed like the generator's
    (entry 0 at 4x4, last entry at `size`)."""

    def __init__(self, size: int, channels=None, blur_kernel=(1, 3, 3, 1), stddev_group: int = 4):
        super().__init__()
        log_size = int(math.log2(size))
        if 2 ** log_size != size or size < 8:
            raise ValueError(f"discriminator size must be a power of two >= 8, got {size}")
        if channels is None:
            ch = dict(DEFAULT_CHANNELS)
        elif isinstance(channels, dict):
            ch = {int(k): int(v) for k, v in channels.items()}
        else:
            channels = list(channels)
            if len(channels) != log_size - 1:
                raise ValueError(f"discriminator channels list needs {log_size - 1} entries (4x4..{size})")
            ch = {2 ** (i + 2): int(c) for i, c in enumerate(channels)}
        self.size = size
        convs = [ConvLayer(3, ch[size], 1)]
        in_channel = ch[size]
        for i in range(log_size, 2, -1):
            out_channel = ch[2 ** (i - 1)]
            convs.append(ResBlock(in_channel, out_channel, blur_kernel))
            in_channel = out_channel
        self.convs = nn.Sequential(*convs)
        self.stddev_group = stddev_group
        self.stddev_feat = 1
        self.final_conv = ConvLayer(in_channel + 1, ch[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 4 * 4, ch[4], activation="fused_lrelu"),
            EqualLinear(ch[4], 1),
        )

    def _stddev(self, out):
        batch, channel, height, width = out.shape
        group = min(batch, self.stddev_group)
        while batch % group:
            group -= 1
        sd = out.view(group, -1, self.stddev_feat, channel // self.stddev_feat, height, width)
        sd = torch.sqrt(sd.var(0, unbiased=False) + 1e-8)
        sd = sd.mean([2, 3, 4], keepdim=True).squeeze(2)
        sd = sd.repeat(group, 1, height, width)
        return torch.cat([out, sd], 1)

    def features(self, img) -> list[torch.Tensor]:
        """Activations after the input layer and after every residual block (highest resolution first)."""
        feats = []
        out = img
        for m in self.convs:
            out = m(out)
            feats.append(out)
        return feats

    def forward(self, img):
        out = self.convs(img)
        out = self._stddev(out)
        out = self.final_conv(out)
        out = out.reshape(out.shape[0], -1)
        return self.final_linear(out)
