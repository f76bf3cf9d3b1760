"""The one seed -> latents -> image pipeline of the Python tools, the twin of src/shared/face.ts.

seed -> z (seedface-seed/1, stream 0) -> mapping -> truncation ``w' = mean + psi * (w - mean)`` (float32) -> the same
w' broadcast to every W+ slot -> synthesis with the seed's noise maps (noise_k = stream 1 + k) -> the output that
serves the size -> resize (``seedface.pipeline.resample``, the bit-exact port of src/shared/resample.ts) -> uint8
RGB. Quantization calibration and measurement, evaluation, model cards, head fitting and training grids all draw
their faces with these functions: ``truncate`` and ``broadcast`` take numpy arrays (ONNX) and torch tensors alike.

Which output serves a size: the first ``networks.student.serving.sizes`` entry with ``up_to >= size`` when the
manifest has that table and names a student level, else the smallest student level ``>= size``, else the largest
(``levelForSize`` in src/shared/manifest.ts).

Precisions of ``FaceRenderer``: ``"fp32"`` is the origin's student (``student_fp32.onnx`` + ``mapping.onnx``);
``"int8"`` the edge files: ``networks.student.files.int8`` and ``networks.mapping.files.int8`` where the manifest lists
one (else the fp32 mapping), each non-fp32 file opened with ``quantization.session_config`` (as ``sessionExtra``
does). Sessions run graphs pruned to the requested output, as the edge and origin do. Numerics are ORT-CPU's, so
they may differ from onnxruntime-web's WASM kernels in the last bits.

    r = FaceRenderer("models/faces64")
    rgb = r.render("alice@example.com", size=128, psi=0.7)            # [128, 128, 3] uint8
    rgb8 = r.render("alice@example.com", size=128, precision="int8")  # what the edge serves
    head = r.render("alice@example.com", size=128, output="img_32")   # a chosen head, resized to 128
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from seedface.pipeline import seeding
from seedface.pipeline.resample import finish_pixels
from seedface.pipeline.runtime import AUTO_THREADS, prune_to_outputs, session
from seedface.release import manifest as mf

PRECISIONS = ("fp32", "int8")


# ---- the steps (styleFromSeed, noiseForNetwork, synthesize) --------------------------------------------------

def round2(x: float) -> float:
    """The service's psi rounding (params.ts round2: Math.round(x * 100) / 100)."""
    return float(np.floor(x * 100 + 0.5) / 100)


def latents(seeds: list[str], style_dim: int) -> np.ndarray:
    """z [N, style_dim] float32 of the seeds (stream 0)."""
    return np.stack([seeding.latent(s, style_dim) for s in seeds]).astype(np.float32)


def map_latents(mapping, z: np.ndarray) -> np.ndarray:
    """w = mapping(z) [N, D] through an ONNX session; a fixed-batch graph (the release's) runs one row at a time."""
    inp = mapping.get_inputs()[0]
    if isinstance(inp.shape[0], int) and inp.shape[0] == 1 and len(z) > 1:
        return np.concatenate([mapping.run(None, {inp.name: z[i:i + 1]})[0] for i in range(len(z))])
    return mapping.run(None, {inp.name: z})[0]


def truncate(w, mean, psi):
    """w' = mean + psi * (w - mean). numpy: float32 throughout (as styleFromSeed); torch: the tensors' dtype."""
    if isinstance(w, np.ndarray):
        return (mean + np.float32(psi) * (w - mean)).astype(np.float32)
    return mean + psi * (w - mean)


def broadcast(w, n_w: int):
    """[N, D] -> [N, n_w, D]: the same w' in every W+ slot (numpy: a contiguous copy; torch: an expanded view)."""
    if isinstance(w, np.ndarray):
        return np.ascontiguousarray(np.broadcast_to(w[:, None, :], (w.shape[0], n_w, w.shape[-1])))
    return w[:, None].expand(-1, n_w, -1)


def truncation_mean(manifest: dict) -> np.ndarray:
    d = int(manifest["style_dim"])
    return np.asarray(manifest["truncation"]["mean"], dtype=np.float32).reshape(1, d)


def default_psi(manifest: dict) -> float:
    return float((manifest.get("truncation") or {}).get("default_psi", 0.7))


def w_input(net: dict) -> tuple[str, int, int]:
    """(name, n_w, rank) of a synthesis network's w input (wInput): rank 2 is [B, D], rank 3 [B, n_w, D]."""
    w_in = next(i for i in net["inputs"] if i["name"] == "w")
    rank = len(w_in["shape"])
    n_w = int(w_in["shape"][1]) if rank == 3 and isinstance(w_in["shape"][1], int) else int(net.get("n_w", 1))
    return w_in["name"], n_w, rank


def noise_inputs(net: dict) -> list[dict]:
    """The noise inputs of a network in k order (noiseInputs)."""
    noise = [i for i in net["inputs"] if i["name"].startswith("noise_")]
    return sorted(noise, key=lambda i: int(i["name"].split("_")[1]))


