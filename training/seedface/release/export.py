"""Export a model directory (``seedface-model/1``): mapping.onnx, student_fp32.onnx, teacher.onnx, manifest.json.

ONNX: opset 17; inputs/outputs named per docs/model-format.md; dynamic batch axis ``B`` on ``z``/``w`` and every
``img_*``; noise inputs [1, 1, s, s]; the student's static demodulation (and the modulation scale) folded into the
weights; outputs unclamped. Every export is checked against PyTorch with onnxruntime (max relative error, defined as
max |ort - torch| / max |torch| per output, must be <= 1e-4).
"""
from __future__ import annotations

import datetime as _dt
import inspect
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

from seedface.models import haar
from seedface.models.config import ModelConfig
from seedface.models.mapping import MappingNetwork
from seedface.models.student import StudentSynthesis
from seedface.models.teacher import ModulatedConv2d as TeacherModulatedConv2d, TeacherSynthesis
from seedface.pipeline.runtime import AUTO_THREADS, session
from seedface.release import manifest as mf
from seedface.release.counting import count_onnx, count_torch
from seedface.release.quantize import quantize_model_dir
from seedface.release.writer import model_dir_writer

OPSET = 17
PARITY_RTOL = 1e-4


class ExportError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------------------------
# Export wrappers


class _MappingExport(nn.Module):
    def __init__(self, mapping: MappingNetwork):
        super().__init__()
        self.mapping = mapping

    def forward(self, z):
        return self.mapping(z)


