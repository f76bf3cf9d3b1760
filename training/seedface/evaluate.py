"""Quality report of a model without pretrained networks.

    python -m seedface.evaluate <model dir | checkpoint | run dir> [--seeds 1000] [--name RUN]

The work is done by seedface.eval.quality; this module parses the flags.
"""
from __future__ import annotations

import argparse
import json

import torch

from seedface.console import cli
from seedface.eval.quality import REPORTS, evaluate, manifest_metrics, write_report
from seedface.release import manifest as mf
from seedface.train import data as data_mod
from seedface.train.runenv import resolve


def run(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="model directory, training checkpoint, or run directory")
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--psi", type=float, default=1.0)
    ap.add_argument("--data", default=None, help="image folder or pack (default the shared faces128)")
    ap.add_argument("--real", type=int, default=1000, help="training / held-out faces for the SWD")
    ap.add_argument("--holdout", type=int, default=data_mod.DEFAULT_HOLDOUT)
    ap.add_argument("--name", default=None, help="report name (default: the model's directory name)")
    ap.add_argument("--out", default=None, help="report directory (default training/reports)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--write-manifest", action="store_true", help="store the metrics in the model's manifest")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    path = resolve(a.model)
    name = a.name or (path.name if path.is_dir() else path.parent.name)
    report, extras = evaluate(path, a.seeds, a.psi, a.data, a.real, a.holdout, a.device)
    files = write_report(report, extras, name, resolve(a.out) if a.out else REPORTS)
    if a.write_manifest and (path / "manifest.json").is_file():
        man = mf.load(path)
        man["metrics"] = {**(man.get("metrics") or {}), **manifest_metrics(report)}
        mf.validate(man, path)
        mf.save(path, man)
    print(json.dumps({"report": files, "student_vs_teacher_psnr_db": report["student_vs_teacher"]["psnr_db"],
                      "swd_mean": {k: report["swd"][k]["mean"] for k in ("real_holdout", "teacher", "student")}}))


def main(argv=None) -> None:
    cli(run, argv)


if __name__ == "__main__":
    main()
