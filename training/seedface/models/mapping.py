"""Mapping network z -> w: PixelNorm + n x EqualLinear(lr_mul 0.01, fused leaky ReLU x sqrt 2)."""
from __future__ import annotations

import torch
from torch import nn

from seedface.models.layers import EqualLinear, PixelNorm


class MappingNetwork(nn.Module):
    def __init__(self, style_dim: int, n_layers: int, lr_mlp: float = 0.01):
        super().__init__()
        self.style_dim = style_dim
        self.n_layers = n_layers
        layers = [PixelNorm()]
        for _ in range(n_layers):
            layers.append(EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu"))
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)

    @torch.no_grad()
    def mean_w(self, n: int = 10000, seed: int = 0, batch: int = 2000) -> torch.Tensor:
        """Average w over n z ~ N(0, I) (a fixed torch generator seed), shape [style_dim]."""
        g = torch.Generator().manual_seed(seed)
        acc = torch.zeros(self.style_dim, dtype=torch.float64)
        done = 0
        dev = next(self.parameters()).device
        while done < n:
            k = min(batch, n - done)
            z = torch.randn(k, self.style_dim, generator=g).to(dev)
            acc += self(z).double().sum(0).cpu()
            done += k
        return (acc / n).float()
