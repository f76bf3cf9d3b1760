"""Import published MobileStyleGAN / StyleGAN2 weights into a model directory (docs/model-format.md).

    python -m seedface.convert <file...> --out models/<id> [--id ID] [--psi 0.7]

Accepted inputs (the kind is detected from the content, not the file name):
- `lightning-ckpt`: the MobileStyleGAN release checkpoint (`state_dict` with `mapping_net.`, `synthesis_net.`,
  `student.`, `style_mean`; `loss.`/`inception.` ignored) -> mapping, teacher, student fp32 + int8.
- `teacher-pair`: the two `{"params", "ckpt"}` files of the release's converter (mapping + synthesis) ->
  mapping + teacher, manifest `networks.student = null` (distill a student from the same two files:
  `npm run distill -- --teacher mapping.ckpt,synthesis.ckpt`).
- `release-onnx`: the release's `MappingNetwork.onnx` + `SynthesisNetwork.onnx` -> renamed to our IO names;
  the synthesis network becomes the student (single resolution, frozen noise, fixed batch; see `status`).
- `release-ir`: the authors' FFHQ release as OpenVINO IR: the PyPI `random-face` wheel, or its
  `MappingNetwork.xml` + `SynthesisNetwork.xml` (each .bin beside it) -> our mapping + student with every level
  (fitted heads from training/heads/), release noise, int8 edge files (seedface.release_import, edge_quant).
Everything is written to a temporary directory next to --out and renamed at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import pickle
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path

from seedface.release.manifest import sha256_file

IGNORED_PREFIXES = ("loss.", "inception.")
LIGHTNING_PREFIXES = ("mapping_net.", "synthesis_net.", "student.")
MEAN_SAMPLES = 4096


class ConvertError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def log(msg: str) -> None:
    print(f"[convert] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Reading and classifying inputs

def is_onnx(path: Path) -> bool:
    return path.suffix.lower() == ".onnx"


def load_onnx(path: Path):
    import onnx
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:  # DecodeError, ValidationError, ...
        raise ConvertError(f"{path}: not a readable ONNX model ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
    return model


class _Opaque:
    """Stand-in for any pickled object that is not a tensor or a plain container (hyper-parameters, callbacks):
    nothing of it is executed or needed, only the state dict is."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class _SafeUnpickler(pickle.Unpickler):
    """Loads tensors and plain containers; every other global becomes an inert _Opaque subclass.

    Works on PyTorch 1.13 (whose weights_only loader rejects floats, common in Lightning checkpoints) and 2.x.
    """
    ALLOWED = {
        ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"),
        ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
        ("torch", "Size"), ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED or (module == "torch" and name.endswith("Storage")) \
                or (module == "torch" and name in ("float32", "float16", "bfloat16", "float64", "int64", "uint8")):
            return super().find_class(module, name)
        return type(f"{module}.{name}", (_Opaque,), {})


def _load_zip_checkpoint(path: Path):
    """Reads PyTorch's zip checkpoint format (data.pkl + data/<key> storages) without running pickled code."""
    import torch
    with zipfile.ZipFile(path) as zf:
        pkl = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pkl:
            raise ConvertError(f"{path}: a zip file but not a PyTorch checkpoint (no data.pkl)")
        prefix = pkl[0][: -len("data.pkl")]
        storages: dict[str, "torch.Tensor"] = {}

        class Unpickler(_SafeUnpickler):
            def persistent_load(self, pid):
                _, storage_type, key, _location, _numel = pid
                if key not in storages:
                    dtype = getattr(storage_type, "dtype", torch.float32)
                    raw = zf.read(f"{prefix}data/{key}")
                    storages[key] = torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)
                return storages[key].storage()

        with zf.open(pkl[0]) as f, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TypedStorage deprecation on PyTorch 2.x (legacy storage classes)
            return Unpickler(f, encoding="utf-8").load()


def load_torch(path: Path):
    import torch
    if not path.is_file():
        raise ConvertError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ConvertError(f"{path}: empty file, not a checkpoint")
    try:
        if zipfile.is_zipfile(path):
            return _load_zip_checkpoint(path)
        # Legacy (pre-1.6) format: only the weights-only loader, which runs no pickled code.
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except ConvertError:
        raise
    except Exception as e:
        msg = (str(e).splitlines() or [type(e).__name__])[0][:200]
        with open(path, "rb") as f:
            zip_magic = f.read(4) == b"PK\x03\x04"
        if zip_magic or "EOF" in msg or "truncated" in msg.lower():
            raise ConvertError(f"{path}: corrupt or truncated checkpoint ({type(e).__name__}: {msg})")
        raise ConvertError(f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {msg})")


