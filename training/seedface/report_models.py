"""Teacher vs student size and compute, printed and written to docs/models.md (`npm run report:models`).

The work is done by seedface.eval.model_report; this module parses the flags.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from seedface.eval.model_report import REPO, count_model_dir, count_preset, default_model_dir, log, render


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m seedface.report_models", description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, default=None, help="default: the model named in models/default.json")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "models.md")
    ap.add_argument("--preset", default="ffhq1024")
    ap.add_argument("--no-onnx", action="store_true", help="count the preset on PyTorch modules only (faster)")
    a = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    t0 = time.time()
    configs = []
    model_dir = a.model_dir or default_model_dir()
    if (model_dir / "manifest.json").is_file():
        log(f"counting {model_dir}")
        configs.append(count_model_dir(model_dir.resolve()))
    else:
        log(f"no model directory at {model_dir}: skipped")
    log(f"building {a.preset} with random weights" + ("" if a.no_onnx else " and exporting it to ONNX"))
    configs.append(count_preset(a.preset, onnx=not a.no_onnx))
    text = render(configs)
    print(text)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    log(f"wrote {a.out} in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
