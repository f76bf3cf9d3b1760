"""A narrower MobileStyleGAN student initialised from a wider one (structured channel pruning), as the start of a
distillation: the edge student begins from the release's own weights instead of random ones.

Where the new width equals the old one the layer is copied exactly, so with the release's 512 channels kept up to
the 16x16 block the narrow student draws the release's 8..32 px levels bit for bit before any training. Where a
block is narrower, it keeps the channels that matter most: mean |activation| over calibration samples times the
norm of the weights that read the channel. Channels feeding an inverse-Haar upsample are kept in whole wavelet
groups (the low band and its three detail bands of one base channel), which is what the upsample consumes.

The modulation scale 1/sqrt(fan_in) depends on the width, so the kept modulation rows are rescaled to keep each
kept channel's modulation exactly as it was. Only students whose convs carry their demodulation folded into the
weights (the imported release) are supported: a narrowed conv then computes what the kept part computed before.
"""
from __future__ import annotations

import torch

from seedface.models.student import ModulatedConv2d, StudentSynthesis, StyledConv2d


def _wavelet_groups(base: torch.Tensor, n_base: int) -> torch.Tensor:
    """Indices of the 4*len(base) channels (low band first, then (C, 3) details) holding the base channels."""
    details = torch.stack([n_base + 3 * base + k for k in range(3)], dim=1).reshape(-1)
    return torch.cat([base, details])


def _top(score: torch.Tensor, k: int) -> torch.Tensor:
    return torch.sort(torch.topk(score, k).indices).values


@torch.no_grad()
def _activation_means(student: StudentSynthesis, w: torch.Tensor, noise: list[torch.Tensor], levels: int) -> dict:
    """Mean |output| per channel of every StyledConv2d, over the calibration batch."""
    means, hooks = {}, []
    for name, m in student.named_modules():
        if isinstance(m, StyledConv2d):
            hooks.append(m.register_forward_hook(
                lambda mod, _inp, out, name=name: means.__setitem__(name, out.abs().mean((0, 2, 3)))))
    try:
        student(w, noise, levels=levels)
    finally:
        for h in hooks:
            h.remove()
    return means


def _copy_conv(dst: ModulatedConv2d, src: ModulatedConv2d, rows: torch.Tensor, cols: torch.Tensor) -> None:
    """dst = src restricted to output channels `rows` and input channels `cols`, modulation kept equal."""
    rescale = src.scale / dst.scale
    dst.modulation.weight.copy_(src.modulation.weight[cols] * rescale)
    dst.modulation.bias.copy_(src.modulation.bias[cols] * rescale)
    if hasattr(src, "weight_dw"):
        dst.weight_dw.copy_(src.weight_dw[cols])
        dst.weight_permute.copy_(src.weight_permute[rows][:, cols])
    else:
        dst.weight.copy_(src.weight[rows][:, cols])
    if getattr(src, "demodulate", False):
        dst.style_inv.copy_(src.style_inv[:, :, cols])


def _copy_styled(dst: StyledConv2d, src: StyledConv2d, rows: torch.Tensor, cols: torch.Tensor) -> None:
    _copy_conv(dst.conv, src.conv, rows, cols)
    dst.noise.weight.copy_(src.noise.weight)
    dst.bias.copy_(src.bias[:, rows])


def _copy_head(dst, src, cols: torch.Tensor) -> None:
    _copy_conv(dst.conv, src.conv, torch.arange(dst.conv.weight.shape[0]), cols)
    dst.bias.copy_(src.bias)


def _reader_norm(conv: ModulatedConv2d) -> torch.Tensor:
    """How strongly a conv reads each input channel (norm of its effective weights per input)."""
    if hasattr(conv, "weight_dw"):
        return conv.weight_dw.flatten(1).norm(dim=1) * conv.weight_permute.flatten(2).norm(dim=(0, 2))
    return conv.weight.transpose(0, 1).flatten(1).norm(dim=1)


