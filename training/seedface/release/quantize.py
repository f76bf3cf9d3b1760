"""int8 variants of a model directory's student, measured against fp32; the best one becomes `student_int8.onnx`.

Variants (all on the student's weight layers: Conv/ConvTranspose/Gemm/MatMul with a constant weight):
- `weight_only`: int8 weights (symmetric, per output channel) + DequantizeLinear; compute stays fp32.
- `dynamic`: onnxruntime's dynamic quantization (ConvInteger/MatMulInteger, per-channel int8 weights).
- `qdq_static`: static QDQ, per-channel int8 weights, uint8 activations calibrated on real inputs
  (seeded z -> mapping.onnx -> truncation at default_psi, seeded noise maps).
- `qdq_mixed`: `qdq_static` with the layers that hurt most (measured one layer at a time) kept at fp32 compute
  (their weights still stored int8 as in `weight_only`).
The default is the smallest file reaching `TARGET_PSNR_DB` against fp32 (else the best PSNR).

CLI: ``python -m seedface.quantize models/default [--n-eval 256] [--n-calib 64]``
"""
from __future__ import annotations

import inspect
import json
import logging
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from matplotlib.figure import Figure
from onnx import helper, numpy_helper
from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_dynamic,
                                      quantize_static)

from seedface.console import logger
from seedface.eval import metrics
from seedface.pipeline.face import seed_feeds, to_pixels
from seedface.pipeline.runtime import session
from seedface.release import manifest as mf

TARGET_PSNR_DB = 35.0
TARGET_SIZE_RATIO = 3.0
PSNR_CAP_DB = 100.0  # reported for bit-identical pixels
WEIGHT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
MIN_WEIGHT_ELEMS = 64  # smaller constants (Haar filters, scalars) stay fp32: nothing to gain, exact values matter
WEIGHT_ONLY_SESSION_CONFIG = {"session.disable_quant_qdq": "1"}
ALL_VARIANTS = ("weight_only", "dynamic", "qdq_static", "qdq_mixed")
CALIB_PREFIX = "calib/"
EVAL_PREFIX = "eval/"
SENS_PREFIX = "sensitivity/"


log = logger("quantize")


# ---------------------------------------------------------------------------------------------------------------
# The student's inputs and outputs (plain manifest reads, so this works on directories other tools wrote)

def student_io(manifest: dict) -> tuple[dict, list[dict], dict]:
    """(w input, noise inputs in order, largest img output) of the student."""
    st = manifest["networks"].get("student")
    if not st:
        raise ValueError("model has no student network (teacher-only directory): nothing to quantize")
    w_in = next(i for i in st["inputs"] if i["name"] == "w")
    noise = [i for i in st["inputs"] if i["name"].startswith("noise_")]
    noise.sort(key=lambda i: int(i["name"].split("_")[1]))
    img = max(st["outputs"], key=lambda o: o["shape"][-1])
    return w_in, noise, img


# ---------------------------------------------------------------------------------------------------------------
# Real inputs: seedface.pipeline.face.seed_feeds (seeds -> z -> mapping.onnx -> truncated w, W+ broadcast, seeded noise)

