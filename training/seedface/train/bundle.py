"""What travels back from the GPU box, and how it becomes a model directory here.

    python -m seedface.gpu_bundle pack <work dir> <out dir>      (on the GPU box, at the end of run.sh --gpu)
    python -m seedface.gpu_bundle finish <fetched dir> --id ID   (here: rebuild, export ONNX + int8, evaluate)

The device tool returns at most 8 files of 16 MiB (64 MiB in all). `pack` writes summary.json, report.md and
grid.png, plus bundle.tar split into parts of < 15 MiB: slim checkpoints (no optimiser states; raw generator and
discriminator in bfloat16; the distillation checkpoint holds only the student, since its mapping and teacher
are the teacher checkpoint's EMA weights), logs, loss plots, grids and the evaluation report.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

import torch

from seedface.eval import quality as evaluate
from seedface.models.checkpoint import load_published, state_dict_published
from seedface.models.config import ModelConfig
from seedface.release import manifest as mf
from seedface.train import trainckpt
from seedface.train.distill import export_checkpoint

PART_BYTES = 15 * 2**20
TOTAL_LIMIT = 62 * 2**20  # the tool's 64 MiB for all files, with room for summary, report and grid
RUN_FILES = ("log.csv", "log.json", "losses.png", "grid.png")


def _bytes_of(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _slim_variants(work: Path):
    """Smallest-last list of (label, {name: bytes}) checkpoint sets to try against the size limit."""
    t = trainckpt.load(work / "teacher" / "checkpoint.pt") if (work / "teacher" / "checkpoint.pt").is_file() else None
    d = trainckpt.load(work / "distill" / "checkpoint.pt") if (work / "distill" / "checkpoint.pt").is_file() else None
    d_slim = trainckpt.slim(d, keep_published=("student.",)) if d else None
    t_slim = trainckpt.slim(t) if t else None

    def files(tck, dck):
        out = {}
        if tck:
            out["teacher/checkpoint.pt"] = _bytes_of(tck)
        if dck:
            out["distill/checkpoint.pt"] = _bytes_of(dck)
        return out

    yield "slim (no optimiser states, bf16 training weights)", files(t_slim, d_slim)
    if d_slim:
        d2 = {**d_slim, "train": {k: v for k, v in d_slim["train"].items() if k != "D"}}
        yield "slim, without the distillation discriminator", files(t_slim, d2)
    if t_slim:
        t2 = {**t_slim, "train": {k: v for k, v in t_slim["train"].items() if k not in ("D",)}}
        yield "slim, without either discriminator (teacher resumes with a fresh D)", files(t2, d2 if d_slim else None)


def pack(work: Path, out: Path) -> dict:
    work, out = Path(work), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    extras: dict[str, bytes] = {}
    for run in ("teacher", "distill"):
        for f in RUN_FILES:
            if (work / run / f).is_file():
                extras[f"{run}/{f}"] = (work / run / f).read_bytes()
    for f in sorted((work / "report").glob("*")) if (work / "report").is_dir() else []:
        extras[f"report/{f.name}"] = f.read_bytes()
    for f in ("phases.json", "run.log"):
        if (work / f).is_file():
            extras[f] = (work / f).read_bytes()[-4 * 2**20:]
    chosen = None
    for label, ckpts in _slim_variants(work):
        total = sum(map(len, ckpts.values())) + sum(map(len, extras.values()))
        print(f"[bundle] {label}: {total / 2**20:.1f} MiB", file=sys.stderr)
        if total <= TOTAL_LIMIT - 2 * 2**20:
            chosen = (label, ckpts)
            break
    if chosen is None:
        label, ckpts = "logs only: checkpoints too large to travel", {}
        print(f"[bundle] WARNING: {label}", file=sys.stderr)
    else:
        label, ckpts = chosen
    members = {**ckpts, **extras}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, b in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(b)
            tar.addfile(info, io.BytesIO(b))
    blob = buf.getvalue()
    for old in out.glob("bundle.tar.part*"):
        old.unlink()
    parts = []
    for i in range(0, len(blob), PART_BYTES):
        name = f"bundle.tar.part{i // PART_BYTES}"
        (out / name).write_bytes(blob[i:i + PART_BYTES])
        parts.append(name)
    summary = {"bundle": {"parts": parts, "bytes": len(blob), "sha256": _sha(blob), "checkpoints": label,
                          "members": {k: len(v) for k, v in members.items()}}}
    phases = work / "phases.json"
    if phases.is_file():
        summary["phases"] = json.loads(phases.read_text())
    rep = sorted((work / "report").glob("*.json")) if (work / "report").is_dir() else []
    if rep:
        summary["report"] = json.loads(rep[0].read_text())
        md = rep[0].with_suffix(".md")
        if md.is_file():
            (out / "report.md").write_text(md.read_text().replace(f"({rep[0].stem}_grid.png)", "(grid.png)"))
    for g in [*(sorted((work / "report").glob("*_grid.png")) if (work / "report").is_dir() else []),
              work / "distill" / "grid.png", work / "teacher" / "grid.png"]:
        if g.is_file():
            shutil.copyfile(g, out / "grid.png")
            break
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"[bundle] {len(parts)} part(s), {len(blob) / 2**20:.1f} MiB, checkpoints: {label}", file=sys.stderr)
    return summary


def unpack(src: Path, dest: Path) -> dict:
    """Reassemble and check the parts, extract, and rebuild a complete distillation checkpoint (mapping and
    teacher from the teacher checkpoint's published EMA weights + the student)."""
    src, dest = Path(src), Path(dest)
    summary = json.loads((src / "summary.json").read_text())
    blob = b"".join((src / p).read_bytes() for p in summary["bundle"]["parts"])
    if _sha(blob) != summary["bundle"]["sha256"]:
        raise ValueError(f"{src}: bundle parts do not match the recorded sha256 (incomplete transfer?)")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for m in tar.getmembers():
            if m.name.startswith("/") or ".." in Path(m.name).parts or not m.isfile():
                raise ValueError(f"unsafe bundle member {m.name!r}")
        tar.extractall(dest)
    tpath, dpath = dest / "teacher" / "checkpoint.pt", dest / "distill" / "checkpoint.pt"
    if tpath.is_file() and dpath.is_file():
        t, d = trainckpt.load(tpath), trainckpt.load(dpath)
        if not any(k.startswith("synthesis_net.") for k in d["state_dict"]):
            sd = {k: v for k, v in t["state_dict"].items() if k.startswith(("mapping_net.", "synthesis_net."))}
            sd.update(d["state_dict"])
            config, mapping, teacher, student, _ = load_published(sd, ModelConfig.from_dict(d["config"]))
            published = state_dict_published(mapping, teacher, student, mapping.mean_w(10000))
            trainckpt.save(dpath, "distill", d["config"], published, d["train"])
    (dest / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def finish(src: Path, model_id: str, models_dir: Path, runs_dir: Path, seeds: int, quantize: bool,
           data: str | None, reports_dir: Path | None = None) -> dict:
    run = runs_dir / f"gpu-{model_id}"
    summary = unpack(src, run)
    dpath = run / "distill" / "checkpoint.pt"
    if not dpath.is_file():
        raise SystemExit(f"{src}: the bundle has no distillation checkpoint ({summary['bundle']['checkpoints']})")
    out = models_dir / model_id
    print(f"[finish] exporting {dpath} -> {out}", file=sys.stderr, flush=True)
    export_checkpoint(dpath, out, model_id, quantize=quantize)
    report, extras = evaluate.evaluate(out, n_seeds=seeds, data=data)
    files = evaluate.write_report(report, extras, model_id, reports_dir or evaluate.REPORTS)
    man = mf.load(out)
    man["metrics"] = {**(man.get("metrics") or {}), **evaluate.manifest_metrics(report)}
    if "report" in summary:
        man["metrics"]["gpu_report"] = evaluate.manifest_metrics(summary["report"])
    mf.validate(man, out)
    mf.save(out, man)
    result = {"model_dir": str(out), "run_dir": str(run), "report": files,
              "teacher_checkpoint": str(run / "teacher" / "checkpoint.pt"), "distill_checkpoint": str(dpath)}
    print(json.dumps(result, indent=1))
    return result
