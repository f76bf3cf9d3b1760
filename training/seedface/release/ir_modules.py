"""The MobileStyleGAN authors' OpenVINO release (PyPI `random-face`) -> our MappingNetwork + StudentSynthesis.

What the IR holds (random_face 2021.7.21.1, checked by :func:`extract`):
- Mapping `var` [1, D] -> `style` [1, D]: PixelNorm, then n x (MatMul with the *effective* EqualLinear weight,
  Add bias, PReLU 0.2, Multiply sqrt 2). The constants are unnamed; they are found in graph order.
- Synthesis `style` [1, D] -> `img` [1, 3, R, R], a single w for every layer. Modulations, depthwise weights,
  biases, the constant input and the last head keep their parameter names (`m.<our name>`). Two kinds of weight
  lost their names when the exporter folded the static demodulation into them: the 3x3 `conv1` weight and the
  pointwise (`weight_permute`) weights. They are located through the edges: the only non-grouped 3x3 Convolution,
  and the Convolution fed by each named depthwise GroupConvolution.
- Noise is frozen: a constant [1, 1, s, s] = strength x N(0, 1) draw, added right after each styled conv. The
  strength of each layer is recovered as the constant's standard deviation (a N(0,1) map has std 1, so the folded
  map's std is |strength| up to sampling error, < 1% for s >= 8); the frozen draw itself is kept as
  `release_noise` = constant / strength, so feeding it back gives the release's own image exactly.
- The intermediate `to_img` heads (levels 8 .. R/2) were dropped by the export; the returned student has them
  freshly initialised (see seedface.fit_heads) and `missing_heads` names them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from seedface.models.config import ModelConfig
from seedface.models.mapping import MappingNetwork
from seedface.models.student import StudentSynthesis
from seedface.release.openvino_ir import IRError, IRGraph, Layer, read_ir


class ReleaseIRError(ValueError):
    """The IR files are not the MobileStyleGAN release layout; the message lists what does not fit."""


@dataclass
class Release:
    config: ModelConfig
    mapping: MappingNetwork
    student: StudentSynthesis
    noise_strengths: list[float]
    release_noise: list[np.ndarray]  # frozen N(0,1) draws, [1, 1, s, s] each, in noise_k order
    missing_heads: list[str]
    sources: dict = field(default_factory=dict)


def _through_shape_ops(g: IRGraph, layer: Layer) -> Layer:
    """Follow Reshape/Unsqueeze/Squeeze/Convert back to the layer that produces the data."""
    while layer.type in ("Reshape", "Unsqueeze", "Squeeze", "Convert"):
        layer = g.inputs(layer)[0]
    return layer


def _single_user(g: IRGraph, layer: Layer, want: str) -> Layer:
    users = [u for u in g.users(layer) if u.type != "ShapeOf"]
    if len(users) != 1 or users[0].type != want:
        raise ReleaseIRError(f"{g.path.name}: after {layer.type} {layer.name!r} expected one {want}, found "
                             f"{[u.type + ' ' + u.name for u in users]}")
    return users[0]


def _other_const(g: IRGraph, add: Layer, not_from: Layer) -> tuple[Layer, np.ndarray] | None:
    for src in g.inputs(add):
        if src.id == not_from.id:
            continue
        src = _through_shape_ops(g, src)
        if src.type == "Const":
            return src, g.const(src)
    return None


# ---------------------------------------------------------------------------------------------------------------
# Mapping


def extract_mapping(g: IRGraph, lr_mul: float = 0.01) -> tuple[MappingNetwork, dict]:
    params = g.parameters()
    if [p.name for p in params] != ["var"]:
        raise ReleaseIRError(f"{g.path.name}: mapping network inputs are {[p.name for p in params]}, expected ['var']")
    d = params[0].out_shapes[0][-1] if params[0].out_shapes else 0
    if not g.of_type("ReduceMean"):
        raise ReleaseIRError(f"{g.path.name}: no PixelNorm (ReduceMean) at the mapping network's input")
    matmuls = [l for l in g.topological() if l.type == "MatMul"]
    weights, biases, problems = [], [], []
    for i, mm in enumerate(matmuls):
        wc = g.const_input(mm, 1)
        if wc is None or wc[1].shape != (d, d):
            problems.append(f"layer {i + 1}: MatMul weight {None if wc is None else wc[1].shape}, expected ({d}, {d})")
            continue
        if mm.attrs.get("transpose_b") != "true":
            problems.append(f"layer {i + 1}: MatMul without transpose_b (weights would be transposed)")
        add = _single_user(g, mm, "Add")
        bc = _other_const(g, add, mm)
        if bc is None or bc[1].size != d:
            problems.append(f"layer {i + 1}: bias {None if bc is None else bc[1].shape}, expected ({d},)")
            continue
        act = _single_user(g, add, "PReLU")
        slope = g.const_input(act, 1)
        if slope is None or not np.allclose(slope[1], 0.2):
            problems.append(f"layer {i + 1}: activation slope {None if slope is None else slope[1]}, expected 0.2")
        gain = _single_user(g, act, "Multiply")
        gc = _other_const(g, gain, act)
        if gc is None or not np.allclose(gc[1], math.sqrt(2.0)):
            problems.append(f"layer {i + 1}: activation gain {None if gc is None else gc[1]}, expected sqrt(2)")
        weights.append(wc[1])
        biases.append(bc[1].reshape(-1))
    if problems or not weights:
        raise ReleaseIRError(f"{g.path.name}: not the release's mapping network: " + "; ".join(problems or
                             ["no MatMul layers"]))
    mapping = MappingNetwork(d, len(weights), lr_mlp=lr_mul)
    with torch.no_grad():
        for lin, w, b in zip(list(mapping.layers)[1:], weights, biases):
            lin.weight.copy_(torch.from_numpy(w) / lin.scale)
            lin.bias.copy_(torch.from_numpy(b) / lin.lr_mul)
    return mapping.eval(), {"layers": len(weights), "style_dim": d}


# ---------------------------------------------------------------------------------------------------------------
# Synthesis


def _infer_config(named: dict, d: int) -> ModelConfig:
    blocks = sorted({int(m.group(1)) for k in named if (m := re.match(r"m\.layers\.(\d+)\.", k))})
    if not blocks or blocks != list(range(len(blocks))) or "m.input.input" not in named:
        raise ReleaseIRError(f"not the MobileStyleGAN synthesis layout: named constants "
                             f"{sorted(named)[:8]}... (need m.input.input and m.layers.0..N.*)")
    c0 = int(named["m.input.input"].shape[1])
    chans = [c0]
    for i in blocks:
        key = f"m.layers.{i}.conv2.bias"
        if key not in named:
            raise ReleaseIRError(f"missing {key}")
        chans.append(int(named[key].size))
    res = 2 ** (len(blocks) + 3)
    teacher = chans + [max(chans[-1] // 2, 1)]  # the student's list is the teacher's without its last entry
    return ModelConfig(resolution=res, style_dim=d, n_mlp=8, teacher_channels=teacher, student_channels=chans)


def _owner_of_conv(g: IRGraph, conv: Layer, w_layer: Layer, w: np.ndarray) -> str:
    """Our parameter name for a Convolution's (possibly folded, unnamed) weight."""
    if w_layer.name.startswith("m."):
        return w_layer.name[2:]
    src = g.inputs(conv)[0]
    if src.type == "GroupConvolution":
        dw = g.const_input(src, 1)
        if dw is not None and dw[0].name.endswith(".conv.weight_dw"):
            return dw[0].name[2:-len("weight_dw")] + "weight_permute"
    if w.ndim == 4 and w.shape[2:] == (3, 3):
        return "conv1.conv.weight"
    raise ReleaseIRError(f"{g.path.name}: cannot tell which layer Convolution {conv.name!r} (weight {w_layer.name!r} "
                         f"{list(w.shape)}) belongs to")


