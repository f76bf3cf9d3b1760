"""Fit the wavelet heads the release's export dropped (levels 8 .. R/2), as the paper trains them: the trunk is
frozen and each head learns the Haar transform of the release's own R px image, area-downsampled to its level.

    python -m seedface.fit_heads --release random_face-2021.7.21.1-py3-none-any.whl --run training/runs/heads \
        [--train 300 --train-512 100 --steps 800] [--smoke]

Each head is the release's own head type (1x1 modulated conv -> 12 Haar channels + bias). It starts from a
least-squares fit with a constant modulation and is then trained with Adam on L1 + L2 in wavelet and RGB space.
Faces: seeds "heads-train/<i>" with psi spread over [0.5, 1], the service's deterministic noise (seeding.py).
Deterministic on one machine (fixed seeds, fixed thread count); the fitted heads are committed as a small file
(see HEADS_FILE) so every machine gets the same model, and `npm run models:ffhq` only reads them.

Outputs under --run: features cache (resumable), heads.pt, a loss plot, a JSON log, and the heads file.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from seedface.console import logger
from seedface.eval import metrics
from seedface.models import haar
from seedface.pipeline import face, seeding

log = logger("fit_heads")


def area_down(img: torch.Tensor, size: int) -> torch.Tensor:
    """Area (box) downsample by a power-of-two factor: the service's resampler for exact integer factors."""
    f = img.shape[-1] // size
    return img if f == 1 else F.avg_pool2d(img, f)


def face_inputs(seed: str, style_dim: int, noise_sizes: list[int], mapping, mean: torch.Tensor, psi: float):
    z = torch.from_numpy(face.latents([seed], style_dim))
    with torch.no_grad():
        w = face.truncate(mapping(z), mean, psi)
    noise = [torch.from_numpy(n) for n in seeding.noise_maps(seed, noise_sizes)]
    return w, noise


def train_psi(i: int) -> float:
    return 0.5 + 0.5 * ((i * 0.6180339887498949) % 1.0)  # low-discrepancy spread over [0.5, 1]


def build_cache(student, mapping, mean, seeds_psi: list[tuple[str, float]], levels: list[int], cache: Path,
                keep_levels_for: dict[int, int]) -> None:
    """Per face: hidden features (fp16) of the heads to fit and the area-downsampled targets, one .pt each."""
    cache.mkdir(parents=True, exist_ok=True)
    sizes = student.noise_sizes()
    t0 = time.time()
    todo = [(i, s, p) for i, (s, p) in enumerate(seeds_psi) if not (cache / f"{i:05d}.pt").exists()]
    for n, (i, seed, psi) in enumerate(todo):
        w, noise = face_inputs(seed, student.style_dim, sizes, mapping, mean, psi)
        with torch.no_grad():
            out = student(w, noise, hidden=True)
        full = out["img"]
        rec = {"seed": seed, "psi": psi, "w": w[0].clone(), "hidden": {}, "target": {}}
        for k, lv in enumerate(levels):
            if i >= keep_levels_for.get(lv, 1 << 30):
                continue
            rec["hidden"][lv] = out["hidden"][k][0].half().clone()
            rec["target"][lv] = area_down(full, lv)[0].half().clone()
        torch.save(rec, cache / f"{i:05d}.pt")
        if n % 10 == 0 or n == len(todo) - 1:
            el = time.time() - t0
            log(f"cache {n + 1}/{len(todo)} faces ({el / (n + 1):.2f} s/face, eta {el / (n + 1) * (len(todo) - n - 1) / 60:.1f} min)")


def load_cache(cache: Path, n: int, level: int):
    hs, ts, ws = [], [], []
    for i in range(n):
        rec = torch.load(cache / f"{i:05d}.pt")
        if level not in rec["hidden"]:
            break
        hs.append(rec["hidden"][level])
        ts.append(rec["target"][level])
        ws.append(rec["w"])
    return torch.stack(hs), torch.stack(ts), torch.stack(ws)


def lstsq_init(head, hidden: torch.Tensor, target_freq: torch.Tensor) -> None:
    """Constant modulation (weight 0, bias 1 -> scale), conv weight and bias by ridge least squares over pixels."""
    conv = head.conv
    c = hidden.shape[1]
    x = hidden.float().permute(0, 2, 3, 1).reshape(-1, c) * conv.scale
    y = target_freq.float().permute(0, 2, 3, 1).reshape(-1, target_freq.shape[1])
    xa = torch.cat([x, torch.ones(x.shape[0], 1)], 1)
    a = xa.T @ xa + 1e-3 * torch.eye(c + 1) * x.shape[0] / c
    sol = torch.linalg.solve(a, xa.T @ y)  # [c+1, 12]
    with torch.no_grad():
        conv.modulation.weight.zero_()
        conv.modulation.bias.fill_(1.0)
        conv.weight.copy_(sol[:c].T.reshape(conv.weight.shape))
        head.bias.copy_(sol[c].reshape(head.bias.shape))


def head_image(head, hidden: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    f = head(hidden, w)
    return f, haar.idwt_static(f, 3, f.shape[-2], f.shape[-1])


def fit_head(head, hidden, target, w, steps: int, batch: int, lr: float, seed: int) -> list[dict]:
    """hidden [N,C,h,h] fp16, target [N,3,2h,2h] fp16, w [N,D]."""
    tfreq = haar.dwt(target.float())
    lstsq_init(head, hidden, tfreq)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    g = torch.Generator().manual_seed(seed)
    hist = []
    n = hidden.shape[0]
    for step in range(steps + 1):
        idx = torch.randint(0, n, (min(batch, n),), generator=g)
        h, t, tf, ww = hidden[idx].float(), target[idx].float(), tfreq[idx], w[idx]
        f, img = head_image(head, h, ww)
        loss = (F.l1_loss(f, tf) + F.mse_loss(f, tf) + F.l1_loss(img, t) + F.mse_loss(img, t))
        if step % 50 == 0:
            hist.append({"step": step, "loss": float(loss), "psnr_db": float(metrics.psnr(img.detach(), t, clip=True, min_mse=1e-12).median())})
        if step == steps:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return hist


def plot(history: dict, out: Path) -> None:
    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    for lv, hist in history.items():
        axes[0].plot([h["step"] for h in hist], [h["loss"] for h in hist], label=f"{lv}px")
        axes[1].plot([h["step"] for h in hist], [h["psnr_db"] for h in hist], label=f"{lv}px")
    axes[0].set_yscale("log")
    axes[0].set_title("head loss (L1+L2, wavelet+RGB)")
    axes[1].set_title("median PSNR vs area-downsampled 1024 (train batch)")
    for a in axes:
        a.set_xlabel("step")
        a.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
