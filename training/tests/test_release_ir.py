"""The authors' OpenVINO release (random-face wheel) loads into our modules and reproduces the release itself.

Reference: OpenVINO (f32) running the release's own IR; with its frozen noise constants zeroed in a copy of the
.bin for the "noise at zero" comparison, and untouched for the release-noise comparison. Needs the pinned wheel
(`npm run models:ffhq` downloads it to training/downloads/); CI downloads it first and sets
SEEDFACE_REQUIRE_RELEASE=1 so that a missing wheel fails instead of skipping.
"""
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from seedface.release import openvino_ir, ir_modules as release_ir, wheel as release_wheel
from seedface.release.convert import ConvertError, convert
from seedface.paths import repo_root

WHEEL = repo_root() / "training" / "downloads" / release_wheel.PINNED["file"]
if not WHEEL.is_file():
    if os.environ.get("SEEDFACE_REQUIRE_RELEASE") == "1":
        raise RuntimeError(f"{WHEEL} is missing: run `npm run models:ffhq` (CI must download it)")
    pytest.skip(f"{WHEEL.name} not downloaded (npm run models:ffhq)", allow_module_level=True)

ov = pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def release():
    rel = release_wheel.open_release([WHEEL])
    return rel, release_ir.extract(rel.mapping_xml, rel.synthesis_xml)


def _compile(xml: Path, bin_path: Path | None = None):
    core = ov.Core()
    model = core.read_model(str(xml), str(bin_path or xml.with_suffix(".bin")))
    return core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": "2"})


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def _zero_noise_bin(rel, tmp_path: Path) -> Path:
    g = openvino_ir.read_ir(rel.synthesis_xml)
    data = bytearray(rel.synthesis_xml.with_suffix(".bin").read_bytes())
    n = 0
    for conv in g.of_type("Convolution"):
        nz = release_ir._noise_after(g, conv)
        if nz is not None:
            off, size = int(nz[0].attrs["offset"]), int(nz[0].attrs["size"])
            data[off:off + size] = bytes(size)
            n += 1
    assert n == 15
    out = tmp_path / "SynthesisNetwork_zero_noise.bin"
    out.write_bytes(bytes(data))
    return out


def test_structure_and_recovered_noise_strengths(release):
    rel, r = release
    assert r.config.resolution == 1024 and r.config.style_dim == 512 and r.config.n_mlp == 8
    assert r.config.student_channels == [512, 512, 512, 512, 512, 256, 128, 64]
    assert r.missing_heads == ["to_img1"] + [f"layers.{i}.to_img" for i in range(6)]
    assert [d.shape[-1] for d in r.release_noise] == r.student.noise_sizes()
    # std of each frozen constant; the notes' figures for the release (4x4: .0049; 128: .2513, .0004)
    assert abs(r.noise_strengths[0] - 0.0049) < 2e-4 and abs(r.noise_strengths[9] - 0.2513) < 2e-3
    for d in r.release_noise[1:]:
        assert abs(float(d.std()) - 1.0) < 1e-4


def test_mapping_matches_openvino(release):
    rel, r = release
    z = np.random.RandomState(1).randn(1, 512).astype(np.float32)
    ref = _compile(rel.mapping_xml)(z)[0]
    with torch.no_grad():
        got = r.mapping(torch.from_numpy(z)).numpy()
    assert _rel(got, ref) < 1e-5


def test_student_matches_openvino_with_noise_at_zero_and_with_release_noise(release, tmp_path):
    rel, r = release
    w = _compile(rel.mapping_xml)(np.random.RandomState(2).randn(1, 512).astype(np.float32))[0]
    zero_ref = _compile(rel.synthesis_xml, _zero_noise_bin(rel, tmp_path))(w)[0]
    frozen_ref = _compile(rel.synthesis_xml)(w)[0]
    sizes = r.student.noise_sizes()
    with torch.no_grad():
        zero = r.student(torch.from_numpy(w), [torch.zeros(1, 1, s, s) for s in sizes])["img"].numpy()
        frozen = r.student(torch.from_numpy(w), [torch.from_numpy(d) for d in r.release_noise])["img"].numpy()
    assert _rel(zero, zero_ref) < 1e-3
    assert _rel(frozen, frozen_ref) < 1e-3
    assert _rel(zero_ref, frozen_ref) > 1e-3  # the noise matters, so the two checks are different checks


def test_exported_fp32_student_matches_openvino(release, tmp_path):
    """Our ONNX student (what the origin runs), noise at zero, img_1024 vs the zero-noise release."""
    import onnxruntime as ort
    from seedface.release.export import export_student

    rel, r = release
    path = tmp_path / "student.onnx"
    export_student(r.student, path, check=False)
    w = _compile(rel.mapping_xml)(np.random.RandomState(3).randn(1, 512).astype(np.float32))[0]
    ref = _compile(rel.synthesis_xml, _zero_noise_bin(rel, tmp_path))(w)[0]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"w": np.broadcast_to(w[:, None, :], (1, r.student.n_w, 512)).copy()}
    for k, s in enumerate(r.student.noise_sizes()):
        feeds[f"noise_{k}"] = np.zeros((1, 1, s, s), np.float32)
    (got,) = sess.run(["img_1024"], feeds)
    assert _rel(got, ref) < 1e-3


