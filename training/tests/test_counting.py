"""MAC and parameter counting on hand-built ONNX graphs with known answers, and ONNX vs PyTorch counts."""
import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from seedface.release.counting import count_onnx, count_torch, count_torch_macs


def init(name, shape):
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def build_graph():
    # x [B,3,8,8] -Conv(3->4, 3x3, pad 1)-> a [B,4,8,8] -ConvTranspose(4->2, 2x2, stride 2)-> b [B,2,16,16] (out_b)
    # a -Conv(depthwise 4, 3x3, pad 1)-> c -Flatten-> d [B,256] -Gemm(256->10)-> e [B,10] -MatMul(10x5)-> f (out_f)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["a"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("ConvTranspose", ["a", "w2"], ["b"], strides=[2, 2], kernel_shape=[2, 2]),
        helper.make_node("Conv", ["a", "w3"], ["c"], pads=[1, 1, 1, 1], group=4, kernel_shape=[3, 3]),
        helper.make_node("Flatten", ["c"], ["d"], axis=1),
        helper.make_node("Gemm", ["d", "w4", "b4"], ["e"], transB=1),
        helper.make_node("MatMul", ["e", "w5"], ["f"]),
    ]
    inits = [init("w1", (4, 3, 3, 3)), init("b1", (4,)), init("w2", (4, 2, 2, 2)), init("w3", (4, 1, 3, 3)),
             init("w4", (10, 256)), init("b4", (10,)), init("w5", (10, 5))]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3, 8, 8])],
                          [helper.make_tensor_value_info("b", TensorProto.FLOAT, ["B", 2, 16, 16]),
                           helper.make_tensor_value_info("f", TensorProto.FLOAT, ["B", 5])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    return m


def test_known_macs(tmp_path):
    m = build_graph()
    conv1 = 4 * 8 * 8 * 3 * 3 * 3          # 6912
    convt = 4 * 8 * 8 * 2 * 2 * 2          # input elems x C_out x k x k = 2048
    dw = 4 * 8 * 8 * 1 * 3 * 3             # 2304
    gemm = 10 * 256                         # 2560
    matmul = 5 * 10                         # 50
    p = tmp_path / "g.onnx"
    onnx.save(m, str(p))
    c = count_onnx(str(p))
    assert c["macs"] == conv1 + convt + dw + gemm + matmul
    assert c["per_output"] == {"b": conv1 + convt, "f": conv1 + dw + gemm + matmul}
    assert c["params"] == 108 + 4 + 32 + 36 + 2560 + 10 + 50
    # transposed conv counted at output resolution: 2*16*16 outputs x C_in 4 x 2x2
    c2 = count_onnx(m, conv_transpose="output")
    assert c2["per_output"]["b"] == conv1 + 2 * 16 * 16 * 4 * 4
    # activation estimate: the largest in+out of one node on the path (ConvTranspose: a + b)
    assert c["per_output_peak_activation_bytes"]["b"] == 4 * (4 * 64 + 2 * 256)
    # batch scales MACs linearly
    assert count_onnx(m, batch=3)["macs"] == 3 * c["macs"]


def test_onnx_and_torch_counts_agree(tmp_path):
    from seedface.release.export import export_student, export_teacher
    from seedface.models import build, preset

    torch.manual_seed(0)
    cfg = preset("tiny")
    m, t, s = build(cfg)
    export_student(s, tmp_path / "s.onnx", check=False)
    export_teacher(t, tmp_path / "t.onnx", check=False)
    w = torch.randn(1, cfg.style_dim)
    cs, ct = count_onnx(str(tmp_path / "s.onnx")), count_onnx(str(tmp_path / "t.onnx"))
    # the ONNX student has the demodulation folded (no weight work at run time); both count convs and linears, and
    # the ONNX one also the inverse Haars, which the export runs as transposed convs
    all_idwt = _idwt_macs(s, s.n_blocks, heads=False) + sum(_idwt_macs(s, k, ups=False) for k in range(s.n_blocks + 1))
    assert cs["macs"] == count_torch_macs(s, w) + all_idwt
    assert ct["macs"] == count_torch_macs(t, w)
    assert count_onnx(str(tmp_path / "t.onnx"), conv_transpose="output")["macs"] == \
        count_torch_macs(t, w, conv_transpose="output")
    # ONNX params: folded weights (no style_inv buffers) + unused-free; within 2% of the module's parameters
    assert abs(cs["params"] - count_torch(s)) / count_torch(s) < 0.02
    levels = [cs["per_output"][f"img_{k}"] for k in s.output_sizes()]
    assert levels == sorted(levels) and levels[-1] < cs["macs"]
    for k, out in enumerate(s.output_sizes()):
        assert cs["per_output"][f"img_{out}"] == count_torch_macs(lambda: s(w, levels=k + 1)) - \
            _other_heads(s, w, k) + _idwt_macs(s, k)


def _idwt_macs(s, level, heads=True, ups=True):
    """MACs of the exported student's inverse Haars on the path to head `level`: a grouped 2x2 stride-2 transposed
    conv costs 4 MACs per input value (4C channels at h x h)."""
    head = 4 * 12 * (2 ** (level + 2)) ** 2 if heads else 0
    up = sum(4 * 4 * s.layers[i].up.channels * (2 ** (i + 2)) ** 2 for i in range(level)) if ups else 0
    return head + up


def _other_heads(s, w, k):
    """MACs of the to_img heads before level k (computed by forward(levels=k+1) but not needed for img_k)."""
    total = 0
    for i in range(k):
        conv = s.to_img1.conv if i == 0 else s.layers[i - 1].to_img.conv
        size = 4 * 2 ** i
        total += conv.weight.shape[0] * conv.weight.shape[1] * size * size + s.style_dim * conv.weight.shape[1]
    return total
