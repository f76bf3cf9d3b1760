"""Quality report of a model without pretrained networks.

    python -m seedface.evaluate <model dir | checkpoint | run dir> [--seeds 1000] [--name RUN]

- student vs teacher at the same w and noise (seeds "0".."N-1", seedface-seed/1): PSNR and SSIM at every level
  (teacher image area-resized to the level); for a model directory also the int8 student vs the teacher;
- multi-scale sliced Wasserstein distance (Laplacian-pyramid 7x7 patches) of teacher samples, student samples and
  held-out real faces, each against the training faces; the real-vs-real value is the floor.
Writes training/reports/<name>.json, <name>.md and <name>_grid.png.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from seedface.eval import metrics
from seedface.models.checkpoint import load_published
from seedface.models.config import student_slots
from seedface.paths import REPO
from seedface.pipeline import seeding
from seedface.pipeline import face
from seedface.pipeline.runtime import session
from seedface.release import manifest as mf
from seedface.train import data as data_mod, plots, trainckpt
from seedface.train.runenv import pick_device

REPORTS = REPO / "training" / "reports"


# ---- generators: the same seeds through torch modules or ONNX files (seedface.pipeline.face) ---------------

class TorchModels:
    def __init__(self, path: Path, device: torch.device):
        ck = trainckpt.load(path)
        config, self.mapping, self.teacher, self.student, sm = load_published(ck["state_dict"])
        if self.student is None or self.teacher is None:
            raise ValueError(f"{path}: needs a teacher and a student (a distillation checkpoint)")
        self.slots = student_slots(self.student.n_blocks)
        self.config, self.device = config, device
        for m in (self.mapping, self.teacher, self.student):
            m.to(device).eval()
        self.mean = (sm[0] if sm is not None else self.mapping.mean_w(10000)).to(device)
        self.resolution, self.style_dim = config.resolution, config.style_dim
        self.has_int8 = False
        self.source = f"checkpoint {path} ({ck['kind']}, step {ck['train']['step']})"

    @torch.no_grad()
    def run(self, seeds: list[str], psi: float) -> dict:
        z = torch.from_numpy(face.latents(seeds, self.style_dim)).to(self.device)
        wt = face.broadcast(face.truncate(self.mapping(z), self.mean, psi), self.teacher.n_w)
        per_seed = [seeding.noise_maps(s, self.teacher.noise_sizes()) for s in seeds]
        nz = [torch.from_numpy(np.concatenate([p[k] for p in per_seed])).to(self.device)
              for k in range(len(per_seed[0]))]
        t = self.teacher(wt, nz).float().cpu()
        s = self.student(wt[:, self.slots], nz[: len(self.student.noise_sizes())])
        return {"teacher": t, "student": [x.float().cpu() for x in s["imgs"]]}


class OnnxModels:
    def __init__(self, model_dir: Path):
        self.man = mf.load(model_dir)
        nets = self.man["networks"]
        if not nets.get("student") or not nets.get("teacher"):
            raise ValueError(f"{model_dir}: needs both a student and a teacher network")
        self.nets = nets
        self.map = session(model_dir / nets["mapping"]["files"]["fp32"])
        self.t = session(model_dir / nets["teacher"]["files"]["fp32"])
        self.s = session(model_dir / nets["student"]["files"]["fp32"])
        int8 = nets["student"]["files"].get("int8")
        self.s8 = session(model_dir / int8) if int8 else None
        self.has_int8 = self.s8 is not None
        self.resolution, self.style_dim = self.man["resolution"], self.man["style_dim"]
        self.mean = face.truncation_mean(self.man)
        self.s_outputs = [o["name"] for o in nets["student"]["outputs"]]
        self.source = f"model directory {model_dir} ({self.man['id']} {self.man['version']})"

    def run(self, seeds: list[str], psi: float) -> dict:
        out = {"teacher": [], "student": [], "student_int8": []}
        for seed in seeds:  # noise inputs have batch 1
            w = face.truncate(face.map_latents(self.map, face.latents([seed], self.style_dim)), self.mean, psi)
            out["teacher"].append(self.t.run(None, face.synthesis_feeds(self.nets["teacher"], seed, w))[0])
            sf = face.synthesis_feeds(self.nets["student"], seed, w)
            out["student"].append(self.s.run(self.s_outputs, sf))
            if self.s8 is not None:
                out["student_int8"].append(self.s8.run(self.s_outputs[-1:], sf)[0])
        res = {"teacher": torch.from_numpy(np.concatenate(out["teacher"])),
               "student": [torch.from_numpy(np.concatenate([o[j] for o in out["student"]]))
                           for j in range(len(self.s_outputs))]}
        if self.s8 is not None:
            res["student_int8"] = torch.from_numpy(np.concatenate(out["student_int8"]))
        return res


def open_models(path: Path, device: torch.device):
    if path.is_dir() and (path / "manifest.json").is_file():
        return OnnxModels(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    return TorchModels(path, device)


# ---- the report ------------------------------------------------------------------------------------------

def evaluate(path: Path, n_seeds: int = 1000, psi: float = 1.0, data: str | None = None, n_real: int = 1000,
             holdout: int = data_mod.DEFAULT_HOLDOUT, device: str = "auto", batch: int = 50,
             swd_kw: dict | None = None) -> tuple[dict, dict]:
    dev = pick_device(device)
    t0 = time.time()
    models = open_models(path, dev)
    R = models.resolution
    sums: dict[str, dict[int, list]] = {"psnr": {}, "ssim": {}}
    teacher_imgs, student_imgs, grid = [], [], None
    int8 = {"psnr": [], "ssim": [], "psnr_vs_fp32": []}
    for i in range(0, n_seeds, batch):
        seeds = [str(j) for j in range(i, min(n_seeds, i + batch))]
        out = models.run(seeds, psi)
        t = out["teacher"]
        for s_img in out["student"]:
            size = s_img.shape[-1]
            ref = torch.nn.functional.interpolate(t, size=(size, size), mode="area") if size != R else t
            sums["psnr"].setdefault(size, []).append(metrics.psnr(s_img, ref))
            sums["ssim"].setdefault(size, []).append(metrics.ssim(s_img, ref))
        if "student_int8" in out:
            q = out["student_int8"]
            int8["psnr"].append(metrics.psnr(q, t))
            int8["ssim"].append(metrics.ssim(q, t))
            int8["psnr_vs_fp32"].append(metrics.psnr(q, out["student"][-1]))
        teacher_imgs.append(t)
        student_imgs.append(out["student"][-1])
        if grid is None:
            grid = (t[:8], out["student"][-1][:8], out.get("student_int8", torch.empty(0))[:8])
        print(f"[eval] seeds {min(n_seeds, i + batch)}/{n_seeds}", file=sys.stderr, flush=True)
    levels = []
    for size in sorted(sums["psnr"]):
        p = torch.cat(sums["psnr"][size])
        levels.append({"size": size, "psnr_db": metrics.finite_mean(p), "psnr_db_min": float(p.min()),
                       "ssim": float(torch.cat(sums["ssim"][size]).mean())})
    teacher_all, student_all = torch.cat(teacher_imgs), torch.cat(student_imgs)

    src = data or data_mod.DEFAULT_DATA
    train = data_mod.load_images(src, R, n_real, "train", holdout, quiet=True).float() / 127.5 - 1
    held = data_mod.load_images(src, R, n_real, "holdout", holdout, quiet=True).float() / 127.5 - 1
    kw = {"device": dev, **(swd_kw or {})}
    d_train = metrics.swd_descriptors(train, seed=1, **kw)
    swd = {name: metrics.swd(d_train, metrics.swd_descriptors(imgs, seed=2, **kw), seed=3)
           for name, imgs in (("real_holdout", held), ("teacher", teacher_all), ("student", student_all))}
    report = {
        "model": models.source, "resolution": R, "psi": psi, "seeds": n_seeds,
        "seed_algorithm": seeding.ALGORITHM,
        "student_vs_teacher": {"levels": levels, "psnr_db": levels[-1]["psnr_db"], "ssim": levels[-1]["ssim"]},
        "swd": {"pyramid_sizes": metrics.pyramid_sizes(R), "real_images": {"train": len(train), "holdout": len(held)},
                "note": "x1e3, vs training faces; real_holdout is the floor", **swd},
        "seconds": round(time.time() - t0, 1),
    }
    if int8["psnr"]:
        report["student_int8"] = {"psnr_db_vs_teacher": metrics.finite_mean(torch.cat(int8["psnr"])),
                                  "ssim_vs_teacher": float(torch.cat(int8["ssim"]).mean()),
                                  "psnr_db_vs_fp32": metrics.finite_mean(torch.cat(int8["psnr_vs_fp32"]))}
    # generated faces only: reports are committed, and dataset photos must never enter the repository
    return report, {"rows": [g for g in grid if g.numel()]}


def markdown(report: dict, name: str, grid_name: str) -> str:
    st = report["student_vs_teacher"]
    lines = [f"# Quality report: {name}", "", f"Model: {report['model']}  ", f"Resolution {report['resolution']}px, "
             f"{report['seeds']} seeds ({report['seed_algorithm']}), psi {report['psi']}.", "",
             "## Student vs teacher (same w and noise)", "", "| level | PSNR dB | min PSNR dB | SSIM |",
             "|---|---|---|---|"]
    lines += [f"| {lv['size']} | {lv['psnr_db']:.2f} | {lv['psnr_db_min']:.2f} | {lv['ssim']:.4f} |"
              for lv in st["levels"]]
    if "student_int8" in report:
        q = report["student_int8"]
        lines += ["", f"int8 student: {q['psnr_db_vs_teacher']:.2f} dB / SSIM {q['ssim_vs_teacher']:.4f} vs the "
                      f"teacher, {q['psnr_db_vs_fp32']:.2f} dB vs the fp32 student."]
    sw = report["swd"]
    lines += ["", "## Sliced Wasserstein distance vs the training faces (x1e3, lower is better)", "",
              "| set | " + " | ".join(f"{s}px" for s in sw["pyramid_sizes"]) + " | mean |",
              "|---|" + "---|" * (len(sw["pyramid_sizes"]) + 1)]
    for key, label in (("real_holdout", "held-out real (floor)"), ("teacher", "teacher"), ("student", "student")):
        v = sw[key]
        lines.append(f"| {label} | " + " | ".join(f"{x:.2f}" for x in v["levels"]) + f" | {v['mean']:.2f} |")
    lines += ["", f"![samples, one row each: teacher / student{' / int8 student' if 'student_int8' in report else ''}"
                  f" (seeds 0-7)]({grid_name})", ""]
    return "\n".join(lines)


def write_report(report: dict, extras: dict, name: str, out_dir: Path = REPORTS) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    grid_name = f"{name}_grid.png"
    plots.save_grid(out_dir / grid_name, extras["rows"])
    (out_dir / f"{name}.json").write_text(json.dumps(report, indent=1, default=lambda x: str(x)))
    (out_dir / f"{name}.md").write_text(markdown(report, name, grid_name))
    return {"json": str(out_dir / f"{name}.json"), "md": str(out_dir / f"{name}.md"), "grid": str(out_dir / grid_name)}


def manifest_metrics(report: dict) -> dict:
    """The compact form stored in a model directory's manifest.metrics."""
    st = report["student_vs_teacher"]
    m = {"seeds": report["seeds"], "psi": report["psi"],
         "student_vs_teacher": {"psnr_db": st["psnr_db"], "ssim": st["ssim"],
                                "levels": [{k: lv[k] for k in ("size", "psnr_db", "ssim")} for lv in st["levels"]]},
         "swd_x1e3": {k: report["swd"][k]["mean"] for k in ("real_holdout", "teacher", "student")}}
    if "student_int8" in report:
        m["student_int8"] = report["student_int8"]
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in m.items()}
