"""The edge student's distillation (issue 15) on the GPU box, in one device call, and back.

    prepare  (here)      the release teacher as a compact pack (seedface.train.release_pack) + the run's
                         checkpoint without what the teacher holds (trainckpt.transfer), into the carried folder
    collect  (GPU box)   the run's checkpoint the same way (float32), its grid, loss plot and log into $OUT
    finish   (here)      the fetched checkpoint completed from the wheel (the frozen levels and the mapping exactly
                         the release's again) into the run directory, so that `npm run distill:edge -- --resume`,
                         `npm run export:edge` and `npm run eval:edge` continue from it

run.sh --prepare-edge / --gpu-edge / --finish-edge call these (through seedface.edge_gpu).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch

from seedface.eval.metrics import psnr
from seedface.models.checkpoint import load_published, state_dict_published
from seedface.models.config import ModelConfig
from seedface.train import plots, trainckpt
from seedface.train.distill import LOG_KEYS
from seedface.train.runenv import resolve
from seedface.train.runlog import RunLog
from seedface.train.teacher_source import (Teacher, load_pack_teacher, load_release_teacher, teacher_weights,
                                           write_release_pack)

OUT_FILES = ("grid.png", "losses.png", "log.csv")  # besides checkpoint.pt, summary.json and run.log
FILE_LIMIT = 16 * 2**20  # what the device tool returns per file (at most 8 files)


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _edge_checkpoint(path: Path) -> dict:
    ck = trainckpt.load(path)
    if ck["kind"] != "distill" or ck["config"].get("teacher_channels"):
        raise ValueError(f"{path}: not an edge-student run (a distillation taught by the release)")
    return ck


@torch.no_grad()
def teacher_psnr(ref: Teacher, other: Teacher, seeds: int, seed: int = 0) -> dict:
    """PSNR (dB, images in [-1, 1]) of `other`'s images against `ref`'s at their level over `seeds` samples: for
    the same w (what distillation sees: student and teacher share each w) and through each one's own mapping."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(seeds, ref.config.style_dim, generator=g)
    noise = [torch.randn(seeds, 1, s, s, generator=g) for s in ref.synth.noise_sizes()]
    n_w = ref.synth.n_w

    def draw(t: Teacher, w: torch.Tensor) -> torch.Tensor:
        return t.synth(w.unsqueeze(1).repeat(1, n_w, 1), noise).float()

    w = ref.mapping(z)
    img = draw(ref, w)
    same, own = psnr(draw(other, w), img), psnr(draw(other, other.mapping(z)), img)
    figures = lambda x: {"mean": round(float(x.mean()), 2), "min": round(float(x.min()), 2)}  # noqa: E731
    return {"seeds": seeds, "size": int(img.shape[-1]), "same_w_db": figures(same), "own_mapping_db": figures(own)}


