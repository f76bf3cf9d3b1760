"""Models: published key layout, reference formulations, folding, W+ indexing, discriminator, FFHQ-1024 counts."""
import math
import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from seedface.models import Discriminator, MappingNetwork, StudentSynthesis, TeacherSynthesis, build, preset
from seedface.models.layers import make_kernel, upfirdn2d
from seedface.release.counting import count_torch, count_torch_macs

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SEEDFACE_SHARED", REPO / ".." / "shared"))


def published(m, t, s):
    sd = {}
    for prefix, mod in (("mapping_net.", m), ("synthesis_net.", t), ("student.", s)):
        sd.update({prefix + k: tuple(v.shape) for k, v in mod.state_dict().items()})
    return sd


def test_tiny_preset_matches_official_key_list():
    path = SHARED / "notes" / "official-ckpt-keys-tiny.txt"
    if not path.exists():
        pytest.skip(f"{path} not found (set SEEDFACE_SHARED)")
    official = {}
    for line in path.read_text().strip().splitlines():
        k, shape = line.split(" ", 1)
        official[k] = tuple(int(x) for x in shape.strip("()").split(",") if x.strip())
    cfg = preset("tiny")
    m, t, s = build(cfg)
    mine = published(m, t, s)
    mine["style_mean"] = (1, s.n_w, cfg.style_dim)
    assert set(mine) == set(official), (sorted(set(official) - set(mine)), sorted(set(mine) - set(official)))
    assert {k: v for k, v in mine.items() if official[k] != v} == {}
    from seedface.models.checkpoint import state_dict_published

    sd = state_dict_published(m, t, s, torch.zeros(cfg.style_dim))
    assert {k: tuple(v.shape) for k, v in sd.items()} == official
    assert list(sd) == list(official)  # same order, too


@pytest.mark.parametrize("name", ["tiny", "default128", "small64", "ffhq1024"])
def test_presets_consistent(name):
    cfg = preset(name)
    assert cfg.student_channels == cfg.teacher_channels[:-1]
    assert cfg.student_n_w == 3 * (len(cfg.student_channels) - 1) + 2
    assert cfg.teacher_n_w == 2 * int(math.log2(cfg.resolution)) - 2
    if name != "ffhq1024":
        m, t, s = build(cfg)
        assert s.resolution == t.size == cfg.resolution
        assert s.n_w == cfg.student_n_w and t.n_w == cfg.teacher_n_w


def test_mapping_equal_linear_semantics():
    torch.manual_seed(0)
    m = MappingNetwork(16, 2)
    z = torch.randn(4, 16)
    x = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
    for lyr in list(m.layers)[1:]:
        w = lyr.weight * 0.01 / math.sqrt(16)
        x = F.leaky_relu(x @ w.t() + lyr.bias * 0.01, 0.2) * math.sqrt(2)
    assert torch.allclose(m(z), x, atol=1e-6)
    assert m.mean_w(100).shape == (16,)


def _native_upfirdn(x, kernel, up, pad0, pad1):
    b, c, h, w = x.shape
    out = x.reshape(b * c, h, 1, w, 1)
    out = F.pad(out, [0, up - 1, 0, 0, 0, up - 1]).reshape(b * c, 1, h * up, w * up)
    out = F.pad(out, [pad0, pad1, pad0, pad1])
    out = F.conv2d(out, torch.flip(kernel, [0, 1]).view(1, 1, *kernel.shape))
    return out.view(b, c, out.shape[-2], out.shape[-1])


def test_upfirdn2d_matches_native_definition():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 8, 8, generator=g)
    k = torch.rand(4, 4, generator=g)  # asymmetric on purpose
    assert torch.allclose(upfirdn2d(x, k, up=2, pad=(2, 1)), _native_upfirdn(x, k, 2, 2, 1), atol=1e-5)
    assert torch.allclose(upfirdn2d(x, k, pad=(1, 1)), _native_upfirdn(x, k, 1, 1, 1), atol=1e-5)
    assert torch.allclose(upfirdn2d(x, k, pad=(2, 1)), _native_upfirdn(x, k, 1, 2, 1), atol=1e-5)
    kk = make_kernel([1, 3, 3, 1])
    assert torch.allclose(kk.sum(), torch.tensor(1.0))