def _noise_after(g: IRGraph, conv: Layer) -> tuple[Layer, np.ndarray] | None:
    users = [u for u in g.users(conv) if u.type == "Add"]
    for add in users:
        c = _other_const(g, add, conv)
        if c is not None and c[1].ndim == 4 and c[1].shape[:2] == (1, 1):
            return c
    return None


def extract_synthesis(g: IRGraph) -> tuple[StudentSynthesis, ModelConfig, list[float], list[np.ndarray], list[str], dict]:
    params = g.parameters()
    if [p.name for p in params] != ["style"]:
        raise ReleaseIRError(f"{g.path.name}: synthesis network inputs are {[p.name for p in params]}, "
                             f"expected ['style']")
    shape = params[0].out_shapes[0] if params[0].out_shapes else []
    if len(shape) != 2:
        raise ReleaseIRError(f"{g.path.name}: input 'style' has shape {shape}; expected a single w [1, style_dim]")
    d = int(shape[-1])
    named = g.named_consts()
    try:
        config = _infer_config(named, d)
    except (ReleaseIRError, ValueError) as e:
        raise ReleaseIRError(f"{g.path.name}: {e}")
    student = StudentSynthesis(d, config.student_channels)
    ours = student.state_dict()

    values: dict[str, np.ndarray] = {k[2:]: v for k, v in named.items() if k.startswith("m.")}
    noise_by_layer: dict[str, np.ndarray] = {}
    for conv in g.of_type("Convolution"):
        wc = g.const_input(conv, 1)
        if wc is None:
            raise ReleaseIRError(f"{g.path.name}: Convolution {conv.name!r} has no constant weight")
        owner = _owner_of_conv(g, conv, *wc)
        values[owner] = wc[1]
        layer = owner.rsplit(".conv.", 1)[0]
        nz = _noise_after(g, conv)
        if nz is not None:
            noise_by_layer[layer] = nz[1]

    # Shapes: the IR keeps batch-style leading 1s ([1, C] biases, [C, 1, 1, k, k] grouped weights).
    problems, loaded = [], {}
    for k, v in values.items():
        if k not in ours:
            problems.append(f"unexpected {k} {list(v.shape)}")
            continue
        want = tuple(ours[k].shape)
        if v.size != int(np.prod(want)):
            problems.append(f"{k}: shape {list(v.shape)}, expected {list(want)}")
            continue
        loaded[k] = torch.from_numpy(np.ascontiguousarray(v).reshape(want).astype(np.float32))

    layer_names = ["conv1"] + [f"layers.{i}.conv{j}" for i in range(len(student.layers)) for j in (1, 2)]
    sizes = student.noise_sizes()
    strengths, draws = [], []
    for name, s in zip(layer_names, sizes):
        nz = noise_by_layer.get(name)
        if nz is None or nz.shape != (1, 1, s, s):
            problems.append(f"{name}: frozen noise {None if nz is None else list(nz.shape)}, expected [1, 1, {s}, {s}]")
            continue
        std = float(np.std(nz.astype(np.float64)))
        strengths.append(std)
        draws.append((nz / std).astype(np.float32) if std > 0 else np.zeros_like(nz))
        loaded[f"{name}.noise.weight"] = torch.tensor([std], dtype=torch.float32)

    heads = ["to_img1"] + [f"layers.{i}.to_img" for i in range(len(student.layers) - 1)]
    not_needed = {k for k in ours if k.endswith(("style_inv", "g0_col", "g1_col", "g0_row", "g1_row", "device_info"))
                  or k.split(".conv.")[0].split(".weight")[0].split(".bias")[0] in heads}
    missing = sorted(k for k in ours if k not in loaded and k not in not_needed)
    if missing:
        problems.append("missing " + ", ".join(missing[:20]) + (f" (+{len(missing) - 20} more)" if len(missing) > 20
                                                                else ""))
    if problems:
        raise ReleaseIRError(f"{g.path.name}: does not fit the MobileStyleGAN student "
                             f"(channels {config.student_channels}): " + "; ".join(problems))
    student.load_state_dict(loaded, strict=False)
    student.mark_demodulation_folded()
    return student.eval(), config, strengths, draws, heads, {"constants": len(loaded)}


def extract(mapping_xml: Path, synthesis_xml: Path) -> Release:
    try:
        gm, gs = read_ir(Path(mapping_xml)), read_ir(Path(synthesis_xml))
    except IRError as e:
        raise ReleaseIRError(str(e))
    if [p.name for p in gm.parameters()] == ["style"] and [p.name for p in gs.parameters()] == ["var"]:
        gm, gs = gs, gm  # given in the other order
    mapping, minfo = extract_mapping(gm)
    student, config, strengths, draws, heads, sinfo = extract_synthesis(gs)
    if minfo["style_dim"] != config.style_dim:
        raise ReleaseIRError(f"style_dim differs: mapping {minfo['style_dim']} vs synthesis {config.style_dim}")
    config.n_mlp = minfo["layers"]
    return Release(config, mapping, student, strengths, draws, heads, {"mapping": minfo, "synthesis": sinfo})
