"""Teacher vs student size and compute, printed and written to docs/models.md (`npm run report:models`).

Two configurations: the repository's default model directory (counted from its ONNX files), and FFHQ-1024
(the paper's configuration) built with random weights, exported to ONNX in a temporary directory and counted
there (the ground truth); the PyTorch modules are counted too as a cross-check (`--no-onnx` skips the export).

CLI: ``python -m seedface.report_models [--model-dir models/default] [--out docs/models.md] [--no-onnx]``
"""
from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import torch

from seedface.console import logger
from seedface.models import TeacherSynthesis
from seedface.models import build
from seedface.models.config import preset
from seedface.paths import REPO
from seedface.release import counting
from seedface.release.export import export_teacher
from seedface.release.export import export_mapping, export_student, export_teacher

# MobileStyleGAN paper (arXiv 2104.04767), FFHQ 1024: synthesis networks only.
PAPER = {"teacher_params": 28.27e6, "teacher_gmacs": 143.15, "student_params": 8.01e6,
         "student_params_release": 8.85e6, "student_gmacs": 15.09}


log = logger("report")


def default_model_dir() -> Path:
    d = REPO / "models"
    try:
        return d / json.loads((d / "default.json").read_text())["default"]
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        return d / "default"


def count_model_dir(model_dir: Path) -> dict:
    """Counts from the ONNX files of a model directory, plus file sizes per precision from its manifest."""
    man = json.loads((model_dir / "manifest.json").read_text())
    nets = {}
    for name, net in man["networks"].items():
        if not net:
            continue
        path = model_dir / net["files"]["fp32"]
        c = counting.count_onnx(str(path))
        nets[name] = {"params": net.get("params", c["params"]), "onnx_params": c["params"], "macs": c["macs"],
                      "per_output": c["per_output"],
                      "peak": c["per_output_peak_activation_bytes"], "channels": net.get("channels")}
    cfg = man.get("config") or {}
    if "teacher" not in nets and cfg.get("teacher_channels"):
        nets["teacher"] = count_random_teacher(cfg)
    shown = model_dir.relative_to(REPO) if model_dir.is_relative_to(REPO) else model_dir
    files = [{"path": f["path"], "network": f["network"], "precision": f["precision"], "bytes": f["bytes"]}
             for f in man["files"]]
    return {"id": man["id"], "name": f"{man['id']} ({man['resolution']}px, {'trained' if man.get('trained') else 'untrained'})",
            "resolution": man["resolution"], "style_dim": man["style_dim"], "networks": nets, "files": files,
            "quantization": man.get("quantization"), "source": f"ONNX files in {shown}"}


def count_random_teacher(cfg: dict) -> dict:
    """The directory has no teacher: count one of its configuration with random weights (from ONNX)."""
    torch.manual_seed(0)
    t = TeacherSynthesis(cfg["resolution"], cfg["style_dim"], cfg["teacher_channels"]).eval()
    with tempfile.TemporaryDirectory(prefix="seedface-report-") as tmp:
        path = Path(tmp) / "teacher.onnx"
        export_teacher(t, path, check=False)
        c = counting.count_onnx(str(path))
    return {"params": counting.count_torch(t), "onnx_params": c["params"], "macs": c["macs"],
            "per_output": c["per_output"], "peak": c["per_output_peak_activation_bytes"],
            "channels": list(t.channels), "note": "not in the directory: its configuration with random weights"}


