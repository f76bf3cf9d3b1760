"""Train the StyleGAN2 teacher (mapping + synthesis + discriminator) on a folder of faces.

    python -m seedface.train_teacher --preset small64 --data ../shared/datasets/faces128 --minutes 30 \
        --run training/runs/teacher64 [--resume] [--export models/teacher64]

Non-saturating logistic loss, lazy R1 (every 16 steps), optional path-length regularisation, EMA generator,
style mixing (p 0.9), DiffAugment / adaptive augmentation on the discriminator's inputs (strength logged).
A run ends, on its step limit or its time budget, with a checkpoint (run/checkpoint.pt), loss plots, a sample
grid and, with --export, a model directory (mapping + teacher ONNX).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from seedface.models import Discriminator, MappingNetwork, TeacherSynthesis, preset
from seedface.models.checkpoint import load_published, state_dict_published
from seedface.models.config import ModelConfig
from seedface.pipeline import face
from seedface.release.export import export_model_dir
from seedface.train import data as data_mod, gan, losses, plots, trainckpt
from seedface.train.augment import AdaptiveAugment
from seedface.train.runenv import (TRAINING_DATA, amp_dtype, hardware, pick_device,
    provenance, resolve, setup_device)
from seedface.train.runlog import Budget, Every, RunLog, StopOnSignal, means, progress

GRID_SEED = 20260


class TeacherTrainer:
    def __init__(self, config: ModelConfig, a: argparse.Namespace, device: torch.device):
        self.config, self.a, self.device = config, a, device
        torch.manual_seed(a.seed)
        self.mapping = MappingNetwork(config.style_dim, config.n_mlp).to(device)
        self.synth = TeacherSynthesis(config.resolution, config.style_dim, config.teacher_channels).to(device)
        self.D = Discriminator(config.resolution, config.teacher_channels).to(device)
        if a.channels_last:
            gan.channels_last(self.synth)
            gan.channels_last(self.D)
        self.ema_mapping, self.ema_synth = gan.frozen_copy(self.mapping), gan.frozen_copy(self.synth)
        pl_every = a.pl_every if a.pl_weight > 0 else None
        self.opt_g = gan.adam(list(self.mapping.parameters()) + list(self.synth.parameters()), a.lr, pl_every)
        self.amp = amp_dtype(a.amp, device)
        self.augment = AdaptiveAugment(a.augment, target=a.ada_target, speed_kimg=a.ada_kimg)
        self.d_update = gan.DiscriminatorUpdate(self.D, a.lr, a.r1, a.r1_every, self.augment, self.amp)
        self.gen = torch.Generator(device=device).manual_seed(a.seed)
        self.step = 0
        self.pl_mean = torch.zeros((), device=device)
        self.elapsed = 0.0
        self.n_images = 0
        gan.requires_grad(self.D, False)

    # --- one iteration -------------------------------------------------------------------------------------
    def generate(self, mapping, synth, batch: int, mix_prob: float):
        c = self.config
        w = gan.mixed_w(mapping, batch, synth.n_w, c.style_dim, mix_prob, self.gen, self.device)
        noise = gan.make_noise(synth.noise_sizes(), batch, self.gen, self.device)
        return w, synth(w, noise)

    def train_step(self, real: torch.Tensor) -> dict:
        a, b = self.a, real.shape[0]
        with torch.no_grad(), gan.autocast(self.device, self.amp):
            _, fake = self.generate(self.mapping, self.synth, b, a.mix_prob)
        row = self.d_update(real, fake.float(), self.step, self.gen)

        gan.requires_grad(self.mapping, True)
        gan.requires_grad(self.synth, True)
        with gan.autocast(self.device, self.amp):
            _, fake = self.generate(self.mapping, self.synth, b, a.mix_prob)
            g_loss = losses.g_nonsaturating(self.D(self.augment(fake, self.gen)).float())
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        row["g_loss"] = g_loss.detach()
        if a.pl_weight > 0 and self.step % a.pl_every == 0:
            pb = max(1, b // 2)
            w, img = self.generate(self.mapping, self.synth, pb, a.mix_prob)  # fp32 for the double backward
            pl, self.pl_mean, plen = losses.path_length_penalty(img, w, self.pl_mean)
            self.opt_g.zero_grad(set_to_none=True)
            (a.pl_weight * a.pl_every * pl + 0 * img[0, 0, 0, 0]).backward()
            self.opt_g.step()
            row["pl"], row["pl_len"] = pl.detach(), plen
        gan.requires_grad(self.mapping, False)
        gan.requires_grad(self.synth, False)

        # EMA half-life ema_kimg, ramped up over the first images (StyleGAN2-ADA)
        nimg = (self.step + 1) * b
        ema_nimg = min(a.ema_kimg * 1000, nimg * a.ema_rampup) if a.ema_rampup else a.ema_kimg * 1000
        beta = 0.5 ** (b / max(ema_nimg, 1e-8))
        gan.ema_update(self.ema_mapping, self.mapping, beta)
        gan.ema_update(self.ema_synth, self.synth, beta)
        row["aug_p"], row["aug_rt"] = self.augment.p, self.augment.rt
        self.step += 1
        return row

    # --- state -----------------------------------------------------------------------------------------------
    def style_mean(self) -> torch.Tensor:
        return self.ema_mapping.mean_w(n=self.a.mean_samples, seed=0)

    def save(self, path: Path, history: list[dict]) -> Path:
        """The EMA generator goes in the published part only (it is what inference and distillation use)."""
        published = state_dict_published(self.ema_mapping, self.ema_synth, None, self.style_mean())
        train = {
            "mapping": self.mapping.state_dict(), "synth": self.synth.state_dict(), "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.d_update.opt.state_dict(),
            "augment": self.augment.state_dict(), "pl_mean": self.pl_mean, "step": self.step,
            "rng": trainckpt.rng_state(self.gen), "history": history, "elapsed_s": self.elapsed,
            "args": {k: v for k, v in vars(self.a).items() if isinstance(v, (int, float, str, bool, type(None)))},
            "hardware": hardware(self.device), "images": self.n_images,
        }
        return trainckpt.save(path, "teacher", self.config.to_dict(), published, train)

    def load(self, ck: dict) -> list[dict]:
        t = ck["train"]
        teacher_only = ModelConfig.from_dict({**self.config.to_dict(), "student_channels": None})
        _, ema_mapping, ema_synth, _, _ = load_published(ck["state_dict"], teacher_only)
        self.ema_mapping.load_state_dict(ema_mapping.state_dict())
        self.ema_synth.load_state_dict(ema_synth.state_dict())
        if t.get("raw_from_ema") or not ("mapping" in t and "synth" in t):
            # The shipped checkpoint keeps only the EMA generator (trainckpt.ema_only): the raw one restarts from it.
            self.mapping.load_state_dict(self.ema_mapping.state_dict())
            self.synth.load_state_dict(self.ema_synth.state_dict())
            print("[teacher] the checkpoint has no raw generator weights: the raw generator starts from the EMA "
                  "generator's", file=sys.stderr)
        for name in ("mapping", "synth", "D"):
            if name in t:  # a slim transfer checkpoint may lack D: it then restarts
                getattr(self, name).load_state_dict(t[name])
        trainckpt.load_optimizers({"opt_g": self.opt_g, "opt_d": self.d_update.opt}, t)
        self.augment.load_state_dict(t["augment"])
        self.pl_mean = t["pl_mean"].float().to(self.device)
        self.step, self.elapsed = int(t["step"]), float(t["elapsed_s"])
        trainckpt.set_rng_state(self.gen, t["rng"])
        return list(t["history"])

    @torch.no_grad()
    def grid(self, path: Path, n: int = 16) -> Path:
        w, noise, mean = plots.grid_inputs(self.ema_mapping, self.config.style_dim, self.ema_synth.noise_sizes(), n,
                                           GRID_SEED, self.device)
        rows = [self.ema_synth(w, noise), self.ema_synth(face.truncate(w, mean, 0.7), noise)]  # psi 1 and 0.7
        return plots.save_grid(path, [r.float() for r in rows])


def export_teacher(trainer: TeacherTrainer, out: Path, model_id: str, version: str) -> dict:
    """mapping.onnx + teacher.onnx in a model directory (student null until distilled), written atomically."""
    mapping = gan.frozen_copy(trainer.ema_mapping).cpu().float()
    synth = gan.frozen_copy(trainer.ema_synth).cpu().float().to(memory_format=torch.contiguous_format)
    sm = mapping.mean_w(n=trainer.a.mean_samples, seed=0)
    prov = provenance("seedface.train_teacher", trainer.step, trainer.elapsed, hardware(trainer.device),
                      source_from="faces128")
    status = (f"teacher only, trained here for {trainer.step} steps: no student yet, so the edge cannot serve it; "
              f"distill one with `npm run distill`")
    return export_model_dir(out, trainer.config, mapping, None, synth, sm, model_id=model_id, version=version,
                            provenance=prov, trained=True, status=status, training_data=TRAINING_DATA,
                            mean_source=f"average mapping output over {trainer.a.mean_samples} seeded z")


def default_r1(resolution: int, batch: int) -> float:
    """StyleGAN2-ADA's heuristic gamma = 0.0002 * R^2 / batch (0.82 at 64px/batch 1, 10 at 1024px/batch 32...)."""
    return 0.0002 * resolution ** 2 / batch


