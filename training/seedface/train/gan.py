"""Pieces shared by teacher training and distillation: latent / noise sampling with an explicit generator,
style mixing, EMA, and the discriminator's update (logistic loss, lazy R1, augmentation)."""
from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn

from seedface.models import Discriminator
from seedface.train import losses
from seedface.train.augment import AdaptiveAugment


def device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def randn(gen: torch.Generator, *shape: int, device=None) -> torch.Tensor:
    x = torch.randn(*shape, generator=gen, device=gen.device)
    return x if device is None else x.to(device)


def make_noise(sizes: list[int], batch: int, gen: torch.Generator, device) -> list[torch.Tensor]:
    return [randn(gen, batch, 1, s, s, device=device) for s in sizes]


def mixed_w(mapping: nn.Module, batch: int, n_w: int, style_dim: int, mix_prob: float, gen: torch.Generator,
            device) -> torch.Tensor:
    """[B, n_w, D]: w of one z, or with probability mix_prob w1 up to a random crossover and w2 after it."""
    z = randn(gen, 2, batch, style_dim, device=device)
    w1, w2 = mapping(z[0]), mapping(z[1])
    cross = (torch.rand(batch, generator=gen, device=gen.device) * (n_w - 1)).long() + 1  # 1..n_w-1
    mix = torch.rand(batch, generator=gen, device=gen.device) < mix_prob
    cross = torch.where(mix, cross, torch.full_like(cross, n_w)).to(device)
    idx = torch.arange(n_w, device=device)[None, :, None]
    return torch.where(idx < cross[:, None, None], w1[:, None], w2[:, None])


def channels_last(module: nn.Module) -> nn.Module:
    """NHWC for the 4-D parameters only (module.to(memory_format=...) refuses other ranks on older PyTorch)."""
    for t in list(module.parameters()) + list(module.buffers()):
        if t.ndim == 4:
            t.data = t.data.contiguous(memory_format=torch.channels_last)
    return module


def requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, beta: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm.detach(), 1.0 - beta)
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)


def frozen_copy(module: nn.Module) -> nn.Module:
    m = copy.deepcopy(module).eval()
    requires_grad(m, False)
    return m


def adam(params, lr: float, reg_every: int | None):
    """StyleGAN2 Adam (betas 0, 0.99), with the lazy-regularisation correction of lr and betas."""
    c = reg_every / (reg_every + 1) if reg_every else 1.0
    return torch.optim.Adam(params, lr=lr * c, betas=(0.0, 0.99 ** c), eps=1e-8)


def autocast(device: torch.device, dtype: torch.dtype | None):
    """bf16/fp16 autocast on CUDA when asked; a no-op context otherwise."""
    if dtype is None or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


class DiscriminatorUpdate:
    """One discriminator step: logistic loss on augmented reals vs fakes, R1 (gamma) every r1_every steps on
    augmented reals (gradient w.r.t. the un-augmented image)."""

    def __init__(self, D: Discriminator, lr: float, r1_gamma: float, r1_every: int, augment: AdaptiveAugment,
                 amp_dtype: torch.dtype | None = None):
        self.D, self.augment, self.r1_gamma, self.r1_every, self.amp = D, augment, r1_gamma, r1_every, amp_dtype
        self.opt = adam(D.parameters(), lr, r1_every)

    def __call__(self, real: torch.Tensor, fake: torch.Tensor, step: int, gen: torch.Generator) -> dict:
        D = self.D
        requires_grad(D, True)
        dev = real.device
        with autocast(dev, self.amp):
            fake_logits = D(self.augment(fake.detach(), gen))
            real_logits = D(self.augment(real, gen))
            loss = losses.d_logistic(real_logits.float(), fake_logits.float())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.augment.observe(real_logits, real.shape[0])
        # 0-d tensors: converted to numbers only when logged, so the GPU queue never waits for the host
        out = {"d_loss": loss.detach(), "real_score": real_logits.detach().float().mean(),
               "fake_score": fake_logits.detach().float().mean()}
        if self.r1_gamma > 0 and self.r1_every and step % self.r1_every == 0:
            real_in = real.detach().float().requires_grad_(True)
            real_logits = D(self.augment(real_in, gen))  # fp32: the double backward is sensitive to rounding
            r1 = losses.r1_penalty(real_logits, real_in)
            self.opt.zero_grad(set_to_none=True)
            (self.r1_gamma / 2 * r1 * self.r1_every + 0 * real_logits.float().mean()).backward()
            self.opt.step()
            out["r1"] = r1.detach()
        requires_grad(D, False)
        return out
