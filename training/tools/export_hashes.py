"""sha256 of the ONNX files the export paths write from fixed inputs (the redesign check: identical before/after).

    PYTHONPATH=training training/.venv/bin/python training/tools/export_hashes.py [--out hashes.json] [--keep DIR]

Covers: the untrained tiny model with teacher and int8 student (make_default's build + export + quantize), a
Lightning checkpoint, the converter's teacher-only pair, the release's ONNX pair (convert), a 2-step teacher run
and a 2-step distillation with --export, and faces64's teacher.onnx from its committed checkpoint. Manifests are
summarised too (every key but timestamps/timings), so changes in what they say show up as well.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.append(str(REPO / "training"))  # after PYTHONPATH: an older tree can be measured too
sys.path.append(str(REPO / "training" / "tests"))

from test_convert import FakeReleaseMapping, FakeReleaseSynthesis  # noqa: E402  (the release-style fakes)

VOLATILE = {"created", "minutes", "seconds", "latency_ms_ort_python", "elapsed_s", "hardware", "from", "path"}


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def scrub(x):
    if isinstance(x, dict):
        return {k: ("*" if k in VOLATILE else scrub(v)) for k, v in x.items()}
    if isinstance(x, list):
        return [scrub(v) for v in x]
    if isinstance(x, str):
        return re.sub(r"[0-9.]+ min\b", "* min", x)  # run times in status lines
    return x


def summarise(d: Path) -> dict:
    out = {f.name: sha(f) for f in sorted(d.iterdir()) if f.suffix in (".onnx", ".bin")}
    if (d / "manifest.json").is_file():
        out["manifest(scrubbed)"] = hashlib.sha256(json.dumps(scrub(json.loads((d / "manifest.json").read_text())),
                                                              sort_keys=True).encode()).hexdigest()
    return out


def imp(*names):
    """The modules under their names before or after the package redesign."""
    import importlib
    for n in names:
        try:
            return importlib.import_module(n)
        except ImportError:
            continue
    raise ImportError(names)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--keep", default=None)
    ap.add_argument("--skip-training", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="seedface-hashes-"))
    root.mkdir(parents=True, exist_ok=True)
    res = {}
    make_default = imp("seedface.models.untrained", "seedface.make_default")
    export = imp("seedface.release.export", "seedface.export")
    convert = imp("seedface.convert")
    models = imp("seedface.models")
    ckpt = imp("seedface.models.checkpoint", "seedface.checkpoint")

    cfg, mapping, teacher, student, style_mean = make_default.build_default("tiny", n_mean=2000)
    export.export_model_dir(root / "tiny", cfg, mapping, student, teacher, style_mean, model_id="tiny",
                            version="0.1.0", provenance={"source": "random-init"}, trained=False, status="test",
                            training_data=None, quantize=True)
    res["make_default tiny (+teacher, int8)"] = summarise(root / "tiny")

    torch.manual_seed(0)
    c = models.preset("tiny")
    m, t, s = models.build(c)
    with torch.no_grad():
        for p in list(t.parameters()) + list(s.parameters()):
            if p.numel() == 1:
                p.fill_(0.3)
        mean = m(torch.randn(500, c.style_dim)).mean(0)
    sd = ckpt.state_dict_published(m, t, s, mean)
    lp = root / "mobilestylegan_tiny.ckpt"
    torch.save({"state_dict": sd}, lp)
    assert convert.main([str(lp), "--out", str(root / "lightning"), "--n-eval", "16", "--n-calib", "8"]) == 0
    res["convert lightning-ckpt"] = summarise(root / "lightning")

    mp, sy = root / "mapping.ckpt", root / "synthesis.ckpt"
    torch.save({"params": {"style_dim": c.style_dim, "n_layers": c.n_mlp, "lr_mlp": 0.01}, "ckpt": m.state_dict()}, mp)
    chans = {4 * 2 ** i: ch for i, ch in enumerate(c.teacher_channels)}
    torch.save({"params": {"size": c.resolution, "style_dim": c.style_dim, "channels": chans},
                "ckpt": t.state_dict()}, sy)
    assert convert.main([str(sy), str(mp), "--out", str(root / "pair")]) == 0
    res["convert teacher-pair"] = summarise(root / "pair")

    torch.manual_seed(1)
    d = 32
    fm, fs = FakeReleaseMapping(d).eval(), FakeReleaseSynthesis(d, 3).eval()
    mpath, spath = root / "MappingNetwork.onnx", root / "SynthesisNetwork.onnx"
    with torch.no_grad():
        torch.onnx.export(fm, (torch.randn(1, d),), str(mpath), input_names=["var"], output_names=["style"],
                          opset_version=11)
        torch.onnx.export(fs, (torch.randn(1, 3, d),), str(spath), input_names=["style"], output_names=["img"],
                          opset_version=11)
    assert convert.main([str(mpath), str(spath), "--out", str(root / "release"), "--n-eval", "8",
                         "--n-calib", "4"]) == 0
    res["convert release-onnx"] = summarise(root / "release")

    faces64 = imp("seedface.release.faces64", "seedface.models_faces64")
    faces64.build(root / "faces64", REPO / "models" / "faces64" / "manifest.json",
                  REPO / "training" / "checkpoints" / "faces64" / "teacher.pt")
    res["models:faces64 teacher.onnx"] = summarise(root / "faces64")

    if not a.skip_training:
        data = imp("seedface.train.data", "seedface.data")
        if data.resolve_data_path(data.DEFAULT_DATA).is_dir():
            tt = imp("seedface.train_teacher")
            di = imp("seedface.distill")
            common = ["--batch", "2", "--threads", "1", "--steps", "2", "--log-every", "1", "--mean-samples", "100",
                      "--grid-every", "100", "--ckpt-every", "100"]
            run = tt.run if hasattr(tt, "run") else tt.main
            run(["--preset", "tiny", "--limit", "16", "--holdout", "8"] + common + ["--run", str(root / "runs/teacher"), "--export",
                                                 str(root / "teacher_run")])
            res["train_teacher --export"] = summarise(root / "teacher_run")
            drun = di.run if hasattr(di, "run") else di.main
            drun(["--teacher", str(root / "runs/teacher/checkpoint.pt")] + common
                 + ["--run", str(root / "runs/distill"), "--export", str(root / "distill_run"), "--no-quantize"])
            res["distill --export"] = summarise(root / "distill_run")
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
