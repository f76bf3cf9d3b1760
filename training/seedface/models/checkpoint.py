"""Published checkpoint layout (MobileStyleGAN release) <-> our modules.

Layout: ``mapping_net.layers.{1..n}.weight/bias`` (layers.0 is PixelNorm, no parameters), ``synthesis_net.*``
(teacher), ``student.*`` and the buffer ``style_mean`` (1, student n_w, style_dim). Lightning checkpoints wrap it as
``{"state_dict": {...}}``; training-only ``loss.*`` / ``inception.*`` entries are ignored.
"""
from __future__ import annotations

import re
from collections import OrderedDict

import torch

from seedface.models.config import ModelConfig
from seedface.models.mapping import MappingNetwork
from seedface.models.student import StudentSynthesis
from seedface.models.teacher import TeacherSynthesis

IGNORED_PREFIXES = ("loss.", "inception.")
KNOWN_PREFIXES = ("mapping_net.", "synthesis_net.", "student.")


class CheckpointError(ValueError):
    """A state dict does not fit the expected layout. ``missing``/``unexpected``/``mismatched`` list the details."""

    def __init__(self, message, missing=(), unexpected=(), mismatched=()):
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)  # (key, expected shape, got shape)
        parts = [message]
        if self.missing:
            parts.append(f"missing keys ({len(self.missing)}): " + ", ".join(self.missing[:50])
                         + (" ..." if len(self.missing) > 50 else ""))
        if self.mismatched:
            parts.append(f"shape mismatches ({len(self.mismatched)}): " + ", ".join(
                f"{k} expected {tuple(e)} got {tuple(g)}" for k, e, g in self.mismatched[:50])
                + (" ..." if len(self.mismatched) > 50 else ""))
        if self.unexpected:
            parts.append(f"unexpected keys ({len(self.unexpected)}): " + ", ".join(self.unexpected[:50])
                         + (" ..." if len(self.unexpected) > 50 else ""))
        super().__init__("; ".join(parts))


def _prefixed(prefix: str, module: torch.nn.Module) -> "OrderedDict[str, torch.Tensor]":
    return OrderedDict((prefix + k, v.detach().clone()) for k, v in module.state_dict().items())


def state_dict_published(mapping: MappingNetwork, teacher: TeacherSynthesis | None, student: StudentSynthesis | None,
                         style_mean: torch.Tensor | None) -> "OrderedDict[str, torch.Tensor]":
    """Our modules -> a state dict in the published key layout (keys and shapes exactly as the release)."""
    sd = OrderedDict()
    sd.update(_prefixed("mapping_net.", mapping))
    if teacher is not None:
        sd.update(_prefixed("synthesis_net.", teacher))
    if student is not None:
        sd.update(_prefixed("student.", student))
    if style_mean is not None:
        sm = torch.as_tensor(style_mean).detach().float().clone()
        if sm.dim() == 1:
            n_w = student.n_w if student is not None else (teacher.n_w if teacher is not None else 1)
            sm = sm.view(1, 1, -1).repeat(1, n_w, 1)
        elif sm.dim() == 2:
            sm = sm.unsqueeze(0)
        sd["style_mean"] = sm
    return sd


def unwrap(obj) -> "OrderedDict[str, torch.Tensor]":
    """Lightning checkpoint / plain state dict -> flat state dict without wrapper prefixes or training-only keys."""
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError("not a checkpoint: expected a state dict (a mapping of names to tensors)")
    out = OrderedDict()
    for k, v in obj.items():
        if not isinstance(k, str):
            raise CheckpointError(f"not a checkpoint: key {k!r} is not a string")
        while k.startswith("state_dict."):
            k = k[len("state_dict."):]
        if k.startswith("module."):
            k = k[len("module."):]
        if k.startswith(IGNORED_PREFIXES):
            continue
        if not torch.is_tensor(v):
            continue
        out[k] = v
    return out


def _sub(sd, prefix):
    return OrderedDict((k[len(prefix):], v) for k, v in sd.items() if k.startswith(prefix))


def _indices(sd, pattern):
    r = re.compile(pattern)
    return sorted({int(m.group(1)) for k in sd for m in [r.match(k)] if m})


