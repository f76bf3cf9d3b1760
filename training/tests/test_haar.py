"""Haar DWT/IDWT against the reference library's vectors (../shared/vectors/haar_db1.json) and round trips."""
import json
import os
from pathlib import Path

import pytest
import torch

from seedface.models import haar

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SEEDFACE_SHARED", REPO / ".." / "shared"))
VECTORS = SHARED / "vectors" / "haar_db1.json"


@pytest.fixture(scope="module")
def vec():
    if not VECTORS.exists():
        pytest.skip(f"{VECTORS} not found (set SEEDFACE_SHARED)")
    return json.loads(VECTORS.read_text())


def t(data, shape):
    return torch.tensor(data, dtype=torch.float32).reshape(shape)


def test_forward_matches_reference(vec):
    f = vec["forward"]
    low, high = haar.dwt_bands(t(f["in"], f["in_shape"]))
    assert torch.allclose(low, t(f["low"], f["low_shape"]), atol=1e-6)
    assert torch.allclose(high, t(f["high"], f["high_shape"]), atol=1e-6)
    # the 4C-channel layout: low band first, then (C, 3 bands)
    y = haar.dwt(t(f["in"], f["in_shape"]))
    c = f["in_shape"][1]
    assert torch.allclose(y[:, :c], low) and torch.allclose(y[:, c:].reshape(high.shape), high)


def test_inverse_matches_reference(vec):
    i = vec["inverse"]
    low, high = t(i["low"], i["low_shape"]), t(i["high"], i["high_shape"])
    out = haar.idwt_bands(low, high)
    assert torch.allclose(out, t(i["out"], i["out_shape"]), atol=1e-6)
    b, c, _, h, w = high.shape
    packed = torch.cat([low, high.reshape(b, 3 * c, h, w)], 1)
    assert torch.allclose(haar.idwt(packed), out, atol=1e-6)
    assert torch.allclose(haar.idwt_static(packed, c, h, w), out, atol=1e-6)


def test_round_trips():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 16, 12, generator=g)
    assert torch.allclose(haar.idwt(haar.dwt(x)), x, atol=1e-5)
    y = torch.randn(2, 12, 8, 8, generator=g)
    assert torch.allclose(haar.dwt(haar.idwt(y)), y, atol=1e-5)
    # orthonormal: energy preserved
    assert torch.allclose(haar.dwt(x).pow(2).sum(), x.pow(2).sum(), rtol=1e-5)


def test_onnx_export_plain_ops(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")

    class M(torch.nn.Module):
        def forward(self, x):
            return haar.idwt_static(x, 3, 4, 4), haar.dwt(haar.idwt_static(x, 3, 4, 4))

    x = torch.randn(2, 12, 4, 4)
    p = tmp_path / "haar.onnx"
    from seedface.release.export import onnx_export

    onnx_export(M(), (x,), p, ["x"], ["img", "freq"], {"x": {0: "B"}, "img": {0: "B"}, "freq": {0: "B"}})
    m = onnx.load(str(p))
    assert all(n.domain in ("", "ai.onnx") for n in m.graph.node)
    sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
    x3 = torch.randn(3, 12, 4, 4)
    img, freq = sess.run(None, {"x": x3.numpy()})
    assert abs(img - haar.idwt(x3).numpy()).max() < 1e-5
    assert abs(freq - x3.numpy()).max() < 1e-5


def test_interleaved_inverse_is_one_transposed_conv():
    g = torch.Generator().manual_seed(3)
    for c, h in [(3, 4), (5, 3), (16, 8)]:
        x = torch.randn(2, 4 * c, h, h, generator=g)
        idx = haar.interleave_index(c)
        assert sorted(idx.tolist()) == list(range(4 * c))
        assert idx[:4].tolist() == [0, c, c + 1, c + 2]  # channel 0: low, then its three details
        got = haar.idwt_interleaved(x[:, idx], haar.idwt_kernel(c), c)
        assert torch.allclose(got, haar.idwt(x), atol=1e-6)
