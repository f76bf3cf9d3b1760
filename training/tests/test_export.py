"""ONNX export of a model directory: parity with PyTorch, names/shapes per docs/model-format.md, manifest, atomicity."""
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from seedface.release import export as ex
from seedface.release import manifest as mf
from seedface.pipeline import seeding
from seedface.models import build, preset

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    torch.manual_seed(21)
    cfg = preset("tiny")
    m, t, s = build(cfg)
    with torch.no_grad():
        for mod in (t, s):
            for n, p in mod.named_parameters():
                if n.endswith("noise.weight") or n.endswith("bias"):
                    p.normal_(0, 0.1)
    mean = m.mean_w(200)
    out = tmp_path_factory.mktemp("models") / "tiny"
    man = ex.export_model_dir(out, cfg, m, s, t, mean, model_id="tiny", version="0.0.1",
                              provenance={"source": "random-init", "from": "test"}, trained=False,
                              status="untrained: test", training_data=None, quantize=False)
    return out, man, cfg, m, t, s, mean


def sess(p):
    return ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_files_and_manifest(tiny_dir):
    out, man, cfg, m, t, s, mean = tiny_dir
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "mapping.onnx", "student_fp32.onnx",
                                                     "teacher.onnx"]
    assert mf.load(out) == man
    mf.validate(man, out)
    assert man["format"] == "seedface-model/1" and man["resolution"] == 64 and man["style_dim"] == 64
    assert man["trained"] is False and man["training_data"] is None
    st = man["networks"]["student"]
    assert st["n_w"] == 11 and st["channels"] == [64, 64, 32, 16]
    assert [i["name"] for i in st["inputs"]] == ["w"] + [f"noise_{k}" for k in range(7)]
    assert [i["shape"] for i in st["inputs"][1:]] == [[1, 1, k, k] for k in s.noise_sizes()]
    assert [o["name"] for o in st["outputs"]] == ["img_8", "img_16", "img_32", "img_64"]
    assert [lv["size"] for lv in st["levels"]] == [8, 16, 32, 64]
    assert all(lv["macs"] > 0 and lv["peak_activation_bytes"] > 0 for lv in st["levels"])
    assert man["networks"]["teacher"]["n_w"] == 10
    assert len(man["networks"]["teacher"]["inputs"]) == 1 + len(t.noise_sizes())
    assert np.allclose(man["truncation"]["mean"], mean.numpy(), atol=1e-7)
    for name, net in man["networks"].items():
        assert all(v <= ex.PARITY_RTOL for v in net["parity_max_rel_err"].values()), name


def test_onnx_graphs_follow_the_format(tiny_dir):
    out, man, *_ = tiny_dir
    for f in ("mapping.onnx", "student_fp32.onnx", "teacher.onnx"):
        model = onnx.load(str(out / f))
        assert any(o.domain in ("", "ai.onnx") and o.version == 17 for o in model.opset_import)
        assert all(n.domain in ("", "ai.onnx") for n in model.graph.node), "plain ONNX ops only"
        ins = {i.name: i for i in model.graph.input}
        batch_dim = ins["z" if f == "mapping.onnx" else "w"].type.tensor_type.shape.dim[0]
        assert batch_dim.dim_param == "B"
        for o in model.graph.output:
            assert o.type.tensor_type.shape.dim[0].dim_param == "B"
        for name, vi in ins.items():
            if name.startswith("noise_"):
                assert [d.dim_value for d in vi.type.tensor_type.shape.dim][:2] == [1, 1]
    # the student carries no demodulation buffers or weight arithmetic: folded
    st = onnx.load(str(out / "student_fp32.onnx"))
    assert not any(n.op_type in ("Pow", "Sqrt", "Reciprocal", "ReduceSum") for n in st.graph.node)
    # laid out for ORT: each inverse Haar (heads and upsamples) is one ConvTranspose, no DepthToSpace, no elementwise
    # wavelet arithmetic, one modulation Gemm per W+ slot and kind
    ops = [n.op_type for n in st.graph.node]
    n_blocks = len(man["networks"]["student"]["channels"]) - 1
    assert ops.count("ConvTranspose") == 2 * n_blocks + 1
    assert not {"DepthToSpace", "Sub", "Concat", "Unsqueeze"} & set(ops)
    assert ops.count("Gemm") <= 3 * n_blocks + 3


def test_parity_every_output_dynamic_batch(tiny_dir):
    out, man, cfg, m, t, s, mean = tiny_dir
    for batch in (1, 4):
        g = torch.Generator().manual_seed(batch)
        z = torch.randn(batch, cfg.style_dim, generator=g)
        (w_onnx,) = sess(out / "mapping.onnx").run(None, {"z": z.numpy()})
        with torch.no_grad():
            w_ref = m(z)
        assert rel(w_onnx, w_ref.numpy()) <= 1e-4
        wp = torch.randn(batch, s.n_w, cfg.style_dim, generator=g)
        noise = [torch.randn(1, 1, k, k, generator=g) for k in t.noise_sizes()]
        feeds = {"w": wp.numpy()}
        feeds.update({f"noise_{k}": n.numpy() for k, n in enumerate(noise[: len(s.noise_sizes())])})
        names = [o["name"] for o in man["networks"]["student"]["outputs"]]
        got = sess(out / "student_fp32.onnx").run(names, feeds)
        with torch.no_grad():
            ref = s(wp, noise[: len(s.noise_sizes())])["imgs"]
        for n, a, b in zip(names, got, ref):
            assert a.shape == tuple(b.shape), n
            assert rel(a, b.numpy()) <= 1e-4, n
        wt = torch.randn(batch, t.n_w, cfg.style_dim, generator=g)
        tfeeds = {"w": wt.numpy()}
        tfeeds.update({f"noise_{k}": n.numpy() for k, n in enumerate(noise)})
        (img,) = sess(out / "teacher.onnx").run(None, tfeeds)
        with torch.no_grad():
            ref_t = t(wt, noise)
        assert rel(img, ref_t.numpy()) <= 1e-4


