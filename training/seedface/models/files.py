"""Reading published weight files without running their pickled code: PyTorch zip / legacy checkpoints, and
what they hold (the MobileStyleGAN release's Lightning checkpoint, or the two files of its converter)."""
from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path

import torch

from seedface.models.config import ModelConfig

IGNORED_PREFIXES = ("loss.", "inception.")
LIGHTNING_PREFIXES = ("mapping_net.", "synthesis_net.", "student.")


class ConvertError(Exception):
    """A user-facing error about the files given: printed as one line, exit status 2."""


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


def teacher_pair_state(roles: dict):
    """The converter's mapping + synthesis files -> (ModelConfig, state dict in the release's layout)."""
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


def read_converter_pair(paths: list[Path]) -> dict:
    """The release converter's mapping + synthesis files -> {role: payload} (both roles, each once)."""
    roles: dict[str, dict] = {}
    for p in paths:
        role, payload = classify_torch(p, load_torch(p))
        if role in roles:
            raise ConvertError(f"{p}: a second {role} file (first: {roles[role]['path']})")
        roles[role] = {**payload, "path": p}
    if set(roles) != {"converter-mapping", "converter-synthesis"}:
        raise ConvertError(f"{', '.join(map(str, paths))}: {', '.join(sorted(roles))} files; two --teacher files must "
                           f"be the release converter's mapping + synthesis pair")
    return roles
