"""manifest.json of a model directory (format ``seedface-model/1``, docs/model-format.md): read, write, build, check.

The shape is the JSON Schema ``src/shared/manifest.schema.json``, the one the TypeScript loader uses too; ``validate``
applies it (``check_schema``: the keywords that schema uses) and then the cross-field rules a schema cannot state.
``build`` is the one place a manifest is assembled (exports, imports, teacher-only directories).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

FORMAT = "seedface-model/1"
MANIFEST = "manifest.json"
ARCHITECTURE = "mobilestylegan"
SEED_ALGORITHM = "seedface-seed/1"
DEFAULT_PSI = 0.7
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "src" / "shared" / "manifest.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
NETWORK_ORDER = ("mapping", "student", "teacher")


class ManifestError(ValueError):
    pass


# ---- files ------------------------------------------------------------------------------------------------------

def load(model_dir) -> dict:
    p = Path(model_dir) / MANIFEST
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{p}: no manifest.json (not a model directory)") from None
    except json.JSONDecodeError as e:
        raise ManifestError(f"{p}: not valid JSON: {e}") from None


def save(model_dir, manifest: dict) -> Path:
    p = Path(model_dir) / MANIFEST
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_entry(model_dir, path: str, network: str, precision: str) -> dict:
    full = Path(model_dir) / path
    return {"path": str(path), "sha256": sha256_file(full), "bytes": full.stat().st_size, "network": network,
            "precision": precision}


def set_file(manifest: dict, entry: dict) -> None:
    """Insert or replace a files[] entry (by path)."""
    files = [f for f in manifest.setdefault("files", []) if f.get("path") != entry["path"]]
    files.append(entry)
    manifest["files"] = files


# ---- the builder --------------------------------------------------------------------------------------------------

def io(name: str, shape, **extra) -> dict:
    """One networks.*.inputs / outputs entry."""
    return {"name": name, "shape": list(shape), "dtype": "float32", **extra}


def build(model_dir, *, model_id: str, version: str, resolution: int, style_dim: int, trained: bool, status: str,
          truncation: dict, networks: dict, provenance: dict, training_data: dict | None,
          config: dict | None = None) -> dict:
    """The manifest of the model directory being written in `model_dir`: the documented fields in their order,
    files[] from every network's files (sha256 and size read from `model_dir`), no quantization and no metrics yet
    (seedface.release.quantize and the evaluations add them). `config` is left out when None."""
    files = [file_entry(model_dir, path, name, precision)
             for name in sorted(networks, key=lambda n: NETWORK_ORDER.index(n) if n in NETWORK_ORDER else 99)
             if networks[name] is not None for precision, path in networks[name]["files"].items()]
    m = {"format": FORMAT, "id": model_id, "version": version, "architecture": ARCHITECTURE,
         "resolution": int(resolution), "style_dim": int(style_dim), "seed_algorithm": SEED_ALGORITHM,
         "trained": bool(trained), "status": status}
    if config is not None:
        m["config"] = config
    m.update(truncation=truncation, networks=networks, files=files, quantization=None, metrics={},
             provenance=provenance, training_data=training_data)
    return m


# ---- the schema ---------------------------------------------------------------------------------------------------

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is(x, t: str) -> bool:
    if t == "integer":
        return isinstance(x, int) and not isinstance(x, bool)
    if t == "number":
        return isinstance(x, (int, float)) and not isinstance(x, bool)
    return isinstance(x, _TYPES[t])


def _resolve(ref: str, root: dict) -> dict:
    node = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def check_schema(x, schema: dict = SCHEMA, where: str = "manifest", root: dict | None = None) -> None:
    """Raise ManifestError at the first place `x` breaks `schema`. Keywords: $ref (local), allOf, anyOf, const,
    enum, type, required, properties, additionalProperties, items, minItems, minLength, minimum, pattern (the ones
    manifest.schema.json uses; tests/test_export.py checks that it uses no others)."""
    root = schema if root is None else root
    if "$ref" in schema:
        check_schema(x, _resolve(schema["$ref"], root), where, root)
    for sub in schema.get("allOf", ()):
        check_schema(x, sub, where, root)
    if "anyOf" in schema:
        errors = []
        for sub in schema["anyOf"]:
            try:
                check_schema(x, sub, where, root)
                break
            except ManifestError as e:
                errors.append(str(e))
        else:
            raise ManifestError(errors[-1])
    if "const" in schema and x != schema["const"]:
        raise ManifestError(f"{where} must be {schema['const']!r}, got {x!r}")
    if "enum" in schema and x not in schema["enum"]:
        raise ManifestError(f"{where} must be one of {', '.join(map(str, schema['enum']))}, got {x!r}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(x, t) for t in types):
            raise ManifestError(f"{where} must be {' or '.join(types)}, got {json.dumps(x)[:60]}")
    if isinstance(x, dict):
        for k in schema.get("required", ()):
            if k not in x:
                raise ManifestError(f"{where}.{k} is required")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for k, v in x.items():
            if k in props:
                check_schema(v, props[k], f"{where}.{k}", root)
            elif extra is False:
                raise ManifestError(f"{where}.{k} is not allowed")
            elif isinstance(extra, dict):
                check_schema(v, extra, f"{where}.{k}", root)
    if isinstance(x, list):
        if len(x) < schema.get("minItems", 0):
            raise ManifestError(f"{where} must have at least {schema['minItems']} item(s)")
        if "items" in schema:
            for i, v in enumerate(x):
                check_schema(v, schema["items"], f"{where}[{i}]", root)
    if isinstance(x, str):
        if len(x) < schema.get("minLength", 0):
            raise ManifestError(f"{where} must be a non-empty string")
        if "pattern" in schema and not re.search(schema["pattern"], x):
            raise ManifestError(f"{where} {x!r} does not match {schema['pattern']}")
    if "minimum" in schema and _is(x, "number") and x < schema["minimum"]:
        raise ManifestError(f"{where} must be >= {schema['minimum']}, got {x}")


# ---- validation ---------------------------------------------------------------------------------------------------

def _req(cond, msg):
    if not cond:
        raise ManifestError(msg)


def validate(manifest: dict, model_dir=None) -> None:
    """Raise ManifestError with a clear message when the manifest is malformed: the schema, then the rules across
    fields. With model_dir, also checks that every listed file exists with the recorded size and sha256.

    ``networks.student`` may be null only in a teacher-only directory (docs/model-format.md), which then needs
    ``networks.teacher``."""
    m = manifest
    _req(isinstance(m, dict), "manifest must be a JSON object")
    check_schema(m)
    _req(len(m["truncation"]["mean"]) == m["style_dim"], f"truncation.mean has {len(m['truncation']['mean'])} "
         f"values, style_dim is {m['style_dim']}")
    for i, e in enumerate(m.get("earlier_versions") or []):
        _req(e["version"] != m["version"], f"earlier_versions[{i}].version is this version ({m['version']})")
    nets = m["networks"]
    if nets["student"] is None:
        _req(isinstance(nets.get("teacher"), dict),
             "networks.student is null (teacher-only directory) but there is no networks.teacher")
    paths = {f["path"]: f for f in m["files"]}
    for name, net in nets.items():
        if net is None:
            continue
        for kind in ("inputs", "outputs"):
            names = [it["name"] for it in net[kind]]
            dup = next((n for n in names if names.count(n) > 1), None)
            _req(dup is None, f"networks.{name}.{kind}: duplicate name {dup!r}")
        for prec, path in net["files"].items():
            _req(path in paths, f"networks.{name}.files.{prec} = {path!r} is not listed in files[]")
    st = nets["student"]
    if st is not None:
        _req(st["edge_precision"] in st["files"], f"networks.student.edge_precision {st['edge_precision']!r} "
             f"has no file in networks.student.files")
        outs = {o["name"] for o in st["outputs"]}
        for i, level in enumerate(st["levels"]):
            _req(level["output"] in outs, f"networks.student.levels[{i}].output is not a student output")
        _req(st["levels"][-1]["size"] == m["resolution"], "the last student level must be the model resolution")
        prev = 0
        for i, row in enumerate((st.get("serving") or {}).get("sizes") or []):
            _req(row["output"] in {lv["output"] for lv in st["levels"]},
                 f"networks.student.serving.sizes[{i}].output {row['output']!r} is not a student level")
            _req(row["up_to"] > prev, f"networks.student.serving.sizes must be sorted by strictly increasing up_to")
            prev = row["up_to"]
    if model_dir is not None:
        for f in m["files"]:
            p = Path(model_dir) / f["path"]
            if not p.is_file() and f.get("produced_by"):
                continue  # not committed (too large); the command named there makes it (docs/model-format.md)
            _req(p.is_file(), f"{p}: listed in files[] but missing")
            _req(p.stat().st_size == f["bytes"], f"{p}: size {p.stat().st_size} != manifest {f['bytes']}")
            _req(sha256_file(p) == f["sha256"], f"{p}: sha256 differs from the manifest")