def _ref_modconv(mc, x, style, upsample):
    """The port's grouped-conv formulation (modulate and demodulate the weight per sample)."""
    batch, cin, h, w = x.shape
    s = mc.modulation(style).view(batch, 1, cin, 1, 1)
    weight = mc.scale * mc.weight * s
    if mc.demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, -1, 1, 1, 1)
    k = mc.kernel_size
    if upsample:
        weight = weight.view(batch, mc.out_channel, cin, k, k).transpose(1, 2).reshape(batch * cin, mc.out_channel, k, k)
        out = F.conv_transpose2d(x.reshape(1, batch * cin, h, w), weight, padding=0, stride=2, groups=batch)
        out = out.view(batch, mc.out_channel, out.shape[-2], out.shape[-1])
        return _native_upfirdn(out, mc.blur.kernel, 1, *mc.blur.pad)
    weight = weight.view(batch * mc.out_channel, cin, k, k)
    out = F.conv2d(x.reshape(1, batch * cin, h, w), weight, padding=mc.padding, groups=batch)
    return out.view(batch, mc.out_channel, h, w)


def test_teacher_modconv_matches_port_formulation():
    from seedface.models.teacher import ModulatedConv2d

    torch.manual_seed(2)
    for up in (False, True):
        mc = ModulatedConv2d(8, 6, 3, 16, upsample=up)
        with torch.no_grad():
            mc.modulation.bias.normal_()
        x, st = torch.randn(3, 8, 5, 5), torch.randn(3, 16)
        assert torch.allclose(mc(x, st), _ref_modconv(mc, x, st, up), atol=1e-5)
        mc.freeze(True)
        assert torch.allclose(mc(x, st), _ref_modconv(mc, x, st, up), atol=1e-5)
        mc.freeze(False)


def test_teacher_forward_and_w_plus_indexing():
    torch.manual_seed(3)
    t = TeacherSynthesis(32, 16, [16, 16, 8, 8])
    assert t.n_w == 8 and t.noise_sizes() == [4, 8, 8, 16, 16, 32, 32]
    w = torch.randn(2, 16)
    noise = [torch.randn(1, 1, s, s) for s in t.noise_sizes()]
    img = t(w, noise)
    assert img.shape == (2, 3, 32, 32)
    assert torch.allclose(t(w[:, None].repeat(1, t.n_w, 1), noise), img, atol=1e-6)
    # changing the last slot changes only the last to_rgb's style
    wp = w[:, None].repeat(1, t.n_w, 1).clone()
    wp[:, -1] += 1
    assert not torch.allclose(t(wp, noise), img)
    assert t(w).shape == (2, 3, 32, 32)  # random noise


def test_student_forward_shapes_and_levels():
    torch.manual_seed(4)
    s = StudentSynthesis(16, [16, 16, 8])
    assert s.n_w == 8 and s.resolution == 32 and s.noise_sizes() == [4, 8, 8, 16, 16]
    w = torch.randn(2, 16)
    noise = [torch.randn(1, 1, k, k) for k in s.noise_sizes()]
    out = s(w, noise)
    assert out["img"].shape == (2, 3, 32, 32)
    assert [f.shape[1:] for f in out["freqs"]] == [(12, 4, 4), (12, 8, 8), (12, 16, 16)]
    assert [i.shape[-1] for i in out["imgs"]] == [8, 16, 32]
    from seedface.models import haar

    for f, i in zip(out["freqs"], out["imgs"]):
        assert torch.allclose(haar.idwt(f), i, atol=1e-6)
    assert torch.allclose(out["img"], out["imgs"][-1])
    assert torch.allclose(s(w[:, None].repeat(1, s.n_w, 1), noise)["img"], out["img"], atol=1e-6)
    part = s(w, noise, levels=2)
    assert len(part["imgs"]) == 2 and torch.allclose(part["imgs"][1], out["imgs"][1], atol=1e-6)
    with pytest.raises(ValueError):
        s(torch.randn(2, 5, 16), noise)


