"""`npm run models:faces64` (seedface.models_faces64): faces64's uncommitted teacher.onnx is exported from the shipped
checkpoint byte for byte as its manifest lists it, a mismatch fails clearly and leaves nothing behind; the shipped
checkpoint carries no raw generator, and a run resumed from such a checkpoint starts its raw generator from the EMA."""
import json
import shutil

import pytest
import torch

from seedface import train_teacher
from seedface.train import data, trainckpt
from seedface.train.teacher import TeacherTrainer
from seedface import models_faces64
from seedface.release import manifest as mf, faces64 as m64

MODEL = m64.MODEL_DIR
SHIPPED = m64.CHECKPOINT
needs_shipped = pytest.mark.skipif(not (SHIPPED.is_file() and (MODEL / "manifest.json").is_file()),
                                   reason="models/faces64 or its teacher checkpoint not present")


def _teacher_entry(man):
    return next(f for f in man["files"] if f["path"] == "teacher.onnx")


def _copy_manifest(tmp_path, tamper=None):
    man = json.loads((MODEL / "manifest.json").read_text())
    if tamper:
        tamper(_teacher_entry(man))
    (tmp_path / "manifest.json").write_text(json.dumps(man, indent=2))
    return man


@needs_shipped
def test_export_reproduces_the_manifests_teacher(tmp_path):
    man = _copy_manifest(tmp_path)
    entry = _teacher_entry(man)
    assert entry["produced_by"] == "npm run models:faces64"
    assert models_faces64.main(["--out", str(tmp_path)]) == 0
    out = tmp_path / "teacher.onnx"
    assert out.stat().st_size == entry["bytes"] and m64.sha256_file(out) == entry["sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "teacher.onnx"]  # no temp file left
    mtime = out.stat().st_mtime_ns
    m64.build(tmp_path)  # already matches: left alone
    assert out.stat().st_mtime_ns == mtime


@needs_shipped
@pytest.mark.parametrize("field", ["sha256", "bytes"])
def test_tampered_manifest_fails_clearly_and_writes_nothing(tmp_path, field, capsys):
    def tamper(e):
        e[field] = "0" * 64 if field == "sha256" else e["bytes"] + 1
    _copy_manifest(tmp_path, tamper)
    with pytest.raises(m64.ModelsError) as err:
        m64.build(tmp_path)
    msg = str(err.value)
    assert "is not the teacher.onnx" in msg and "torch" in msg and "nothing was written" in msg
    assert ("0" * 64 in msg) if field == "sha256" else ("bytes" in msg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
    assert models_faces64.main(["--out", str(tmp_path)]) == 2
    assert "models:faces64: error:" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


@needs_shipped
def test_stale_teacher_is_replaced_and_manifest_validates_without_it(tmp_path):
    _copy_manifest(tmp_path)
    for f in ("mapping.onnx", "student_fp32.onnx", "student_int8.onnx"):
        shutil.copyfile(MODEL / f, tmp_path / f)
    mf.validate(mf.load(tmp_path), tmp_path)  # produced_by: a missing teacher.onnx is allowed
    (tmp_path / "teacher.onnx").write_bytes(b"stale")
    m64.build(tmp_path)
    mf.validate(mf.load(tmp_path), tmp_path)


@needs_shipped
def test_shipped_checkpoint_has_no_raw_generator():
    ck = trainckpt.load(SHIPPED)
    t = ck["train"]
    assert t["raw_from_ema"] is True and "mapping" not in t and "synth" not in t
    assert t["D"] and all(v.dtype == torch.bfloat16 for v in t["D"].values() if v.is_floating_point())
    sd = ck["state_dict"]
    assert any(k.startswith("synthesis_net.") for k in sd) and any(k.startswith("mapping_net.") for k in sd)
    assert all(v.dtype == torch.float32 for v in sd.values() if v.is_floating_point())
    assert {"rng", "history", "step", "augment", "args", "elapsed_s", "hardware", "images"} <= set(t)


FACES = data.resolve_data_path(data.DEFAULT_DATA)


@pytest.mark.skipif(not FACES.is_dir(), reason="shared faces128 folder not present")
def test_resume_from_ema_only_checkpoint_starts_raw_generator_from_ema(tmp_path, capsys):
    torch.set_num_threads(1)
    out = train_teacher.run(["--preset", "tiny", "--limit", "16", "--holdout", "16", "--batch", "4", "--threads", "1",
                             "--mean-samples", "64", "--grid-every", "100", "--ckpt-every", "100", "--steps", "3",
                             "--run", str(tmp_path / "run")])
    t = out["trainer"]
    ck = trainckpt.ema_only(trainckpt.load(tmp_path / "run" / "checkpoint.pt"))
    assert "mapping" not in ck["train"] and "synth" not in ck["train"] and "D" in ck["train"]
    capsys.readouterr()
    fresh = TeacherTrainer(t.config, t.a, t.device)
    fresh.load(ck)
    assert "raw generator starts from the EMA" in capsys.readouterr().err
    for raw, ema in (("synth", "ema_synth"), ("mapping", "ema_mapping")):
        a, b = getattr(fresh, raw).state_dict(), getattr(t, ema).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), raw
    assert all(torch.equal(v, t.D.state_dict()[k]) for k, v in fresh.D.state_dict().items())
