"""seedface.report_models: the tables come from the counts of the real ONNX files."""
from __future__ import annotations

import torch

from seedface.release import counting
from seedface.eval import model_report as rm
from seedface.release.export import export_model_dir
from seedface.models import build
from seedface.models.config import preset

torch.set_num_threads(1)


def test_report_counts_a_model_dir(tmp_path):
    torch.manual_seed(5)
    c = preset("tiny")
    m, t, s = build(c)
    out = tmp_path / "tiny"
    export_model_dir(out, c, m, s, t, torch.zeros(c.style_dim), model_id="tiny-r", version="0.0.1", provenance={},
                     trained=False, status="untrained: test", training_data=None, quantize=False)
    info = rm.count_model_dir(out)
    st, te = info["networks"]["student"], info["networks"]["teacher"]
    truth_s = counting.count_onnx(str(out / "student_fp32.onnx"))
    truth_t = counting.count_onnx(str(out / "teacher.onnx"))
    assert st["macs"] == truth_s["macs"] > 0 and te["macs"] == truth_t["macs"] > st["macs"]
    assert st["params"] == counting.count_torch(s)
    text = rm.render([info])
    ratio = f"x{truth_t['macs'] / truth_s['macs']:.2f}"
    assert f"| {rm._g(truth_s['macs'])} | {rm._g(2 * truth_s['macs'])} | {ratio} |" in text
    for name, macs in truth_s["per_output"].items():  # one row per output level, cumulative MACs
        assert f"| {name} | {rm._g(macs)} |" in text
    assert "`student_fp32.onnx` | student | fp32" in text
