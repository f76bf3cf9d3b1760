"""Distil the MobileStyleGAN student from a frozen StyleGAN2 teacher (the paper's training).

    python -m seedface.distill --teacher training/runs/teacher/checkpoint.pt --minutes 30 \
        --run training/runs/distill [--resume] [--export models/<id>]

The student sees the teacher's w and noise. w per batch: one w for all layers, style mixing (each sample mixes
with probability p ~ U[0.1, 0.7]) or W+ (an independent z per layer). Loss: L1 + L2 at every level in RGB
(inverse Haar of each head vs the teacher image resized) and in wavelet space (each head vs the Haar transform of
the resized teacher image), + a perceptual term on the discriminator's features (or VGG16 with --vgg-weights, or
the distance of a pretrained face descriptor with --perceptual face: "the same person" as a loss),
+ 0.5 x non-saturating GAN loss with a StyleGAN2 discriminator on DiffAugment-ed images (real = teacher images),
R1 every 16 steps. Adam, lr 5e-4. Ends with a checkpoint in the published layout (mapping, teacher, student,
style_mean) and, with --export, a complete model directory (fp32 + int8).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from seedface.models import haar
from seedface.models import Discriminator, StudentSynthesis
from seedface.models.checkpoint import load_published, state_dict_published
from seedface.models.config import ModelConfig, student_slots
from seedface.models.face_descriptor import FaceDescriptor, descriptor_distance
from seedface.models.narrow import describe, narrow_student
from seedface.pipeline import face
from seedface.release.export import export_model_dir
from seedface.train import gan, losses, plots, trainckpt
from seedface.train.augment import AdaptiveAugment
from seedface.train.runenv import (TRAINING_DATA, amp_dtype, hardware, pick_device,
    provenance, resolve, setup_device)
from seedface.train.runlog import Budget, Every, RunLog, StopOnSignal, means, progress
from seedface.train.teacher_source import StudentTeacher, load_teacher, teacher_weights

GRID_SEED = 20261
W_MODES = ("single", "mixing", "wplus")
LOG_KEYS = ["loss", "rgb", "wavelet", "perceptual", "g_adv", "d_loss", "r1", "l1_full"]  # plotted


class ReplayBuffer:
    """The last `size` teacher samples (w, noise maps, image in float16), a ring; not saved in checkpoints (a
    resumed run refills it)."""

    def __init__(self, size: int):
        self.size, self.items, self.next = size, [], 0

    def add(self, w: torch.Tensor, noise: list[torch.Tensor], img: torch.Tensor) -> None:
        for i in range(len(w)):
            item = (w[i].clone(), [n[i].clone() for n in noise], img[i].half())
            if len(self.items) < self.size:
                self.items.append(item)
            else:
                self.items[self.next] = item
            self.next = (self.next + 1) % self.size

    def sample(self, k: int, gen: torch.Generator):
        idx = torch.randint(len(self.items), (k,), generator=gen, device=gen.device).tolist()
        picked = [self.items[i] for i in idx]
        w = torch.stack([p[0] for p in picked])
        noise = [torch.stack([p[1][j] for p in picked]) for j in range(len(self.items[0][1]))]
        return w, noise, torch.stack([p[2] for p in picked]).float()


class Distiller:
    def __init__(self, config: ModelConfig, mapping, teacher, a: argparse.Namespace, device: torch.device,
                 d_state: dict | None = None, student: StudentSynthesis | None = None):
        """student: the initial student (default: a random one of config.student_channels)."""
        self.config, self.a, self.device = config, a, device
        torch.manual_seed(a.seed)
        self.mapping = gan.frozen_copy(mapping).to(device)
        self.teacher = gan.frozen_copy(teacher).to(device)
        if student is None:
            student = StudentSynthesis(config.style_dim, config.student_channels)
            if a.init == "narrow":  # resuming a narrowed run: its convs carry folded demodulation
                student.mark_demodulation_folded()
        self.student = student.to(device)
        gan.requires_grad(self.student, False)  # train_step switches on what the optimiser trains
        # A StyleGAN2 teacher's W+ slots map onto the student's; a student-layout teacher's are the same slots.
        slots = getattr(self.teacher, "slots", None) or student_slots(self.student.n_blocks)
        self.slots = torch.tensor(slots, device=device)
        self.D = Discriminator(config.resolution, config.teacher_channels).to(device)
        if d_state is not None and a.d_from_teacher:
            self.D.load_state_dict(d_state)
        gan.requires_grad(self.D, False)
        self.amp = amp_dtype(a.amp, device)
        self.trainable = [p for n, p in self.student.named_parameters() if not frozen(n, a.freeze_levels)]
        self.opt = torch.optim.Adam(self.trainable, lr=a.lr, betas=(a.beta1, a.beta2))
        self.augment = AdaptiveAugment("diffaug" if a.gan_weight > 0 else "none")
        self.d_update = gan.DiscriminatorUpdate(self.D, a.d_lr, a.r1, a.r1_every, self.augment, self.amp)
        self.vgg = losses.VGG16Features(a.vgg_weights).to(device) if a.vgg_weights else None
        self.face = FaceDescriptor().to(device) if a.perceptual == "face" else None
        self.gen = torch.Generator(device=device).manual_seed(a.seed)
        self.replay = ReplayBuffer(a.replay)
        self.cpu_gen = torch.Generator().manual_seed(a.seed + 1)  # host-side choices (w scheme, mixing p)
        probs = torch.tensor([float(x) for x in a.w_modes.split(",")])
        self.mode_probs = probs / probs.sum()
        self.step, self.elapsed = 0, 0.0
        self.teacher_info: dict = {}

    def sample_w(self, batch: int) -> tuple[torch.Tensor, str]:
        """Teacher W+ [B, n_w_teacher, D] by the paper's three schemes."""
        c, n_w = self.config, self.teacher.n_w
        mode = W_MODES[int(torch.multinomial(self.mode_probs, 1, generator=self.cpu_gen))]
        if mode == "wplus":
            z = gan.randn(self.gen, batch * n_w, c.style_dim, device=self.device)
            return self.mapping(z).view(batch, n_w, c.style_dim), mode
        p = 0.0
        if mode == "mixing":
            p = float(0.1 + 0.6 * torch.rand(1, generator=self.cpu_gen))
        return gan.mixed_w(self.mapping, batch, n_w, c.style_dim, p, self.gen, self.device), mode

    def perceptual(self, s_img: torch.Tensor, t_img: torch.Tensor) -> torch.Tensor:
        if self.face is not None:  # the face descriptor's distance: "the same person" as a loss
            k = min(len(s_img), self.a.face_batch)
            with torch.no_grad():
                t_desc = self.face(t_img[:k])
            return descriptor_distance(self.face(s_img[:k]), t_desc).mean()
        net = self.vgg if self.vgg is not None else self.D.features
        with torch.no_grad():
            t_feats = [f.detach() for f in net(t_img)]
        return losses.feature_l1(net(s_img), t_feats)

    @torch.no_grad()
    def teacher_batch(self, b: int) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor, str]:
        """(w, noise, teacher image, w scheme) for b samples. With --replay N, only --replay-fresh of them are new:
        the rest are drawn from the last N teacher samples (a CPU run spends most of its time in the teacher)."""
        fresh = b if self.a.replay <= 0 else min(b, self.a.replay_fresh)
        w, mode = self.sample_w(fresh)
        noise = gan.make_noise(self.teacher.noise_sizes(), fresh, self.gen, self.device)
        with gan.autocast(self.device, self.amp):
            t_img = self.teacher(w, noise).float()
        if self.a.replay <= 0:
            return w, noise, t_img, mode
        self.replay.add(w, noise, t_img)
        if fresh == b:  # --batch <= --replay-fresh: nothing to draw from the buffer
            return w, noise, t_img, mode
        old_w, old_noise, old_img = self.replay.sample(b - fresh, self.gen)
        return (torch.cat([w, old_w]), [torch.cat(x) for x in zip(noise, old_noise)], torch.cat([t_img, old_img]),
                mode)

    def train_step(self) -> dict:
        a, b = self.a, self.a.batch
        w, noise, t_img, mode = self.teacher_batch(b)
        s_noise = noise[: len(self.student.noise_sizes())]
        for p in self.trainable:
            p.requires_grad_(True)
        with gan.autocast(self.device, self.amp):
            out = self.student(w[:, self.slots], s_noise)
            s_img = out["img"].float()
            rgb = losses.multiscale_rgb_loss([x.float() for x in out["imgs"]], t_img)
            wav = losses.multiscale_wavelet_loss([f.float() for f in out["freqs"]], t_img, haar.dwt)
            perc = self.perceptual(s_img, t_img) if a.perceptual_weight > 0 else torch.zeros((), device=self.device)
            adv = (losses.g_nonsaturating(self.D(self.augment(s_img, self.gen)).float()) if a.gan_weight > 0
                   else torch.zeros((), device=self.device))
            total = a.rgb_weight * rgb + a.wavelet_weight * wav + a.perceptual_weight * perc + a.gan_weight * adv
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        for p in self.trainable:
            p.requires_grad_(False)
        row = {"loss": total.detach(), "rgb": rgb.detach(), "wavelet": wav.detach(), "perceptual": perc.detach(),
               "g_adv": adv.detach(), **{f"w_{m}": float(m == mode) for m in W_MODES}}
        if a.gan_weight > 0:
            row.update(self.d_update(t_img, s_img.detach(), self.step, self.gen))
        with torch.no_grad():
            row["l1_full"] = (s_img - t_img).abs().mean()
        self.step += 1
        return row

    def style_mean(self) -> torch.Tensor:
        return self.mapping.mean_w(n=self.a.mean_samples, seed=0).cpu()

    def published(self) -> dict:
        # A student-layout teacher (the release) is not saved: it is reloaded from its wheel.
        teacher = None if isinstance(self.teacher, StudentTeacher) else self.teacher
        return state_dict_published(self.mapping, teacher, self.student, self.style_mean())

    def save(self, path: Path, history: list[dict]) -> Path:
        train = {"D": self.D.state_dict(), "opt": self.opt.state_dict(),  # the student is in the published part
                 "opt_d": self.d_update.opt.state_dict(), "augment": self.augment.state_dict(), "step": self.step,
                 "rng": trainckpt.rng_state(self.gen), "cpu_rng": self.cpu_gen.get_state(), "history": history,
                 "elapsed_s": self.elapsed,
                 "teacher_source": self.a.teacher, "teacher_info": self.teacher_info,
                 "demod_folded": bool(getattr(self.student.conv1.conv, "demod_folded", False)),
                 "args": {k: v for k, v in vars(self.a).items() if isinstance(v, (int, float, str, bool, type(None)))},
                 "hardware": hardware(self.device)}
        return trainckpt.save(path, "distill", self.config.to_dict(), self.published(), train)

    def load(self, ck: dict) -> list[dict]:
        t = ck["train"]
        *_, student, _ = load_published(ck["state_dict"], self.config)
        self.student.load_state_dict(student.state_dict())
        if "D" in t:  # a slim transfer checkpoint may lack it: the discriminator then restarts
            self.D.load_state_dict(t["D"])
        trainckpt.load_optimizers({"opt": self.opt, "opt_d": self.d_update.opt}, t)
        for group in self.opt.param_groups:  # the learning rate is the command line's (a resumed run may change it)
            group["lr"] = self.a.lr
        self.augment.load_state_dict(t["augment"])
        self.step, self.elapsed = int(t["step"]), float(t["elapsed_s"])
        self.teacher_info = t.get("teacher_info") or {}
        trainckpt.set_rng_state(self.gen, t["rng"])
        if "cpu_rng" in t:
            self.cpu_gen.set_state(t["cpu_rng"])
        return list(t["history"])

    @torch.no_grad()
    def grid(self, path: Path, n: int = 8) -> Path:
        w, noise, mean = plots.grid_inputs(self.mapping, self.config.style_dim, self.teacher.noise_sizes(), n,
                                           GRID_SEED, self.device)
        rows = []
        for psi in (1.0, 0.7):
            wp = face.broadcast(face.truncate(w, mean, psi), self.teacher.n_w)
            rows += [self.teacher(wp, noise).float(),
                     self.student(wp[:, self.slots], noise[: len(self.student.noise_sizes())])["img"].float()]
        return plots.save_grid(path, rows)


