"""Published checkpoint layout: round trip with identical outputs, wrappers, config inference, clear errors."""
import io

import pytest
import torch

from seedface.models.checkpoint import CheckpointError, infer_config, load_published, state_dict_published
from seedface.models import build, preset


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(11)
    cfg = preset("tiny")
    m, t, s = build(cfg)
    with torch.no_grad():  # make every parameter matter (noise strengths and biases start at 0)
        for mod in (t, s):
            for n, p in mod.named_parameters():
                if n.endswith("noise.weight") or n.endswith("bias"):
                    p.normal_(0, 0.1)
    return cfg, m, t, s, m.mean_w(500)


def outputs(m, t, s, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(2, m.style_dim, generator=g)
    noise = [torch.randn(1, 1, k, k, generator=g) for k in t.noise_sizes()]
    with torch.no_grad():
        w = m(z)
        return w, t(w, noise), s(w, noise[: len(s.noise_sizes())])["imgs"]


def test_round_trip_identical_outputs(tiny):
    cfg, m, t, s, mean = tiny
    sd = state_dict_published(m, t, s, mean)
    assert sd["style_mean"].shape == (1, s.n_w, cfg.style_dim)
    buf = io.BytesIO()
    torch.save({"state_dict": sd, "epoch": 3}, buf)  # a Lightning-like file
    buf.seek(0)
    cfg2, m2, t2, s2, mean2 = load_published(torch.load(buf))
    assert cfg2 == cfg
    assert torch.equal(mean2[0], mean) and mean2.shape == (s.n_w, cfg.style_dim)
    a, b = outputs(m, t, s), outputs(m2, t2, s2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert all(torch.equal(x, y) for x, y in zip(a[2], b[2]))
    # and back again: the same state dict
    sd2 = state_dict_published(m2, t2, s2, mean2)
    assert list(sd2) == list(sd) and all(torch.equal(sd[k], sd2[k]) for k in sd)


def test_wrappers_and_ignored_entries(tiny):
    cfg, m, t, s, mean = tiny
    sd = state_dict_published(m, t, s, mean)
    wrapped = {"state_dict." + k: v for k, v in sd.items()}
    wrapped["loss.vgg.weight"] = torch.zeros(3)
    wrapped["inception.fc.weight"] = torch.zeros(3)
    cfg2, *_ = load_published({"state_dict": wrapped, "hyper_parameters": {}})
    assert cfg2 == cfg


def test_student_only_and_teacher_only(tiny):
    cfg, m, t, s, mean = tiny
    sd = state_dict_published(m, None, s, mean)
    c, m2, t2, s2, _ = load_published(sd)
    assert t2 is None and s2 is not None and c.teacher_channels is None and c.resolution == 64
    sd = state_dict_published(m, t, None, None)
    c, m2, t2, s2, sm = load_published(sd)
    assert s2 is None and t2 is not None and sm is None and c.resolution == 64


def test_infer_config_for_presets():
    for name in ("tiny", "small64", "default128"):
        cfg = preset(name)
        m, t, s = build(cfg)
        assert infer_config(state_dict_published(m, t, s, None)) == cfg


def test_missing_keys_are_listed(tiny):
    cfg, m, t, s, mean = tiny
    sd = state_dict_published(m, t, s, mean)
    del sd["student.layers.1.conv2.conv.weight_dw"]
    del sd["synthesis_net.to_rgb1.bias"]
    with pytest.raises(CheckpointError) as e:
        load_published(sd)
    msg = str(e.value)
    assert "missing keys" in msg
    assert "student.layers.1.conv2.conv.weight_dw" in msg and "synthesis_net.to_rgb1.bias" in msg
    assert set(e.value.missing) == {"student.layers.1.conv2.conv.weight_dw", "synthesis_net.to_rgb1.bias"}


def test_shape_mismatches_are_listed(tiny):
    cfg, m, t, s, mean = tiny
    sd = state_dict_published(m, t, s, mean)
    sd["student.layers.0.conv1.conv.weight_dw"] = torch.zeros(16, 1, 5, 5)
    with pytest.raises(CheckpointError) as e:
        load_published(sd, config=cfg)
    assert e.value.mismatched == [("student.layers.0.conv1.conv.weight_dw", (16, 1, 3, 3), (16, 1, 5, 5))]
    assert "shape mismatches" in str(e.value) and "(16, 1, 5, 5)" in str(e.value)
    # a config that does not fit the file
    sd = state_dict_published(m, t, s, mean)
    with pytest.raises(CheckpointError) as e:
        load_published(sd, config=preset("small64"))
    assert e.value.mismatched


def test_unexpected_keys_and_garbage(tiny):
    cfg, m, t, s, mean = tiny
    sd = state_dict_published(m, t, s, mean)
    sd["student.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as e:
        load_published(sd)
    assert "student.extra.weight" in e.value.unexpected
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_published({})
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_published([1, 2, 3])
    with pytest.raises(CheckpointError, match="unsupported layout"):
        load_published({"foo.weight": torch.zeros(2)})
