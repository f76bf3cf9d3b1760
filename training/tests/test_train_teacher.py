"""Teacher training on tiny configs: losses move from initialisation, resume is exact, the budget ends cleanly."""
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from seedface import train_teacher
from seedface.train import data, trainckpt
from seedface.train.teacher import TeacherTrainer
from seedface.release import manifest as mf

FACES = data.resolve_data_path(data.DEFAULT_DATA)
pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="shared faces128 folder not present")

COMMON = ["--preset", "tiny", "--limit", "48", "--holdout", "16", "--batch", "4", "--threads", "1",
          "--log-every", "1", "--mean-samples", "200", "--grid-every", "100", "--ckpt-every", "100"]


def _mean(history, key, rows):
    return float(np.mean([r[key] for r in rows]))


def test_discriminator_learns_and_generator_moves(tmp_path):
    torch.set_num_threads(1)
    out = train_teacher.run(COMMON + ["--steps", "30", "--run", str(tmp_path / "run"), "--augment", "none"])
    h = out["history"]
    assert [r["step"] for r in h] == list(range(1, 31))
    first, last = _mean(h, "d_loss", h[:6]), _mean(h, "d_loss", h[-6:])
    assert first > 1.0 and last < first - 0.2, (first, last)  # starts near log 4, D separates real and fake
    assert any("r1" in r for r in h)
    t = out["trainer"]
    torch.manual_seed(0)
    fresh = TeacherTrainer(t.config, t.a, t.device)
    moved = [float((p - q).abs().max()) for p, q in zip(t.synth.parameters(), fresh.synth.parameters())]
    assert max(moved) > 1e-3
    ema_gap = [float((p - q).abs().max()) for p, q in zip(t.synth.parameters(), t.ema_synth.parameters())]
    assert max(ema_gap) > 0  # EMA lags the raw generator
    for f in ("checkpoint.pt", "log.csv", "log.json", "losses.png", "grid.png"):
        assert (tmp_path / "run" / f).is_file(), f


def test_resume_reproduces_the_run_exactly(tmp_path):
    torch.set_num_threads(1)
    args = COMMON + ["--r1-every", "4", "--augment", "ada", "--ada-kimg", "0.05", "--ada-target", "-1"]
    full = train_teacher.run(args + ["--steps", "10", "--run", str(tmp_path / "a")])
    train_teacher.run(args + ["--steps", "5", "--run", str(tmp_path / "b")])
    # hyperparameters come back from the checkpoint: only the common flags are given again
    resumed = train_teacher.run(COMMON + ["--steps", "10", "--run", str(tmp_path / "b"), "--resume"])
    ha, hb = full["history"], resumed["history"]
    assert len(ha) == len(hb) == 10
    for ra, rb in zip(ha, hb):
        for k in ("d_loss", "g_loss", "aug_p", "real_score"):
            assert ra[k] == rb[k], (ra["step"], k)
    ta, tb = full["trainer"], resumed["trainer"]
    assert any(r["aug_p"] > 0 for r in ha[5:])  # the adaptive strength moved and was carried across the resume
    assert tb.a.augment == "ada" and tb.a.r1_every == 4
    for name in ("synth", "ema_synth", "D", "mapping", "ema_mapping"):
        sa, sb = getattr(ta, name).state_dict(), getattr(tb, name).state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), name
    ck = trainckpt.load(tmp_path / "b" / "checkpoint.pt")
    assert ck["kind"] == "teacher" and ck["train"]["step"] == 10
    assert "mapping_net.layers.1.weight" in ck["state_dict"] and "synthesis_net.input.input" in ck["state_dict"]


def test_time_budget_ends_with_checkpoint_and_onnx(tmp_path):
    torch.set_num_threads(1)
    out = train_teacher.run(COMMON + ["--minutes", "0.03", "--run", str(tmp_path / "run"),
                                      "--export", str(tmp_path / "model"), "--id", "t"])
    assert out["summary"]["steps"] >= 1
    man = mf.load(tmp_path / "model")
    mf.validate(man, tmp_path / "model")
    assert man["networks"]["student"] is None and man["provenance"]["source"] == "trained-here"
    assert "non-commercial" in man["training_data"]["licence"]
    t = man["networks"]["teacher"]
    sess = ort.InferenceSession(str(tmp_path / "model" / "teacher.onnx"), providers=["CPUExecutionProvider"])
    feeds = {"w": np.zeros((1, t["n_w"], man["style_dim"]), np.float32)}
    feeds.update({i["name"]: np.zeros(i["shape"], np.float32) for i in t["inputs"][1:]})
    img = sess.run(None, feeds)[0]
    assert img.shape == (1, 3, 64, 64) and np.isfinite(img).all()
    summary = json.loads((tmp_path / "run" / "log.json").read_text())["summary"]
    assert summary["steps"] == out["summary"]["steps"]


def test_non_finite_losses_stop_the_run():
    from seedface.train.runlog import means
    assert means({"d_loss": [1.0, torch.tensor(3.0)]}) == {"d_loss": 2.0}
    with pytest.raises(FloatingPointError, match="g_loss"):
        means({"d_loss": [1.0], "g_loss": [float("nan"), 1.0]})


def test_ctrl_c_saves_a_checkpoint_and_the_run_resumes(tmp_path):
    import signal

    from interrupt import signal_after_logged

    run = tmp_path / "run"
    status, err = signal_after_logged("seedface.train_teacher", COMMON + ["--steps", "100000", "--run", str(run),
                                                                          "--augment", "none"], run, 4, signal.SIGINT)
    assert status == 130, err
    assert "stopping after this step" in err and "continue with --resume" in err
    ck = trainckpt.load(run / "checkpoint.pt")
    summary = json.loads((run / "log.json").read_text())["summary"]
    assert summary["stopped_by"] == "SIGINT" and summary["steps"] == ck["train"]["step"] >= 3
    for f in ("losses.png", "grid.png"):
        assert (run / f).is_file(), f
    resumed = train_teacher.run(COMMON + ["--steps", str(ck["train"]["step"] + 2), "--run", str(run), "--resume"])
    assert resumed["summary"]["steps"] == ck["train"]["step"] + 2
