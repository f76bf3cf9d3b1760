"""Faces drawn from a model directory exactly as the service draws them (src/shared/face.ts), in Python.

seed -> z (seedface-seed/1) -> mapping.onnx (batch 1) -> truncation ``mean + psi * (w - mean)`` in float32 with the
manifest's ``truncation.mean`` -> broadcast to every W+ slot -> student with the seed's noise maps -> the student
output that serves the size -> resize to the size (``seedface.resample``, the bit-exact port of
src/shared/resample.ts: area when shrinking, Catmull-Rom when enlarging) -> uint8 RGB.

Which output serves a size: the first ``networks.student.serving.sizes`` entry with ``up_to >= size`` when the
manifest has that table (``[{"up_to": N, "output": "img_M"}, ...]``) and names a student level, else the smallest
student level ``>= size``, else the largest level (as ``levelForSize`` in src/shared/manifest.ts).

Precisions: ``"fp32"`` is the origin's student (``student_fp32.onnx`` + ``mapping.onnx``); ``"int8"`` the edge
files: ``networks.student.files.int8`` and ``networks.mapping.files.int8`` where the manifest lists one (else the
fp32 mapping), each non-fp32 file opened with ``quantization.session_config`` as ORT session config entries (as
``sessionExtra`` does). Sessions are onnxruntime CPU sessions on graphs pruned to the requested output (onnxruntime
runs every node of a graph whatever outputs a run asks for; the edge and origin prune the same way). Numerics are
ORT-CPU's, so they may differ from onnxruntime-web's WASM kernels in the last bits.

    r = FaceRenderer("models/faces64")
    rgb = r.render("alice@example.com", size=128, psi=0.7)            # [128, 128, 3] uint8
    rgb8 = r.render("alice@example.com", size=128, precision="int8")  # what the edge serves
    head = r.render("alice@example.com", size=128, output="img_32")   # a chosen head, resized to 128
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx

from seedface.release import manifest as mf
from seedface.pipeline import seeding
from seedface.pipeline.resample import finish_pixels

PRECISIONS = ("fp32", "int8")


def round2(x: float) -> float:
    """The service's psi rounding (params.ts round2: Math.round(x * 100) / 100)."""
    return float(np.floor(x * 100 + 0.5) / 100)


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


