"""training/README.md's resume command: the shipped faces64 teacher (a slim checkpoint saved on a CUDA machine)
continues on CPU, and the committed checkpoint is left untouched."""
import hashlib

import pytest
import torch

from seedface import train_teacher
from seedface.train import data, trainckpt

SHIPPED = data.repo_root() / "training" / "checkpoints" / "faces64" / "teacher.pt"
FACES = data.resolve_data_path(data.DEFAULT_DATA)
pytestmark = pytest.mark.skipif(not (SHIPPED.is_file() and FACES.is_dir()),
                                reason="shipped teacher checkpoint or shared faces128 folder not present")


def test_shipped_gpu_teacher_resumes_on_cpu(tmp_path):
    torch.set_num_threads(1)
    before = hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    ck = trainckpt.load(SHIPPED)
    start = int(ck["train"]["step"])
    assert ck["train"]["rng"]["gen_device"].startswith("cuda")  # the case this test is about
    out = train_teacher.run(["--resume", str(SHIPPED), "--run", str(tmp_path / "more"), "--steps", str(start + 2),
                             "--batch", "4", "--limit", "16", "--holdout", "16", "--threads", "1",
                             "--mean-samples", "64", "--device", "cpu"])
    assert out["summary"]["steps"] == start + 2
    assert out["trainer"].config.resolution == 64 and out["trainer"].config.style_dim == 256  # from the checkpoint
    resumed = trainckpt.load(tmp_path / "more" / "checkpoint.pt")
    assert resumed["train"]["step"] == start + 2 and resumed["train"]["rng"]["gen_device"] == "cpu"
    assert hashlib.sha256(SHIPPED.read_bytes()).hexdigest() == before