class FoldedStudent(nn.Module):
    """The student as exported, laid out for onnxruntime; numerically StudentSynthesis(w, noise)["imgs"].

    forward(w [B, n_w, D], noise_0, ..., noise_K) -> (img_8, ..., img_R).

    - The static demodulation and the modulation scale are folded into constant conv weights, and the conv biases
      go into the Conv nodes' bias input.
    - One Gemm per W+ slot computes the modulations of every layer that reads that slot (the RGB heads get their
      own).
    - Every inverse Haar (the RGB heads and the hidden upsamples) is one grouped ConvTranspose
      (:func:`seedface.haar.idwt_interleaved`). It wants its input interleaved per channel, so each to_img's output
      rows are permuted, and so is every hidden tensor that feeds an upsample: where it is produced (rows and bias
      of the conv before it) and where it is read (the to_img's input columns and the modulations). The noise, bias
      and LeakyReLU in between are per channel or channel-uniform, so they commute with the permutation.
    The result has 127 nodes instead of 454 for the 64px student and none of ORT's slow DepthToSpace (a generic
    6-D transpose); on one CPU thread that cuts the student's time by a quarter to a third (docs/origin.md).
    """

    def __init__(self, student: StudentSynthesis):
        super().__init__()
        with torch.no_grad():
            self._build(self._fold(student), student.input.input.detach(), [blk.up.channels for blk in student.layers],
                        student.n_w, student.noise_sizes())

    def _build(self, layers: dict, const: torch.Tensor, up_channels: list[int], n_w: int, noise_sizes: list[int]):
        """layers: see _fold. Permutes them for the interleaved inverse Haars and registers the buffers."""
        self.n_w = n_w
        self.n_blocks = len(up_channels)
        self.noise_sizes = list(noise_sizes)
        self.up_channels = list(up_channels)
        self._interleave(layers)
        self.register_buffer("const", const.clone())
        # One Gemm per W+ slot and kind: an RGB head gets its own, so a graph pruned to one output (as the
        # origin runs it) drops the Gemms of the heads it does not compute.
        self.slots = []  # (buffer prefix, slot, layer names, modulation sizes)
        groups = {}
        for n, ly in layers.items():
            groups.setdefault((ly["slot"], "to_img" in n), []).append(n)
        for (slot, head), names in sorted(groups.items()):
            prefix = f"slot{slot}_{'head' if head else 'body'}"
            self.register_buffer(prefix + "_mw", torch.cat([layers[n]["mw"] for n in names]).clone())
            self.register_buffer(prefix + "_mb", torch.cat([layers[n]["mb"] for n in names]).clone())
            self.slots.append((prefix, slot, names, [int(layers[n]["mb"].numel()) for n in names]))
        for name, ly in layers.items():
            for key in ("w", "dw", "pw", "b", "noise"):
                if key in ly:
                    self.register_buffer(f"{name}_{key}", ly[key].clone())
        self.register_buffer("idwt_rgb", haar.idwt_kernel(3))
        for i, c in enumerate(self.up_channels):
            self.register_buffer(f"b{i}_up_idwt", haar.idwt_kernel(c))
        # Python ints, so the traced graph stays free of shape computations.
        self.kernel = {n: int((ly["w"] if "w" in ly else ly["dw"]).shape[-1]) for n, ly in layers.items()
                       if "noise" in ly}
        self.depthwise_groups = {n: int(ly["dw"].shape[0]) for n, ly in layers.items() if "dw" in ly}

    @staticmethod
    def _fold(student) -> dict:
        """Per layer, in forward order: W+ slot, folded modulation (mw, mb) and weights (w | dw + pw), bias, noise."""

        def styled(slot, sc):
            mw, mb, ws = sc.conv.folded()
            ly = {"slot": slot, "mw": mw, "mb": mb, "b": sc.bias.reshape(-1), "noise": sc.noise.weight}
            if len(ws) == 1:
                ly["w"] = ws[0]
            else:
                ly["dw"], ly["pw"] = ws
            return ly

        def img(slot, mi):
            mw, mb, (w,) = mi.conv.folded()
            return {"slot": slot, "mw": mw, "mb": mb, "w": w, "b": mi.bias.reshape(-1)}

        layers = {"conv1": styled(0, student.conv1), "to_img1": img(1, student.to_img1)}
        for i, blk in enumerate(student.layers):
            layers[f"b{i}_up"] = {"slot": 3 * i + 1, "mw": blk.up.modulation.weight, "mb": blk.up.modulation.bias}
            layers[f"b{i}_conv1"] = styled(3 * i + 1, blk.conv1)
            layers[f"b{i}_conv2"] = styled(3 * i + 2, blk.conv2)
            layers[f"b{i}_to_img"] = img(3 * i + 3, blk.to_img)
        return {n: {k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in ly.items()}
                for n, ly in layers.items()}

    def _interleave(self, layers: dict) -> None:
        """Permute channels in place so that every inverse Haar reads the interleaved layout."""
        rgb = haar.interleave_index(3)
        for name, ly in layers.items():
            if "to_img" in name:
                ly["w"], ly["b"] = ly["w"][rgb], ly["b"][rgb]
        for i, c in enumerate(self.up_channels):
            p = haar.interleave_index(c)
            producer = layers["conv1"] if i == 0 else layers[f"b{i - 1}_conv2"]
            key = "w" if "w" in producer else "pw"
            producer[key], producer["b"] = producer[key][p], producer["b"][p]
            head = layers["to_img1" if i == 0 else f"b{i - 1}_to_img"]
            head["w"] = head["w"][:, p]
            for reader in (head, layers[f"b{i}_up"]):
                reader["mw"], reader["mb"] = reader["mw"][p], reader["mb"][p]

    def _modulations(self, w) -> dict:
        mods = {}
        for prefix, slot, names, sizes in self.slots:
            y = F.linear(w[:, slot], getattr(self, prefix + "_mw"), getattr(self, prefix + "_mb"))
            y = y.reshape(-1, sum(sizes), 1, 1)
            mods.update(zip(names, torch.split(y, sizes, dim=1) if len(sizes) > 1 else (y,)))
        return mods

    def _styled(self, name, x, mod, noise):
        x = x * mod
        pad = self.kernel[name] // 2
        if hasattr(self, name + "_w"):
            x = F.conv2d(x, getattr(self, name + "_w"), getattr(self, name + "_b"), padding=pad)
        else:
            x = F.conv2d(x, getattr(self, name + "_dw"), padding=pad, groups=self.depthwise_groups[name])
            x = F.conv2d(x, getattr(self, name + "_pw"), getattr(self, name + "_b"))
        return F.leaky_relu(x + getattr(self, name + "_noise") * noise, 0.2)

    def _head(self, name, x, mod):
        f = F.conv2d(x * mod, getattr(self, name + "_w"), getattr(self, name + "_b"))
        return haar.idwt_interleaved(f, self.idwt_rgb, 3)

    def forward(self, w, *noise):
        mods = self._modulations(w)
        x = self._styled("conv1", self.const, mods["conv1"], noise[0])
        imgs = [self._head("to_img1", x, mods["to_img1"])]
        for i in range(self.n_blocks):
            x = haar.idwt_interleaved(x * mods[f"b{i}_up"], getattr(self, f"b{i}_up_idwt"), self.up_channels[i])
            x = self._styled(f"b{i}_conv1", x, mods[f"b{i}_conv1"], noise[2 * i + 1])
            x = self._styled(f"b{i}_conv2", x, mods[f"b{i}_conv2"], noise[2 * i + 2])
            imgs.append(self._head(f"b{i}_to_img", x, mods[f"b{i}_to_img"]))
        return tuple(imgs)


