"""Distillation on a tiny teacher: the losses fall, resume is exact, export gives a complete model directory."""
import pytest
import torch

from seedface import distill, train_teacher
from seedface.models.config import student_slots
from seedface.train import data, losses, trainckpt

FACES = data.resolve_data_path(data.DEFAULT_DATA)
pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="shared faces128 folder not present")

COMMON = ["--threads", "1", "--log-every", "1", "--mean-samples", "200", "--grid-every", "100",
          "--ckpt-every", "100", "--batch", "4"]


@pytest.fixture(scope="module")
def teacher_ckpt(tmp_path_factory):
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("teacher")
    train_teacher.run(["--preset", "tiny", "--limit", "32", "--holdout", "16", "--batch", "4", "--steps", "6",
                       "--threads", "1", "--mean-samples", "200", "--run", str(run)])
    return run / "checkpoint.pt"


def test_student_slots_follow_the_teacher_layers():
    # 64px: student n_w 11 from a teacher with n_w 10; block i reads the teacher block i's slots
    assert student_slots(3) == [0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7]


def test_distillation_losses_fall(teacher_ckpt, tmp_path):
    out = distill.run(COMMON + ["--teacher", str(teacher_ckpt), "--steps", "30", "--run", str(tmp_path)])
    h = out["history"]
    assert len(h) == 30
    for key in ("rgb", "wavelet", "l1_full"):
        first = sum(r[key] for r in h[:5]) / 5
        last = sum(r[key] for r in h[-5:]) / 5
        assert last < 0.8 * first, (key, first, last)
    assert any("r1" in r for r in h) and all(r["perceptual"] > 0 and r["d_loss"] > 0 for r in h)
    for mode in ("w_single", "w_mixing", "w_wplus"):  # all three w schemes were drawn
        assert 0 < sum(r[mode] for r in h) < 30
    d = out["distiller"]
    assert d.config.student_channels == [64, 64, 32, 16]  # the tiny preset's student
    assert all(p.requires_grad is False for p in d.teacher.parameters())
    assert (tmp_path / "grid.png").is_file() and (tmp_path / "losses.png").is_file()


def test_distillation_resume_is_exact(teacher_ckpt, tmp_path):
    args = COMMON + ["--teacher", str(teacher_ckpt), "--r1-every", "3"]
    full = distill.run(args + ["--steps", "8", "--run", str(tmp_path / "a")])
    distill.run(args + ["--steps", "4", "--run", str(tmp_path / "b")])
    # --r1-every comes back from the checkpoint
    resumed = distill.run(COMMON + ["--steps", "8", "--run", str(tmp_path / "b"), "--resume"])
    for ra, rb in zip(full["history"], resumed["history"]):
        assert ra["loss"] == rb["loss"] and ra["d_loss"] == rb["d_loss"], ra["step"]
    sa, sb = full["distiller"].student.state_dict(), resumed["distiller"].student.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    ck = trainckpt.load(tmp_path / "b" / "checkpoint.pt")
    assert ck["kind"] == "distill" and any(k.startswith("student.") for k in ck["state_dict"])


def test_slim_checkpoint_resumes_approximately(teacher_ckpt, tmp_path):
    distill.run(COMMON + ["--teacher", str(teacher_ckpt), "--steps", "3", "--run", str(tmp_path / "a")])
    ck = trainckpt.load(tmp_path / "a" / "checkpoint.pt")
    slim = trainckpt.slim(ck)
    assert "opt" not in slim["train"] and slim["train"]["D"]["convs.0.0.weight"].dtype == torch.bfloat16
    (tmp_path / "b").mkdir()
    torch.save(slim, tmp_path / "b" / "checkpoint.pt")
    out = distill.run(COMMON + ["--steps", "5", "--run", str(tmp_path / "b"), "--resume"])
    assert out["summary"]["steps"] == 5 and len(out["history"]) == 5


def _fake_vgg16_file(path):
    sd, c, i = {}, 3, 0
    for v in losses._VGG16_CFG:
        if v == "M":
            i += 1
            continue
        sd[f"features.{i}.weight"] = torch.randn(v, c, 3, 3) * 0.05
        sd[f"features.{i}.bias"] = torch.zeros(v)
        c, i = v, i + 2
    torch.save(sd, path)


def test_vgg16_features_from_a_local_file(tmp_path):
    _fake_vgg16_file(tmp_path / "vgg16.pth")
    vgg = losses.VGG16Features(tmp_path / "vgg16.pth", resize=32)
    feats = vgg(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512] and feats[0].shape[-1] == 32
    assert all(not p.requires_grad for p in vgg.parameters())
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="lack"):
        losses.VGG16Features(tmp_path / "bad.pth")


def test_sigterm_saves_a_checkpoint_without_exporting(teacher_ckpt, tmp_path):
    import json
    import signal

    from interrupt import signal_after_logged

    run, export = tmp_path / "run", tmp_path / "model"
    args = COMMON + ["--teacher", str(teacher_ckpt), "--steps", "100000", "--run", str(run), "--export", str(export)]
    status, err = signal_after_logged("seedface.distill", args, run, 3, signal.SIGTERM)
    assert status == 130, err
    ck = trainckpt.load(run / "checkpoint.pt")
    summary = json.loads((run / "log.json").read_text())["summary"]
    assert summary["stopped_by"] == "SIGTERM" and summary["steps"] == ck["train"]["step"] >= 2
    assert not export.exists()  # an interrupted run is not exported
