"""The one-call GPU script's whole path on CPU at tiny scale: pack, train, distil, evaluate, bundle, finish."""
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from seedface import train_teacher
from seedface.train import data, trainckpt
from seedface.release import manifest as mf

ROOT = data.repo_root()
FACES = data.resolve_data_path(data.DEFAULT_DATA)
pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="shared faces128 folder not present")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    keep = tmp_path_factory.mktemp("smoke")
    proc = subprocess.run(["bash", str(ROOT / "training" / "device" / "run.sh"), "--smoke", "--keep", str(keep)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(keep)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return keep


def _feeds(net: dict, rng: np.random.Generator) -> dict:
    return {i["name"]: rng.standard_normal([1 if d == "B" else d for d in i["shape"]]).astype(np.float32)
            for i in net["inputs"]}


def test_out_folder_fits_the_device_tool(smoke):
    files = sorted((smoke / "out").iterdir())
    assert 1 <= len(files) <= 8
    for f in files:
        assert f.is_file() and f.stat().st_size < 16 * 2**20 and re.fullmatch(r"[A-Za-z0-9._-]+", f.name)
    assert sum(f.stat().st_size for f in files) < 64 * 2**20
    summary = json.loads((smoke / "out" / "summary.json").read_text())
    assert all(p["status"] == 0 for k, p in summary["phases"].items() if k != "total_seconds")
    assert summary["report"]["student_vs_teacher"]["levels"][-1]["size"] == 64


def test_finished_model_dir_is_complete_and_runs(smoke):
    model = smoke / "models" / "smoke"
    man = mf.load(model)
    mf.validate(man, model)
    assert man["trained"] is True and man["provenance"]["source"] == "trained-here"
    assert man["provenance"]["steps"] == 16 and man["provenance"]["teacher"]["steps"] == 24
    assert "non-commercial" in man["training_data"]["licence"]
    assert set(man["networks"]["student"]["files"]) == {"fp32", "int8"}
    m = man["metrics"]
    assert m["seeds"] == 32 and len(m["student_vs_teacher"]["levels"]) == 4
    assert m["swd_x1e3"]["real_holdout"] < m["swd_x1e3"]["teacher"]  # an untrained-ish teacher is far from faces
    rng = np.random.default_rng(0)
    for name, net in man["networks"].items():
        for path in net["files"].values():
            sess = ort.InferenceSession(str(model / path), providers=["CPUExecutionProvider"])
            outs = sess.run(None, _feeds(net, rng))
            assert all(np.isfinite(o).all() for o in outs), path
            want = [tuple(1 if d == "B" else d for d in o["shape"]) for o in net["outputs"]]
            assert [o.shape for o in outs] == want, path
    report = json.loads((smoke / "reports" / "smoke.json").read_text())
    assert report["seeds"] == 32 and "student_int8" in report
    assert (smoke / "reports" / "smoke_grid.png").is_file()


def test_fetched_teacher_checkpoint_resumes(smoke, tmp_path):
    ck = smoke / "runs" / "gpu-smoke" / "teacher" / "checkpoint.pt"
    assert trainckpt.load(ck)["train"]["slim"] is True
    run = tmp_path / "t"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(ck.read_bytes())
    torch.set_num_threads(1)
    out = train_teacher.run(["--resume", "--run", str(run), "--steps", "26", "--data", str(smoke / "runs" / "pack.npz"),
                             "--mean-samples", "100", "--threads", "1"])
    assert out["summary"]["steps"] == 26 and out["trainer"].a.batch == 4  # the run's own hyperparameters


def test_corrupt_bundle_is_refused(smoke, tmp_path):
    import shutil
    from seedface.train import bundle as gpu_bundle
    src = tmp_path / "out"
    shutil.copytree(smoke / "out", src)
    part = src / "bundle.tar.part0"
    b = bytearray(part.read_bytes())
    b[len(b) // 2] ^= 0xFF
    part.write_bytes(bytes(b))
    with pytest.raises(ValueError, match="sha256"):
        gpu_bundle.unpack(src, tmp_path / "dest")