def frozen(name: str, levels: int) -> bool:
    """Is student parameter `name` part of the first `levels` output levels (the 4x4 layer and its head, then
    block i for level i + 1)? --freeze-levels keeps those as initialised (a narrowed release copies them exactly)."""
    if levels <= 0:
        return False
    if not name.startswith("layers."):
        return True
    return int(name.split(".")[1]) < levels - 1


def load_distilled(ckpt_path: Path):
    """A distillation checkpoint's (train dict, config, mapping, teacher | None, student, style_mean | None), the
    student marked as carrying folded demodulation when the run's did (a student narrowed from the release)."""
    ck = trainckpt.load(ckpt_path)
    if ck["kind"] != "distill":
        raise ValueError(f"{ckpt_path}: a {ck['kind']} checkpoint; a model directory needs a distilled student")
    config, mapping, teacher, student, style_mean = load_published(ck["state_dict"], ModelConfig.from_dict(ck["config"]))
    if ck["train"].get("demod_folded"):
        student.mark_demodulation_folded()
    return ck["train"], config, mapping, teacher, student, style_mean


def run_provenance(t: dict) -> dict:
    """manifest.provenance of a model exported from a distillation run's train dict."""
    return provenance("seedface.distill", int(t["step"]), float(t["elapsed_s"]), t.get("hardware", "unknown"),
                      source_from=t.get("teacher_source"), teacher=t.get("teacher_info") or {})