class _TeacherExport(nn.Module):
    def __init__(self, teacher: TeacherSynthesis):
        super().__init__()
        self.teacher = teacher

    def forward(self, w, *noise):
        return self.teacher(w, list(noise))


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def _io(name, shape, **extra):
    d = {"name": name, "shape": list(shape), "dtype": "float32"}
    d.update(extra)
    return d


def onnx_export(module, args, path, input_names, output_names, dynamic_axes):
    module.eval()
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # PyTorch >= 2.9 defaults to the dynamo exporter; keep the TorchScript one everywhere
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python-int shapes: those are static by design
        torch.onnx.export(module, args, str(path), opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True, **kwargs)
    model = onnx.load(str(path))
    if _constants_to_initializers(model):
        onnx.save(model, str(path))
    onnx.checker.check_model(str(path))


def _constants_to_initializers(model) -> bool:
    """Move large Constant nodes (weights traced from plain tensor attributes) into graph initializers, so every
    exported graph carries its weights the same way (tools such as quantizers look at initializers)."""
    keep, moved = [], False
    names = {i.name for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            t = node.attribute[0].t
            n = 1
            for d in t.dims:
                n *= d
            if n > 16 and node.output[0] not in names:
                init = onnx.TensorProto()
                init.CopyFrom(t)
                init.name = node.output[0]
                model.graph.initializer.append(init)
                moved = True
                continue
        keep.append(node)
    if moved:
        del model.graph.node[:]
        model.graph.node.extend(keep)
    return moved


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    denom = float(np.max(np.abs(ref)))
    return float(np.max(np.abs(got - ref))) / max(denom, 1e-12)


def _parity(path, feeds: dict, refs: dict, what: str) -> dict:
    sess = session(path, threads=AUTO_THREADS)
    names = list(refs)
    outs = sess.run(names, feeds)
    errs = {}
    for n, got in zip(names, outs):
        ref = refs[n]
        if got.shape != ref.shape:
            raise ExportError(f"{what}: ONNX output {n} has shape {got.shape}, PyTorch {ref.shape}")
        errs[n] = rel_err(got, ref)
        if not np.isfinite(got).all() or errs[n] > PARITY_RTOL:
            raise ExportError(f"{what}: ONNX output {n} differs from PyTorch: max relative error {errs[n]:.3g} "
                              f"> {PARITY_RTOL}")
    return errs


def _noise_tensors(sizes, seed=1234):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, 1, s, s, generator=g) for s in sizes]


# ---------------------------------------------------------------------------------------------------------------
# Per-network exports (usable on their own, e.g. by tests)


def export_mapping(mapping: MappingNetwork, path, check: bool = True) -> dict:
    mapping = mapping.eval()
    d = mapping.style_dim
    z = torch.randn(2, d, generator=torch.Generator().manual_seed(7))
    onnx_export(_MappingExport(mapping), (z,), path, ["z"], ["w"], {"z": {0: "B"}, "w": {0: "B"}})
    errs = {}
    if check:
        zz = torch.randn(3, d, generator=torch.Generator().manual_seed(8))
        with torch.no_grad():
            ref = mapping(zz).numpy()
        errs = _parity(path, {"z": zz.numpy()}, {"w": ref}, "mapping")
    return errs


