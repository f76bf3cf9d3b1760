"""Differentiable augmentation of the discriminator's inputs for limited data.

DiffAugment (Zhao et al. 2020): colour (brightness, saturation, contrast), translation (1/8 of the size, zero
padded) and cutout (a square of half the size). Every random draw comes from an explicit torch.Generator so a
resumed run reproduces the same augmentations. `AdaptiveAugment` applies it per sample with probability p and
tunes p with StyleGAN2-ADA's overfitting heuristic r_t = E[sign(D(real))] against a target (0.6).
"""
from __future__ import annotations

import torch

POLICY = ("color", "translation", "cutout")


def _rand(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=gen, device=gen.device)


def _color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    b = x.shape[0]
    x = x + (_rand(gen, b, 1, 1, 1).to(x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(gen, b, 1, 1, 1).to(x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(gen, b, 1, 1, 1).to(x) + 0.5) + mean


def _translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    b, c, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = (_rand(gen, b) * (2 * sy + 1)).long().clamp(max=2 * sy).to(x.device) - sy
    tx = (_rand(gen, b) * (2 * sx + 1)).long().clamp(max=2 * sx).to(x.device) - sx
    gy = (torch.arange(h, device=x.device)[None, :] + ty[:, None] + 1).clamp(0, h + 1)  # [B, H] in padded coords
    gx = (torch.arange(w, device=x.device)[None, :] + tx[:, None] + 1).clamp(0, w + 1)
    pad = torch.nn.functional.pad(x, (1, 1, 1, 1))  # shifted-out pixels read the zero border
    bi = torch.arange(b, device=x.device)[:, None, None]
    return pad.permute(0, 2, 3, 1)[bi, gy[:, :, None], gx[:, None, :]].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = (_rand(gen, b) * (h + 1 - ch % 2)).long().to(x.device)
    ox = (_rand(gen, b) * (w + 1 - cw % 2)).long().to(x.device)
    ys = torch.arange(h, device=x.device)[None, :] - oy[:, None] + ch // 2  # inside when 0 <= ys < ch
    xs = torch.arange(w, device=x.device)[None, :] - ox[:, None] + cw // 2
    inside = ((ys >= 0) & (ys < ch))[:, :, None] & ((xs >= 0) & (xs < cw))[:, None, :]
    return x * (~inside)[:, None].to(x)


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, gen: torch.Generator, policy: tuple[str, ...] = POLICY) -> torch.Tensor:
    for name in policy:
        x = _OPS[name](x, gen)
    return x


class AdaptiveAugment:
    """DiffAugment applied per sample with probability p.

    mode 'diffaug': p fixed at 1 (plain DiffAugment); 'ada': p adapted from r_t; 'none': identity.
    p moves by (batch * interval) / (speed_kimg * 1000) per adjustment, towards more augmentation while
    r_t > target (the discriminator is over-confident on reals, i.e. overfitting)."""

    def __init__(self, mode: str = "ada", p: float | None = None, target: float = 0.6, speed_kimg: float = 100.0,
                 interval: int = 4, policy: tuple[str, ...] = POLICY):
        if mode not in ("ada", "diffaug", "none"):
            raise ValueError(f"unknown augmentation mode {mode!r}")
        self.mode, self.target, self.speed_kimg, self.interval, self.policy = mode, target, speed_kimg, interval, policy
        self.p = {"ada": 0.0, "diffaug": 1.0, "none": 0.0}[mode] if p is None else float(p)
        self._signs: list[float] = []
        self.rt = 0.0

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.mode == "none":
            return x
        aug = diff_augment(x, gen, self.policy)
        keep = (_rand(gen, x.shape[0]) < self.p).to(x.device)
        return torch.where(keep[:, None, None, None], aug, x)

    def observe(self, real_logits: torch.Tensor, batch: int) -> None:
        """Feed D's logits on (augmented) reals after each D step; adjusts p every `interval` calls."""
        if self.mode != "ada":
            return
        self._signs.append(torch.sign(real_logits.detach().float()).mean())
        if len(self._signs) >= self.interval:
            self.rt = sum(float(s) for s in self._signs) / len(self._signs)  # one host sync per interval
            step = batch * len(self._signs) / (self.speed_kimg * 1000.0)
            self.p = min(1.0, max(0.0, self.p + (step if self.rt > self.target else -step)))
            self._signs.clear()

    def state_dict(self) -> dict:
        return {"mode": self.mode, "p": self.p, "rt": self.rt, "signs": [float(s) for s in self._signs]}

    def load_state_dict(self, s: dict) -> None:
        self.mode, self.p, self.rt, self._signs = s["mode"], float(s["p"]), float(s["rt"]), list(s["signs"])