def prepare(wheel: Path, resolution: int, out_dir: Path, dtype: str = "bf16", resume: Path | None = None,
            psnr_seeds: int = 4, log=print) -> dict:
    """Write out_dir/release<resolution>.pack (+ out_dir/resume.pt from `resume`, a run's checkpoint) and
    out_dir/release<resolution>.json (sizes, provenance, the pack's PSNR against the wheel)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pack = out_dir / f"release{resolution}.pack"
    t, meta = write_release_pack(Path(wheel), resolution, pack, dtype)
    report = {"pack": {"file": pack.name, "bytes": pack.stat().st_size, "dtype": meta["dtype"],
                       "level": meta["level"], "channels": meta["channels"], "source": meta["source"]}}
    log(f"pack {pack}: {pack.stat().st_size / 2**20:.2f} MiB (synthesis {dtype}, mapping fp16, "
        f"channels {meta['channels']})")
    if psnr_seeds > 0:
        report["psnr_vs_wheel"] = teacher_psnr(t, load_pack_teacher(pack, resolution), psnr_seeds)
        p = report["psnr_vs_wheel"]
        log(f"teacher from the pack vs the wheel's at {p['size']} px over {psnr_seeds} seeds: same w "
            f"{p['same_w_db']['mean']} dB (min {p['same_w_db']['min']}), through its own mapping "
            f"{p['own_mapping_db']['mean']} dB (min {p['own_mapping_db']['min']})")
    target = out_dir / "resume.pt"
    target.unlink(missing_ok=True)
    if resume is not None:
        ck = _edge_checkpoint(resume)
        if ck["config"]["resolution"] > resolution:
            raise ValueError(f"{resume}: a {ck['config']['resolution']} px run; the pack is {resolution} px")
        tr = trainckpt.transfer(ck, teacher_weights(t), torch.bfloat16)
        if not any(k.startswith("mapping_net.") for k in tr["train"]["from_teacher"]):
            raise ValueError(f"{resume}: its mapping is not the release's: not distilled from this wheel")
        trainckpt.save(target, tr["kind"], tr["config"], tr["state_dict"], tr["train"])
        report["resume"] = {"file": target.name, "bytes": target.stat().st_size, "step": tr["train"]["step"],
                            "from_teacher": len(tr["train"]["from_teacher"]), "source": str(resume)}
        log(f"resume {target}: step {tr['train']['step']}, {target.stat().st_size / 2**20:.2f} MiB "
            f"({len(tr['train']['from_teacher'])} tensors left to the teacher, the rest bf16, no optimiser states)")
    (out_dir / f"release{resolution}.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def collect(run_dir: Path, teacher: Path, out: Path, extra: dict | None = None) -> dict:
    """On the GPU box: the run's checkpoint as a float32 transfer copy (what equals the pack's weights left out),
    its plots and log, and summary.json, into `out` (each file < 16 MiB)."""
    run_dir, out = Path(run_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ck = _edge_checkpoint(run_dir / "checkpoint.pt")
    t = load_pack_teacher(Path(teacher), ck["config"]["resolution"])
    tr = trainckpt.transfer(ck, teacher_weights(t))
    trainckpt.save(out / "checkpoint.pt", tr["kind"], tr["config"], tr["state_dict"], tr["train"])
    for f in OUT_FILES:
        if (run_dir / f).is_file():
            shutil.copy2(run_dir / f, out / f)
    history = tr["train"]["history"]
    summary = {"steps": tr["train"]["step"], "elapsed_min": round(float(tr["train"]["elapsed_s"]) / 60, 2),
               "hardware": tr["train"].get("hardware"), "teacher": t.info, "last": history[-1] if history else None,
               "checkpoint": {"bytes": (out / "checkpoint.pt").stat().st_size, "sha256": _sha(out / "checkpoint.pt"),
                              "from_teacher": len(tr["train"]["from_teacher"])},
               **(extra or {})}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    big = [f.name for f in out.iterdir() if f.stat().st_size >= FILE_LIMIT]
    if big:
        raise ValueError(f"{out}: {', '.join(big)} too large for the device tool (16 MiB per file)")
    return summary


def finish(src: Path, run_dir: Path, wheel: str, log=print) -> dict:
    """The fetched $OUT folder `src` into `run_dir`: checkpoint.pt completed from the wheel (the run's previous
    checkpoint kept as checkpoint.before-gpu.pt), log.csv and losses.png from the whole history, the GPU's grid
    and log beside them. `wheel` becomes the checkpoint's teacher_source as given (a path from the repository
    root, as the npm scripts name it)."""
    src, run_dir = Path(src), Path(run_dir)
    summary = json.loads((src / "summary.json").read_text()) if (src / "summary.json").is_file() else {}
    want = (summary.get("checkpoint") or {}).get("sha256")
    if want and _sha(src / "checkpoint.pt") != want:
        raise ValueError(f"{src / 'checkpoint.pt'}: sha256 differs from summary.json (fetched incompletely?)")
    tr = _edge_checkpoint(src / "checkpoint.pt")
    config = ModelConfig.from_dict(tr["config"])
    t = load_release_teacher(resolve(wheel), config.resolution)
    ck = trainckpt.complete(tr, teacher_weights(t))
    _, mapping, _, student, _ = load_published(ck["state_dict"], config)  # checks the layout
    train = ck["train"]
    mean = mapping.mean_w(n=int(train["args"].get("mean_samples") or 10000), seed=0)
    session = {"to_step": train["step"], "hardware": train.get("hardware"),
               "teacher": summary.get("teacher", {}).get("pack") or Path(str(train.get("teacher_source"))).name}
    info = dict(t.info)
    info["gpu_sessions"] = list((train.get("teacher_info") or {}).get("gpu_sessions", [])) + [session]
    train = {**train, "teacher_source": str(wheel), "teacher_info": info}
    run_dir.mkdir(parents=True, exist_ok=True)
    target = run_dir / "checkpoint.pt"
    if target.is_file():
        before = trainckpt.load(target)["train"]["step"]
        if before > train["step"]:
            log(f"WARNING: {target} is at step {before}, ahead of the fetched step {train['step']}")
        target.replace(run_dir / "checkpoint.before-gpu.pt")
        log(f"kept the previous checkpoint (step {before}) as {run_dir / 'checkpoint.before-gpu.pt'}")
    trainckpt.save(target, "distill", ck["config"], state_dict_published(mapping, None, student, mean), train)
    RunLog(run_dir, train["history"]).write_json(  # log.csv and log.json from the whole history
        {"kind": "distill", "steps": train["step"], "minutes": round(float(train["elapsed_s"]) / 60, 3),
         "resolution": config.resolution, "student_channels": config.student_channels, "teacher": str(wheel),
         "hardware": train.get("hardware"), "checkpoint": str(target), "fetched_from": str(src)})
    plots.loss_plot(run_dir / "losses.png", train["history"], LOG_KEYS, f"distillation {config.resolution}px")
    for name, dest in (("grid.png", "grid.png"), ("run.log", f"gpu-step{train['step']}.log")):
        if (src / name).is_file():
            shutil.copy2(src / name, run_dir / dest)
    log(f"{target}: step {train['step']}, {float(train['elapsed_s']) / 60:.1f} min in all; "
        f"{len(tr['train']['from_teacher'])} tensors (mapping, frozen levels) restored from {Path(wheel).name}")
    return {"checkpoint": str(target), "step": train["step"], "session": session}
