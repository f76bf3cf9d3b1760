"""Attribute control (issue 16): move a seed's w along fitted directions into the asked gender / age / expression.

The Python twin of src/shared/attributes.ts: same data file, same options, same bits (docs/attributes.md).

Data: ``<model>/attributes.json`` (format ``seedface-attributes/1``, written by ``seedface.attributes_fit``),
listed in the manifest's ``files`` and ``attributes`` with its sha256. Each direction k has a unit normal n_k in w
(512-d, the truncated w' that is broadcast to every W+ slot) and its classes are intervals ``[lo, hi]`` (either side
may be null = unbounded) of the projection ``p_k = n_k . w``, margins included. A direction serves the option of
its ``option`` field (default: its ``name``); several may serve one option, each constraining the values it has a
class for (expression=neutral: below the smile direction's bound and above a neutral-vs-other-expressions one).

The edit (closed form, float64, rounded once to float32):

1. ``p_k = sum_i n_k[i] * w[i]`` for every attribute of the file, summed in index order (i = 0 .. 511);
2. the target ``t_k``: for a direction the request asks (its option asked with a value it has a class for; age also
   for age_min) ``p_k`` clamped into its interval (unchanged when inside); for any other ``t_k = p_k`` (held in
   place: conditional manipulation). A class with ``start: {weight, ref}`` first shifts its interval by
   ``-(weight * (p_k - ref))``: the seed's own start decides how deep it lands (ffhq's age classes: edited faces
   are judged by where they started as much as by where they land);
3. if every ``t_k == p_k`` the seed already matches: w is returned unchanged (bit for bit);
4. otherwise the smallest move ``delta`` with ``n_k . delta = t_k - p_k`` for every k: ``delta = sum_k c_k u_k``
   with ``G c = t - p``, ``G_kl = sum_i n_k[i] * u_l[i]`` (index order), solved by Gaussian elimination without
   pivoting, rows in file order. ``u_k`` is the direction's ``move`` vector where it has one (``M^-1 n_k``: the
   smallest move in an identity-aware metric M, seedface.train.identity_metric), else its normal (the smallest
   Euclidean move). With no move vectors G is the Gram matrix (symmetric positive definite); with move vectors on
   only some directions (ffhq 1.4.0: gender) it is not symmetric, which the elimination does not need;
5. ``w'[i] = float32(w[i] + acc_i)`` with ``acc_i = ((0 + c_0 u_0[i]) + c_1 u_1[i]) + ...`` in file order.

Only IEEE-754 float64 ``+ - * /`` in a fixed order, as in JavaScript, so Python and TypeScript give the same
bits (pinned by vectors/attributes.json). Numpy reductions (pairwise sums, BLAS) are avoided for that reason.

Options (canonical order gender, age, age_min, expression; docs/attributes.md): ``gender=female|male``,
``age=child|young|adult|senior``, ``age_min=<integer>`` (the file's table; adult preset = ``age_min=18``),
``expression=smile|neutral``, ``glasses=yes|no`` (only when the file has a glasses direction; ffhq's has none).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

import numpy as np

from seedface.paths import REPO

FORMAT = "seedface-attributes/1"
FILE = "attributes.json"
OPTION_ORDER = ("gender", "age", "age_min", "expression", "glasses")


class AttributeError_(ValueError):
    """A bad or unsupported option (the service answers 400 with ``code`` and ``allowed``)."""

    def __init__(self, code: str, message: str, allowed: dict | None = None):
        super().__init__(message)
        self.code = code
        self.allowed = allowed or {}


def load(model_dir, man: dict | None = None) -> dict | None:
    """The model's attribute file (checked against the manifest's sha256), or None when the model has none."""
    from seedface.release import manifest as mf

    man = man if man is not None else mf.load(model_dir)
    entry = man.get("attributes")
    if not entry:
        return None
    p = Path(model_dir) / entry["file"]
    got = mf.sha256_file(p)
    if got != entry["sha256"]:
        raise ValueError(f"{p}: sha256 {got} does not match manifest.json ({entry['sha256']})")
    return parse(json.loads(p.read_text(encoding="utf-8")), int(man["style_dim"]))


def parse(data: dict, style_dim: int) -> dict:
    if data.get("format") != FORMAT:
        raise ValueError(f"attributes file: format must be {FORMAT} (got {data.get('format')!r})")
    if int(data.get("style_dim", -1)) != style_dim:
        raise ValueError(f"attributes file: style_dim {data.get('style_dim')} != the model's {style_dim}")
    for a in data["attributes"]:
        for k, c in a["classes"].items():
            st = c.get("start")
            if st is not None and not (isinstance(st, dict) and all(isinstance(st.get(f), (int, float))
                                                                    and math.isfinite(st[f]) for f in ("weight", "ref"))):
                raise ValueError(f"attributes file: {a['name']}.classes.{k}.start must be {{weight, ref}} (finite numbers)")
            if isinstance(st, dict) and "normal" in st and not _finite_vector(st["normal"], style_dim):
                raise ValueError(f"attributes file: {a['name']}.classes.{k}.start.normal must be {style_dim} finite numbers")
        for field in ("normal", "move"):
            if not _finite_vector(a.get(field, a["normal"]), style_dim):
                raise ValueError(f"attributes file: {a['name']}.{field} must be {style_dim} finite numbers")
    return data


def _finite_vector(v, n: int) -> bool:
    return isinstance(v, list) and len(v) == n and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)


def allowed(data: dict | None) -> dict:
    """{option: [values]} the model accepts (age_min: "<lo>..<hi>")."""
    if not data:
        return {}
    res: dict = {}
    for a in data["attributes"]:
        values = res.setdefault(option_of(a), [])
        values += [v for v in a["classes"] if v not in values]
        if a.get("age_min"):
            t = a["age_min"]
            res["age_min"] = f"{t['from']}..{t['from'] + len(t['lo']) - 1}"
    return res


def canonical(data: dict | None, options: Mapping[str, str | None]) -> dict:
    """Validated options {name: value} (age_min as int), in canonical order; raises AttributeError_ on a bad one.
    Empty values count as absent."""
    opts = {k: v for k, v in options.items() if v is not None and v != ""}
    if not opts:
        return {}
    allow = allowed(data)
    out: dict = {}
    for name in OPTION_ORDER:
        if name not in opts:
            continue
        v = opts[name]
        if name not in allow:
            why = (data or {}).get("unavailable", {}).get(name) if data else None
            raise AttributeError_("attribute_unavailable",
                                  f"{name} is not available for this model" + (f": {why}" if why else ""), allow)
        if name == "age_min":
            lo, hi = (int(x) for x in allow["age_min"].split(".."))
            if not v.isdigit() or not (lo <= int(v) <= hi):
                raise AttributeError_("bad_attribute", f"age_min must be an integer from {lo} to {hi} (got {v!r})",
                                      allow)
            out[name] = int(v)
        else:
            if v not in allow[name]:
                raise AttributeError_("bad_attribute",
                                      f"{name} must be one of {', '.join(allow[name])} (got {v!r})", allow)
            out[name] = v
    if "age" in out and "age_min" in out:
        age = next(x for x in data["attributes"] if x["name"] == "age")
        years = _class_years(age["classes"].get(out["age"]))
        if years is not None and years[1] is not None and years[1] <= out["age_min"]:
            raise AttributeError_("bad_attribute", f"age={out['age']} (under {years[1]:g} years) and "
                                                   f"age_min={out['age_min']} exclude each other", allow)
    return out


def query_string(options: dict) -> str:
    """Canonical query fragment ("gender=female&age_min=18"), "" when none."""
    return "&".join(f"{k}={options[k]}" for k in OPTION_ORDER if k in options)


def _class_years(c: dict | None):
    y = (c or {}).get("years")
    return (y[0], y[1]) if isinstance(y, list) and len(y) == 2 else None


def option_of(a: dict) -> str:
    """The option a direction serves: its ``option`` field, else its name."""
    return a.get("option", a["name"])


def asks(a: dict, options: dict) -> bool:
    """Does the request constrain direction `a` (its option asked with a value it has a class for; age: age_min)?"""
    opt = option_of(a)
    return (opt in options and options[opt] in a["classes"]) or (a["name"] == "age" and "age_min" in options)


def _interval(a: dict, options: dict) -> tuple[float | None, float | None]:
    """[lo, hi] of p for one direction the request asks (same rule as interval() in attributes.ts): a class whose
    years start at or above age_min implies it; otherwise the age_min bound raises lo, and wins over the class's top
    where they cross."""
    name, opt = a["name"], option_of(a)
    lo = hi = None
    if opt in options and options[opt] in a["classes"]:
        c = a["classes"][options[opt]]
        lo, hi = c.get("lo"), c.get("hi")
    if name == "age" and "age_min" in options:
        t = a["age_min"]
        m = t["lo"][options["age_min"] - t["from"]]
        years = _class_years(a["classes"].get(options["age"])) if "age" in options else None
        implied = years is not None and years[0] is not None and years[0] >= options["age_min"]
        if m is not None and not implied:
            lo = m if lo is None else max(lo, m)
            if hi is not None and lo > hi:
                hi = lo
    return lo, hi


def _start(a: dict, options: dict) -> dict | None:
    """The asked class's ``start`` {weight, ref}, or None (same rule as startOf() in attributes.ts). With it, the
    class interval bounds ``p + weight * (p_seed - ref)`` rather than p: how an edited face is judged depends on where
    the seed started as well as where it lands, so a seed that starts further away lands deeper. With ``normal`` the
    start is measured along it (``normal . w``: a per-seed depth fitted on judged edits), not along the direction."""
    v = options.get(option_of(a))
    c = a["classes"].get(v) if v is not None else None
    return c.get("start") if c else None


def _dot(a, b) -> float:
    s = 0.0
    for x, y in zip(a, b):
        s += x * y
    return s


def projections(data: dict, w) -> list[float]:
    wl = [float(x) for x in np.asarray(w, np.float32).reshape(-1)]
    return [_dot(a["normal"], wl) for a in data["attributes"]]


def edit(data: dict | None, w: np.ndarray, options: dict) -> np.ndarray:
    """The edited w' [1, style_dim] float32 for canonical `options` (w itself when no option asks anything)."""
    if not data or not options:
        return w
    shape = np.asarray(w).shape
    wl = [float(x) for x in np.asarray(w, np.float32).reshape(-1)]
    attrs = data["attributes"]
    normals = [a["normal"] for a in attrs]
    p = [_dot(n, wl) for n in normals]
    r = []
    for k, a in enumerate(attrs):
        if asks(a, options):
            lo, hi = _interval(a, options)
            st = _start(a, options)
            if st is not None:
                shift = st["weight"] * ((_dot(st["normal"], wl) if "normal" in st else p[k]) - st["ref"])
                lo = None if lo is None else lo - shift
                hi = None if hi is None else hi - shift
            t = p[k]
            if lo is not None and t < lo:
                t = lo
            if hi is not None and t > hi:
                t = hi
            r.append(t - p[k])
        else:
            r.append(0.0)
    if all(x == 0.0 for x in r):
        return w
    K = len(attrs)
    moves = [a.get("move", a["normal"]) for a in attrs]
    g = [[_dot(normals[k], moves[l]) for l in range(K)] for k in range(K)]
    c = solve(g, r)
    out = np.empty(len(wl), np.float32)
    for i in range(len(wl)):
        acc = 0.0
        for k in range(K):
            acc += c[k] * moves[k][i]
        out[i] = np.float32(wl[i] + acc)
    return out.reshape(shape)