def noise_feeds(net: dict, seed: str, inputs: list[dict] | None = None) -> dict[str, np.ndarray]:
    """{noise_k: [1, 1, s, s]} of a seed: stream 1 + k for noise_k (noiseForNetwork)."""
    feeds = {}
    for i in noise_inputs(net) if inputs is None else inputs:
        s = int(i["shape"][-1])
        feeds[i["name"]] = seeding.normals(seed, 1 + int(i["name"].split("_")[1]), s * s).reshape(1, 1, s, s)
    return feeds


def synthesis_feeds(net: dict, seed: str, w: np.ndarray) -> dict[str, np.ndarray]:
    """A synthesis network's feeds for one seed: w' [1, D] in every W+ slot + the seed's noise (synthesize)."""
    name, n_w, rank = w_input(net)
    w = np.asarray(w, np.float32).reshape(1, -1)
    return {name: w if rank == 2 else broadcast(w, n_w), **noise_feeds(net, seed)}


def seed_feeds(model_dir, manifest: dict, seeds: list[str], network: str = "student", mapping=None,
               psi: float | None = None) -> list[dict[str, np.ndarray]]:
    """Feeds (batch 1 each) of `network` for the seeds, exactly as the edge builds them: z of all seeds through the
    mapping (default: the fp32 mapping.onnx, one thread) at once, truncation at psi (default: the manifest's
    default_psi), broadcast, noise."""
    if not seeds:
        return []
    net = manifest["networks"][network]
    if mapping is None:
        mapping = session(Path(model_dir) / manifest["networks"]["mapping"]["files"]["fp32"])
    w = map_latents(mapping, latents(seeds, int(manifest["style_dim"])))
    w = truncate(w, truncation_mean(manifest), default_psi(manifest) if psi is None else psi)
    return [synthesis_feeds(net, s, w[k:k + 1]) for k, s in enumerate(seeds)]


def to_pixels(x: np.ndarray) -> np.ndarray:
    """docs/determinism.md: round(clamp((x + 1) * 127.5, 0, 255)) -> uint8, same shape."""
    return np.clip(np.rint((x.astype(np.float64) + 1.0) * 127.5), 0, 255).astype(np.uint8)


# ---- a model directory's faces ---------------------------------------------------------------------------------

class FaceRenderer:
    """Renders seeds through a model directory's ONNX files as the service does (see the module docstring)."""

    def __init__(self, model_dir, precisions=PRECISIONS, threads: int = AUTO_THREADS):
        self.model_dir = Path(model_dir)
        self.man = mf.load(self.model_dir)
        nets = self.man["networks"]
        self.student = nets.get("student")
        if not self.student:
            raise ValueError(f"{self.model_dir}: no student network (teacher-only directory); nothing to render")
        self.mapping = nets["mapping"]
        self.style_dim = int(self.man["style_dim"])
        self.mean = truncation_mean(self.man)
        self.default_psi = default_psi(self.man)
        self.session_config = dict((self.man.get("quantization") or {}).get("session_config") or {})
        self.available = [p for p in precisions if p in self.student["files"]]
        self.threads = threads
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

    def session(self, network: str, precision: str, output: str | None = None):
        file, config = self.files(precision)[network]
        key = (file, output)
        if key not in self._sessions:
            path = self.model_dir / file
            if output is None:
                self._sessions[key] = session(path, config, self.threads)
            else:
                if file not in self._protos:
                    self._protos[file] = onnx.load(str(path))
                self._sessions[key] = session(prune_to_outputs(self._protos[file], [output]), config, self.threads)
        return self._sessions[key]

    # ---- the pipeline -------------------------------------------------------------------------------------

    def style(self, seed: str, psi: float | None = None, precision: str = "fp32") -> np.ndarray:
        """Truncated w' [1, style_dim] float32 of a seed (styleFromSeed, psi rounded as the service does)."""
        psi = self.default_psi if psi is None else psi
        w = map_latents(self.session("mapping", precision), latents([seed], self.style_dim)).astype(np.float32)
        return truncate(w, self.mean, round2(psi))

    def feeds(self, seed: str, w: np.ndarray) -> dict:
        return synthesis_feeds(self.student, seed, w)

    def planar(self, seed: str, psi: float | None = None, precision: str = "fp32", output: str | None = None,
               size: int = 128) -> np.ndarray:
        """The chosen student output [3, s, s] float32 (about [-1, 1]) before resampling; `output` defaults to the
        one serving `size`."""
        output = output or self.output_for(size)
        w = self.style(seed, psi, precision)
        return self.session("student", precision, output).run([output], self.feeds(seed, w))[0][0]

    def render(self, seed: str, size: int = 128, psi: float | None = None, precision: str = "fp32",
               output: str | None = None) -> np.ndarray:
        """seed -> [size, size, 3] uint8 RGB, as the service renders it (renderFacePixels)."""
        return finish_pixels(self.planar(seed, psi, precision, output, size), size)


def render_face(model_dir, seed: str, size: int = 128, psi: float | None = None, precision: str = "fp32",
                output: str | None = None) -> np.ndarray:
    """One-shot form of FaceRenderer.render (opens the sessions each call: use FaceRenderer for many seeds)."""
    return FaceRenderer(model_dir).render(seed, size, psi, precision, output)