def test_seed_to_face_pipeline_matches_torch(tiny_dir):
    """The edge's path: seed -> z -> mapping.onnx -> truncation -> W+ broadcast + seeded noise -> student."""
    out, man, cfg, m, t, s, mean = tiny_dir
    seed = "alice@example.com"
    z = seeding.latent(seed, man["style_dim"])[None]
    (w,) = sess(out / "mapping.onnx").run(None, {"z": z})
    mu = np.array(man["truncation"]["mean"], dtype=np.float32)
    w = (mu + np.float32(0.7) * (w - mu)).astype(np.float32)
    wp = np.repeat(w[:, None], man["networks"]["student"]["n_w"], axis=1)
    sizes = [i["shape"][-1] for i in man["networks"]["student"]["inputs"][1:]]
    feeds = {"w": wp}
    feeds.update({f"noise_{k}": n for k, n in enumerate(seeding.noise_maps(seed, sizes))})
    (img,) = sess(out / "student_fp32.onnx").run(["img_64"], feeds)
    with torch.no_grad():
        ref = s(torch.from_numpy(wp), [torch.from_numpy(feeds[f"noise_{k}"]) for k in range(len(sizes))])["img"]
    assert rel(img, ref.numpy()) <= 1e-4


def test_export_failure_leaves_nothing(tmp_path, monkeypatch):
    torch.manual_seed(0)
    cfg = preset("tiny")
    m, t, s = build(cfg)
    target = tmp_path / "broken"
    monkeypatch.setattr(ex, "PARITY_RTOL", -1.0)  # every parity check fails
    with pytest.raises(ex.ExportError, match="relative error"):
        ex.export_model_dir(target, cfg, m, s, None, m.mean_w(10), model_id="broken", version="0", provenance={},
                            trained=False, status="x", training_data=None, quantize=False)
    assert list(tmp_path.iterdir()) == []
    # an existing directory is left untouched by a failed export
    target.mkdir()
    (target / "keep.txt").write_text("old")
    with pytest.raises(ex.ExportError):
        ex.export_model_dir(target, cfg, m, s, None, m.mean_w(10), model_id="broken", version="0", provenance={},
                            trained=False, status="x", training_data=None, quantize=False)
    assert [p.name for p in tmp_path.iterdir()] == ["broken"] and (target / "keep.txt").read_text() == "old"


def test_manifest_validation_messages(tiny_dir):
    out, man, *_ = tiny_dir
    bad = json.loads(json.dumps(man))
    bad["networks"]["student"]["edge_precision"] = "int8"
    with pytest.raises(mf.ManifestError, match="edge_precision"):
        mf.validate(bad)
    bad = json.loads(json.dumps(man))
    del bad["networks"]["mapping"]
    with pytest.raises(mf.ManifestError, match="networks.mapping is required"):
        mf.validate(bad)
    bad = json.loads(json.dumps(man))
    bad["truncation"]["mean"] = bad["truncation"]["mean"][:-1]
    with pytest.raises(mf.ManifestError, match="truncation.mean"):
        mf.validate(bad)
    bad = json.loads(json.dumps(man))
    bad["files"][0]["sha256"] = "0" * 64
    with pytest.raises(mf.ManifestError, match="sha256"):
        mf.validate(bad, out)
    e = mf.file_entry(out, "mapping.onnx", "mapping", "fp32")
    assert e["bytes"] == (out / "mapping.onnx").stat().st_size and len(e["sha256"]) == 64


def test_committed_default_model():
    """The model that models/default.json names validates, matches its sha256s and runs every output."""
    model_id = json.loads((REPO / "models" / "default.json").read_text())["default"]
    d = REPO / "models" / model_id
    man = mf.load(d)
    mf.validate(man, d)
    assert man["id"] == model_id
    if man["trained"]:
        # Trained here (faces64) or imported from a release (ffhq): either way where it came from and its licence.
        assert man["provenance"]["source"] in ("trained-here", "imported") and man["training_data"]["licence"]
        assert man["provenance"]["from"]
    else:
        assert "untrained" in man["status"]
    st = man["networks"]["student"]
    assert st["edge_precision"] in st["files"]
    seed = "default-model-check"
    z = seeding.latent(seed, man["style_dim"])[None]
    (w,) = sess(d / man["networks"]["mapping"]["files"]["fp32"]).run(None, {"z": z})
    wp = np.repeat(w[:, None], st["n_w"], axis=1)
    feeds = {"w": wp}
    feeds.update({i["name"]: seeding.noise_maps(seed, [i["shape"][-1]] * (k + 1))[k]
                  for k, i in enumerate(st["inputs"][1:])})
    outs = sess(d / st["files"]["fp32"]).run(None, feeds)
    assert [o.shape for o in outs] == [(1, 3, o["size"], o["size"]) for o in st["outputs"]]
    assert all(np.isfinite(o).all() for o in outs)


def test_teacher_only_manifest_validates(tiny_dir):
    out, man, *_ = tiny_dir
    t_only = json.loads(json.dumps(man))
    t_only["networks"]["student"] = None
    t_only["files"] = [f for f in t_only["files"] if f["network"] != "student"]
    mf.validate(t_only, out)
    del t_only["networks"]["teacher"]
    with pytest.raises(mf.ManifestError, match="teacher-only"):
        mf.validate(t_only)