def export_checkpoint(ckpt_path: Path, out: Path, model_id: str, version: str = "0.1.0",
                      quantize: bool = True) -> dict:
    """A complete model directory (mapping, teacher, student fp32 (+ int8)) from a distillation checkpoint."""
    t, config, mapping, teacher, student, style_mean = load_distilled(ckpt_path)
    teacher_info = t.get("teacher_info") or {}
    prov = run_provenance(t)
    status = (f"trained here: StyleGAN2 teacher trained on faces128 ({teacher_info.get('steps', '?')} steps, "
              f"{teacher_info.get('minutes', '?')} min), student distilled for {t['step']} steps "
              f"({float(t['elapsed_s']) / 60:.1f} min); non-commercial research only")
    if style_mean is None:
        style_mean = mapping.mean_w(10000)
    return export_model_dir(out, config, mapping.eval(), student.eval(), teacher.eval(), style_mean,
                            model_id=model_id, version=version, provenance=prov, trained=True, status=status,
                            training_data=TRAINING_DATA, quantize=quantize)


def build(a: argparse.Namespace, device: torch.device) -> tuple[Distiller, list[dict]]:
    run_dir = resolve(a.run)
    if a.resume:
        src = run_dir / "checkpoint.pt" if a.resume == "auto" else resolve(a.resume)
        ck = trainckpt.load(src)
        if ck["kind"] != "distill":
            raise ValueError(f"{src}: a {ck['kind']} checkpoint; --resume takes a distillation checkpoint")
        a.teacher = a.teacher or ck["train"].get("teacher_source")
        config, t = ModelConfig.from_dict(ck["config"]), None
        if ck["train"].get("from_teacher"):  # a transfer copy (trainckpt.transfer): the teacher fills it in
            t = load_teacher(resolve(a.teacher), config.resolution)
            ck = trainckpt.complete(ck, teacher_weights(t))
        config, mapping, teacher, _, _ = load_published(ck["state_dict"], config)
        if teacher is None:  # a student-layout teacher (the release) is reloaded from its wheel (or its pack)
            teacher = (t or load_teacher(resolve(a.teacher), config.resolution)).synth
        d = Distiller(config, mapping, teacher, a, device)
        print(f"[distill] resuming from {src} at step {ck['train']['step']}", file=sys.stderr)
        return d, d.load(ck)
    if not a.teacher:
        raise SystemExit("distill: --teacher is required (or --resume)")
    t = load_teacher(resolve(a.teacher), a.resolution)
    channels = ([int(c) for c in a.student_channels.split(",")] if a.student_channels
                else t.student_channels or list(t.config.teacher_channels[:-1]))
    resolution = a.resolution or t.config.resolution
    teacher_channels = None if isinstance(t.synth, StudentTeacher) else t.config.teacher_channels
    config = ModelConfig(resolution, t.config.style_dim, t.config.n_mlp, teacher_channels, channels)
    print(f"[distill] teacher {t.source}: {config.resolution}px, student channels {channels}", file=sys.stderr)
    student = None
    init_from = getattr(a, "init_from", None)
    if init_from and a.init != "narrow":
        raise SystemExit("distill: --init-from needs --init narrow")
    if a.init == "narrow":
        source = narrow_source(t.synth, resolve(init_from) if init_from else None)
        student = narrow_from(source, t.mapping, channels, a.seed)
        what = f"the run {init_from}" if init_from else "the teacher"
        print(f"[distill] student narrowed from {what}: {describe(source, student)}", file=sys.stderr)
    d = Distiller(config, t.mapping, t.synth, a, device, t.d_state, student=student)
    d.teacher_info = t.info
    return d, []