def export_student(student: StudentSynthesis, path, check: bool = True) -> dict:
    student = student.eval()
    sizes = student.noise_sizes()
    folded = FoldedStudent(student).eval()
    w = torch.randn(2, student.n_w, student.style_dim, generator=torch.Generator().manual_seed(9))
    noise = _noise_tensors(sizes)
    in_names = ["w"] + [f"noise_{k}" for k in range(len(sizes))]
    out_names = [f"img_{s}" for s in student.output_sizes()]
    dyn = {"w": {0: "B"}}
    dyn.update({n: {0: "B"} for n in out_names})
    onnx_export(folded, (w, *noise), path, in_names, out_names, dyn)
    errs = {}
    if check:
        ww = torch.randn(3, student.n_w, student.style_dim, generator=torch.Generator().manual_seed(10))
        nn_ = _noise_tensors(sizes, seed=11)
        with torch.no_grad():
            ref = student(ww, nn_)["imgs"]  # the unfolded module: checks the folding too
        feeds = {"w": ww.numpy()}
        feeds.update({f"noise_{k}": n.numpy() for k, n in enumerate(nn_)})
        errs = _parity(path, feeds, {n: r.numpy() for n, r in zip(out_names, ref)}, "student")
    return errs


def export_teacher(teacher: TeacherSynthesis, path, check: bool = True) -> dict:
    teacher = teacher.eval()
    sizes = teacher.noise_sizes()
    w = torch.randn(2, teacher.n_w, teacher.style_dim, generator=torch.Generator().manual_seed(12))
    noise = _noise_tensors(sizes)
    in_names = ["w"] + [f"noise_{k}" for k in range(len(sizes))]
    out_name = f"img_{teacher.size}"
    mods = [m for m in teacher.modules() if isinstance(m, TeacherModulatedConv2d)]
    try:
        for m in mods:
            m.freeze(True)
        onnx_export(_TeacherExport(teacher), (w, *noise), path, in_names, [out_name],
                     {"w": {0: "B"}, out_name: {0: "B"}})
    finally:
        for m in mods:
            m.freeze(False)
    errs = {}
    if check:
        ww = torch.randn(2, teacher.n_w, teacher.style_dim, generator=torch.Generator().manual_seed(13))
        nn_ = _noise_tensors(sizes, seed=14)
        with torch.no_grad():
            ref = teacher(ww, nn_).numpy()
        feeds = {"w": ww.numpy()}
        feeds.update({f"noise_{k}": n.numpy() for k, n in enumerate(nn_)})
        errs = _parity(path, feeds, {out_name: ref}, "teacher")
    return errs


# ---------------------------------------------------------------------------------------------------------------
# Model directory


def _style_mean_rows(style_mean, style_dim) -> torch.Tensor:
    sm = torch.as_tensor(style_mean).detach().float().cpu()
    if sm.dim() == 3:
        sm = sm[0]
    if sm.dim() == 1:
        sm = sm.unsqueeze(0)
    if sm.shape[-1] != style_dim:
        raise ExportError(f"style_mean has {sm.shape[-1]} values per row, style_dim is {style_dim}")
    return sm


def truncation(style_mean, style_dim: int, mean_source: str | None = None) -> dict:
    """manifest.truncation: the mean (first W+ row), the default psi, every row when they differ, where it came from."""
    sm = _style_mean_rows(style_mean, style_dim)
    trunc = {"mean": [float(x) for x in sm[0].tolist()], "default_psi": mf.DEFAULT_PSI}
    if sm.shape[0] > 1 and not torch.allclose(sm, sm[0:1].expand_as(sm)):
        trunc["mean_w_plus"] = [[float(x) for x in row] for row in sm.tolist()]
    if mean_source is not None:
        trunc["mean_source"] = mean_source
    return trunc


def _synthesis_io(net, d: int, outputs: list[int]):
    inputs = [mf.io("w", ["B", net.n_w, d])] + [mf.io(f"noise_{k}", [1, 1, s, s]) for k, s in enumerate(net.noise_sizes())]
    return inputs, [mf.io(f"img_{s}", ["B", 3, s, s], size=s) for s in outputs]


