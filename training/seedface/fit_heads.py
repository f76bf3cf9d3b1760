"""Fit the wavelet heads the release's export dropped (levels 8 .. R/2), as the paper trains them: the trunk is

    python -m seedface.fit_heads --release random_face-2021.7.21.1-py3-none-any.whl --run training/runs/heads \\
        [--train 300 --train-512 100 --steps 800] [--smoke]

The work is done by seedface.train.heads; this module parses the flags.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from seedface.release import ir_modules as release_ir, wheel as release_wheel
from seedface.models.heads import head_module, heads_state, save_heads
from seedface.train.heads import build_cache, fit_head, load_cache, log, plot, train_psi


def main(argv=None) -> int:

    ap = argparse.ArgumentParser(prog="python -m seedface.fit_heads", description=__doc__.split("\n\n")[0])
    ap.add_argument("--release", required=True, type=Path, help="the random-face wheel, or the SynthesisNetwork.xml")
    ap.add_argument("--run", type=Path, default=Path("training/runs/heads"))
    ap.add_argument("--out", type=Path, default=None, help="heads file (default: <run>/heads.pt)")
    ap.add_argument("--train", type=int, default=300, help="faces for the heads up to 256 px")
    ap.add_argument("--train-512", type=int, default=100, help="faces for the 512 px head (its features are large)")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mean-samples", type=int, default=65536)
    ap.add_argument("--smoke", action="store_true", help="4 faces, 20 steps: checks the pipeline")
    a = ap.parse_args(argv)
    if a.smoke:
        a.train, a.train_512, a.steps, a.mean_samples = 4, 2, 20, 1024
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rel = release_wheel.open_release([a.release])
    r = release_ir.extract(rel.mapping_xml, rel.synthesis_xml)
    student, mapping = r.student, r.mapping
    mean = release_wheel.style_mean(mapping, a.mean_samples)
    levels = student.output_sizes()[:-1]  # the heads to fit: every level but the release's own
    log(f"release {rel.label}: fitting heads for levels {levels} on {a.train} faces ({a.train_512} for 512)")
    cache = a.run / "cache"
    seeds = [(f"heads-train/{i}", train_psi(i)) for i in range(a.train)]
    build_cache(student, mapping, mean, seeds, levels, cache, {512: a.train_512})
    history, t0 = {}, time.time()
    partial = a.run / "heads.partial.pt"  # heads fitted so far: a stopped run resumes at the next level
    done = {}
    if partial.is_file():
        ck = torch.load(partial)
        if ck.get("args") == [a.train, a.train_512, a.steps, a.batch, a.lr]:
            student.load_state_dict({k: v.float() for k, v in ck["state_dict"].items()}, strict=False)
            done, history = ck["done"], ck["history"]
            log(f"resuming: levels {sorted(done)} already fitted ({partial})")
    for k, lv in enumerate(levels):
        if lv in done:
            continue
        n = a.train_512 if lv == 512 else a.train
        hidden, target, w = load_cache(cache, n, lv)
        torch.manual_seed(1000 + k)
        hist = fit_head(head_module(student, k), hidden, target, w, a.steps, a.batch, a.lr, seed=k)
        history[lv] = hist
        log(f"level {lv}: {hidden.shape[0]} faces, final train-batch median PSNR {hist[-1]['psnr_db']:.2f} dB "
            f"({time.time() - t0:.0f} s)")
        del hidden, target, w
        done[lv] = True
        torch.save({"args": [a.train, a.train_512, a.steps, a.batch, a.lr], "done": done, "history": history,
                    "state_dict": heads_state(student, levels)}, partial)
    meta = {"release": rel.label, "release_synthesis_sha256": rel.synthesis_bin_sha256, "levels": levels,
            "train_faces": a.train, "train_faces_512": a.train_512, "steps": a.steps, "batch": a.batch, "lr": a.lr,
            "threads": a.threads, "seeds": "heads-train/<i>, psi 0.5 + 0.5 * frac(i * golden ratio)",
            "head": "1x1 modulated conv -> 12 Haar channels + bias (the release's to_img), least-squares init",
            "loss": "L1 + L2 on Haar coefficients and on RGB vs the area-downsampled release image"}
    out = a.out or (a.run / "heads.pt")
    save_heads(out, student, levels, meta)
    (a.run / "fit_log.json").write_text(json.dumps({"meta": meta, "history": history}, indent=1))
    plot(history, a.run / "heads_losses.png")
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), {a.run / 'heads_losses.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