def test_student_w_plus_slots():
    """conv1 w[0], to_img1 w[1], block i: up+conv1 w[3i+1], conv2 w[3i+2], to_img w[3i+3] (so w[1] is shared by
    to_img1 and block 0, and the last slot w[3n+1] is unused, as in the release)."""
    torch.manual_seed(5)
    s = StudentSynthesis(8, [8, 8, 8])
    n = s.n_blocks
    noise = [torch.zeros(1, 1, k, k) for k in s.noise_sizes()]
    base = torch.randn(1, s.n_w, 8)
    ref = s(base, noise)
    for slot in range(s.n_w):
        w = base.clone()
        w[:, slot] += 1.0
        out = s(w, noise)
        changed = [not torch.allclose(a, b) for a, b in zip(out["freqs"], ref["freqs"])]
        if slot == 3 * n + 1:
            assert not any(changed)
            continue
        first = changed.index(True)
        assert first == (0 if slot <= 1 else (slot - 1) // 3 + 1), slot
        if slot >= 3 and slot % 3 == 0:  # to_img of block slot/3 - 1 touches only its own head
            assert changed == [i == slot // 3 for i in range(n + 1)], slot


def test_static_demodulation_formula_and_folding():
    from seedface.release.export import FoldedStudent
    from seedface.models.student import ModulatedDWConv2d

    torch.manual_seed(6)
    conv = ModulatedDWConv2d(8, 12, 16, 3)
    w_full = conv.weight_dw.transpose(0, 1) * conv.weight_permute
    expect = torch.rsqrt((conv.scale * conv.style_inv[0, 0].view(1, -1, 1, 1) * w_full).pow(2).sum([1, 2, 3]) + 1e-8)
    assert torch.allclose(conv.get_demodulation().view(-1), expect, rtol=1e-5)
    s = StudentSynthesis(16, [16, 16, 8])
    with torch.no_grad():
        for n, p in s.named_parameters():
            if n.endswith("noise.weight"):
                p.fill_(0.3)
    f = FoldedStudent(s)
    w = torch.randn(3, s.n_w, 16)
    noise = [torch.randn(1, 1, k, k) for k in s.noise_sizes()]
    with torch.no_grad():
        ref = s(w, noise)["imgs"]
        got = f(w, *noise)
    for a, b in zip(got, ref):
        assert (a - b).abs().max() <= 1e-5 * b.abs().max()


def test_discriminator():
    torch.manual_seed(7)
    d = Discriminator(32, channels=[32, 32, 16, 8])
    x = torch.randn(4, 3, 32, 32)
    assert d(x).shape == (4, 1)
    assert d(torch.randn(3, 3, 32, 32)).shape == (3, 1)  # batch not divisible by the stddev group
    feats = d.features(x)
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4]
    d2 = Discriminator(64)
    assert d2(torch.randn(2, 3, 64, 64)).shape == (2, 1)
    x.requires_grad_(True)
    (g,) = torch.autograd.grad(d(x).sum(), x)
    assert g.shape == x.shape


def test_ffhq1024_params_and_macs():
    """Params equal the release (8.85 M student, 28.27 M teacher). MACs: student ~7.5 G multiply-accumulates; the
    teacher 75.3 G, or ~144 G counting its transposed convs at output resolution (the paper's 143.15 convention)."""
    cfg = preset("ffhq1024")
    torch.manual_seed(0)
    m, t, s = build(cfg)
    assert abs(count_torch(s) - 8.85e6) / 8.85e6 < 0.002
    assert abs(count_torch(t) - 28.27e6) / 28.27e6 < 0.002
    w = torch.randn(1, cfg.style_dim)
    s_macs = count_torch_macs(s, w)
    t_macs = count_torch_macs(t, w)
    t_macs_out = count_torch_macs(t, w, conv_transpose="output")
    assert 7.0e9 < s_macs < 8.0e9
    assert 74e9 < t_macs < 77e9
    assert 140e9 < t_macs_out < 147e9
    assert 9 < t_macs / s_macs < 11