def network_specs(model_dir: Path, config: ModelConfig, mapping, student, teacher, parity: dict) -> dict:
    """manifest.networks of an export: IO, files, parameter and MAC counts (from the written ONNX), parity."""
    d = config.style_dim
    c_map = count_onnx(str(model_dir / "mapping.onnx"))
    nets = {"mapping": {
        "n_layers": config.n_mlp, "inputs": [mf.io("z", ["B", d])], "outputs": [mf.io("w", ["B", d])],
        "files": {"fp32": "mapping.onnx"}, "params": count_torch(mapping), "macs": c_map["macs"],
        "parity_max_rel_err": parity.get("mapping", {})}}
    nets["student"] = None
    if student is not None:
        c_st = count_onnx(str(model_dir / "student_fp32.onnx"))
        inputs, outputs = _synthesis_io(student, d, student.output_sizes())
        nets["student"] = {
            "channels": list(student.channels), "n_w": student.n_w, "inputs": inputs, "outputs": outputs,
            "files": {"fp32": "student_fp32.onnx"}, "edge_precision": "fp32",
            "params": count_torch(student), "macs": c_st["macs"], "onnx_params": c_st["params"],
            "levels": [{"size": o["size"], "output": o["name"], "macs": c_st["per_output"][o["name"]],
                        "peak_activation_bytes": c_st["per_output_peak_activation_bytes"][o["name"]]}
                       for o in outputs],
            "parity_max_rel_err": parity.get("student", {})}
    if teacher is not None:
        inputs, outputs = _synthesis_io(teacher, d, [teacher.size])
        nets["teacher"] = {
            "channels": list(teacher.channels), "n_w": teacher.n_w, "inputs": inputs, "outputs": outputs,
            "files": {"fp32": "teacher.onnx"}, "params": count_torch(teacher),
            "macs": count_onnx(str(model_dir / "teacher.onnx"))["macs"],
            "parity_max_rel_err": parity.get("teacher", {})}
    return nets


def write_model_dir(model_dir, config: ModelConfig, mapping: MappingNetwork, student: StudentSynthesis | None,
                    teacher: TeacherSynthesis | None, style_mean, *, model_id: str, version: str, provenance: dict,
                    trained: bool, status: str, training_data: dict | None, quantize: bool = True,
                    mean_source: str | None = None) -> dict:
    """Export the networks into the (empty) directory `model_dir` and write its manifest; with a student and
    `quantize`, also the int8 student (seedface.release.quantize). student None: a teacher-only directory
    (`networks.student = null`). Not atomic by itself: see export_model_dir. Returns the manifest."""
    model_dir = Path(model_dir)
    mapping = mapping.eval().cpu()
    parity = {"mapping": export_mapping(mapping, model_dir / "mapping.onnx")}
    if student is not None:
        student = student.eval().cpu()
        parity["student"] = export_student(student, model_dir / "student_fp32.onnx")
    if teacher is not None:
        teacher = teacher.eval().cpu()
        parity["teacher"] = export_teacher(teacher, model_dir / "teacher.onnx")
    prov = {"source": "random-init", "from": None,
            "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(), "tool": "seedface.export"}
    prov.update(provenance or {})
    config_dict = config.to_dict()
    if teacher is None and student is not None:
        config_dict["teacher_channels"] = None
    man = mf.build(model_dir, model_id=model_id, version=version, resolution=config.resolution,
                   style_dim=config.style_dim, trained=trained, status=status, config=config_dict,
                   truncation=truncation(style_mean, config.style_dim, mean_source),
                   networks=network_specs(model_dir, config, mapping, student, teacher, parity),
                   provenance=prov, training_data=training_data)
    mf.validate(man, model_dir)
    mf.save(model_dir, man)
    if quantize and student is not None:
        quantize_model_dir(model_dir)
        man = mf.load(model_dir)
        mf.validate(man, model_dir)
    return man


def export_model_dir(out_dir, *args, **kwargs) -> dict:
    """write_model_dir, atomically (seedface.release.writer): `out_dir` is complete or unchanged."""
    with model_dir_writer(out_dir) as tmp:
        return write_model_dir(tmp, *args, **kwargs)