def solve(g: list[list[float]], r: list[float]) -> list[float]:
    """G c = r by Gaussian elimination without pivoting, in a fixed order (same as solveSmall in attributes.ts); G
    need not be symmetric, only have non-zero pivots (the fit's G is near-diagonal: unit normals, |cos| <= 0.24)."""
    K = len(r)
    a = [row[:] + [r[i]] for i, row in enumerate(g)]
    for j in range(K):
        for i in range(j + 1, K):
            f = a[i][j] / a[j][j]
            for k in range(j, K + 1):
                a[i][k] = a[i][k] - f * a[j][k]
    c = [0.0] * K
    for i in range(K - 1, -1, -1):
        s = a[i][K]
        for k in range(i + 1, K):
            s = s - a[i][k] * c[k]
        c[i] = s / a[i][i]
    return c


# ---- test vectors (vectors/attributes.json) ------------------------------------------------------------------------

VECTOR_SEEDS = ["alice@example.com", "bob", "attr-vec/0", "attr-vec/1", "attr-vec/2", "attr-vec/3"]
VECTOR_OPTIONS = ["gender=female", "gender=male", "age=child", "age=young", "age=adult", "age=senior", "age_min=18",
                  "expression=smile", "expression=neutral", "gender=female&age_min=18&expression=smile",
                  "gender=male&age=senior", "age=senior&age_min=40&expression=neutral", "age=adult&age_min=18",
                  "age=young&age_min=18", "age=adult&age_min=50"]


