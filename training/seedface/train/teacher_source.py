"""Load a frozen teacher for distillation: our training checkpoint (or a run directory holding one), a
published MobileStyleGAN / StyleGAN2 checkpoint in the release's layout (via checkpoint.load_published), or the
MobileStyleGAN authors' FFHQ release itself (the random-face wheel, or its compact 16-bit copy for the GPU box,
seedface.train.release_pack), whose student then teaches a narrower one."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from seedface.models.checkpoint import load_published
from seedface.models.config import ModelConfig
from seedface.models.files import ConvertError, classify_torch, load_torch, read_converter_pair, teacher_pair_state
from seedface.models.heads import load_heads
from seedface.models.mapping import MappingNetwork
from seedface.models.student import StudentSynthesis
from seedface.release.from_ir import heads_file_for
from seedface.release.ir_modules import extract
from seedface.release.manifest import sha256_file
from seedface.release.wheel import open_release
from seedface.train import release_pack, trainckpt


class StudentTeacher(nn.Module):
    """A student-layout network (the imported release, with its fitted heads) as a teacher: forward(w, noise) is
    its image at `resolution` (that level's head). W+ slots and noise maps are the student layout's, so a student
    of the same depth reads them one to one (`slots`)."""

    def __init__(self, net: StudentSynthesis, resolution: int):
        super().__init__()
        self.net = net
        self.levels = int(math.log2(resolution)) - 2  # heads 8 .. resolution
        if not 1 <= self.levels <= net.n_blocks + 1:
            raise ValueError(f"the release draws 8..{net.resolution} px; no level {resolution}")
        n_blocks = self.levels - 1
        self.n_w = 3 * n_blocks + 2
        self.slots = list(range(self.n_w))
        self.resolution = resolution

    def noise_sizes(self) -> list[int]:
        return self.net.noise_sizes()[: 2 * (self.levels - 1) + 1]

    def forward(self, w, noise):
        # The slots past this level are never read; the network only wants its full W+ shape.
        w = torch.cat([w, w[:, -1:].expand(-1, self.net.n_w - w.shape[1], -1)], dim=1)
        unused = [None] * (len(self.net.noise_sizes()) - len(noise))
        if w.device.type != "cpu":  # a GPU wants the whole batch at once
            return self.net(w, list(noise) + unused, levels=self.levels)["img"]
        # One sample at a time: on CPU the release's wide 64..256 px layers run faster per sample at batch 1.
        return torch.cat([self.net(w[i:i + 1], [n[i:i + 1] for n in noise] + unused, levels=self.levels)["img"]
                          for i in range(w.shape[0])])

    def up_to_level(self) -> StudentSynthesis:
        """The release cut after this level's head: all that forward reads (a smaller network, the same images)."""
        net = StudentSynthesis(self.net.style_dim, self.net.channels[: self.levels])
        net.load_state_dict({k: v for k, v in self.net.state_dict().items() if k in net.state_dict()})
        net.mark_demodulation_folded()
        return net.eval()


def load_release_teacher(wheel: Path, resolution: int | None = None) -> "Teacher":
    rel = open_release([wheel])
    r = extract(rel.mapping_xml, rel.synthesis_xml)
    load_heads(heads_file_for(rel.label), r.student, expect_sha256=rel.synthesis_bin_sha256)
    res = resolution or r.config.resolution
    return Teacher(r.config, r.mapping, StudentTeacher(r.student, res), None, None,
                   f"{Path(wheel).name} (MobileStyleGAN release, {res} px head)",
                   {"published": Path(wheel).name, "release": rel.label, "level": res})


def write_release_pack(wheel: Path, resolution: int, out: Path, dtype: str = "bf16") -> tuple["Teacher", dict]:
    """The release teacher at `resolution` (load_release_teacher) as a compact pack file
    (seedface.train.release_pack): its mapping and its synthesis up to that head. Returns the full-precision
    teacher and the pack's meta (config, level, the wheel's and the fitted heads' sha256)."""
    if not str(wheel).endswith(".whl"):
        raise ValueError(f"{wheel}: a pack is made from the random-face wheel (.whl)")
    t = load_release_teacher(Path(wheel), resolution)
    net = t.synth.up_to_level()
    heads = heads_file_for(t.info["release"])
    meta = {"config": t.config.to_dict(), "channels": net.channels, "level": t.synth.resolution,
            "source": {**t.info, "sha256": sha256_file(wheel), "heads": heads.name,
                       "heads_sha256": sha256_file(heads)},
            "dtype": {"mapping": "fp16", "synthesis": dtype}}
    release_pack.write(out, {"mapping": t.mapping.state_dict(), "synthesis": net.state_dict()}, meta["dtype"], meta)
    return t, meta


def load_pack_teacher(path: Path, resolution: int | None = None) -> "Teacher":
    meta, parts = release_pack.read(path)
    config, level = ModelConfig.from_dict(meta["config"]), int(meta["level"])
    res = resolution or level
    if res > level:
        raise ValueError(f"{path}: this pack holds the release up to its {level} px head, not {res} px; make one "
                         f"for {res} px (bash training/device/run.sh --prepare-edge --resolution {res})")
    mapping = MappingNetwork(config.style_dim, config.n_mlp)
    net = StudentSynthesis(config.style_dim, meta["channels"])
    try:
        mapping.load_state_dict(parts["mapping"])
        net.load_state_dict(parts["synthesis"])
    except RuntimeError as e:
        raise ValueError(f"{path}: the pack does not fit its own config: {e}") from e
    net.mark_demodulation_folded()
    src, dt = meta["source"], meta["dtype"]["synthesis"]
    return Teacher(config, mapping.eval(), StudentTeacher(net.eval(), res), None, None,
                   f"{Path(path).name} ({dt} pack of {src['published']}, MobileStyleGAN release, {res} px head)",
                   {"published": src["published"], "release": src["release"], "level": res,
                    "pack": Path(path).name, "pack_dtype": dt, "wheel_sha256": src["sha256"]})


def teacher_weights(t: "Teacher") -> dict:
    """What a distillation checkpoint may share with its teacher, in the published layout: the (frozen) mapping
    and, for a release teacher, its synthesis under the student's names (the levels --init narrow copied)."""
    shared = {f"mapping_net.{k}": v for k, v in t.mapping.state_dict().items()}
    if isinstance(t.synth, StudentTeacher):
        shared.update({f"student.{k}": v for k, v in t.synth.net.state_dict().items()})
    return shared


@dataclass
class Teacher:
    config: ModelConfig
    mapping: torch.nn.Module
    synth: torch.nn.Module
    d_state: dict | None  # the teacher run's discriminator, a good start for the distillation D
    student_channels: list[int] | None  # the student size the teacher run's preset names, if any
    source: str
    info: dict  # how the teacher was trained (steps, minutes, hardware), for provenance


def load_teacher(path: str | Path, resolution: int | None = None) -> Teacher:
    """resolution: for the release wheel, the level whose head teaches (default: its full resolution)."""
    if str(path).endswith(".whl"):
        return load_release_teacher(Path(path), resolution)
    if release_pack.is_pack(Path(path)):
        return load_pack_teacher(Path(path), resolution)
    if "," in str(path):  # "mapping.ckpt,synthesis.ckpt": the release converter's two files
        return load_converter_pair([Path(s) for s in str(path).split(",")])
    p = Path(path)
    if p.is_dir():
        if (p / "checkpoint.pt").is_file():
            p = p / "checkpoint.pt"
        else:
            raise ValueError(f"{p}: no checkpoint.pt in this directory. Model directories hold ONNX files only; "
                             f"distillation needs the teacher's PyTorch weights (a training checkpoint or a "
                             f"published .ckpt)")
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such teacher checkpoint")
    try:
        ck = trainckpt.load(p)
        sd, d_state = ck["state_dict"], ck["train"].get("D")
        hint = ck["config"].get("student_channels")
        t = ck["train"]
        info = {"steps": t.get("step"), "minutes": round(float(t.get("elapsed_s", 0)) / 60, 2),
                "hardware": t.get("hardware"), "images": t.get("images"),
                "kimg": round(int(t.get("step", 0)) * int(t.get("args", {}).get("batch") or 0) / 1000, 1)}
        src = f"{p.name} ({ck['kind']} run, step {ck['train']['step']})"
    except ValueError:
        kind, payload = classify_torch(p, load_torch(p))
        if kind != "lightning-ckpt":
            raise ValueError(f"{p}: a {kind} file; give both of the release converter's files as "
                             f"--teacher mapping.ckpt,synthesis.ckpt, or a checkpoint with mapping_net.* and "
                             f"synthesis_net.* weights")
        sd, d_state, src = payload["state_dict"], None, f"{p.name} (published layout)"
        hint, info = None, {"published": p.name}
    # The student part and style_mean (its rows follow the student's n_w) are not needed: the mean is
    # recomputed from the mapping network when a model is exported.
    sd = {k: v for k, v in sd.items() if not k.startswith("student.") and k != "style_mean"}
    config, mapping, synth, _, _ = load_published(sd)
    if synth is None:
        raise ValueError(f"{p}: no teacher (synthesis_net.*) weights")
    return Teacher(config, mapping, synth, d_state, hint, src, info)


def load_converter_pair(paths: list[Path]) -> Teacher:
    """The release converter's mapping + synthesis files (the pair `npm run convert` imports as a teacher-only
    model), so that a student can be distilled from them."""
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such teacher file")
    try:
        roles = read_converter_pair(paths)
        config, sd = teacher_pair_state(roles)
    except ConvertError as e:
        raise ValueError(str(e)) from e
    config, mapping, synth, _, _ = load_published(sd, config=config)
    if synth is None:
        raise ValueError(f"{roles['converter-synthesis']['path']}: no teacher weights")
    names = " + ".join(p.name for p in paths)
    return Teacher(config, mapping, synth, None, None, f"{names} (converter pair)", {"published": names})