def count_preset(name: str, onnx: bool = True) -> dict:
    """A preset with random weights: PyTorch module counts, and ONNX counts from a temporary export."""

    torch.manual_seed(0)
    cfg = preset(name)
    mapping, teacher, student = (m.eval() for m in build(cfg))
    nets = {}
    with torch.no_grad():
        w_s = torch.randn(1, student.n_w, cfg.style_dim)
        w_t = torch.randn(1, teacher.n_w, cfg.style_dim)
        z = torch.randn(1, cfg.style_dim)
        t0 = time.time()
        torch_macs = {
            "mapping": counting.count_torch_macs(mapping, z),
            "student": counting.count_torch_macs(student, w_s, [torch.randn(1, 1, s, s) for s in student.noise_sizes()]),
            "teacher": counting.count_torch_macs(teacher, w_t, [torch.randn(1, 1, s, s) for s in teacher.noise_sizes()]),
        }
        log(f"{name}: PyTorch forward passes counted in {time.time() - t0:.1f} s")
    modules = {"mapping": mapping, "student": student, "teacher": teacher}
    for k, mod in modules.items():
        nets[k] = {"params": counting.count_torch(mod), "torch_macs": torch_macs[k], "macs": torch_macs[k],
                   "channels": getattr(mod, "channels", None), "per_output": {}, "peak": {}}
    source = "PyTorch modules (random weights)"
    if onnx:
        with tempfile.TemporaryDirectory(prefix="seedface-report-") as tmp:
            for k, fn in (("mapping", export_mapping), ("student", export_student), ("teacher", export_teacher)):
                t0 = time.time()
                path = Path(tmp) / f"{k}.onnx"
                fn(modules[k], path, check=False)
                c = counting.count_onnx(str(path))
                nets[k].update(onnx_params=c["params"], macs=c["macs"], per_output=c["per_output"],
                               peak=c["per_output_peak_activation_bytes"], onnx_bytes=path.stat().st_size)
                path.unlink()
                log(f"{name}: {k} exported and counted from ONNX in {time.time() - t0:.1f} s")
        source = "ONNX export of random weights (PyTorch modules as cross-check)"
    return {"name": f"{name} ({cfg.resolution}px, random weights)", "resolution": cfg.resolution,
            "style_dim": cfg.style_dim, "networks": nets, "files": [], "quantization": None, "source": source}


def _m(n) -> str:
    return f"{n / 1e6:.2f} M"


def _g(n) -> str:
    return f"{n / 1e9:.3f}"


