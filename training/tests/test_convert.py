"""seedface.convert: the three published layouts -> model directories equal to the torch modules; clear errors."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seedface import convert
from seedface.release import manifest as mf
from seedface.pipeline import seeding
from seedface.models.checkpoint import state_dict_published
from seedface.models import MappingNetwork, StudentSynthesis, TeacherSynthesis
from seedface.models.config import preset

REPO = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)


def sess(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def rel_err(got, ref):
    return float(np.max(np.abs(got - ref)) / max(float(np.max(np.abs(ref))), 1e-12))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    c = preset("tiny")
    m = MappingNetwork(c.style_dim, c.n_mlp).eval()
    t = TeacherSynthesis(c.resolution, c.style_dim, c.teacher_channels).eval()
    s = StudentSynthesis(c.style_dim, c.student_channels).eval()
    with torch.no_grad():
        for p in list(t.parameters()) + list(s.parameters()):  # move noise weights off 0 so noise matters
            if p.numel() == 1:
                p.fill_(0.3)
        mean = m(torch.randn(500, c.style_dim)).mean(0)
    return c, m, t, s, mean


@pytest.fixture(scope="module")
def lightning_ckpt(tiny, tmp_path_factory):
    c, m, t, s, mean = tiny
    sd = state_dict_published(m, t, s, mean)
    sd["loss.vgg.weight"] = torch.zeros(3)  # training-only entries the release carries
    sd["inception.fc.weight"] = torch.zeros(2)
    path = tmp_path_factory.mktemp("ckpt") / "mobilestylegan_tiny.ckpt"
    torch.save({"state_dict": sd, "epoch": 7, "global_step": 1000, "pytorch-lightning_version": "1.0.2",
                "hyper_parameters": {"lr": 5e-4, "mode": "distill"}}, path)
    return path


def run(args, capsys):
    code = convert.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_failed_cleanly(code, err, out_dir: Path, *phrases):
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("convert: error:"), err
    for p in phrases:
        assert p in lines[0], (p, lines[0])
    assert not out_dir.exists()
    if out_dir.parent.exists():  # no temporary leftovers either
        assert not [p for p in out_dir.parent.iterdir() if p.name.startswith(f".{out_dir.name}.")]


def student_feeds(manifest, seed):
    st = manifest["networks"]["student"]
    noise = [i for i in st["inputs"] if i["name"].startswith("noise_")]
    return [np.asarray(n, np.float32) for n in seeding.noise_maps(seed, [i["shape"][-1] for i in noise])]


def test_lightning_checkpoint_to_model_dir(tiny, lightning_ckpt, tmp_path, capsys):
    c, m, t, s, mean = tiny
    out = tmp_path / "models" / "imported"
    code, stdout, err = run([lightning_ckpt, "--out", out, "--psi", "0.5", "--n-eval", "8", "--n-calib", "4"],
                            capsys)
    assert code == 0, err
    assert "input kind: lightning-ckpt" in stdout
    man = mf.load(out)
    mf.validate(man, out)
    assert man["id"] == "imported" and man["trained"] is True
    assert man["provenance"]["source"] == "imported" and man["provenance"]["kind"] == "lightning-ckpt"
    assert man["provenance"]["from"][0]["file"] == lightning_ckpt.name
    assert man["truncation"]["default_psi"] == 0.5
    np.testing.assert_allclose(man["truncation"]["mean"], mean.numpy(), rtol=1e-6, atol=1e-6)
    assert {"mapping", "student", "teacher"} <= set(man["networks"])
    st = man["networks"]["student"]
    assert st["files"]["int8"] == "student_int8.onnx" and (out / "student_int8.onnx").is_file()
    assert man["quantization"]["chosen"] in {v["name"] for v in man["quantization"]["variants"]}

    z = np.stack([seeding.latent(x, c.style_dim) for x in ("a", "b")])
    with torch.no_grad():
        w_ref = m(torch.from_numpy(z)).numpy()
    w = sess(out / "mapping.onnx").run(["w"], {"z": z})[0]
    assert rel_err(w, w_ref) < 1e-4

    wp = np.repeat(w_ref[:1, None, :], st["n_w"], axis=1).astype(np.float32)
    noise = student_feeds(man, "a")
    feeds = {"w": wp, **{f"noise_{k}": n for k, n in enumerate(noise)}}
    got = sess(out / "student_fp32.onnx").run([o["name"] for o in st["outputs"]], feeds)
    with torch.no_grad():
        ref = s(torch.from_numpy(wp), [torch.from_numpy(n) for n in noise])["imgs"]
    assert len(got) == len(ref) == len(c.student_channels)
    for g, r in zip(got, ref):
        assert rel_err(g, r.numpy()) < 1e-4

    te = man["networks"]["teacher"]
    tnoise = [np.asarray(n, np.float32) for n in seeding.noise_maps("a", [i["shape"][-1] for i in te["inputs"][1:]])]
    tw = np.repeat(w_ref[:1, None, :], te["n_w"], axis=1).astype(np.float32)
    timg = sess(out / "teacher.onnx").run(None, {"w": tw, **{f"noise_{k}": n for k, n in enumerate(tnoise)}})[0]
    with torch.no_grad():
        tref = t(torch.from_numpy(tw), [torch.from_numpy(n) for n in tnoise]).numpy()
    assert rel_err(timg, tref) < 1e-4


def test_teacher_only_pair(tiny, tmp_path, capsys):
    c, m, t, s, mean = tiny
    mp, sy = tmp_path / "mapping.ckpt", tmp_path / "synthesis.ckpt"
    torch.save({"params": {"style_dim": c.style_dim, "n_layers": c.n_mlp, "lr_mlp": 0.01}, "ckpt": m.state_dict()}, mp)
    chans = {4 * 2 ** i: ch for i, ch in enumerate(c.teacher_channels)}
    torch.save({"params": {"size": c.resolution, "style_dim": c.style_dim, "channels": chans},
                "ckpt": t.state_dict()}, sy)
    out = tmp_path / "teacher_only"
    code, stdout, err = run([sy, mp, "--out", out], capsys)  # order does not matter
    assert code == 0, err
    assert "input kind: teacher-pair" in stdout and "no student" in stdout
    man = mf.load(out)
    mf.validate(man, out)
    assert man["networks"]["student"] is None
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "mapping.onnx", "teacher.onnx"]
    te = man["networks"]["teacher"]
    w = np.repeat(np.asarray(mean)[None, None, :], te["n_w"], axis=1).astype(np.float32)
    noise = [np.asarray(n, np.float32) for n in seeding.noise_maps("x", [i["shape"][-1] for i in te["inputs"][1:]])]
    got = sess(out / "teacher.onnx").run(None, {"w": w, **{f"noise_{k}": n for k, n in enumerate(noise)}})[0]
    with torch.no_grad():
        ref = t(torch.from_numpy(w), [torch.from_numpy(n) for n in noise]).numpy()
    assert rel_err(got, ref) < 1e-4
    # truncation mean estimated from the mapping network
    assert np.abs(np.asarray(man["truncation"]["mean"]) - mean.numpy()).max() < 0.1 * np.abs(mean.numpy()).max() + 0.05


class FakeReleaseMapping(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.l1, self.l2 = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, var):
        x = var * torch.rsqrt(var.pow(2).mean(1, keepdim=True) + 1e-8)
        return F.leaky_relu(self.l2(F.leaky_relu(self.l1(x), 0.2)), 0.2)


class FakeReleaseSynthesis(nn.Module):
    """Release-style synthesis: style [1, d] (or [1, n_w, d]) -> img [1, 3, 16, 16], noise frozen as a buffer."""

    def __init__(self, d, n_w=None):
        super().__init__()
        self.n_w = n_w
        self.const = nn.Parameter(torch.randn(1, 32, 4, 4))
        self.mod1, self.mod2 = nn.Linear(d, 32), nn.Linear(d, 32)
        self.conv1, self.conv2 = nn.Conv2d(32, 32, 3, padding=1), nn.Conv2d(32, 16, 3, padding=1)
        self.to_img = nn.Conv2d(16, 3, 1)
        self.register_buffer("noise", torch.randn(1, 1, 16, 16))

    def forward(self, style):
        s1, s2 = (style[:, 0], style[:, 1]) if self.n_w else (style, style)
        x = self.const * self.mod1(s1)[:, :, None, None]
        x = F.leaky_relu(self.conv1(F.interpolate(x, scale_factor=2.0)), 0.2)
        x = x * self.mod2(s2)[:, :, None, None]
        x = F.leaky_relu(self.conv2(F.interpolate(x, scale_factor=2.0)) + 0.2 * self.noise, 0.2)
        return self.to_img(x)


@pytest.mark.parametrize("n_w", [None, 3])
def test_release_onnx_pair(n_w, tmp_path, capsys):
    torch.manual_seed(1)
    d = 32
    mp, sy = FakeReleaseMapping(d).eval(), FakeReleaseSynthesis(d, n_w).eval()
    mpath, spath = tmp_path / "MappingNetwork.onnx", tmp_path / "SynthesisNetwork.onnx"
    style_shape = (1, n_w, d) if n_w else (1, d)
    with torch.no_grad():
        torch.onnx.export(mp, (torch.randn(1, d),), str(mpath), input_names=["var"], output_names=["style"],
                          opset_version=11)
        torch.onnx.export(sy, (torch.randn(*style_shape),), str(spath), input_names=["style"], output_names=["img"],
                          opset_version=11)
    out = tmp_path / "release"
    args = [mpath, spath, "--out", out, "--n-eval", "8", "--n-calib", "4"] + ([] if n_w else ["--no-quantize"])
    code, stdout, err = run(args, capsys)
    assert code == 0, err
    assert "input kind: release-onnx" in stdout
    man = mf.load(out)
    mf.validate(man, out)
    st = man["networks"]["student"]
    assert [i["name"] for i in st["inputs"]] == ["w"]
    assert st["inputs"][0]["shape"][1:] == [n_w or 1, d]
    assert [o["name"] for o in st["outputs"]] == ["img_16"] and man["resolution"] == 16
    assert "frozen" in man["status"] and "img_16" in man["status"]
    assert ("int8" in st["files"]) == bool(n_w)

    z = np.random.default_rng(0).standard_normal((1, d)).astype(np.float32)
    w_ref = sess(mpath).run(None, {"var": z})[0]
    w = sess(out / "mapping.onnx").run(["w"], {"z": z})[0]
    np.testing.assert_array_equal(w, w_ref)
    style = np.repeat(w_ref[:, None, :], n_w, axis=1) if n_w else w_ref
    img_ref = sess(spath).run(None, {"style": style})[0]
    img = sess(out / "student_fp32.onnx").run(["img_16"], {"w": style.reshape(1, n_w or 1, d)})[0]
    np.testing.assert_array_equal(img, img_ref)


@pytest.fixture()
def out_dir(tmp_path):
    return tmp_path / "models" / "bad"


def test_garbage_file(tmp_path, out_dir, capsys):
    p = tmp_path / "model.ckpt"
    p.write_bytes(b"this is not a checkpoint at all\n" * 20)
    code, _, err = run([p, "--out", out_dir], capsys)
    assert_failed_cleanly(code, err, out_dir, "not a PyTorch checkpoint")


def test_truncated_checkpoint(lightning_ckpt, tmp_path, out_dir, capsys):
    p = tmp_path / "truncated.ckpt"
    p.write_bytes(lightning_ckpt.read_bytes()[: lightning_ckpt.stat().st_size // 2])
    code, _, err = run([p, "--out", out_dir], capsys)
    assert_failed_cleanly(code, err, out_dir, "corrupt or truncated")


def test_missing_keys_are_listed(tiny, tmp_path, out_dir, capsys):
    c, m, t, s, mean = tiny
    sd = state_dict_published(m, t, s, mean)
    del sd["student.layers.1.conv2.conv.weight_dw"], sd["student.to_img1.bias"]
    p = tmp_path / "missing.ckpt"
    torch.save({"state_dict": sd}, p)
    code, _, err = run([p, "--out", out_dir], capsys)
    assert_failed_cleanly(code, err, out_dir, "missing keys (2)", "student.layers.1.conv2.conv.weight_dw",
                          "student.to_img1.bias")


def test_shape_mismatches_are_listed(tiny, tmp_path, out_dir, capsys):
    c, m, t, s, mean = tiny
    sd = state_dict_published(m, t, s, mean)
    sd["student.conv1.conv.weight"] = torch.zeros(64, 64, 5, 5)
    sd["synthesis_net.to_rgb1.bias"] = torch.zeros(1, 4, 1, 1)
    p = tmp_path / "shapes.ckpt"
    torch.save({"state_dict": sd}, p)
    code, _, err = run([p, "--out", out_dir], capsys)
    assert_failed_cleanly(code, err, out_dir, "shape mismatches (2)", "student.conv1.conv.weight expected (64, 64, 3, 3) "
                          "got (64, 64, 5, 5)", "synthesis_net.to_rgb1.bias")


def test_unknown_layout(tmp_path, out_dir, capsys):
    p = tmp_path / "other.pt"
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}, "epoch": 1}, p)
    code, _, err = run([p, "--out", out_dir], capsys)
    assert_failed_cleanly(code, err, out_dir, "unsupported layout", "model")


def test_half_a_pair(tiny, tmp_path, out_dir, capsys):
    c, m, *_ = tiny
    p = tmp_path / "mapping.ckpt"
    torch.save({"params": {"style_dim": c.style_dim, "n_layers": c.n_mlp}, "ckpt": m.state_dict()}, p)
    code, _, err = run([p, "--out", out_dir], capsys)
    assert_failed_cleanly(code, err, out_dir, "converter-synthesis")


def test_broken_onnx(tmp_path, out_dir, capsys):
    a, b = tmp_path / "MappingNetwork.onnx", tmp_path / "SynthesisNetwork.onnx"
    a.write_bytes(b"\x08\x07garbage" * 10)
    b.write_bytes(b"")
    code, _, err = run([a, b, "--out", out_dir], capsys)
    assert_failed_cleanly(code, err, out_dir, "not a readable ONNX model")


def test_existing_out_is_kept(lightning_ckpt, tmp_path, capsys):
    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run([lightning_ckpt, "--out", out, "--no-quantize"], capsys)
    assert code == 2 and "already exists" in err
    assert (out / "keep.txt").read_text() == "mine"


def test_checkpoint_code_is_not_executed(tiny, tmp_path, out_dir, capsys):
    """Checkpoints are read without running pickled code (a Lightning .ckpt may come from anywhere)."""
    c, m, t, s, mean = tiny
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    sd = state_dict_published(m, t, s, mean)
    del sd["student.to_img1.bias"]
    p = tmp_path / "evil.ckpt"
    torch.save({"state_dict": sd, "hyper_parameters": {"x": Evil()}}, p)
    code, _, err = run([p, "--out", out_dir], capsys)
    assert_failed_cleanly(code, err, out_dir, "student.to_img1.bias")
    assert not marker.exists()


def test_npm_wrapper_reports_errors(tmp_path):
    bad = tmp_path / "nothing.ckpt"
    bad.write_bytes(b"\x00" * 100)
    out = tmp_path / "npm_out"
    r = subprocess.run(["npm", "run", "--silent", "convert", "--", str(bad), "--out", str(out)], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "convert: error:" in r.stderr and "not a PyTorch checkpoint" in r.stderr
    assert not out.exists()
