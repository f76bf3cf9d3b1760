"""seedface.quantize: int8 variants of a small real student, measured against fp32; the chosen one is written."""
from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from seedface import quantize as quantize_cmd
from seedface.eval import metrics
from seedface.pipeline import face
from seedface.release import manifest as mf, quantize as q
from seedface.release.export import export_model_dir
from seedface.models import build
from seedface.models.config import preset

torch.set_num_threads(1)
# Ops onnxruntime-web's WASM CPU build runs (the quantization ones we may emit, plus the float graph's own ops).
QUANT_OPS = {"DequantizeLinear", "QuantizeLinear", "DynamicQuantizeLinear", "ConvInteger", "MatMulInteger",
             "QLinearConv", "QLinearMatMul"}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    torch.manual_seed(3)
    c = preset("tiny")
    m, t, s = build(c, teacher=False)
    with torch.no_grad():
        mean = m(torch.randn(500, c.style_dim)).mean(0)
    out = tmp_path_factory.mktemp("q") / "tiny"
    export_model_dir(out, c, m, s, None, mean, model_id="tiny-q", version="0.0.1", provenance={},
                     trained=False, status="untrained: test model", training_data=None, quantize=False)
    return out


def sess(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def test_psnr_and_ssim_known_values():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    assert metrics.psnr_db(0.0, 255.0) == float("inf")
    assert metrics.ssim_uint8(a, a) == pytest.approx(1.0)
    assert q.compare(a, a)["psnr_db"] == q.PSNR_CAP_DB  # finite: manifests must stay valid JSON
    b = np.clip(a.astype(int) + rng.choice([-2, 2], a.shape), 0, 255).astype(np.uint8)
    mse = float(((a.astype(float) - b) ** 2).mean())
    assert q.compare(a, b)["psnr_db"] == pytest.approx(10 * np.log10(255 ** 2 / mse), abs=1e-3)
    # constant images: SSIM reduces to the luminance term (2 mx my + C1) / (mx^2 + my^2 + C1)
    x, y = np.full((1, 1, 16, 16), 100, np.uint8), np.full((1, 1, 16, 16), 120, np.uint8)
    c1 = (0.01 * 255) ** 2
    assert metrics.ssim_uint8(x, y) == pytest.approx((2 * 100 * 120 + c1) / (100 ** 2 + 120 ** 2 + c1), rel=1e-9)
    noisier = np.clip(a.astype(int) + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    assert metrics.ssim_uint8(a, noisier) < metrics.ssim_uint8(a, b) < 1.0
    assert metrics.ssim_uint8(a, b) == pytest.approx(metrics.ssim_uint8(b, a))


def test_pixels_follow_the_determinism_spec():
    x = np.array([-1.5, -1.0, 0.0, 0.00392, 1.0, 2.0], np.float32)
    assert face.to_pixels(x).tolist() == [0, 0, 128, 128, 255, 255]  # round((x + 1) * 127.5), clamped


def test_weight_only_int8_per_channel():
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((8, 4, 3, 3)) * np.linspace(0.01, 3, 8)[:, None, None, None]).astype(np.float32)
    g = rng.standard_normal((16, 4)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Gemm", ["v", "G"], ["u"], name="gemm", transB=1)]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 5, 5]),
                                           helper.make_tensor_value_info("v", TensorProto.FLOAT, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 5, 5]),
                               helper.make_tensor_value_info("u", TensorProto.FLOAT, [2, 16])],
                              [numpy_helper.from_array(w, "W"), numpy_helper.from_array(g, "G")])
    # IR 8 (ONNX 1.10+): newer onnx packages default to an IR version older onnxruntimes refuse
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    qm, n = q.weight_only_int8(model)
    onnx.checker.check_model(qm)
    assert n == 2
    inits = {i.name: numpy_helper.to_array(i) for i in qm.graph.initializer}
    assert inits["W_int8"].dtype == np.int8 and "W" not in inits
    # per output channel: every channel uses its full int8 range, so small channels keep their precision
    assert (np.abs(inits["W_int8"]).reshape(8, -1).max(1) == 127).all()
    deq = inits["W_int8"].astype(np.float32) * inits["W_scale"][:, None, None, None]
    assert (np.abs(deq - w) <= inits["W_scale"][:, None, None, None] / 2 + 1e-7).all()
    assert inits["G_scale"].shape == (16,)
    feeds = {"x": rng.standard_normal((1, 4, 5, 5)).astype(np.float32), "v": rng.standard_normal((2, 4)).astype(np.float32)}
    ref = ort.InferenceSession(model.SerializeToString()).run(None, feeds)
    got = ort.InferenceSession(qm.SerializeToString()).run(None, feeds)
    for r, o in zip(ref, got):
        assert np.abs(r - o).max() < 0.02 * np.abs(r).max()