def workerd_table(path: Path, model_id: str) -> list[str]:
    """Lines for the variants' latency inside workerd (`npm run bench:quant:workerd`), if measured for this model."""
    if not path.is_file():
        return []
    res = json.loads(path.read_text())
    if res.get("model") != model_id:
        return []
    out = ["", f"Latency per variant inside workerd (`npm run bench:quant:workerd`, {path.name}, {res['created'][:16]}Z: "
                f"the real worker built with that variant as its edge student, {res['runs']} warm cache misses per "
                f"variant at {res['resolution']}px, rounds interleaved; {res['machine']}). *infer* is the worker's "
                "Server-Timing for seed -> w -> student (workerd's clock has whole-ms steps, hence the mean too); "
                "*HTTP* is the client's time for the whole cache miss (PNG included):", "",
           "| variant | size | PSNR dB | workerd infer median ms | workerd infer mean ms | workerd HTTP median ms |",
           "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        psnr = "-" if r.get("psnr_db") is None else r["psnr_db"]
        if "error" in r:
            out.append(f"| {r['variant']} | {r['bytes'] / 2 ** 20:.2f} MiB | {psnr} | failed: {r['error']} | | |")
        else:
            out.append(f"| {r['variant']} | {r['bytes'] / 2 ** 20:.2f} MiB | {psnr} | {r['workerd_infer_median_ms']} | "
                       f"{r['workerd_infer_mean_ms']} | {r['workerd_http_median_ms']} |")
    return out


def render(configs: list[dict]) -> str:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    out = ["# Models: teacher vs student", "",
           f"Generated by `npm run report:models` ({now}). MACs are counted from the ONNX graphs by "
           "`seedface.release.counting` (Conv: output elements x C_in/groups x kh x kw; MatMul/Gemm: output elements x K; "
           "element-wise ops not counted), batch 1. *Params* are the PyTorch modules' parameters; *ONNX params* "
           "count the exported initializers (static demodulation folded, Haar filters included).", "",
           "## Synthesis networks", "",
           "| configuration | network | params | ONNX params | GMACs | GFLOPs (2 x MACs) | teacher/student MACs |",
           "|---|---|---|---|---|---|---|"]
    for c in configs:
        n = c["networks"]
        ratio = n["teacher"]["macs"] / n["student"]["macs"] if "teacher" in n and n["student"]["macs"] else None
        for k in ("teacher", "student", "mapping"):
            if k not in n:
                continue
            label = {"teacher": "teacher (StyleGAN2)", "student": "student (MobileStyleGAN)", "mapping": "mapping"}[k]
            if n[k].get("note"):
                label += f" ({n[k]['note']})"
            onnx_p = _m(n[k]["onnx_params"]) if "onnx_params" in n[k] else "-"
            r = f"x{ratio:.2f}" if ratio and k == "student" else ""
            out.append(f"| {c['name']} | {label} | {_m(n[k]['params'])} | {onnx_p} | "
                       f"{_g(n[k]['macs'])} | {_g(2 * n[k]['macs'])} | {r} |")
    out += ["", f"Paper (FFHQ 1024, synthesis only): teacher {PAPER['teacher_params'] / 1e6:.2f} M params, "
                f"{PAPER['teacher_gmacs']} GMAC; student {PAPER['student_params'] / 1e6:.2f} M "
                f"({PAPER['student_params_release'] / 1e6:.2f} M counted from the release), "
                f"{PAPER['student_gmacs']} GMAC (x{PAPER['teacher_gmacs'] / PAPER['student_gmacs']:.1f}).", ""]
    big = next((c for c in configs if c["resolution"] == 1024 and "teacher" in c["networks"]), None)
    if big:
        t, s_ = big["networks"]["teacher"], big["networks"]["student"]
        out += [f"At 1024 our counts give teacher {t['params'] / 1e6:.2f} M params / {_g(t['macs'])} GMAC and student "
                f"{s_['params'] / 1e6:.2f} M / {_g(s_['macs'])} GMAC (x{t['macs'] / s_['macs']:.2f}). The parameter "
                "counts match the paper/release; the MAC counts are about half the paper's for both networks while "
                f"the ratio agrees: the paper's figures are close to 2 operations per multiply-accumulate (GFLOPs "
                f"column: {_g(2 * t['macs'])} vs {PAPER['teacher_gmacs']}, {_g(2 * s_['macs'])} vs "
                f"{PAPER['student_gmacs']}). (Counting the teacher's upsampling convs at their output resolution, x4, "
                "would also bring the teacher near 143 G but leave the student at half the paper's figure.)", ""]
    for c in configs:
        n = c["networks"]
        if "torch_macs" in n["student"]:
            out.append(f"Cross-check for {c['name']}: MACs counted on the PyTorch forward pass: student "
                       f"{_g(n['student']['torch_macs'])} G, teacher {_g(n['teacher']['torch_macs'])} G "
                       f"(the ONNX student has the demodulation folded, the PyTorch one computes it).")
    out += ["", "## Student MACs per output level", "",
            "Cumulative: the part of the student needed to produce that output (what the edge runs when it stops "
            "early at a smaller size). Peak activation: the largest single node's live tensors, fp32, batch 1.", ""]
    for c in configs:
        st = c["networks"]["student"]
        if not st["per_output"]:
            continue
        out += [f"### {c['name']}", "", "| output | GMACs | share of full | peak activation |", "|---|---|---|---|"]
        for o, macs in sorted(st["per_output"].items(), key=lambda kv: kv[1]):
            out.append(f"| {o} | {_g(macs)} | {100 * macs / st['macs']:.1f}% | "
                       f"{st['peak'].get(o, 0) / 2 ** 20:.2f} MiB |")
        out.append("")
    for c in configs:
        if not c["files"]:
            continue
        out += [f"## Files of {c['name']}", "", "| file | network | precision | size |", "|---|---|---|---|"]
        for f in c["files"]:
            out.append(f"| `{f['path']}` | {f['network']} | {f['precision']} | {f['bytes'] / 2 ** 20:.2f} MiB |")
        qz = c.get("quantization")
        if qz:
            out += ["", f"int8 variants of the student (vs fp32 on `{qz['metric_output']}`, {qz['variants'][0]['seeds']} "
                        f"seeds; chosen: **{qz['chosen']}**; rule: {qz['rule']}):", "",
                    "| variant | size | x smaller | PSNR dB | min PSNR dB | SSIM | ORT (Python, 1 thread) ms |",
                    "|---|---|---|---|---|---|---|",
                    f"| fp32 | {qz['fp32']['bytes'] / 2 ** 20:.2f} MiB | 1.00 | - | - | - | "
                    f"{qz['fp32']['latency_ms_ort_python']} |"]
            for v in qz["variants"]:
                out.append(f"| {v['name']} | {v['bytes'] / 2 ** 20:.2f} MiB | {v['size_ratio']:.2f} | {v['psnr_db']} | "
                           f"{v['psnr_min_db']} | {v['ssim']} | {v['latency_ms_ort_python']} |")
            if qz.get("session_config"):
                out += ["", f"Load `student_int8.onnx` with the session config {json.dumps(qz['session_config'])} "
                            "(manifest `quantization.session_config`): it folds the weight dequantization at load time."]
            if qz.get("sensitivity"):
                worst = ", ".join(f"`{x.get('weight', x['node'])}` {x['psnr_db']} dB" for x in qz["sensitivity"][:6])
                out += ["", f"Most quantization-sensitive layers (QDQ with only that layer quantized): {worst}."]
            bench = REPO / "bench" / "results" / f"quant-variants-{c['id']}.json"
            if bench.is_file():
                rows = json.loads(bench.read_text())["rows"]
                out += ["", f"Latency per variant in JavaScript runtimes (`npm run bench:quant`, {bench.name}: batch 1, one "
                            "thread, median of interleaved runs on a shared, noisy 2-core machine, so compare rows of one "
                            "runtime only roughly; the edge's workerd figures are in the next table when measured):", "",
                        "| runtime | variant | median ms | session create + first run ms |", "|---|---|---|---|"]
                out += [f"| {r['runtime']} | {r['variant']} | {r['median_ms']} | {r['create_and_first_ms']} |" for r in rows]
            out += workerd_table(REPO / "bench" / "results" / "quant-workerd.json", c["id"])
        out.append("")
    out += ["Sources: " + "; ".join(f"{c['name']}: {c['source']}" for c in configs), ""]
    out += ["## Commands", "",
            "- `npm run convert -- <file...> --out models/<id> [--id ID] [--psi 0.7] [--no-quantize] [--force]`: import "
            "a MobileStyleGAN release `.ckpt` (mapping + teacher + student), the release converter's two teacher-only "
            "`{params, ckpt}` files (writes a teacher-only directory, `networks.student: null`), or the release's "
            "`MappingNetwork.onnx` + `SynthesisNetwork.onnx` (single resolution, frozen noise). Paths are relative to "
            "the repository root; nothing is left in `--out` on failure.",
            "- `npm run quantize -- models/<id> [--n-eval 256] [--n-calib 64] [--n-sens 16] [--keep-variants DIR]`: "
            "build and measure the int8 variants, write `student_int8.onnx` and the manifest's `quantization`, and "
            "`bench/results/quantize-<id>.json` with PNGs (fp32 vs variants, per-layer sensitivity).",
            "- `npm run bench:quant -- models/<id> DIR`: latency of the variants kept in DIR in onnxruntime-node and "
            "onnxruntime-web (WASM).",
            "- `npm run bench:quant:workerd -- [models/<id>] [DIR]`: latency of fp32 and each variant in DIR (default: "
            "quantize a temporary copy) inside workerd: the real worker built per variant, warm renders over HTTP.",
            "- `npm run report:models`: this page.", ""]
    return "\n".join(out)