def ort_session(model, config: dict | None = None):
    """An onnxruntime CPU session with seedface.export._ort_session's options, plus session config entries
    (`quantization.session_config`); `model` is a path or serialized ONNX bytes."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
    for k, v in (config or {}).items():
        so.add_session_config_entry(str(k), str(v))
    src = model if isinstance(model, (bytes, bytearray)) else str(model)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


class FaceRenderer:
    """Renders seeds through a model directory's ONNX files as the service does (see the module docstring)."""

    def __init__(self, model_dir, precisions=PRECISIONS):
        self.model_dir = Path(model_dir)
        self.man = mf.load(self.model_dir)
        nets = self.man["networks"]
        self.student = nets.get("student")
        if not self.student:
            raise ValueError(f"{self.model_dir}: no student network (teacher-only directory); nothing to render")
        self.mapping = nets["mapping"]
        self.style_dim = int(self.man["style_dim"])
        self.mean = np.asarray(self.man["truncation"]["mean"], np.float32).reshape(1, self.style_dim)
        self.default_psi = float(self.man["truncation"].get("default_psi", 0.7))
        w_in = next(i for i in self.student["inputs"] if i["name"] == "w")
        self.w_name = w_in["name"]
        self.w_rank = len(w_in["shape"])
        self.n_w = int(w_in["shape"][1]) if self.w_rank == 3 and isinstance(w_in["shape"][1], int) \
            else int(self.student.get("n_w", 1))
        noise = [i for i in self.student["inputs"] if i["name"].startswith("noise_")]
        noise.sort(key=lambda i: int(i["name"].split("_")[1]))
        self.noise_names = [i["name"] for i in noise]
        self.noise_sizes = [int(i["shape"][-1]) for i in noise]
        self.noise_streams = [1 + int(i["name"].split("_")[1]) for i in noise]  # noise_k is stream 1 + k
        self.session_config = dict((self.man.get("quantization") or {}).get("session_config") or {})
        self.available = [p for p in precisions if p in self.student["files"]]
        self._sessions: dict = {}
        self._protos: dict = {}

    # ---- which output, which files ------------------------------------------------------------------------

    def levels(self) -> list[dict]:
        lv = self.student.get("levels") or [
            {"size": int(o.get("size") or o["shape"][-1]), "output": o["name"]} for o in self.student["outputs"]]
        return sorted(lv, key=lambda x: x["size"])

    def output_for(self, size: int) -> str:
        """The student output the service renders `size` from."""
        lv = self.levels()
        serving = (self.student.get("serving") or {}).get("sizes")
        row = next((e for e in serving or [] if int(e["up_to"]) >= size), None)
        if row is not None and any(x["output"] == row["output"] for x in lv):
            return row["output"]
        return next((x["output"] for x in lv if x["size"] >= size), lv[-1]["output"])

    def files(self, precision: str) -> dict:
        """{network: (file, session config)} for a precision."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if precision not in self.student["files"]:
            raise ValueError(f"{self.model_dir}: the student has no {precision} file")
        res = {}
        for name, net in (("mapping", self.mapping), ("student", self.student)):
            prec = precision if precision in net["files"] else "fp32"
            res[name] = (net["files"][prec], self.session_config if prec != "fp32" else {})
        return res

    def _session(self, network: str, precision: str, output: str | None = None):
        file, config = self.files(precision)[network]
        key = (file, output)
        if key not in self._sessions:
            path = self.model_dir / file
            if output is None:
                self._sessions[key] = ort_session(path, config)
            else:
                if file not in self._protos:
                    self._protos[file] = onnx.load(str(path))
                pruned = prune_to_outputs(self._protos[file], [output])
                self._sessions[key] = ort_session(pruned.SerializeToString(), config)
        return self._sessions[key]

    # ---- the pipeline -------------------------------------------------------------------------------------

    def style(self, seed: str, psi: float | None = None, precision: str = "fp32") -> np.ndarray:
        """Truncated w' [1, style_dim] float32 of a seed (styleFromSeed)."""
        psi = self.default_psi if psi is None else psi
        sess = self._session("mapping", precision)
        z = seeding.latent(seed, self.style_dim).reshape(1, self.style_dim).astype(np.float32)
        w = sess.run(None, {sess.get_inputs()[0].name: z})[0].astype(np.float32)
        p = np.float32(round2(psi))
        return (self.mean + p * (w - self.mean)).astype(np.float32)

    def feeds(self, seed: str, w: np.ndarray) -> dict:
        w = np.asarray(w, np.float32).reshape(1, self.style_dim)
        wp = w if self.w_rank == 2 else np.ascontiguousarray(np.broadcast_to(w[:, None], (1, self.n_w, self.style_dim)))
        feed = {self.w_name: wp}
        for name, stream, sz in zip(self.noise_names, self.noise_streams, self.noise_sizes):
            feed[name] = seeding.normals(seed, stream, sz * sz).reshape(1, 1, sz, sz)
        return feed

    def planar(self, seed: str, psi: float | None = None, precision: str = "fp32", output: str | None = None,
               size: int = 128) -> np.ndarray:
        """The chosen student output [3, s, s] float32 (about [-1, 1]) before resampling; `output` defaults to the
        one serving `size`."""
        output = output or self.output_for(size)
        w = self.style(seed, psi, precision)
        sess = self._session("student", precision, output)
        return sess.run([output], self.feeds(seed, w))[0][0]

    def render(self, seed: str, size: int = 128, psi: float | None = None, precision: str = "fp32",
               output: str | None = None) -> np.ndarray:
        """seed -> [size, size, 3] uint8 RGB, as the service renders it (renderFacePixels)."""
        return finish_pixels(self.planar(seed, psi, precision, output, size), size)


def render_face(model_dir, seed: str, size: int = 128, psi: float | None = None, precision: str = "fp32",
                output: str | None = None) -> np.ndarray:
    """One-shot form of FaceRenderer.render (opens the sessions each call: use FaceRenderer for many seeds)."""
    return FaceRenderer(model_dir).render(seed, size, psi, precision, output)