def narrow_source(teacher, init_from: Path | None) -> StudentSynthesis:
    """The student that --init narrow cuts down: the release teacher's own, or an earlier edge-student run's
    (distilled from the same release, so the same mapping and W+ slots)."""
    if not isinstance(teacher, StudentTeacher):
        raise SystemExit("distill: --init narrow needs a student-layout teacher (the release wheel)")
    if init_from is None:
        return teacher.net
    t, config, _, _, student, _ = load_distilled(init_from)
    if config.teacher_channels or not t.get("demod_folded"):
        raise SystemExit(f"distill: --init-from {init_from}: not an edge-student run (a student narrowed from the "
                         "release)")
    return student


def narrow_from(source: StudentSynthesis, mapping, channels: list[int], seed: int, n: int = 16) -> StudentSynthesis:
    """`source`'s weights cut down to `channels` (seedface.models.narrow), from n calibration faces."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        w = mapping(torch.randn(n, mapping.style_dim, generator=g)).unsqueeze(1).repeat(1, source.n_w, 1)
    noise = [torch.randn(n, 1, s, s, generator=g) for s in source.noise_sizes()]
    return narrow_student(source, channels, w, noise)


def train(a: argparse.Namespace) -> dict:
    """A run from parsed flags (the command seedface.distill declares them)."""
    device = pick_device(a.device)
    setup_device(device, a.threads)
    if a.batch is None:
        a.batch = 16 if device.type == "cuda" else 4
    d, history = build(a, device)
    run_dir = resolve(a.run)
    ckpt_path = run_dir / "checkpoint.pt"
    log = RunLog(run_dir, history)
    budget = Budget(a.minutes, a.steps, d.elapsed)
    grid_timer, ckpt_timer = Every(a.grid_every), Every(a.ckpt_every)
    acc: dict[str, list[float]] = {}

    def flush():
        mean = means(acc)
        mean.update(step=d.step, elapsed_s=budget.elapsed)
        log.add(mean)
        acc.clear()
        return mean

    def outputs():
        d.elapsed = budget.elapsed
        d.grid(run_dir / "grid.png")
        plots.loss_plot(run_dir / "losses.png", log.history, LOG_KEYS, f"distillation {d.config.resolution}px")

    with StopOnSignal("distill") as stop:
        while not budget.done(d.step) and not stop:
            for k, v in d.train_step().items():
                acc.setdefault(k, []).append(v)
            if d.step % a.log_every == 0:
                m = flush()
                progress("distill", d.step, budget, {k: m[k] for k in ("loss", "rgb", "l1_full", "d_loss") if k in m})
                # grids and checkpoints only right after a finite log row
                if grid_timer.due():
                    outputs()
                if ckpt_timer.due():
                    d.elapsed = budget.elapsed
                    d.save(ckpt_path, log.history)
    if acc:
        flush()
    outputs()
    d.save(ckpt_path, log.history)
    summary = {"kind": "distill", "steps": d.step, "minutes": round(budget.elapsed / 60, 3),
               "resolution": d.config.resolution, "student_channels": d.config.student_channels,
               "teacher": str(a.teacher), "hardware": hardware(device), "checkpoint": str(ckpt_path)}
    if stop:
        summary["stopped_by"] = stop.signal
    if a.export and not stop:
        out = resolve(a.export)
        export_checkpoint(ckpt_path, out, a.id or out.name, a.version, a.quantize)
        summary["export"] = str(out)
    log.write_json(summary)
    print(f"[distill] done: {json.dumps(summary)}", file=sys.stderr, flush=True)
    stop.exit_if_stopped(d.step, run_dir)
    return {"summary": summary, "distiller": d, "history": log.history}
