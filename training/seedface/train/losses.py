"""Losses: StyleGAN2 adversarial terms and regularisers, and the MobileStyleGAN distillation terms."""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F


def d_logistic(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_img: torch.Tensor) -> torch.Tensor:
    """E[|grad_x D(x)|^2] on reals; real_img must require grad and be the input of real_logits."""
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real_img, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()


def path_length_penalty(img: torch.Tensor, w: torch.Tensor, mean_path: torch.Tensor, decay: float = 0.01):
    """StyleGAN2 path-length regulariser. Returns (penalty, new running mean, mean path length)."""
    noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad((img * noise).sum(), w, create_graph=True)
    lengths = grad.float().pow(2).sum(-1).mean(1).sqrt() if grad.ndim == 3 else grad.float().pow(2).sum(-1).sqrt()
    new_mean = mean_path + decay * (lengths.mean().detach() - mean_path)
    return (lengths - new_mean).pow(2).mean(), new_mean, lengths.mean().detach()


def resize_to(img: torch.Tensor, size: int) -> torch.Tensor:
    """Teacher image to a student level: area averaging when shrinking (antialiased), bilinear otherwise."""
    if img.shape[-1] == size:
        return img
    if img.shape[-1] > size:
        return F.interpolate(img, size=(size, size), mode="area")
    return F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)


def l1_l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = a.float() - b.float()
    return d.abs().mean() + d.pow(2).mean()


def multiscale_rgb_loss(student_imgs: list[torch.Tensor], teacher_img: torch.Tensor) -> torch.Tensor:
    """L1+L2 of every student level (inverse Haar of each head) vs the teacher image resized to that level."""
    return sum(l1_l2(s, resize_to(teacher_img, s.shape[-1])) for s in student_imgs)


def multiscale_wavelet_loss(student_freqs: list[torch.Tensor], teacher_img: torch.Tensor, dwt) -> torch.Tensor:
    """L1+L2 of every 12-channel head vs the Haar transform of the teacher image at twice the head's size."""
    return sum(l1_l2(f, dwt(resize_to(teacher_img, 2 * f.shape[-1]))) for f in student_freqs)


def feature_l1(feats_a: list[torch.Tensor], feats_b: list[torch.Tensor]) -> torch.Tensor:
    return sum((a.float() - b.float()).abs().mean() for a, b in zip(feats_a, feats_b))


# VGG16 "features" layout (torchvision's key names: features.<i>.weight/bias); outputs taken after these ReLUs.
_VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
_VGG16_TAPS = (3, 8, 15, 22)  # relu1_2, relu2_2, relu3_3, relu4_3


class VGG16Features(torch.nn.Module):
    """VGG16 conv trunk for the perceptual term, loaded from a local torchvision-layout weights file."""

    def __init__(self, weights: str | Path, resize: int = 256):
        super().__init__()
        layers, c = [], 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(torch.nn.MaxPool2d(2))
            else:
                layers += [torch.nn.Conv2d(c, v, 3, padding=1), torch.nn.ReLU(inplace=False)]
                c = v
        self.features = torch.nn.Sequential(*layers[: max(_VGG16_TAPS) + 1])
        sd = torch.load(weights, map_location="cpu", weights_only=True)
        sd = sd.get("state_dict", sd)
        own = {k: v for k, v in sd.items() if k.startswith("features.") and k in self.state_dict()}
        missing = set(self.state_dict()) - set(own)
        if missing:
            raise ValueError(f"{weights}: VGG16 weights lack {sorted(missing)[:4]}...")
        self.load_state_dict(own)
        self.requires_grad_(False).eval()
        self.resize = resize
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, img: torch.Tensor) -> list[torch.Tensor]:
        x = ((img.float() + 1) / 2 - self.mean) / self.std
        if x.shape[-1] != self.resize:
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _VGG16_TAPS:
                out.append(x)
        return out
