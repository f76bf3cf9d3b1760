"""Import published MobileStyleGAN / StyleGAN2 weights into a model directory (docs/model-format.md).

Accepted inputs (the kind is detected from the content, not the file name):
- `lightning-ckpt`: the MobileStyleGAN release checkpoint (`state_dict` with `mapping_net.`, `synthesis_net.`,
  `student.`, `style_mean`; `loss.`/`inception.` ignored) -> mapping, teacher, student fp32 + int8.
- `teacher-pair`: the two `{"params", "ckpt"}` files of the release's converter (mapping + synthesis) ->
  mapping + teacher, manifest `networks.student = null` (distill a student from the same two files:
  `npm run distill -- --teacher mapping.ckpt,synthesis.ckpt`).
- `release-onnx`: the release's `MappingNetwork.onnx` + `SynthesisNetwork.onnx` -> renamed to our IO names;
  the synthesis network becomes the student (single resolution, frozen noise, fixed batch; see `status`;
  seedface.release.from_onnx).
- `release-ir`: the authors' FFHQ release as OpenVINO IR: the PyPI `random-face` wheel, or its
  `MappingNetwork.xml` + `SynthesisNetwork.xml` (each .bin beside it) -> our mapping + student with every level
  (fitted heads from training/heads/), release noise, int8 edge files (seedface.release.from_ir, edge_quant).
Everything is written through seedface.release.writer: a temporary directory next to --out, renamed at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import onnx
import torch

from seedface.console import logger
from seedface.models.checkpoint import CheckpointError, load_published
from seedface.models.files import ConvertError, classify_torch, load_torch, teacher_pair_state
from seedface.release import from_ir, from_onnx, ir_modules, manifest as mf, wheel
from seedface.release.edge_quant import quantize_edge
from seedface.release.export import ExportError, write_model_dir
from seedface.release.model_card import write_release_card
from seedface.release.quantize import quantize_model_dir
from seedface.release.writer import model_dir_writer

MEAN_SAMPLES = 4096
log = logger("convert")


# ---------------------------------------------------------------------------------------------------------------
# Reading and classifying inputs

def is_onnx(path: Path) -> bool:
    return path.suffix.lower() == ".onnx"


def load_onnx(path: Path):
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:  # DecodeError, ValidationError, ...
        raise ConvertError(f"{path}: not a readable ONNX model ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
    return model


def classify_onnx(path: Path, model) -> str:
    names = [i.name for i in model.graph.input]
    if names == ["var"]:
        return "release-mapping"
    if names == ["style"]:
        return "release-synthesis"
    raise ConvertError(f"{path}: unsupported ONNX layout: inputs {names}; expected the release's MappingNetwork "
                       f"(input 'var') or SynthesisNetwork (input 'style')")


def is_release_ir(paths: list[Path]) -> bool:
    return bool(paths) and all(p.suffix.lower() in (".whl", ".xml") for p in paths)


def read_inputs(paths: list[Path]) -> tuple[str, dict]:
    """Classify all given files -> (kind, {role: payload}) for one of the accepted kinds."""
    if is_release_ir(paths):
        return "release-ir", {"release-ir": {"paths": paths}}
    roles: dict[str, dict] = {}
    for p in paths:
        if is_onnx(p):
            if not p.is_file():
                raise ConvertError(f"{p}: no such file")
            model = load_onnx(p)
            role = classify_onnx(p, model)
            payload = {"model": model}
        else:
            role, payload = classify_torch(p, load_torch(p))
        if role in roles:
            raise ConvertError(f"{p}: a second {role} file (first: {roles[role]['path']})")
        roles[role] = {**payload, "path": p}
    got = set(roles)
    if got == {"lightning-ckpt"}:
        return "lightning-ckpt", roles
    if got == {"converter-mapping", "converter-synthesis"}:
        return "teacher-pair", roles
    if got == {"release-mapping", "release-synthesis"}:
        return "release-onnx", roles
    pairs = {"converter-mapping": "converter-synthesis", "converter-synthesis": "converter-mapping",
             "release-mapping": "release-synthesis", "release-synthesis": "release-mapping"}
    if len(got) == 1 and next(iter(got)) in pairs:
        only = next(iter(got))
        raise ConvertError(f"{roles[only]['path']}: is a {only} file; give its {pairs[only]} file too "
                           f"(both files in one command)")
    raise ConvertError(f"unsupported combination of inputs: {', '.join(sorted(got))}; give one release .ckpt, "
                       f"or the two converter files, or the two release ONNX files")


# ---------------------------------------------------------------------------------------------------------------
# The importers (each writes into `tmp`, an empty directory)

def provenance(roles: dict, kind: str) -> dict:
    return {
        "source": "imported",
        "kind": kind,
        "from": [{"file": Path(r["path"]).name, "sha256": mf.sha256_file(Path(r["path"]))} for r in roles.values()],
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "tool": "seedface.convert",
    }


IMPORTED_DATA = {
    "name": "unknown (imported weights)",
    "licence": "the licence of the imported release applies; StyleGAN2/FFHQ-derived weights are under NVIDIA's "
               "non-commercial terms",
    "note": "weights imported by seedface.convert; no training was done here",
}
TEACHER_ONLY_STATUS = ("teacher only (imported StyleGAN2 mapping + synthesis from the release's converter files): no "
                       "student, so the edge cannot serve it; the origin can. Distill a student with `npm run distill`.")


def estimate_style_mean(mapping, style_dim: int):
    """The truncation mean when a file has none: average w over MEAN_SAMPLES seeded z."""
    with torch.no_grad():
        g = torch.Generator().manual_seed(0)
        return mapping(torch.randn(MEAN_SAMPLES, style_dim, generator=g)).mean(0)


def convert_lightning(tmp: Path, roles: dict, a) -> dict:
    r = roles["lightning-ckpt"]
    try:
        config, mapping, teacher, student, style_mean = load_published(r["state_dict"])
    except CheckpointError as e:
        raise ConvertError(f"{r['path']}: {e}")
    if student is None:
        raise ConvertError(f"{r['path']}: the checkpoint has no student.* weights")
    if style_mean is None:
        style_mean = estimate_style_mean(mapping, config.style_dim)
        log(f"no style_mean in the checkpoint: truncation mean estimated from {MEAN_SAMPLES} z")
    log(f"config: resolution {config.resolution}, style_dim {config.style_dim}, n_mlp {config.n_mlp}, "
        f"student channels {list(config.student_channels)}, teacher {'yes' if teacher is not None else 'no'}")
    write_model_dir(tmp, config, mapping, student, teacher, style_mean, model_id=a.id, version=a.version,
                    provenance=provenance(roles, "lightning-ckpt"), trained=True,
                    status="imported from a MobileStyleGAN release checkpoint (mapping, student"
                           + (", teacher" if teacher is not None else "") + ")",
                    training_data=IMPORTED_DATA, quantize=False)
    return {"student": True}


def convert_teacher_pair(tmp: Path, roles: dict, a) -> dict:
    mp, sy = roles["converter-mapping"], roles["converter-synthesis"]
    config, sd = teacher_pair_state(roles)
    style_dim, channels = config.style_dim, list(config.teacher_channels)
    try:
        config, mapping, teacher, _, _ = load_published(sd, config=config)
    except CheckpointError as e:
        raise ConvertError(f"{mp['path'].name} + {sy['path'].name}: {e}")
    if teacher is None:
        raise ConvertError(f"{sy['path']}: no teacher weights found")
    style_mean = estimate_style_mean(mapping, style_dim)  # these files carry no style_mean
    log(f"config: resolution {config.resolution}, style_dim {style_dim}, teacher channels {list(channels)}; "
        f"truncation mean estimated from {MEAN_SAMPLES} z")
    write_model_dir(tmp, config, mapping, None, teacher, style_mean, model_id=a.id, version=a.version,
                    provenance=provenance(roles, "teacher-pair"), trained=True, status=TEACHER_ONLY_STATUS,
                    training_data=IMPORTED_DATA,
                    mean_source=f"estimated: average mapping output over {MEAN_SAMPLES} seeded z")
    return {"student": False}


def convert_release_onnx(tmp: Path, roles: dict, a) -> dict:
    try:
        from_onnx.write_model_dir(tmp, roles["release-mapping"]["model"], roles["release-synthesis"]["model"],
                                  model_id=a.id, version=a.version, provenance=provenance(roles, "release-onnx"),
                                  training_data=IMPORTED_DATA, log=log)
    except from_onnx.ReleaseOnnxError as e:
        raise ConvertError(str(e))
    return {"student": True}


def convert_release_ir(tmp: Path, roles: dict, a) -> dict:
    try:
        return from_ir.import_release(tmp, roles["release-ir"]["paths"], model_id=a.id, version=a.version,
                                      heads=a.heads, log=log)
    except (wheel.ReleaseFileError, ir_modules.ReleaseIRError, FileNotFoundError, ValueError) as e:
        raise ConvertError(str(e))


CONVERTERS = {"lightning-ckpt": convert_lightning, "teacher-pair": convert_teacher_pair,
              "release-onnx": convert_release_onnx, "release-ir": convert_release_ir}
DESCRIPTIONS = {
    "lightning-ckpt": "MobileStyleGAN release checkpoint (Lightning .ckpt: mapping + teacher + student + style_mean)",
    "teacher-pair": "teacher-only files from the release's converter ({params, ckpt}: mapping + synthesis)",
    "release-onnx": "the release's ONNX exports (MappingNetwork.onnx + SynthesisNetwork.onnx)",
    "release-ir": "the authors' OpenVINO release (random-face wheel, or MappingNetwork.xml + SynthesisNetwork.xml)",
}


def set_psi(model_dir: Path, psi: float) -> None:
    m = mf.load(model_dir)
    m.setdefault("truncation", {})["default_psi"] = psi
    mf.save(model_dir, m)


def convert(paths: list[Path], out: Path, *, model_id: str | None = None, psi: float = 0.7,
            version: str = "1.0.0", quantize: bool = True, n_eval: int = 256, n_calib: int = 64,
            force: bool = False, heads: Path | None = None) -> dict:
    """Convert `paths` into the model directory `out`; returns {kind, out, student}."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise ConvertError(f"{out}: already exists and is not empty (use --force to replace it)")
    kind, roles = read_inputs([Path(p) for p in paths])
    log(f"input kind: {kind}: {DESCRIPTIONS[kind]}")
    a = argparse.Namespace(id=model_id or out.name, version=version, heads=heads)
    with model_dir_writer(out) as tmp:
        try:
            info = CONVERTERS[kind](tmp, roles, a)
        except ExportError as e:  # the exported ONNX does not reproduce the PyTorch modules
            raise ConvertError(f"export failed its parity check: {e}")
        set_psi(tmp, psi)
        if kind == "release-ir":
            quantize_edge(tmp, n_seeds=min(n_eval, 64))
            write_release_card(tmp)
        elif info["student"] and quantize:
            quantize_model_dir(tmp, n_eval=n_eval, n_calib=n_calib, n_sens=min(16, n_eval))
        mf.validate(mf.load(tmp), tmp)
    log(f"wrote {out} ({kind}" + ("" if info["student"] else "; teacher only, no student: run `npm run distill`")
        + ")")
    return {"kind": kind, "out": str(out), **info}