def test_quantize_tiny_model_dir(tiny_dir, tmp_path):
    d = tmp_path / "tiny"
    shutil.copytree(tiny_dir, d)
    fp32_sha = mf.load(d)["files"][1]["sha256"]
    res_dir = tmp_path / "results"
    keep = tmp_path / "variants"
    summary = q.quantize_model_dir(d, n_calib=8, n_eval=16, n_sens=4, results_dir=res_dir, keep_dir=keep)

    man = mf.load(d)
    mf.validate(man, d)
    st = man["networks"]["student"]
    assert st["files"] == {"fp32": "student_fp32.onnx", "int8": "student_int8.onnx"}
    assert any(f["path"] == "student_int8.onnx" and f["precision"] == "int8" for f in man["files"])
    assert man["files"][1]["sha256"] == fp32_sha  # fp32 untouched
    assert man["quantization"] == json.loads(json.dumps(summary))
    names = [v["name"] for v in summary["variants"]]
    assert names == list(q.ALL_VARIANTS)
    for v in summary["variants"]:
        assert v["seeds"] == 16 and v["bytes"] > 0 and 0 < v["ssim"] <= 1 and v["latency_ms_ort_python"] > 0
    # the rule: smallest file reaching the PSNR target
    good = [v for v in summary["variants"] if v["psnr_db"] >= q.TARGET_PSNR_DB]
    assert good, summary["variants"]
    chosen = min(good, key=lambda v: v["bytes"])
    assert summary["chosen"] == chosen["name"]
    assert (d / "student_int8.onnx").stat().st_size == chosen["bytes"]
    # quality threshold on this small model, and a real size reduction (graph overhead is large at this size;
    # the >= 3x target is met by the default 128px model, see its manifest)
    assert chosen["psnr_db"] >= q.TARGET_PSNR_DB
    fp32_bytes = (d / "student_fp32.onnx").stat().st_size
    assert fp32_bytes / chosen["bytes"] >= 2.0
    assert st["edge_precision"] == ("int8" if summary["meets_targets"] else "fp32")
    assert len(summary["sensitivity"]) > 0 and summary["sensitivity"][0]["psnr_db"] <= summary["sensitivity"][-1]["psnr_db"]

    # independent check of the written file on seeds the quantizer never saw
    seeds = ["independent-a", "independent-b", "independent-c"]
    feeds = face.seed_feeds(d, man, seeds)
    out = summary["metric_output"]
    ref = np.concatenate([face.to_pixels(sess(d / "student_fp32.onnx").run([out], f)[0]) for f in feeds])
    got = np.concatenate([face.to_pixels(sess(d / "student_int8.onnx").run([out], f)[0]) for f in feeds])
    assert q.compare(ref, got)["psnr_db"] >= q.TARGET_PSNR_DB - 3

    # every output of the int8 model keeps its name and shape
    s8 = sess(d / "student_int8.onnx")
    assert [o.name for o in s8.get_outputs()] == [o["name"] for o in st["outputs"]]
    ops = {n.op_type for n in onnx.load(str(d / "student_int8.onnx")).graph.node}
    float_ops = {n.op_type for n in onnx.load(str(d / "student_fp32.onnx")).graph.node}
    assert ops - float_ops <= QUANT_OPS

    # the weight-only variant's session option folds its DequantizeLinear nodes at load time (fp32 speed)
    assert summary["session_config"] == chosen.get("session_config", {})
    wo = next(v for v in summary["variants"] if v["name"] == "weight_only")
    assert wo["session_config"] == q.WEIGHT_ONLY_SESSION_CONFIG
    for config, has_dq in ((None, True), (wo["session_config"], False)):
        so = ort.SessionOptions()
        so.optimized_model_filepath = str(tmp_path / "optimized.onnx")
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        for k, v in (config or {}).items():
            so.add_session_config_entry(k, v)
        ort.InferenceSession(str(keep / "student_weight_only.onnx"), so, providers=["CPUExecutionProvider"])
        ops = [n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
        assert ("DequantizeLinear" in ops) == has_dq
    assert sorted(p.name for p in keep.iterdir()) == sorted(f"student_{v}.onnx" for v in q.ALL_VARIANTS)

    assert (res_dir / "quantize-tiny-q.json").is_file()
    assert (res_dir / "quantize-tiny-q-grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_teacher_only_dir_is_refused(tmp_path):
    d = tmp_path / "t"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"networks": {"mapping": {}, "student": None, "teacher": {}}}))
    with pytest.raises(ValueError, match="no student"):
        q.quantize_model_dir(d, n_eval=2, n_calib=2)
    assert quantize_cmd.main([str(d)]) == 2