def classify_torch(path: Path, obj) -> tuple[str, dict]:
    """-> (kind, payload); kind in lightning-ckpt | converter-mapping | converter-synthesis."""
    import torch
    if not isinstance(obj, dict):
        raise ConvertError(f"{path}: unsupported layout: top level is {type(obj).__name__}, expected a dict")
    if "params" in obj and "ckpt" in obj:
        params, sd = obj["params"], obj["ckpt"]
        if not isinstance(params, dict) or not isinstance(sd, dict):
            raise ConvertError(f"{path}: unsupported layout: 'params' and 'ckpt' must both be dicts")
        if "n_layers" in params:
            return "converter-mapping", {"params": params, "state_dict": sd}
        if "size" in params or "channels" in params:
            return "converter-synthesis", {"params": params, "state_dict": sd}
        raise ConvertError(f"{path}: unsupported layout: converter params {sorted(params)} are neither mapping "
                           f"(style_dim, n_layers) nor synthesis (size, style_dim, channels)")
    sd = obj.get("state_dict", obj)
    if isinstance(sd, dict) and any(isinstance(k, str) and k.startswith(LIGHTNING_PREFIXES) for k in sd):
        tensors = {k: v for k, v in sd.items() if not k.startswith(IGNORED_PREFIXES)}
        bad = [k for k, v in tensors.items() if not isinstance(v, torch.Tensor)]
        if bad:
            raise ConvertError(f"{path}: state_dict entries that are not tensors: {', '.join(bad[:10])}")
        return "lightning-ckpt", {"state_dict": tensors}
    keys = ", ".join(sorted(str(k) for k in obj)[:12])
    raise ConvertError(f"{path}: unsupported layout: no 'state_dict' with {'/'.join(LIGHTNING_PREFIXES)} keys "
                       f"and no converter 'params'/'ckpt' (top-level keys: {keys})")


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
# Writers for each kind (they write into `tmp`, an empty directory)

def provenance(roles: dict, kind: str) -> dict:
    return {
        "source": "imported",
        "kind": kind,
        "from": [{"file": Path(r["path"]).name, "sha256": sha256_file(Path(r["path"]))} for r in roles.values()],
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "tool": "seedface.convert",
    }


IMPORTED_DATA = {
    "name": "unknown (imported weights)",
    "licence": "the licence of the imported release applies; StyleGAN2/FFHQ-derived weights are under NVIDIA's "
               "non-commercial terms",
    "note": "weights imported by seedface.convert; no training was done here",
}


def estimate_style_mean(mapping, style_dim: int):
    """The truncation mean when a file has none: average w over MEAN_SAMPLES seeded z."""
    import torch
    with torch.no_grad():
        g = torch.Generator().manual_seed(0)
        return mapping(torch.randn(MEAN_SAMPLES, style_dim, generator=g)).mean(0)


def convert_lightning(tmp: Path, roles: dict, a) -> dict:
    from seedface.models.checkpoint import CheckpointError, load_published
    from seedface.release.export import export_model_dir
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
    export_model_dir(tmp, config, mapping, student, teacher, style_mean, model_id=a.id, version=a.version,
                     provenance=provenance(roles, "lightning-ckpt"), trained=True,
                     status="imported from a MobileStyleGAN release checkpoint (mapping, student"
                            + (", teacher" if teacher is not None else "") + ")",
                     training_data=IMPORTED_DATA, quantize=False)
    return {"student": True}


def teacher_pair_state(roles: dict):
    """The converter's mapping + synthesis files -> (ModelConfig, state dict in the release's layout)."""
    from seedface.models.config import ModelConfig
    mp, sy = roles["converter-mapping"], roles["converter-synthesis"]
    channels = sy["params"].get("channels")
    if isinstance(channels, dict):  # {4: 512, 8: 512, ...}
        channels = [channels[k] for k in sorted(channels, key=int)]
    style_dim = int(sy["params"].get("style_dim", mp["params"].get("style_dim", 0)))
    if int(mp["params"].get("style_dim", style_dim)) != style_dim:
        raise ConvertError(f"style_dim differs: mapping {mp['params']['style_dim']} vs synthesis {style_dim}")
    try:
        config = ModelConfig(resolution=int(sy["params"]["size"]), style_dim=style_dim,
                             n_mlp=int(mp["params"]["n_layers"]), teacher_channels=list(channels),
                             student_channels=None)
    except (KeyError, TypeError, ValueError) as e:
        raise ConvertError(f"converter params incomplete or invalid ({e}): mapping {mp['params']}, "
                           f"synthesis {sy['params']}")
    sd = {f"mapping_net.{k}": v for k, v in mp["state_dict"].items()}
    sd.update({f"synthesis_net.{k}": v for k, v in sy["state_dict"].items()})
    return config, sd


def convert_teacher_pair(tmp: Path, roles: dict, a) -> dict:
    from seedface.models.checkpoint import CheckpointError, load_published
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
    write_teacher_only(tmp, config, mapping, teacher, style_mean, model_id=a.id, version=a.version,
                       provenance=provenance(roles, "teacher-pair"))
    return {"student": False}


