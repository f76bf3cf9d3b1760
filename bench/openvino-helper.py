"""OpenVINO side of `npm run bench:openvino` (bench/openvino.ts): a long-lived process that keeps compiled models
warm and answers one JSON object per line on stdin with one JSON object per line on stdout.

It runs the MobileStyleGAN authors' own OpenVINO IR (random_face/data/SynthesisNetwork.{xml,bin}, read straight
from the pinned random-face wheel, nothing extracted to disk): `style` [1,512] -> `img` [1,3,1024,1024].

Requests (every reply has "ok"; on failure "ok": false and "error"):
  {"op": "load", "wheel": PATH}                                  -> version, inputs, outputs, CPU defaults
  {"op": "compile", "id": ID, "precision": "f32"|"bf16"|null, "threads": N, "perf_count": false}
                                                                 -> compile ms and the properties OpenVINO applied
  {"op": "style", "values": [512 floats]}                        -> sets the input every later run feeds
  {"op": "run", "id": ID, "n": N}                                -> "ms": N wall times of infer() (ms)
  {"op": "image", "id": ID, "out": PATH}                         -> writes img as float32 little-endian to PATH
  {"op": "direct", "wheel": PATH, "out": PATH}                   -> the same, with a fresh Core and compile_model,
                                                                    default properties but f32 (the bench checks the
                                                                    helper's warm path gives the same image)
  {"op": "profile", "id": ID, "n": N}                            -> per-layer-type times of the last of N runs
                                                                    (needs "perf_count": true at compile)
  {"op": "quit"}
Only this protocol is written to stdout; OpenVINO's own logging goes to stderr.
"""

import json
import sys
import time
import zipfile
from collections import defaultdict

import numpy as np
import openvino as ov

IR = "random_face/data/SynthesisNetwork"


def read_ir(core, wheel):
    with zipfile.ZipFile(wheel) as z:
        xml = z.read(IR + ".xml")
        weights = z.read(IR + ".bin")
    return core.read_model(model=xml, weights=ov.Tensor(np.frombuffer(weights, dtype=np.uint8).copy()))


def plain(v):
    if isinstance(v, ov.Type):
        return v.get_type_name()  # "f32", "bf16"
    return v if isinstance(v, (int, float, bool, str)) else str(v)


def prop(obj, name):
    try:
        return plain(obj.get_property(name))
    except Exception:  # noqa: BLE001 - a property this version lacks is reported as null
        return None


PROPS = ["INFERENCE_PRECISION_HINT", "INFERENCE_NUM_THREADS", "NUM_STREAMS", "PERFORMANCE_HINT",
         "ENABLE_CPU_PINNING", "ENABLE_HYPER_THREADING", "SCHEDULING_CORE_TYPE", "EXECUTION_MODE_HINT"]


class Helper:
    def __init__(self):
        self.core = ov.Core()
        self.model = None
        self.compiled = {}
        self.requests = {}
        self.style = np.zeros((1, 512), np.float32)

    def load(self, req):
        self.model = read_ir(self.core, req["wheel"])
        return {
            "version": ov.__version__,
            "device": self.core.get_property("CPU", "FULL_DEVICE_NAME"),
            "capabilities": list(self.core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")),
            "cpu_defaults": {p: prop_core(self.core, p) for p in PROPS},
            "inputs": [[i.get_any_name(), str(i.get_partial_shape())] for i in self.model.inputs],
            "outputs": [[o.get_any_name(), str(o.get_partial_shape())] for o in self.model.outputs],
        }

    def compile(self, req):
        cfg = {"INFERENCE_NUM_THREADS": int(req["threads"]), "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
        if req.get("precision"):
            cfg["INFERENCE_PRECISION_HINT"] = req["precision"]
        if req.get("perf_count"):
            cfg["PERF_COUNT"] = True
        t = time.perf_counter()
        cm = self.core.compile_model(self.model, "CPU", cfg)
        ms = (time.perf_counter() - t) * 1000
        self.compiled[req["id"]] = cm
        self.requests[req["id"]] = cm.create_infer_request()
        return {"compile_ms": ms, "requested": {k: str(v) for k, v in cfg.items()}, "applied": {p: prop(cm, p) for p in PROPS}}

    def set_style(self, req):
        v = np.asarray(req["values"], np.float32).reshape(1, -1)
        if v.shape != (1, 512):
            raise ValueError(f"style must have 512 values, got {v.size}")
        self.style = v
        return {}

    def run(self, req):
        r = self.requests[req["id"]]
        ms = []
        for _ in range(int(req.get("n", 1))):
            t = time.perf_counter()
            r.infer({0: self.style})
            ms.append((time.perf_counter() - t) * 1000)
        return {"ms": ms}

    def image(self, req):
        r = self.requests[req["id"]]
        r.infer({0: self.style})
        img = np.ascontiguousarray(r.get_output_tensor(0).data, dtype="<f4")
        img.tofile(req["out"])
        return {"shape": list(img.shape)}

    def direct(self, req):
        core = ov.Core()
        cm = core.compile_model(read_ir(core, req["wheel"]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        img = np.ascontiguousarray(cm(self.style)[cm.output(0)], dtype="<f4")
        img.tofile(req["out"])
        return {"shape": list(img.shape)}

    def profile(self, req):
        r = self.requests[req["id"]]
        for _ in range(int(req.get("n", 2))):
            r.infer({0: self.style})
        by_type = defaultdict(lambda: {"ms": 0.0, "count": 0, "exec_types": set()})
        for p in r.get_profiling_info():
            if p.status != ov.ProfilingInfo.Status.EXECUTED:
                continue
            e = by_type[p.node_type]
            e["ms"] += p.real_time.total_seconds() * 1000
            e["count"] += 1
            e["exec_types"].add(p.exec_type)
        rows = [{"type": k, "ms": v["ms"], "count": v["count"], "exec_types": sorted(v["exec_types"])} for k, v in by_type.items()]
        rows.sort(key=lambda x: -x["ms"])
        return {"by_type": rows, "total_ms": sum(x["ms"] for x in rows)}


def prop_core(core, name):
    try:
        return plain(core.get_property("CPU", name))
    except Exception:  # noqa: BLE001
        return None


def main():
    h = Helper()
    ops = {"load": h.load, "compile": h.compile, "style": h.set_style, "run": h.run, "image": h.image,
           "direct": h.direct, "profile": h.profile}
    out = sys.stdout
    sys.stdout = sys.stderr  # anything else printed goes to stderr, never into the protocol
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if req.get("op") == "quit":
                out.write(json.dumps({"ok": True}) + "\n")
                out.flush()
                return
            res = {"ok": True, **ops[req["op"]](req)}
        except Exception as e:  # noqa: BLE001 - reported to the caller, which fails the bench
            res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(res) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
