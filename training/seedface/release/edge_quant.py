"""int8 edge files for a large imported model: student and mapping, weight-only int8, measured at every level.

    python -m seedface.edge_quant models/ffhq [--seeds 64] [--edge-max 256]

Weight-only int8 (symmetric per output channel + DequantizeLinear, seedface.quantize.weight_only_int8) for both
networks: activations stay fp32, so the quality loss is the weights' rounding alone. Measured over seeds
"eval/<i>" rendered as the edge renders them (int8 mapping -> truncation -> int8 student) against the origin's
fp32 pair, per level: PSNR (median, min) on [-1, 1] images. Targets: median >= 35 dB at every level the edge serves
(the rule seedface.quantize uses),
edge files >= 3x smaller than fp32.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx

from seedface.console import logger
from seedface.eval import metrics
from seedface.pipeline.face import seed_feeds
from seedface.pipeline.runtime import session
from seedface.release import manifest as mf
from seedface.release.quantize import WEIGHT_ONLY_SESSION_CONFIG, weight_only_int8

TARGET_DB = 35.0
TARGET_RATIO = 3.0


log = logger("edge_quant")


def quantize_edge(model_dir: Path, n_seeds: int = 64, edge_max: int = 256) -> dict:
    model_dir = Path(model_dir)
    man = mf.load(model_dir)
    st, mp = man["networks"]["student"], man["networks"]["mapping"]
    t0 = time.time()
    outs = {}
    for net, name in ((st, "student_int8.onnx"), (mp, "mapping_int8.onnx")):
        src = model_dir / net["files"]["fp32"]
        model, n = weight_only_int8(onnx.load(str(src)))
        onnx.save(model, str(model_dir / name))
        outs[name] = n
        log(f"{name}: {n} weight tensors int8, {(model_dir / name).stat().st_size / 1e6:.2f} MB "
            f"(fp32 {src.stat().st_size / 1e6:.2f} MB)")
    cfg = dict(WEIGHT_ONLY_SESSION_CONFIG)
    maps = {"fp32": session(model_dir / mp["files"]["fp32"]), "int8": session(model_dir / "mapping_int8.onnx", cfg)}
    stus = {"fp32": session(model_dir / st["files"]["fp32"]), "int8": session(model_dir / "student_int8.onnx", cfg)}
    out_names = [o["name"] for o in st["outputs"]]
    per_level = {o: [] for o in out_names}
    for i in range(n_seeds):
        seed = f"eval/{i}"
        res = {}
        for p in ("fp32", "int8"):
            res[p] = stus[p].run(out_names, seed_feeds(model_dir, man, [seed], mapping=maps[p])[0])
        for o, a, b in zip(out_names, res["fp32"], res["int8"]):
            per_level[o].append(float(metrics.psnr(b, a, clip=True, min_mse=1e-12)[0]))
        if i % 16 == 0:
            log(f"{i + 1}/{n_seeds} seeds ({time.time() - t0:.0f} s)")
    levels = []
    for o in st["outputs"]:
        v = np.asarray(per_level[o["name"]])
        levels.append({"size": int(o["size"]), "output": o["name"], "psnr_db": round(float(np.median(v)), 2),
                       "psnr_min_db": round(float(v.min()), 2), "edge": int(o["size"]) <= edge_max})
    fp32_bytes = (model_dir / st["files"]["fp32"]).stat().st_size + (model_dir / mp["files"]["fp32"]).stat().st_size
    int8_bytes = (model_dir / "student_int8.onnx").stat().st_size + (model_dir / "mapping_int8.onnx").stat().st_size
    ratio = fp32_bytes / int8_bytes
    meets = all(l["psnr_db"] >= TARGET_DB for l in levels if l["edge"]) and ratio >= TARGET_RATIO
    summary = {
        "method": "int8 weights (symmetric per output channel) + DequantizeLinear, fp32 compute; student and mapping",
        "chosen": "weight_only", "session_config": cfg,
        "rule": f"every level the edge serves (<= {edge_max} px) at >= {TARGET_DB} dB median PSNR vs fp32 (the min "
                f"over seeds is reported too), "
                f"edge files >= {TARGET_RATIO}x smaller",
        "targets": {"psnr_db": TARGET_DB, "size_ratio": TARGET_RATIO}, "meets_targets": bool(meets),
        "eval_seeds": f"'eval/0'..'eval/{n_seeds - 1}' at psi {man['truncation']['default_psi']}",
        "fp32": {"bytes": fp32_bytes}, "int8": {"bytes": int8_bytes}, "size_ratio": round(ratio, 3),
        "levels": levels, "seconds": round(time.time() - t0, 1),
    }
    st["files"]["int8"] = "student_int8.onnx"
    st["edge_precision"] = "int8" if meets else "fp32"
    mp["files"]["int8"] = "mapping_int8.onnx"
    mp["edge_precision"] = "int8" if meets else "fp32"
    mf.set_file(man, mf.file_entry(model_dir, "student_int8.onnx", "student", "int8"))
    mf.set_file(man, mf.file_entry(model_dir, "mapping_int8.onnx", "mapping", "int8"))
    man["quantization"] = summary
    mf.validate(man, model_dir)
    mf.save(model_dir, man)
    for l in levels:
        log(f"  {l['output']:>9}: {l['psnr_db']:6.2f} dB median, {l['psnr_min_db']:6.2f} min"
            + ("" if l["edge"] else "  (origin only)"))
    log(f"edge files {int8_bytes / 1e6:.2f} MB vs fp32 {fp32_bytes / 1e6:.2f} MB ({ratio:.2f}x); "
        f"targets {'met' if meets else 'NOT met'}")
    return summary