def write_teacher_only(tmp: Path, config, mapping, teacher, style_mean, *, model_id, version, provenance) -> None:
    """mapping.onnx + teacher.onnx and a manifest with `networks.student = null` (docs/model-format.md)."""
    from seedface.release import export as ex, manifest as mf
    from seedface.release.counting import count_onnx, count_torch
    parity = {"mapping": ex.export_mapping(mapping, tmp / "mapping.onnx"),
              "teacher": ex.export_teacher(teacher, tmp / "teacher.onnx")}
    d = config.style_dim
    io = lambda name, shape, **kw: {"name": name, "shape": list(shape), "dtype": "float32", **kw}  # noqa: E731
    size = teacher.size
    manifest = {
        "format": mf.FORMAT, "id": model_id, "version": version, "architecture": "mobilestylegan",
        "resolution": config.resolution, "style_dim": d, "seed_algorithm": ex.SEED_ALGORITHM, "trained": True,
        "status": "teacher only (imported StyleGAN2 mapping + synthesis from the release's converter files): no "
                  "student, so the edge cannot serve it; the origin can. Distill a student with `npm run distill`.",
        "config": config.to_dict(),
        "truncation": {"mean": [float(x) for x in style_mean.reshape(-1)[:d].tolist()],
                       "default_psi": ex.DEFAULT_PSI,
                       "mean_source": f"estimated: average mapping output over {MEAN_SAMPLES} seeded z"},
        "networks": {
            "mapping": {"n_layers": config.n_mlp, "inputs": [io("z", ["B", d])], "outputs": [io("w", ["B", d])],
                        "files": {"fp32": "mapping.onnx"}, "params": count_torch(mapping),
                        "macs": count_onnx(str(tmp / "mapping.onnx"))["macs"],
                        "parity_max_rel_err": parity["mapping"]},
            "student": None,
            "teacher": {"channels": list(teacher.channels), "n_w": teacher.n_w,
                        "inputs": [io("w", ["B", teacher.n_w, d])]
                        + [io(f"noise_{k}", [1, 1, s, s]) for k, s in enumerate(teacher.noise_sizes())],
                        "outputs": [io(f"img_{size}", ["B", 3, size, size], size=size)],
                        "files": {"fp32": "teacher.onnx"}, "params": count_torch(teacher),
                        "macs": count_onnx(str(tmp / "teacher.onnx"))["macs"],
                        "parity_max_rel_err": parity["teacher"]},
        },
        "files": [mf.file_entry(tmp, "mapping.onnx", "mapping", "fp32"),
                  mf.file_entry(tmp, "teacher.onnx", "teacher", "fp32")],
        "quantization": None,
        "metrics": {},
        "provenance": provenance,
        "training_data": IMPORTED_DATA,
    }
    mf.save(tmp, manifest)


def convert_release_onnx(tmp: Path, roles: dict, a) -> dict:
    from seedface.release import from_onnx as release_onnx
    try:
        _write_release(release_onnx, tmp, roles, a)
    except release_onnx.ReleaseOnnxError as e:
        raise ConvertError(str(e))
    return {"student": True}


def _write_release(release_onnx, tmp: Path, roles: dict, a) -> None:
    release_onnx.write_model_dir(tmp, roles["release-mapping"]["model"], roles["release-synthesis"]["model"],
                                 model_id=a.id, version=a.version, provenance=provenance(roles, "release-onnx"),
                                 training_data=IMPORTED_DATA, log=log)


def convert_release_ir(tmp: Path, roles: dict, a) -> dict:
    from seedface.release import from_ir as release_import, ir_modules as release_ir, wheel as release_wheel
    try:
        return release_import.import_release(tmp, roles["release-ir"]["paths"], model_id=a.id, version=a.version,
                                             heads=a.heads, log=log)
    except (release_wheel.ReleaseFileError, release_ir.ReleaseIRError, FileNotFoundError, ValueError) as e:
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
    from seedface.release import manifest as mf
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
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.converting-", dir=out.parent))
    from seedface.release.export import ExportError
    try:
        try:
            info = CONVERTERS[kind](tmp, roles, a)
        except ExportError as e:  # the exported ONNX does not reproduce the PyTorch modules
            raise ConvertError(f"export failed its parity check: {e}")
        set_psi(tmp, psi)
        if kind == "release-ir":
            from seedface.release.edge_quant import quantize_edge
            quantize_edge(tmp, n_seeds=min(n_eval, 64))
            from seedface.release.model_card import write_release_card
            write_release_card(tmp)
        elif info["student"] and quantize:
            from seedface.release.quantize import quantize_model_dir
            quantize_model_dir(tmp, n_eval=n_eval, n_calib=n_calib, n_sens=min(16, n_eval))
        from seedface.release import manifest as mf
        mf.validate(mf.load(tmp), tmp)
        if out.exists():
            old = out.parent / f".{out.name}.replaced"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"wrote {out} ({kind}" + ("" if info["student"] else "; teacher only, no student: run `npm run distill`")
        + ")")
    return {"kind": kind, "out": str(out), **info}
