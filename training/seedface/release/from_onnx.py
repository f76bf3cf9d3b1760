"""The MobileStyleGAN release's own ONNX exports -> a model directory with our IO names (used by seedface.convert).

`MappingNetwork.onnx` (`var` [1, S] -> `style`) becomes `mapping.onnx` (`z` -> `w`); `SynthesisNetwork.onnx`
(`style` [1, S] or [1, n_w, S] -> `img` [1, 3, R, R], noise frozen inside) becomes `student_fp32.onnx`
(`w` [1, n_w, S] -> `img_<R>`). What cannot be recovered from these graphs is said in the manifest's `status`:
one output resolution (no intermediate heads), frozen noise (the seed only selects w), and the batch size the
graphs were exported with unless they also run with another one.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from seedface.pipeline.runtime import session
from seedface.release import counting, manifest as mf

MEAN_SAMPLES = 4096


class ReleaseOnnxError(ValueError):
    pass


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value_info.type.tensor_type.shape.dim]


def rename_tensor(model: onnx.ModelProto, old: str, new: str) -> None:
    """Rename a graph input/output (and every use of it) in place."""
    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        if vi.name == old:
            vi.name = new
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new


def try_dynamic_batch(model: onnx.ModelProto, feed_one: dict) -> onnx.ModelProto:
    """Mark dim 0 of every input/output "B" if the graph really runs with batch 2 and gives the batch-1 answers;
    otherwise return the model unchanged (fixed batch)."""
    dyn = copy.deepcopy(model)
    del dyn.graph.value_info[:]
    for vi in list(dyn.graph.input) + list(dyn.graph.output):
        d = vi.type.tensor_type.shape.dim[0]
        d.Clear()
        d.dim_param = "B"
    try:
        one = session(model).run(None, feed_one)
        two = session(dyn).run(None, {k: np.concatenate([v, v]) for k, v in feed_one.items()})
        if all(t.shape[0] == 2 and np.allclose(t[:1], o, rtol=1e-4, atol=1e-5) for t, o in zip(two, one)):
            return dyn
    except Exception:  # noqa: BLE001 - any failure means the batch is baked into the graph
        pass
    return model


def _only(items, what: str, path: str):
    if len(items) != 1:
        raise ReleaseOnnxError(f"{path}: expected exactly one {what}, found {[i.name for i in items]}")
    return items[0]


def wrap_mapping(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    model = copy.deepcopy(model)
    inp = _only(model.graph.input, "input", "MappingNetwork.onnx")
    out = _only(model.graph.output, "output", "MappingNetwork.onnx")
    dims = _dims(inp)
    if len(dims) != 2 or not isinstance(dims[1], int):
        raise ReleaseOnnxError(f"MappingNetwork.onnx: input 'var' must be [1, style_dim], got {dims}")
    rename_tensor(model, inp.name, "z")
    rename_tensor(model, out.name, "w")
    style_dim = dims[1]
    model = try_dynamic_batch(model, {"z": np.zeros((1, style_dim), np.float32)})
    return model, style_dim


def wrap_synthesis(model: onnx.ModelProto, style_dim: int) -> tuple[onnx.ModelProto, int, int]:
    """-> (model with input w [b, n_w, S] and output img_<R>, n_w, R)."""
    model = copy.deepcopy(model)
    inp = _only(model.graph.input, "input", "SynthesisNetwork.onnx")
    out = _only(model.graph.output, "output", "SynthesisNetwork.onnx")
    dims = _dims(inp)
    if dims[-1] != style_dim or len(dims) not in (2, 3):
        raise ReleaseOnnxError(f"SynthesisNetwork.onnx: input 'style' must be [1, {style_dim}] or "
                               f"[1, n_w, {style_dim}] (style_dim of the mapping network), got {dims}")
    if len(dims) == 2:  # one w for every layer: our W+ input with n_w = 1, flattened back to [b, S]
        n_w = 1
        w = helper.make_tensor_value_info("w", onnx.TensorProto.FLOAT, [dims[0] or 1, 1, style_dim])
        flat = helper.make_node("Flatten", ["w"], [inp.name], name="seedface_w_to_style", axis=1)
        model.graph.node.insert(0, flat)
        model.graph.input.remove(inp)
        model.graph.input.insert(0, w)
    else:
        n_w = int(dims[1])
        rename_tensor(model, inp.name, "w")
    res = _dims(out)[-1]
    if not isinstance(res, int):
        feed = {"w": np.zeros((1, n_w, style_dim), np.float32)}
        res = int(session(model).run(None, feed)[0].shape[-1])
    out_name = f"img_{res}"
    rename_tensor(model, out.name, out_name)
    model = try_dynamic_batch(model, {"w": np.zeros((1, n_w, style_dim), np.float32)})
    return model, n_w, res


def io_entries(model: onnx.ModelProto, which: str) -> list[dict]:
    items = model.graph.input if which == "inputs" else model.graph.output
    out = []
    for vi in items:
        shape = [d if isinstance(d, int) else "B" for d in _dims(vi)]
        entry = {"name": vi.name, "shape": shape, "dtype": "float32"}
        if vi.name.startswith("img_"):
            entry["size"] = int(shape[-1])
        out.append(entry)
    return out


def truncation_mean(mapping: onnx.ModelProto, style_dim: int) -> list[float]:
    """Average w over MEAN_SAMPLES random z (the release graphs carry no style_mean)."""
    sess = session(mapping)
    z = np.random.default_rng(0).standard_normal((MEAN_SAMPLES, style_dim)).astype(np.float32)
    fixed = _dims(mapping.graph.input[0])[0] == 1
    if fixed:
        w = np.concatenate([sess.run(None, {"z": z[i:i + 1]})[0] for i in range(MEAN_SAMPLES)])
    else:
        w = sess.run(None, {"z": z})[0]
    return [float(x) for x in w.mean(axis=0)]


def write_model_dir(out_dir: Path, mapping_model: onnx.ModelProto, synthesis_model: onnx.ModelProto, *,
                    model_id: str, version: str, provenance: dict, training_data: dict, log=print) -> dict:
    out_dir = Path(out_dir)
    mapping, style_dim = wrap_mapping(mapping_model)
    student, n_w, res = wrap_synthesis(synthesis_model, style_dim)
    onnx.save(mapping, str(out_dir / "mapping.onnx"))
    onnx.save(student, str(out_dir / "student_fp32.onnx"))
    batch_note = "dynamic batch" if _dims(student.graph.input[0])[0] == "B" else "fixed batch 1"
    log(f"release ONNX: style_dim {style_dim}, n_w {n_w}, {res}x{res}, {batch_note}")
    mc = counting.count_onnx(str(out_dir / "mapping.onnx"))
    sc = counting.count_onnx(str(out_dir / "student_fp32.onnx"))
    out_name = f"img_{res}"
    n_layers = sum(1 for n in mapping.graph.node if n.op_type in ("Gemm", "MatMul"))
    networks = {
        "mapping": {"n_layers": n_layers, "inputs": io_entries(mapping, "inputs"),
                    "outputs": io_entries(mapping, "outputs"), "files": {"fp32": "mapping.onnx"},
                    "params": mc["params"], "macs": mc["macs"]},
        "student": {"n_w": n_w, "inputs": io_entries(student, "inputs"),
                    "outputs": io_entries(student, "outputs"), "files": {"fp32": "student_fp32.onnx"},
                    "edge_precision": "fp32", "params": sc["params"], "macs": sc["macs"],
                    "noise": "frozen in the graph",
                    "levels": [{"size": res, "output": out_name, "macs": sc["per_output"][out_name],
                                "peak_activation_bytes": sc["per_output_peak_activation_bytes"][out_name]}]},
    }
    status = (f"imported from the MobileStyleGAN release's ONNX exports. Lost in those graphs: intermediate "
              f"resolutions (only {out_name}), per-seed noise (noise is frozen inside: the seed only selects w, so "
              f"faces are less varied in fine detail), " + batch_note
              + "; truncation mean estimated from 4096 random z; no teacher")
    truncation = {"mean": truncation_mean(mapping, style_dim), "default_psi": mf.DEFAULT_PSI,
                  "mean_source": f"estimated: average mapping output over {MEAN_SAMPLES} random z"}
    manifest = mf.build(out_dir, model_id=model_id, version=version, resolution=res, style_dim=style_dim,
                        trained=True, status=status, truncation=truncation, networks=networks,
                        provenance=provenance, training_data=training_data)
    mf.validate(manifest, out_dir)
    mf.save(out_dir, manifest)
    return manifest
