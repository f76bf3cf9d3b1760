"""Distilling from the release converter's mapping + synthesis pair (what `npm run convert` imports as a teacher-only
model, whose manifest says to distil a student with `npm run distill`): `--teacher mapping.ckpt,synthesis.ckpt`."""
import pytest
import torch

from seedface import distill
from seedface.train import data
from seedface.models import MappingNetwork, TeacherSynthesis
from seedface.models.config import preset
from seedface.train.teacher_source import load_teacher

FACES = data.resolve_data_path(data.DEFAULT_DATA)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    torch.manual_seed(0)
    c = preset("tiny")
    m = MappingNetwork(c.style_dim, c.n_mlp).eval()
    t = TeacherSynthesis(c.resolution, c.style_dim, c.teacher_channels).eval()
    d = tmp_path_factory.mktemp("pair")
    torch.save({"params": {"style_dim": c.style_dim, "n_layers": c.n_mlp, "lr_mlp": 0.01}, "ckpt": m.state_dict()},
               d / "mapping.ckpt")
    torch.save({"params": {"size": c.resolution, "style_dim": c.style_dim,
                           "channels": {4 * 2 ** i: ch for i, ch in enumerate(c.teacher_channels)}},
                "ckpt": t.state_dict()}, d / "synthesis.ckpt")
    return d / "mapping.ckpt", d / "synthesis.ckpt", m, t


def test_pair_loads_as_the_same_teacher(pair):
    mp, sy, m, t = pair
    teacher = load_teacher(f"{mp},{sy}")
    assert teacher.config.teacher_channels == [64, 64, 32, 16, 8] and teacher.d_state is None
    torch.manual_seed(1)
    z = torch.randn(2, teacher.config.style_dim)
    noise = [torch.randn(2, 1, s, s) for s in t.noise_sizes()]
    with torch.no_grad():
        w = m(z)
        assert torch.allclose(teacher.mapping(z), w, atol=1e-6)
        wp = w[:, None].expand(2, t.n_w, -1)
        assert torch.allclose(teacher.synth(wp, noise), t(wp, noise), atol=1e-5)


def test_half_a_pair_or_two_of_a_kind_is_refused(pair):
    mp, sy, _, _ = pair
    with pytest.raises(ValueError, match="mapping.ckpt,synthesis.ckpt"):
        load_teacher(mp)
    with pytest.raises(ValueError, match="second converter-mapping"):
        load_teacher(f"{mp},{mp}")
    with pytest.raises(FileNotFoundError):
        load_teacher(f"{mp},{sy.with_name('missing.ckpt')}")


@pytest.mark.skipif(not FACES.is_dir(), reason="shared faces128 folder not present")
def test_distillation_runs_from_the_pair(pair, tmp_path):
    mp, sy, _, _ = pair
    torch.set_num_threads(1)
    out = distill.run(["--teacher", f"{mp},{sy}", "--steps", "2", "--batch", "2", "--threads", "1",
                       "--mean-samples", "64", "--run", str(tmp_path)])
    assert out["summary"]["steps"] == 2 and (tmp_path / "checkpoint.pt").is_file()
    assert out["distiller"].config.student_channels == [64, 64, 32, 16]  # the teacher's channels minus the last