def test_wrong_ir_files_get_clear_errors(tmp_path):
    rel = release_wheel.open_release([WHEEL])
    out = tmp_path / "out"
    # mapping given twice: names the inputs it found
    m2 = tmp_path / "copy"
    m2.mkdir()
    for ext in ("xml", "bin"):
        shutil.copy(rel.mapping_xml.with_suffix(f".{ext}"), m2 / f"Other.{ext}")
    with pytest.raises(ConvertError, match=r"inputs are \['var'\], expected \['style'\]"):
        convert([rel.mapping_xml, m2 / "Other.xml"], out)
    assert not out.exists() and not list(tmp_path.glob(".out*"))
    # a truncated .bin: says which constant falls outside it
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(rel.synthesis_xml, bad / "SynthesisNetwork.xml")
    (bad / "SynthesisNetwork.bin").write_bytes(rel.synthesis_xml.with_suffix(".bin").read_bytes()[:1000])
    with pytest.raises(ConvertError, match="outside the .bin"):
        convert([rel.mapping_xml, bad / "SynthesisNetwork.xml"], out)
    # a .bin missing beside its .xml
    (bad / "SynthesisNetwork.bin").unlink()
    with pytest.raises(ConvertError, match="must sit beside it"):
        convert([rel.mapping_xml, bad / "SynthesisNetwork.xml"], out)
    # a wheel that is not random-face
    fake = tmp_path / "other-1.0-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("other/__init__.py", "")
    with pytest.raises(ConvertError, match="not the random-face wheel: missing random_face/data/MappingNetwork.xml"):
        convert([fake], out)
    assert not out.exists()


def test_inconsistent_or_other_architecture_lists_what_does_not_fit(tmp_path):
    rel = release_wheel.open_release([WHEEL])
    text = rel.synthesis_xml.read_text()
    d = tmp_path / "arch"
    d.mkdir()
    shutil.copy(rel.synthesis_xml.with_suffix(".bin"), d / "SynthesisNetwork.bin")
    # a shape that disagrees with the byte size
    bad = text.replace('name="m.input.input" type="Const" version="opset1">\n\t\t\t<data element_type="f32" '
                       'shape="1, 512, 4, 4"', 'name="m.input.input" type="Const" version="opset1">\n\t\t\t'
                       '<data element_type="f32" shape="1, 256, 4, 4"')
    assert bad != text
    (d / "SynthesisNetwork.xml").write_text(bad)
    with pytest.raises(ConvertError, match=r"'m.input.input' has shape \[1, 256, 4, 4\].*but size 32768 bytes"):
        convert([rel.mapping_xml, d / "SynthesisNetwork.xml"], tmp_path / "out")
    # a layer under another name: listed as unexpected, and the expected one as missing
    other = text.replace('name="m.layers.3.conv1.bias"', 'name="m.layers.3.conv1.offset"')
    assert other != text
    (d / "SynthesisNetwork.xml").write_text(other)
    with pytest.raises(ConvertError, match=r"does not fit the MobileStyleGAN student.*unexpected "
                                           r"layers\.3\.conv1\.offset.*missing layers\.3\.conv1\.bias"):
        convert([rel.mapping_xml, d / "SynthesisNetwork.xml"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_model_dir_reproduces_random_face_with_release_noise():
    """The converted model directory (npm run models:ffhq) + its release_noise.bin = the release's own image."""
    import onnxruntime as ort
    from seedface.release.from_ir import load_release_noise

    model = repo_root() / "models" / "ffhq"
    if not (model / "student_fp32.onnx").is_file():
        if os.environ.get("SEEDFACE_REQUIRE_RELEASE") == "1":
            raise RuntimeError("models/ffhq/student_fp32.onnx missing: run `npm run models:ffhq`")
        pytest.skip("models/ffhq origin files not built (npm run models:ffhq)")
    rel = release_wheel.open_release([WHEEL])
    z = np.random.RandomState(4).randn(1, 512).astype(np.float32)
    w_ref = _compile(rel.mapping_xml)(z)[0]
    ref = _compile(rel.synthesis_xml)(w_ref)[0]
    mapping = ort.InferenceSession(str(model / "mapping.onnx"), providers=["CPUExecutionProvider"])
    (w,) = mapping.run(None, {"z": z})
    assert _rel(w, w_ref) < 1e-5
    noise = load_release_noise(model)
    feeds = {"w": np.broadcast_to(w[:, None, :], (1, 23, 512)).copy()}
    feeds.update({f"noise_{k}": n for k, n in enumerate(noise)})
    sess = ort.InferenceSession(str(model / "student_fp32.onnx"), providers=["CPUExecutionProvider"])
    (got,) = sess.run(["img_1024"], feeds)
    assert _rel(got, ref) < 1e-3
