"""Parameter and MAC counting from ONNX graphs and PyTorch modules.

MAC conventions (one multiply-accumulate = 1):
- Conv: output elements x (C_in / group) x kh x kw.
- ConvTranspose: input elements x (C_out / group) x kh x kw (the products actually formed). With
  ``conv_transpose="output"`` it is counted like a conv at its output resolution instead (output elements x
  (C_in / group) x kh x kw, ~stride^2 times more), the convention behind the paper's 143 GMAC for the StyleGAN2
  1024 teacher.
- MatMul: output elements x K.  Gemm: M x N x K.
Element-wise ops (bias, activation, modulation, IDWT additions) are not counted.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import onnx
import torch
from onnx import shape_inference

from seedface.models.layers import count_macs

_FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
                onnx.TensorProto.BFLOAT16}
_ELEM_BYTES = {onnx.TensorProto.FLOAT: 4, onnx.TensorProto.FLOAT16: 2, onnx.TensorProto.DOUBLE: 8,
               onnx.TensorProto.BFLOAT16: 2, onnx.TensorProto.INT8: 1, onnx.TensorProto.UINT8: 1,
               onnx.TensorProto.INT32: 4, onnx.TensorProto.INT64: 8, onnx.TensorProto.BOOL: 1}


def _concrete(model: onnx.ModelProto, batch: int = 1) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in list(m.graph.input) + list(m.graph.output):
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param") or not d.HasField("dim_value"):
                d.Clear()
                d.dim_value = batch
    del m.graph.value_info[:]
    # Shape inference only: drop the weights' payload is not needed; keep them (shapes come from initializers).
    return shape_inference.infer_shapes(m, data_prop=True)


def _shapes(m: onnx.ModelProto) -> dict:
    shapes = {}
    for vi in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            continue
        dims = []
        for d in tt.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") else None)
        shapes[vi.name] = (dims, tt.elem_type)
    for init in m.graph.initializer:
        shapes[init.name] = (list(init.dims), init.data_type)
    return shapes


def _prod(dims):
    if dims is None or any(d is None for d in dims):
        return None
    return int(np.prod(dims, dtype=np.int64)) if dims else 1


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def node_macs(node, shapes, conv_transpose: str = "input") -> int:
    def shp(name):
        return shapes.get(name, (None, None))[0]

    op = node.op_type
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        wi = 3 if op == "QLinearConv" else 1
        w = shp(node.input[wi])
        out = shp(node.output[0])
        if w is None or out is None or _prod(out) is None:
            raise ValueError(f"counting: unknown shape at {op} node {node.name!r}")
        return _prod(out) * int(np.prod(w[1:]))
    if op == "ConvTranspose":
        x = shp(node.input[0])
        w = shp(node.input[1])
        if x is None or w is None or _prod(x) is None:
            raise ValueError(f"counting: unknown shape at {op} node {node.name!r}")
        # w: [C_in, C_out/group, kh, kw]; each input element meets C_out/group x kh x kw weights
        if conv_transpose == "output":
            out = shp(node.output[0])
            group = _attr(node, "group", 1)
            return _prod(out) * (int(w[0]) // group) * int(w[2]) * int(w[3])
        return _prod(x) * int(np.prod(w[1:]))
    if op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
        ai = 0
        a = shp(node.input[ai])
        out = shp(node.output[0])
        if a is None or out is None or _prod(out) is None:
            raise ValueError(f"counting: unknown shape at {op} node {node.name!r}")
        return _prod(out) * int(a[-1])
    if op == "Gemm":
        a = shp(node.input[0])
        out = shp(node.output[0])
        if a is None or out is None:
            raise ValueError(f"counting: unknown shape at Gemm node {node.name!r}")
        k = a[0] if _attr(node, "transA", 0) else a[-1]
        return _prod(out) * int(k)
    return 0


def count_onnx(path_or_model, batch: int = 1, conv_transpose: str = "input") -> dict:
    """Count params and MACs of an ONNX model.

    Returns {"params", "macs", "per_output": {output: macs of the nodes it depends on},
    "per_output_peak_activation_bytes": {output: estimate}}. The peak estimate is, over the nodes an output depends
    on, the largest sum of that node's non-constant input and output tensor bytes (batch `batch`).
    """
    model = onnx.load(path_or_model) if isinstance(path_or_model, (str, bytes)) or hasattr(path_or_model, "__fspath__") \
        else path_or_model
    m = _concrete(model, batch)
    shapes = _shapes(m)
    inits = {i.name for i in m.graph.initializer}
    params = 0
    for i in m.graph.initializer:
        if i.data_type in _FLOAT_TYPES or i.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8):
            n = _prod(list(i.dims))
            if n > 1:
                params += n
    const_outputs = set()
    for node in m.graph.node:
        if node.op_type == "Constant":
            const_outputs.update(node.output)
            t = _attr(node, "value")
            if t is not None and (t.data_type in _FLOAT_TYPES or t.data_type in (onnx.TensorProto.INT8,
                                                                                    onnx.TensorProto.UINT8)):
                n = _prod(list(t.dims))
                if n and n > 1:
                    params += n
    producer = {}
    for idx, node in enumerate(m.graph.node):
        for o in node.output:
            producer[o] = idx
    macs = [node_macs(n, shapes, conv_transpose) for n in m.graph.node]

    def act_bytes(name):
        if not name or name in inits or name in const_outputs:
            return 0
        dims, et = shapes.get(name, (None, None))
        n = _prod(dims)
        return 0 if n is None else n * _ELEM_BYTES.get(et, 4)

    node_bytes = [sum(act_bytes(i) for i in n.input) + sum(act_bytes(o) for o in n.output) for n in m.graph.node]
    per_output, per_peak = {}, {}
    for out in m.graph.output:
        seen = set()
        q = deque([out.name])
        while q:
            t = q.popleft()
            idx = producer.get(t)
            if idx is None or idx in seen:
                continue
            seen.add(idx)
            q.extend(i for i in m.graph.node[idx].input if i)
        per_output[out.name] = int(sum(macs[i] for i in seen))
        per_peak[out.name] = int(max((node_bytes[i] for i in seen), default=0))
    return {"params": int(params), "macs": int(sum(macs)), "per_output": per_output,
            "per_output_peak_activation_bytes": per_peak}


def count_torch(module) -> int:
    """Number of parameters of a torch module (buffers excluded)."""
    return int(sum(p.numel() for p in module.parameters()))


def count_torch_macs(fn, *args, conv_transpose: str = "input", **kwargs) -> int:
    """MACs of one call fn(*args) through the seedface layers (same conventions as count_onnx)."""


    with torch.no_grad(), count_macs() as c:
        fn(*args, **kwargs)
    return c.macs_output_convention if conv_transpose == "output" else c.macs