def infer_config(state_dict) -> ModelConfig:
    """Infer a ModelConfig from tensor shapes (mapping required; teacher and/or student)."""
    sd = unwrap(state_dict)
    mp = _indices(sd, r"mapping_net\.layers\.(\d+)\.weight$")
    if not mp:
        raise CheckpointError("unsupported layout: no mapping_net.layers.N.weight entries",
                              missing=["mapping_net.layers.1.weight"])
    style_dim = int(sd[f"mapping_net.layers.{mp[0]}.weight"].shape[1])
    n_mlp = len(mp)
    teacher_channels = None
    student_channels = None
    res_t = res_s = None
    if "synthesis_net.input.input" in sd:
        teacher_channels = [int(sd["synthesis_net.input.input"].shape[1])]
        for i in _indices(sd, r"synthesis_net\.layers\.(\d+)\.conv1\.conv\.weight$"):
            teacher_channels.append(int(sd[f"synthesis_net.layers.{i}.conv1.conv.weight"].shape[1]))
        res_t = 4 * 2 ** (len(teacher_channels) - 1)
    if "student.input.input" in sd:
        student_channels = [int(sd["student.input.input"].shape[1])]
        for i in _indices(sd, r"student\.layers\.(\d+)\.conv2\.conv\.weight_permute$"):
            student_channels.append(int(sd[f"student.layers.{i}.conv2.conv.weight_permute"].shape[0]))
        res_s = 8 * 2 ** (len(student_channels) - 1)
    if teacher_channels is None and student_channels is None:
        raise CheckpointError("unsupported layout: neither synthesis_net.* (teacher) nor student.* found",
                              missing=["synthesis_net.input.input", "student.input.input"])
    if res_t and res_s and res_t != res_s:
        raise CheckpointError(f"teacher resolution {res_t} and student resolution {res_s} disagree")
    return ModelConfig(res_t or res_s, style_dim, n_mlp, teacher_channels, student_channels)


def _load_strict(module: torch.nn.Module, sd, prefix: str, errors: dict):
    expected = module.state_dict()
    missing = [prefix + k for k in expected if k not in sd]
    unexpected = [prefix + k for k in sd if k not in expected]
    mism = [(prefix + k, tuple(expected[k].shape), tuple(sd[k].shape))
            for k in expected if k in sd and tuple(sd[k].shape) != tuple(expected[k].shape)]
    errors["missing"] += missing
    errors["unexpected"] += unexpected
    errors["mismatched"] += mism
    if not (missing or unexpected or mism):
        module.load_state_dict(sd, strict=True)


def load_published(state_dict, config: ModelConfig | None = None):
    """Published-layout state dict -> (config, mapping, teacher|None, student|None, style_mean).

    style_mean is returned as a tensor [student n_w (or teacher n_w), style_dim] (float32), or None if absent.
    Raises CheckpointError listing missing / unexpected keys and shape mismatches.
    """
    sd = unwrap(state_dict)
    inferred = None
    if config is None:
        config = inferred = infer_config(sd)
    errors = {"missing": [], "unexpected": [], "mismatched": []}
    mapping = MappingNetwork(config.style_dim, config.n_mlp)
    _load_strict(mapping, _sub(sd, "mapping_net."), "mapping_net.", errors)
    teacher = student = None
    if config.teacher_channels:
        teacher = TeacherSynthesis(config.resolution, config.style_dim, config.teacher_channels)
        _load_strict(teacher, _sub(sd, "synthesis_net."), "synthesis_net.", errors)
    elif any(k.startswith("synthesis_net.") for k in sd):
        errors["unexpected"] += [k for k in sd if k.startswith("synthesis_net.")]
    if config.student_channels:
        student = StudentSynthesis(config.style_dim, config.student_channels)
        _load_strict(student, _sub(sd, "student."), "student.", errors)
    elif any(k.startswith("student.") for k in sd):
        errors["unexpected"] += [k for k in sd if k.startswith("student.")]
    other = [k for k in sd if not k.startswith(KNOWN_PREFIXES) and k != "style_mean"]
    errors["unexpected"] += other
    style_mean = None
    if "style_mean" in sd:
        sm = sd["style_mean"].float()
        n_w = student.n_w if student is not None else (teacher.n_w if teacher is not None else None)
        if sm.dim() == 3 and sm.shape[0] == 1:
            sm = sm[0]
        if sm.dim() == 1:
            sm = sm.unsqueeze(0).repeat(n_w or 1, 1)
        if sm.dim() != 2 or sm.shape[-1] != config.style_dim or (n_w and sm.shape[0] not in (1, n_w)):
            errors["mismatched"].append(("style_mean", (1, n_w, config.style_dim), tuple(sd["style_mean"].shape)))
        elif n_w and sm.shape[0] == 1:
            sm = sm.repeat(n_w, 1)
        style_mean = sm.clone()
    if errors["missing"] or errors["unexpected"] or errors["mismatched"]:
        how = "inferred from the shapes" if inferred is not None else "given"
        raise CheckpointError(f"checkpoint does not fit the published layout (config {how}: {config})", **errors)
    return config, mapping, teacher, student, style_mean