@torch.no_grad()
def narrow_student(src: StudentSynthesis, channels: list[int], calib_w: torch.Tensor,
                   calib_noise: list[torch.Tensor]) -> StudentSynthesis:
    """A StudentSynthesis with `channels` (same style_dim; len(channels) <= len(src.channels), each entry at most
    the source's) whose weights are the source's most important channels. calib_w [B, src n_w, D] and calib_noise
    (the source's noise maps) drive the activation statistics."""
    if not getattr(next(m for m in src.modules() if isinstance(m, ModulatedConv2d) and m.demodulate),
                   "demod_folded", False):
        raise ValueError("narrow_student needs a student with folded demodulation (an imported release)")
    if len(channels) > len(src.channels) or any(c > s for c, s in zip(channels, src.channels)):
        raise ValueError(f"channels {channels} must be a prefix-wise narrowing of {src.channels}")
    if channels[0] != src.channels[0]:
        raise ValueError("the 4x4 layer keeps its width (its constant input is a learned image)")
    dst = StudentSynthesis(src.style_dim, channels)
    dst.mark_demodulation_folded()
    n_blocks = len(channels) - 1
    acts = _activation_means(src, calib_w, calib_noise, levels=n_blocks + 1)

    # The 4x4 layer and its head are copied; `keep` holds the kept output channels of the previous block.
    dst.input.input.copy_(src.input.input)
    all0 = torch.arange(channels[0])
    _copy_styled(dst.conv1, src.conv1, all0, all0)
    _copy_head(dst.to_img1, src.to_img1, all0)
    keep = all0
    for i in range(n_blocks):
        sb, db = src.layers[i], dst.layers[i]
        base_in = keep[: len(keep) // 4]  # keep is wavelet-grouped: its first quarter are the base channels
        db.up.modulation.weight.copy_(sb.up.modulation.weight[keep])
        db.up.modulation.bias.copy_(sb.up.modulation.bias[keep])
        wide, narrow = src.channels[i + 1], channels[i + 1]
        # conv1 outputs: read by conv2 only.
        score1 = acts[f"layers.{i}.conv1"] * _reader_norm(sb.conv2.conv)
        mid = _top(score1, narrow) if narrow < wide else torch.arange(wide)
        _copy_styled(db.conv1, sb.conv1, mid, base_in)
        # conv2 outputs: read by this block's head and, after the next upsample, by the next block's conv1.
        score2 = acts[f"layers.{i}.conv2"] * (_reader_norm(sb.to_img.conv) + 1e-12)
        if i + 1 < n_blocks:
            nb = src.layers[i + 1]
            up_gain = (nb.up.modulation.bias.abs() + 1e-12)  # the upsample's per-channel gain at w = 0
            per_base = (score2 * up_gain).view(-1)
            n_base_out = wide // 4
            base_score = per_base[:n_base_out] + per_base[n_base_out:].view(n_base_out, 3).sum(1)
            base_score = base_score * _reader_norm(nb.conv1.conv)
            out = (_wavelet_groups(_top(base_score, narrow // 4), n_base_out) if narrow < wide
                   else torch.arange(wide))
        else:
            out = _top(score2, narrow) if narrow < wide else torch.arange(wide)
        _copy_styled(db.conv2, sb.conv2, out, mid)
        _copy_head(db.to_img, sb.to_img, out)
        keep = out
    return dst


def describe(src: StudentSynthesis, dst: StudentSynthesis) -> dict:
    """Widths and parameter counts, for logs and reports."""
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return {"from_channels": src.channels, "channels": dst.channels, "params": count(dst),
            "from_params": count(src), "kept_levels": [2 ** (k + 3) for k in range(len(dst.channels))],
            "exact_levels": [2 ** (k + 3) for k in range(len(dst.channels))
                             if dst.channels[:k + 1] == src.channels[:k + 1]]}