class FeedReader:
    """onnxruntime CalibrationDataReader over precomputed feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self.feeds = feeds
        self.i = 0

    def get_next(self):
        if self.i >= len(self.feeds):
            return None
        self.i += 1
        return self.feeds[self.i - 1]

    def rewind(self):
        self.i = 0

    def __len__(self):
        return len(self.feeds)


# ---------------------------------------------------------------------------------------------------------------
# Image quality on [0,255]-quantized pixels (seedface.eval.metrics)

def run_images(path: Path, feeds: list[dict], output: str, config: dict | None = None) -> np.ndarray:
    """uint8 pixels [N, 3, H, W] of one output over all feeds."""
    sess = session(path, config)
    return np.concatenate([to_pixels(sess.run([output], f)[0]) for f in feeds])


def compare(ref: np.ndarray, test: np.ndarray) -> dict:
    diff = ref.astype(np.float64) - test.astype(np.float64)
    per_image = (diff ** 2).reshape(len(ref), -1).mean(axis=1)
    # Capped so that identical outputs stay valid JSON (JavaScript's JSON.parse rejects Infinity).
    return {
        "psnr_db": round(min(metrics.psnr_db(float(per_image.mean()), 255.0), PSNR_CAP_DB), 3),
        "psnr_min_db": round(min(metrics.psnr_db(float(per_image.max()), 255.0), PSNR_CAP_DB), 3),
        "ssim": round(metrics.ssim_uint8(ref, test), 5),
        "max_abs_diff": int(np.abs(diff).max()),
    }


def latencies_ms(models: dict[str, tuple[Path, dict | None]], feed: dict, runs: int = 21) -> dict[str, float]:
    """Median single-image latency per model in onnxruntime (Python, CPU, one thread), runs interleaved across
    the models so that load from other processes hits them alike; two warm-up runs each."""
    sessions = {name: session(path, config) for name, (path, config) in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(2):
        for s in sessions.values():
            s.run(None, feed)
    for _ in range(runs):
        for name, s in sessions.items():
            t = time.perf_counter()
            s.run(None, feed)
            times[name].append((time.perf_counter() - t) * 1000)
    return {name: round(statistics.median(ts), 3) for name, ts in times.items()}


# ---------------------------------------------------------------------------------------------------------------
# Graph helpers

def weight_layers(model: onnx.ModelProto, min_elems: int = MIN_WEIGHT_ELEMS) -> list[tuple[str, str, int]]:
    """(node name, weight initializer, per-channel axis) of every layer with a constant weight worth quantizing."""
    inits = {i.name: i for i in model.graph.initializer}
    layers = []
    for node in model.graph.node:
        if node.op_type not in WEIGHT_OPS or len(node.input) < 2 or node.input[1] not in inits:
            continue
        init = inits[node.input[1]]
        if init.data_type != onnx.TensorProto.FLOAT or int(np.prod(init.dims)) < min_elems:
            continue
        if node.op_type == "Conv":
            axis = 0
        elif node.op_type == "ConvTranspose":
            axis = 1
        elif node.op_type == "Gemm":
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            axis = 0 if trans_b else 1
        else:  # MatMul: [.., K, N] -> per output column
            axis = len(init.dims) - 1
        layers.append((node.name, init.name, axis))
    return layers


def ensure_node_names(model: onnx.ModelProto) -> None:
    """Quantization excludes/selects nodes by name: give unnamed nodes stable names."""
    seen = set()
    for i, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
        seen.add(node.name)


def weight_only_int8(model: onnx.ModelProto, min_elems: int = MIN_WEIGHT_ELEMS) -> tuple[onnx.ModelProto, int]:
    """Replace float weights of weight layers by int8 (symmetric per channel) + DequantizeLinear.

    Returns (model, number of weights converted). Weights already quantized (e.g. by QDQ) are not float
    initializers any more and are left alone.
    """
    if max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) < 13:
        model = onnx.version_converter.convert_version(model, 13)
    inits = {i.name: i for i in model.graph.initializer}
    done: set[str] = set()
    new_nodes = []
    for _, wname, axis in weight_layers(model, min_elems):
        if wname in done:
            continue
        done.add(wname)
        w = numpy_helper.to_array(inits[wname]).astype(np.float32)
        red = tuple(d for d in range(w.ndim) if d != axis)
        amax = np.abs(w).max(axis=red) if red else np.abs(w)
        scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        bshape = [1] * w.ndim
        bshape[axis] = -1
        q = np.clip(np.rint(w / scale.reshape(bshape)), -127, 127).astype(np.int8)
        model.graph.initializer.remove(inits[wname])
        model.graph.initializer.extend([
            numpy_helper.from_array(q, wname + "_int8"),
            numpy_helper.from_array(scale, wname + "_scale"),
            numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), wname + "_zero_point"),
        ])
        new_nodes.append(helper.make_node(
            "DequantizeLinear", [wname + "_int8", wname + "_scale", wname + "_zero_point"], [wname],
            name=wname + "_DequantizeLinear", axis=axis))
    # Constants first so that the graph stays topologically sorted.
    nodes = new_nodes + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model, len(done)


# ---------------------------------------------------------------------------------------------------------------
# Variant builders: each writes `out` and returns a description

def build_weight_only(src: Path, out: Path) -> dict:
    model, n = weight_only_int8(onnx.load(str(src)))
    onnx.save(model, str(out))
    # With this session option onnxruntime constant-folds the DequantizeLinear nodes at load time, so the model
    # runs exactly as fast as fp32 (without it the weights are dequantized on every run).
    return {"method": "int8 weights (symmetric per output channel) + DequantizeLinear, fp32 compute",
            "quantized_weights": n, "session_config": dict(WEIGHT_ONLY_SESSION_CONFIG)}


def build_dynamic(src: Path, out: Path, layers: list[str]) -> dict:
    quantize_dynamic(str(src), str(out), op_types_to_quantize=list(WEIGHT_OPS), per_channel=True,
                     weight_type=QuantType.QInt8, nodes_to_quantize=layers)
    return {"method": "onnxruntime quantize_dynamic: per-channel int8 weights, per-tensor uint8 activations "
                      "quantized at run time (ConvInteger/MatMulInteger)"}


def _reader_unless_cached(reader: FeedReader, cache: Path) -> FeedReader | None:
    return None if cache.exists() else reader


def build_qdq(src: Path, out: Path, reader: FeedReader | None, cache: Path, layers: list[str],
              exclude: list[str] = ()) -> dict:
    """Static QDQ on `layers` minus `exclude`; excluded layers get int8 storage with fp32 compute."""
    if reader is not None:
        reader.rewind()
    selected = [n for n in layers if n not in set(exclude)]
    tmp = out.with_suffix(".qdq.onnx")
    # onnxruntime >= 1.32 caches calibrated ranges (one calibration for all the sensitivity runs); older versions
    # calibrate on every call.
    caching = "calibration_cache_path" in inspect.signature(quantize_static).parameters
    if not caching and reader is None:
        raise ValueError("this onnxruntime has no calibration cache: pass the calibration reader")
    quantize_static(str(src), str(tmp), reader, quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=list(WEIGHT_OPS), per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_quantize=selected, calibrate_method=CalibrationMethod.MinMax,
                    **({"calibration_cache_path": str(cache)} if caching else {}))
    model, _ = weight_only_int8(onnx.load(str(tmp)))
    tmp.unlink()
    onnx.save(model, str(out))
    return {"method": "static QDQ: per-channel int8 weights, uint8 activations (MinMax calibration on seeded "
                      "inputs)" + (f"; {len(exclude)} most sensitive layers at fp32 compute" if exclude else ""),
            "fp32_layers": list(exclude)}


# ---------------------------------------------------------------------------------------------------------------
# Main entry point

def quantize_model_dir(model_dir, *, n_calib: int = 64, n_eval: int = 256, n_sens: int = 16,
                       variants=ALL_VARIANTS, max_fp32_layers: int = 16, write: bool = True,
                       results_dir: Path | str | None = None, keep_dir: Path | str | None = None) -> dict:
    """Build and measure int8 variants of `model_dir`'s student; write the chosen one as student_int8.onnx.

    n_sens: seeds used for the per-layer sensitivity scan (qdq_mixed). Returns the manifest's `quantization`.
    results_dir: where the JSON report and PNG figures go (default: see default_results_dir).
    keep_dir: if given, every variant is also kept there as student_<variant>.onnx (for runtime benchmarks).
    """
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization warns about pre-processing
    model_dir = Path(model_dir)
    manifest = mf.load(model_dir)
    st = manifest["networks"].get("student")
    if not st:
        raise ValueError(f"{model_dir}: no student network (teacher-only model): nothing to quantize")
    fp32_path = model_dir / st["files"]["fp32"]
    _, _, img_out = student_io(manifest)
    output = img_out["name"]
    variants = [v for v in ALL_VARIANTS if v in set(variants)]
    t0 = time.time()

    with tempfile.TemporaryDirectory(prefix="seedface-quant-") as tmpd:
        tmp = Path(tmpd)
        src = tmp / "fp32_named.onnx"
        model = onnx.load(str(fp32_path))
        ensure_node_names(model)
        onnx.save(model, str(src))
        layer_weights = {n: w for n, w, _ in weight_layers(model)}
        layers = list(layer_weights)
        log(f"{fp32_path} ({fp32_path.stat().st_size / 1e6:.2f} MB): {len(layers)} weight layers, "
            f"measuring {output} over {n_eval} seeds")

        log(f"computing inputs: {n_calib} calibration seeds, {n_eval} evaluation seeds")
        calib = seed_feeds(model_dir, manifest, [f"{CALIB_PREFIX}{i}" for i in range(n_calib)])
        evals = seed_feeds(model_dir, manifest, [f"{EVAL_PREFIX}{i}" for i in range(n_eval)])
        ref = run_images(src, evals, output)
        fp32_bytes = fp32_path.stat().st_size
        log(f"fp32 reference done: {fp32_bytes} bytes")
        reader = FeedReader(calib)
        cache = tmp / "calibration.json"

        # The sensitivity scan and the qdq_mixed search use their own seeds, so the final evaluation is unbiased.
        sens_feeds = seed_feeds(model_dir, manifest, [f"{SENS_PREFIX}{i}" for i in range(n_sens)])
        sens_ref = run_images(src, sens_feeds, output) if sens_feeds else None
        sensitivity = []
        if "qdq_mixed" in variants and n_sens > 0:
            for i, name in enumerate(layers):
                path = tmp / "one_layer.onnx"
                build_qdq(src, path, _reader_unless_cached(reader, cache), cache, [name])
                m = compare(sens_ref, run_images(path, sens_feeds, output))
                sensitivity.append({"node": name, "weight": layer_weights[name], "psnr_db": m["psnr_db"]})
                log(f"sensitivity {i + 1}/{len(layers)}: only {name} ({layer_weights[name]}) quantized -> "
                    f"{m['psnr_db']} dB")
            sensitivity.sort(key=lambda s: s["psnr_db"])

        results = []
        for name in variants:
            path = tmp / f"{name}.onnx"
            log(f"building {name}")
            if name == "weight_only":
                info = build_weight_only(src, path)
            elif name == "dynamic":
                info = build_dynamic(src, path, layers)
            elif name == "qdq_static":
                info = build_qdq(src, path, _reader_unless_cached(reader, cache), cache, layers)
            else:
                info = choose_fp32_layers(src, path, reader, cache, layers, sensitivity, sens_feeds, sens_ref,
                                          output, max_fp32_layers)
            imgs = run_images(path, evals, output, info.get("session_config"))
            m = compare(ref, imgs)
            size = path.stat().st_size
            res = {"name": name, "precision": "int8", **info, "bytes": size,
                   "size_ratio": round(fp32_bytes / size, 3), **m, "seeds": n_eval, "path": str(path)}
            results.append(res)
            log(f"{name}: {size} bytes (x{res['size_ratio']} smaller), PSNR {m['psnr_db']} dB "
                f"(min {m['psnr_min_db']}), SSIM {m['ssim']}")

        log("latency (interleaved runs)")
        lat = latencies_ms({"fp32": (src, None), **{r["name"]: (Path(r["path"]), r.get("session_config"))
                                                   for r in results}}, evals[0])
        fp32_latency = lat["fp32"]
        for r in results:
            r["latency_ms_ort_python"] = lat[r["name"]]

        chosen = choose(results)
        meets = chosen["psnr_db"] >= TARGET_PSNR_DB and chosen["size_ratio"] >= TARGET_SIZE_RATIO
        summary = {
            "method": chosen["method"],
            "chosen": chosen["name"],
            "session_config": chosen.get("session_config", {}),
            "rule": f"smallest file with PSNR >= {TARGET_PSNR_DB} dB vs fp32 on {output}, else the best PSNR",
            "targets": {"psnr_db": TARGET_PSNR_DB, "size_ratio": TARGET_SIZE_RATIO},
            "meets_targets": bool(meets),
            "fp32": {"bytes": fp32_bytes, "latency_ms_ort_python": fp32_latency},
            "metric_output": output,
            "calibration_seeds": n_calib,
            "eval_seeds": f"'{EVAL_PREFIX}0'..'{EVAL_PREFIX}{n_eval - 1}'",
            "variants": [{k: v for k, v in r.items() if k != "path"} for r in results],
            "sensitivity": sensitivity[:12],
        }
        print_table(summary)
        if keep_dir:
            Path(keep_dir).mkdir(parents=True, exist_ok=True)
            for r in results:
                shutil.copyfile(r["path"], Path(keep_dir) / f"student_{r['name']}.onnx")
            log(f"kept all variants in {keep_dir}")
        if write:
            write_outputs(model_dir, manifest, Path(chosen["path"]), summary, meets)
            save_report(model_dir, manifest, summary, ref, results, evals, output, results_dir)
    log(f"done in {time.time() - t0:.1f} s")
    return summary


def choose_fp32_layers(src, out, reader, cache, layers, sensitivity, feeds, ref, output, max_fp32) -> dict:
    """Greedy: keep the most sensitive layers at fp32 compute (1, 2, 4, ...) until PSNR >= target + 1 dB."""
    order = [s["node"] for s in sensitivity]
    if not feeds or not order:  # no sensitivity scan: plain QDQ
        return build_qdq(src, out, _reader_unless_cached(reader, cache), cache, layers)
    tried = []
    k = 0
    while True:
        info = build_qdq(src, out, _reader_unless_cached(reader, cache), cache, layers, order[:k])
        p = compare(ref, run_images(out, feeds, output))["psnr_db"]
        tried.append({"fp32_layers": k, "psnr_db": p})
        log(f"qdq_mixed: {k} layers at fp32 -> {p} dB on {len(feeds)} seeds")
        if p >= TARGET_PSNR_DB + 1.0 or k >= min(max_fp32, len(order)):
            break
        k = min(max(1, 2 * k), max_fp32, len(order))
    info["search"] = tried
    return info


def choose(results: list[dict]) -> dict:
    good = [r for r in results if r["psnr_db"] >= TARGET_PSNR_DB]
    if good:
        return min(good, key=lambda r: (r["bytes"], -r["psnr_db"]))
    return max(results, key=lambda r: r["psnr_db"])


def print_table(summary: dict) -> None:
    head = f"{'variant':<12} {'bytes':>10} {'x smaller':>9} {'PSNR dB':>8} {'min dB':>7} {'SSIM':>7} {'ms':>8}"
    print(head)
    print("-" * len(head))
    fp = summary["fp32"]
    print(f"{'fp32':<12} {fp['bytes']:>10} {1.0:>9.2f} {'-':>8} {'-':>7} {'-':>7} {fp['latency_ms_ort_python']:>8.2f}")
    for r in summary["variants"]:
        mark = " <- chosen" if r["name"] == summary["chosen"] else ""
        print(f"{r['name']:<12} {r['bytes']:>10} {r['size_ratio']:>9.2f} {r['psnr_db']:>8.2f} {r['psnr_min_db']:>7.2f} "
              f"{r['ssim']:>7.4f} {r['latency_ms_ort_python']:>8.2f}{mark}")
    print(f"targets: PSNR >= {TARGET_PSNR_DB} dB, >= {TARGET_SIZE_RATIO}x smaller; met: {summary['meets_targets']}",
          flush=True)


def write_outputs(model_dir: Path, manifest: dict, chosen_path: Path, summary: dict, meets: bool) -> None:
    name = "student_int8.onnx"
    shutil.copyfile(chosen_path, model_dir / name)
    st = manifest["networks"]["student"]
    st["files"]["int8"] = name
    # An int8 model that misses the quality target is kept for measurement but not served by default.
    st["edge_precision"] = "int8" if meets else "fp32"
    mf.set_file(manifest, mf.file_entry(model_dir, name, network="student", precision="int8"))
    manifest["quantization"] = summary
    mf.save(model_dir, manifest)
    log(f"wrote {model_dir / name}; manifest edge_precision={st['edge_precision']}")


def default_results_dir(model_dir: Path) -> Path:
    """<repo>/bench/results when model_dir is inside the repository, else <model_dir's parent>/quantize-reports."""
    for d in model_dir.resolve().parents:
        if (d / "package.json").is_file() and (d / "training").is_dir():
            return d / "bench" / "results"
    return model_dir.resolve().parent / "quantize-reports"