def train(a: argparse.Namespace) -> dict:
    """A run from parsed flags (the command seedface.train_teacher declares them)."""
    device = pick_device(a.device)
    setup_device(device, a.threads)
    if a.batch is None:
        a.batch = 32 if device.type == "cuda" else 8
    run_dir = resolve(a.run)
    ckpt_path = run_dir / "checkpoint.pt"
    ck = None
    if a.resume:
        src = ckpt_path if a.resume == "auto" else resolve(a.resume)
        ck = trainckpt.load(src)
        config = ModelConfig.from_dict(ck["config"])
        print(f"[teacher] resuming from {src} at step {ck['train']['step']}", file=sys.stderr)
    else:
        config = preset(a.preset)
    if a.r1 is None:
        a.r1 = default_r1(config.resolution, a.batch)

    images = data_mod.load_images(a.data, config.resolution, a.limit, "train", a.holdout)
    batches = data_mod.FaceBatches(images, device)
    print(f"[teacher] {len(batches)} training images at {config.resolution}px on {hardware(device)}; "
          f"batch {a.batch}, r1 {a.r1:.4g}, augment {a.augment}, amp {a.amp if device.type == 'cuda' else 'none'}",
          file=sys.stderr, flush=True)

    trainer = TeacherTrainer(config, a, device)
    trainer.n_images = len(batches)
    history = trainer.load(ck) if ck else []
    log = RunLog(run_dir, history)
    budget = Budget(a.minutes, a.steps, trainer.elapsed)
    grid_timer, ckpt_timer = Every(a.grid_every), Every(a.ckpt_every)
    grid_path = run_dir / "grid.png"
    acc: dict[str, list[float]] = {}

    def outputs():
        trainer.elapsed = budget.elapsed
        trainer.grid(grid_path)
        plots.loss_plot(run_dir / "losses.png", log.history,
                        ["d_loss", "g_loss", "r1", "real_score", "fake_score", "aug_p", "aug_rt", "pl"],
                        f"teacher {config.resolution}px")

    with StopOnSignal("teacher") as stop:
        while not budget.done(trainer.step) and not stop:
            real = batches.sample(a.batch, trainer.gen)
            if a.channels_last:
                real = real.contiguous(memory_format=torch.channels_last)
            row = trainer.train_step(real)
            for k, v in row.items():
                acc.setdefault(k, []).append(v)
            if trainer.step % a.log_every == 0 or budget.done(trainer.step):
                mean = means(acc)
                mean.update(step=trainer.step, kimg=trainer.step * a.batch / 1000, elapsed_s=budget.elapsed)
                log.add(mean)
                acc.clear()
                progress("teacher", trainer.step, budget, {k: mean[k] for k in ("d_loss", "g_loss", "aug_p")
                                                           if k in mean}, f"kimg {mean['kimg']:.1f}")
                # grids and checkpoints only right after a finite log row
                if grid_timer.due():
                    outputs()
                if ckpt_timer.due():
                    trainer.elapsed = budget.elapsed
                    trainer.save(ckpt_path, log.history)
    if acc:
        mean = means(acc)
        mean.update(step=trainer.step, kimg=trainer.step * a.batch / 1000, elapsed_s=budget.elapsed)
        log.add(mean)
    outputs()
    trainer.save(ckpt_path, log.history)
    summary = {"kind": "teacher", "steps": trainer.step, "minutes": round(budget.elapsed / 60, 3),
               "kimg": trainer.step * a.batch / 1000, "images": len(batches), "resolution": config.resolution,
               "preset": a.preset, "hardware": hardware(device), "checkpoint": str(ckpt_path),
               "aug_p": trainer.augment.p}
    if stop:
        summary["stopped_by"] = stop.signal
    if a.export and not stop:
        out = resolve(a.export)
        export_teacher(trainer, out, a.id or out.name, a.version)
        summary["export"] = str(out)
    log.write_json(summary)
    print(f"[teacher] done: {json.dumps(summary)}", file=sys.stderr, flush=True)
    stop.exit_if_stopped(trainer.step, run_dir)
    return {"summary": summary, "trainer": trainer, "history": log.history}
