"""onnxruntime for every Python tool: the one CPU session helper, and graphs pruned to the outputs a run needs
(the counterpart of src/shared/onnx-prune.ts)."""
from __future__ import annotations

import os

import onnx
import onnxruntime as ort

# What the export's parity checks and the face renderer use; measurements (quantization, evaluation) use 1 thread.
AUTO_THREADS = max(1, min(4, os.cpu_count() or 1))


def session(model, config: dict | None = None, threads: int = 1) -> ort.InferenceSession:
    """An onnxruntime CPU session, quiet (errors only), with `threads` intra-op threads and ORT session config
    entries (`quantization.session_config`). `model`: a path, serialized ONNX bytes or an onnx.ModelProto."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    for k, v in (config or {}).items():
        so.add_session_config_entry(str(k), str(v))
    if isinstance(model, onnx.ModelProto):
        model = model.SerializeToString()
    src = model if isinstance(model, (bytes, bytearray)) else str(model)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def prune_to_outputs(model: onnx.ModelProto, keep: list[str]) -> onnx.ModelProto:
    """A copy of `model` computing only the graph outputs `keep` (nodes they depend on + their initializers; every
    graph input kept), the Python counterpart of src/shared/onnx-prune.ts."""
    g = model.graph
    outs = [o.name for o in g.output]
    missing = [k for k in keep if k not in outs]
    if missing:
        raise ValueError(f"the graph has no output {missing[0]} (has {', '.join(outs)})")
    producer = {}
    for i, n in enumerate(g.node):
        for o in n.output:
            producer[o] = i
    need, stack, used = set(), list(keep), set()
    while stack:
        t = stack.pop()
        if t in used:
            continue
        used.add(t)
        i = producer.get(t)
        if i is not None and i not in need:
            need.add(i)
            stack.extend(x for x in g.node[i].input if x)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    mg = m.graph
    nodes = [g.node[i] for i in sorted(need)]
    del mg.node[:]
    mg.node.extend(nodes)
    inits = [t for t in g.initializer if t.name in used]
    del mg.initializer[:]
    mg.initializer.extend(inits)
    outputs = [o for o in g.output if o.name in keep]
    del mg.output[:]
    mg.output.extend(outputs)
    vi = [v for v in g.value_info if v.name in used]
    del mg.value_info[:]
    mg.value_info.extend(vi)
    return m
