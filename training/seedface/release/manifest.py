"""manifest.json of a model directory (format ``seedface-model/1``, docs/model-format.md)."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

FORMAT = "seedface-model/1"
MANIFEST = "manifest.json"


class ManifestError(ValueError):
    pass


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


def _req(cond, msg):
    if not cond:
        raise ManifestError(msg)


def _check_io(net: str, kind: str, items) -> None:
    _req(isinstance(items, list) and items, f"networks.{net}.{kind} must be a non-empty list")
    names = set()
    for i, it in enumerate(items):
        _req(isinstance(it, dict) and isinstance(it.get("name"), str),
             f"networks.{net}.{kind}[{i}] needs a string 'name'")
        _req(it["name"] not in names, f"networks.{net}.{kind}: duplicate name {it['name']!r}")
        names.add(it["name"])
        shape = it.get("shape")
        _req(isinstance(shape, list) and all(isinstance(d, int) or d == "B" for d in shape),
             f"networks.{net}.{kind}[{i}] ({it['name']}): shape must be a list of ints or 'B', got {shape!r}")


def validate(manifest: dict, model_dir=None) -> None:
    """Raise ManifestError with a clear message when the manifest is malformed. With model_dir, also checks that
    every listed file exists with the recorded size and sha256.

    ``networks.student`` may be null only in a teacher-only directory (docs/model-format.md), which then needs
    ``networks.teacher``."""
    m = manifest
    _req(isinstance(m, dict), "manifest must be a JSON object")
    _req(m.get("format") == FORMAT, f"format must be {FORMAT!r}, got {m.get('format')!r}")
    for k in ("id", "version", "architecture", "seed_algorithm", "status"):
        _req(isinstance(m.get(k), str) and m[k], f"missing or empty string field {k!r}")
    for k in ("resolution", "style_dim"):
        _req(isinstance(m.get(k), int) and m[k] > 0, f"{k!r} must be a positive integer")
    _req(isinstance(m.get("trained"), bool), "'trained' must be true or false")
    tr = m.get("truncation")
    _req(isinstance(tr, dict) and isinstance(tr.get("mean"), list), "truncation.mean must be a list")
    _req(len(tr["mean"]) == m["style_dim"], f"truncation.mean has {len(tr['mean'])} values, style_dim is "
         f"{m['style_dim']}")
    _req(isinstance(tr.get("default_psi"), (int, float)), "truncation.default_psi must be a number")
    nets = m.get("networks")
    _req(isinstance(nets, dict), "'networks' must be an object")
    for req in ("mapping", "student"):
        _req(req in nets, f"networks.{req} is required")
    _req(isinstance(nets["mapping"], dict), "networks.mapping must be an object")
    if nets["student"] is None:
        _req(isinstance(nets.get("teacher"), dict),
             "networks.student is null (teacher-only directory) but there is no networks.teacher")
    files = m.get("files")
    _req(isinstance(files, list) and files, "'files' must be a non-empty list")
    paths = {}
    for i, f in enumerate(files):
        _req(isinstance(f, dict), f"files[{i}] must be an object")
        for k in ("path", "sha256", "network", "precision"):
            _req(isinstance(f.get(k), str) and f[k], f"files[{i}].{k} must be a non-empty string")
        _req(isinstance(f.get("bytes"), int) and f["bytes"] > 0, f"files[{i}].bytes must be a positive integer")
        _req(len(f["sha256"]) == 64, f"files[{i}].sha256 must be 64 hex digits")
        _req("/" not in f["path"] and "\\" not in f["path"] and not f["path"].startswith("."),
             f"files[{i}].path must be a plain file name, got {f['path']!r}")
        paths[f["path"]] = f
    for name, net in nets.items():
        if net is None and name in ("student", "teacher"):
            continue
        _req(isinstance(net, dict), f"networks.{name} must be an object")
        _check_io(name, "inputs", net.get("inputs"))
        _check_io(name, "outputs", net.get("outputs"))
        nf = net.get("files")
        _req(isinstance(nf, dict) and nf, f"networks.{name}.files must map precision -> file name")
        for prec, path in nf.items():
            _req(path in paths, f"networks.{name}.files.{prec} = {path!r} is not listed in files[]")
        for k in ("params", "macs"):
            _req(isinstance(net.get(k), int) and net[k] >= 0, f"networks.{name}.{k} must be a non-negative integer")
    st = nets["student"]
    if st is not None:
        _req(isinstance(st.get("n_w"), int), "networks.student.n_w must be an integer")
        _req(st.get("edge_precision") in st["files"], f"networks.student.edge_precision {st.get('edge_precision')!r} "
             f"has no file in networks.student.files")
        lv = st.get("levels")
        _req(isinstance(lv, list) and lv, "networks.student.levels must be a non-empty list")
        outs = {o["name"] for o in st["outputs"]}
        for i, level in enumerate(lv):
            _req(level.get("output") in outs, f"networks.student.levels[{i}].output is not a student output")
            for k in ("size", "macs", "peak_activation_bytes"):
                _req(isinstance(level.get(k), int), f"networks.student.levels[{i}].{k} must be an integer")
        _req(lv[-1]["size"] == m["resolution"], "the last student level must be the model resolution")
    prov = m.get("provenance")
    _req(isinstance(prov, dict) and prov.get("source") in ("random-init", "trained-here", "imported"),
         "provenance.source must be one of random-init, trained-here, imported")
    _req("training_data" in m, "'training_data' is required (null when there is none)")
    if model_dir is not None:
        for f in files:
            p = Path(model_dir) / f["path"]
            if not p.is_file() and f.get("produced_by"):
                continue  # not committed (too large); the command named there makes it (docs/model-format.md)
            _req(p.is_file(), f"{p}: listed in files[] but missing")
            _req(p.stat().st_size == f["bytes"], f"{p}: size {p.stat().st_size} != manifest {f['bytes']}")
            _req(sha256_file(p) == f["sha256"], f"{p}: sha256 differs from the manifest")
