"""report_models reads bench/results/quant-workerd.json (npm run bench:quant:workerd) into docs/models.md."""
from __future__ import annotations

import json

from seedface.eval import model_report as rm


def _result(model="m64"):
    return {"model": model, "resolution": 64, "created": "2026-11-28T22:00:00.000Z", "runs": 30,
            "machine": "test box", "rows": [
                {"variant": "fp32", "bytes": 5 * 2 ** 20, "psnr_db": None, "workerd_infer_median_ms": 7,
                 "workerd_infer_mean_ms": 7.4, "workerd_http_median_ms": 12.5},
                {"variant": "qdq_static", "bytes": 2 ** 20, "psnr_db": 35.83, "workerd_infer_median_ms": 9,
                 "workerd_infer_mean_ms": 9.1, "workerd_http_median_ms": 14.25},
                {"variant": "dynamic", "bytes": 3 * 2 ** 20, "psnr_db": 39.6, "error": "ConvInteger unsupported"}]}


def test_workerd_rows_for_the_matching_model(tmp_path):
    p = tmp_path / "quant-workerd.json"
    p.write_text(json.dumps(_result()))
    text = "\n".join(rm.workerd_table(p, "m64"))
    assert "30 warm cache misses" in text and "at 64px" in text
    assert "| fp32 | 5.00 MiB | - | 7 | 7.4 | 12.5 |" in text
    assert "| qdq_static | 1.00 MiB | 35.83 | 9 | 9.1 | 14.25 |" in text
    assert "| dynamic | 3.00 MiB | 39.6 | failed: ConvInteger unsupported |" in text


def test_no_rows_for_another_model_or_no_file(tmp_path):
    p = tmp_path / "quant-workerd.json"
    assert rm.workerd_table(p, "m64") == []
    p.write_text(json.dumps(_result(model="other")))
    assert rm.workerd_table(p, "m64") == []