def save_report(model_dir, manifest, summary, ref, results, evals, output, results_dir) -> None:
    """bench/results/quantize-<id>.json and a PNG: fp32 vs each variant (3 seeds, with |diff| x8) + sensitivity."""
    out_dir = Path(results_dir) if results_dir else default_results_dir(Path(model_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    mid = manifest.get("id", Path(model_dir).name)
    (out_dir / f"quantize-{mid}.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    n = min(3, len(ref))
    rows = 1 + 2 * len(results)
    fig = Figure(figsize=(2 * (n + 1), 2 * rows))
    axes = fig.subplots(rows, n + 1, squeeze=False)
    grid = [("fp32", ref[:n])]
    for r in results:
        imgs = run_images(Path(r["path"]), evals[:n], output)
        grid += [(r["name"], imgs), (f"|diff| x8", np.clip(np.abs(imgs.astype(int) - ref[:n].astype(int)) * 8, 0, 255))]
    for row, (label, imgs) in enumerate(grid):
        for col in range(n):
            axes[row][col].imshow(np.asarray(imgs[col]).transpose(1, 2, 0).astype(np.uint8))
            axes[row][col].axis("off")
        axes[row][n].axis("off")
        axes[row][n].text(0, 0.5, label, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / f"quantize-{mid}-grid.png", dpi=56)
    if summary["sensitivity"]:
        sens = summary["sensitivity"]
        fig = Figure(figsize=(8, 0.3 * len(sens) + 1))
        ax = fig.subplots()
        ax.barh([f"{s['weight']} ({s['node']})" for s in sens], [s["psnr_db"] for s in sens])
        ax.axvline(TARGET_PSNR_DB, color="r", ls="--")
        ax.set_xlabel("PSNR (dB) vs fp32 with only this layer quantized (QDQ)")
        ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(out_dir / f"quantize-{mid}-sensitivity.png", dpi=80)
        log(f"report: {out_dir / f'quantize-{mid}.json'} and PNGs")