def parse_query(q: str) -> dict:
    return dict(kv.split("=", 1) for kv in q.split("&") if kv)


def write_vectors(model_dir, out) -> dict:
    """Seeds' truncated w (from the fp32 mapping) and the edited w for each option: sha256 of the float32
    little-endian bytes (and the first values), for vitest and pytest to reproduce bit for bit."""
    import base64
    import hashlib

    from seedface.release import manifest as mf
    from seedface.pipeline.face import FaceRenderer

    man = mf.load(model_dir)
    data = load(model_dir, man)
    r = FaceRenderer(model_dir, precisions=("fp32",))
    cases = []
    for psi in (1.0, 0.7):
        for s in VECTOR_SEEDS:
            w = r.style(s, psi, "fp32")
            row = {"seed": s, "psi": psi, "w_b64": base64.b64encode(w.astype("<f4").tobytes()).decode(),
                   "projections": projections(data, w), "edits": []}
            for q in VECTOR_OPTIONS:
                o = canonical(data, parse_query(q))
                e = edit(data, w, o)
                b = e.astype("<f4").tobytes()
                row["edits"].append({"query": q, "canonical": query_string(o), "moved": e is not w,
                                     "sha256": hashlib.sha256(b).hexdigest(),
                                     "first": [float(x) for x in e.reshape(-1)[:4]]})
            cases.append(row)
    doc = {"about": "seedface-attributes/1 test vectors (docs/attributes.md). Written by `python -m "
                    "seedface.attributes_vectors --write-vectors vectors/attributes.json` from models/<model>/attributes.json. "
                    "w_b64 = the seed's truncated w (float32 little-endian, base64, from the fp32 mapping); each edit: "
                    "the option query, its canonical form, whether w moved, sha256 of the edited w's float32 LE bytes.",
           "model": man["id"], "model_version": man["version"], "attributes_sha256": man["attributes"]["sha256"],
           "cases": cases}
    Path(out).write_text(json.dumps(doc, indent=1) + "\n")
    return doc


if __name__ == "__main__":
    import argparse
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(REPO / "models" / "ffhq"))
    ap.add_argument("--write-vectors", required=True)
    a = ap.parse_args()
    write_vectors(a.model, a.write_vectors)
    sys.exit(0)
