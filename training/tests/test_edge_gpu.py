"""The edge student's one-call GPU path (run.sh --prepare-edge / --gpu-edge / --finish-edge, issue 15) on CPU at
64 px: the release teacher's compact pack, a run continued from its transfer checkpoint, the fetched checkpoint put
back so that the CPU run goes on with the release's own frozen levels and mapping."""
import json
import re
import shlex
import subprocess

import pytest
import torch

from seedface import distill
from seedface.paths import REPO
from seedface.release.wheel import PINNED
from seedface.train import release_pack, trainckpt
from seedface.train.teacher_source import load_release_teacher, load_teacher, teacher_weights

WHEEL = REPO / "training" / "downloads" / PINNED["file"]
RUN_SH = REPO / "training" / "device" / "run.sh"
needs_wheel = pytest.mark.skipif(not WHEEL.is_file(),
                                 reason="the random-face wheel is not downloaded (npm run models:ffhq)")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    keep = tmp_path_factory.mktemp("edge")
    proc = subprocess.run(["bash", str(RUN_SH), "--smoke-edge", "--keep", str(keep)], cwd=REPO, capture_output=True,
                          text=True, timeout=900, env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
                                                       "HOME": str(keep)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return keep, proc.stdout


def test_pack_keeps_16_bit_values_exactly_and_refuses_damage(tmp_path):
    g = torch.Generator().manual_seed(0)
    parts = {"mapping": {"a.weight": torch.randn(3, 4, generator=g)},
             "synthesis": {"b": torch.randn(5, generator=g), "c": torch.tensor(2.5)}}
    path = tmp_path / "x.pack"
    release_pack.write(path, parts, {"mapping": "fp16", "synthesis": "bf16"}, {"note": "test"})
    assert release_pack.is_pack(path) and not release_pack.is_pack(REPO / "package.json")
    meta, back = release_pack.read(path)
    assert meta == {"note": "test"}
    assert torch.equal(back["mapping"]["a.weight"], parts["mapping"]["a.weight"].half().float())
    assert torch.equal(back["synthesis"]["b"], parts["synthesis"]["b"].bfloat16().float())
    assert back["synthesis"]["c"].shape == () and float(back["synthesis"]["c"]) == 2.5
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged"):
        release_pack.read(path)


def test_fresh_edge_flags_are_the_npm_scripts():
    got = subprocess.run(["bash", "-c", f'source <(sed -n "/^EDGE_FLAGS=/,/)$/p" {shlex.quote(str(RUN_SH))}); '
                                        'printf "%s\\n" "${EDGE_FLAGS[@]}"'],
                         capture_output=True, text=True, check=True).stdout.split()
    npm = shlex.split(json.loads((REPO / "package.json").read_text())["scripts"]["distill:edge"])
    assert len(got) >= 10
    for flag, value in zip(got[::2], got[1::2]):
        assert flag in npm and npm[npm.index(flag) + 1] == value, flag


@needs_wheel
def test_carried_folder_holds_the_pack_and_the_run_without_the_teacher(smoke):
    keep, stdout = smoke
    folder = keep / "gpu_edge"
    report = json.loads((folder / "release64.json").read_text())
    assert report["pack"]["level"] == 64 and report["pack"]["source"]["sha256"] == PINNED["sha256"]
    assert report["psnr_vs_wheel"]["same_w_db"]["min"] > 50  # bf16 weights, the same w
    ck = trainckpt.load(folder / "resume.pt")
    dropped = set(ck["train"]["from_teacher"])
    assert {"mapping_net.layers.1.weight", "student.conv1.conv.weight", "student.layers.0.conv2.conv.weight_permute",
            "student.to_img1.conv.weight"} <= dropped
    assert not any(k.startswith("student.layers.1.conv") for k in dropped)  # the narrowed 32 px block travels
    assert "opt" not in ck["train"] and "D" not in ck["train"] and ck["train"]["step"] == 2
    assert ck["state_dict"]["student.layers.2.conv2.conv.weight_permute"].dtype == torch.bfloat16
    assert (f'run(command="bash training/device/run.sh --gpu-edge --edge-pack {folder}/release64.pack '
            f'--edge-resume {folder}/resume.pt --batch 64 --deadline 480",') in stdout
    assert f'carry=["{folder}"], timeout_s=600)' in stdout


@needs_wheel
def test_out_folder_fits_the_device_tool(smoke):
    keep, _ = smoke
    files = sorted((keep / "out").iterdir())
    assert {f.name for f in files} == {"checkpoint.pt", "grid.png", "losses.png", "log.csv", "run.log",
                                       "summary.json"}
    for f in files:
        assert f.is_file() and f.stat().st_size < 16 * 2**20 and re.fullmatch(r"[A-Za-z0-9._-]+", f.name)
    summary = json.loads((keep / "out" / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["resumed"] is True and summary["status"] == 0
    assert summary["teacher"]["pack"] == "release64.pack"
    assert trainckpt.load(keep / "out" / "checkpoint.pt")["state_dict"][
        "student.layers.2.conv2.conv.weight_permute"].dtype == torch.float32  # what trained comes back in fp32


@needs_wheel
def test_finished_run_is_the_release_again_and_continues_on_cpu(smoke):
    keep, _ = smoke
    run = keep / "edge"
    ck = trainckpt.load(run / "checkpoint.pt")
    assert ck["train"]["step"] == 4 and ck["train"]["teacher_source"].endswith(PINNED["file"])
    assert ck["train"]["teacher_info"]["gpu_sessions"][-1]["teacher"] == "release64.pack"
    assert (run / "checkpoint.before-gpu.pt").is_file() and (run / "grid.png").is_file()
    shared = teacher_weights(load_release_teacher(WHEEL, 64))
    sd = ck["state_dict"]
    for k in ("mapping_net.layers.8.weight", "student.conv1.conv.weight", "student.layers.0.conv2.conv.weight_dw"):
        assert torch.equal(sd[k], shared[k]), k  # exactly the wheel's, not the pack's bf16 copy
    torch.set_num_threads(1)
    out = distill.run(["--resume", "--run", str(run), "--teacher", str(WHEEL), "--steps", "5", "--threads", "1",
                       "--grid-every", "100", "--ckpt-every", "100"])
    assert out["distiller"].step == 5 and len(out["history"]) >= 3


@needs_wheel
def test_pack_teaches_a_fresh_narrow_start_and_draws_as_one_batch(smoke, tmp_path):
    keep, _ = smoke
    pack = keep / "gpu_edge" / "release64.pack"
    with pytest.raises(ValueError, match="up to its 64 px head"):
        load_teacher(pack, 128)
    t = load_teacher(pack, 32)
    g = torch.Generator().manual_seed(3)
    w = torch.randn(2, t.synth.n_w, 512, generator=g)
    noise = [torch.randn(2, 1, s, s, generator=g) for s in t.synth.noise_sizes()]
    full = torch.cat([w, w[:, -1:].expand(-1, t.synth.net.n_w - w.shape[1], -1)], dim=1)
    unused = [None] * (len(t.synth.net.noise_sizes()) - len(noise))
    with torch.no_grad():  # the GPU path (one batch) draws what the CPU path (one sample at a time) draws
        torch.testing.assert_close(t.synth.net(full, noise + unused, levels=t.synth.levels)["img"], t.synth(w, noise))
    torch.set_num_threads(1)
    out = distill.run(["--teacher", str(pack), "--resolution", "32", "--student-channels", "512,512,256", "--init",
                       "narrow", "--freeze-levels", "2", "--batch", "2", "--replay", "0", "--gan-weight", "0",
                       "--perceptual-weight", "0", "--steps", "1", "--threads", "1", "--mean-samples", "50",
                       "--grid-every", "100", "--ckpt-every", "100", "--run", str(tmp_path / "fresh")])
    d = out["distiller"]
    assert torch.equal(d.student.layers[0].conv2.conv.weight_permute, d.teacher.net.layers[0].conv2.conv.weight_permute)
    assert d.teacher_info["pack_dtype"] == "bf16"
