"""Fit the attribute directions in w from labeled faces (issue 16, step 2) and write ``<model>/attributes.json``.

    python -m seedface.attributes_fit [--labels training/runs/attributes/ffhq] [--model models/ffhq]
                                      [--target 0.98] [--write]

Input: the chunks of ``seedface.attributes_label`` (w' [n, 512] float32 + face-api's judgement of the face it
drew). Faces the judge did not detect are left out.

Directions, one unit vector n per attribute, by ``--method``:
- ``classifier`` (InterFaceGAN: the normal of a linear model's hyperplane in w):
  gender: L2-regularised logistic regression, female (1) vs male (0) as face-api's age/gender net says;
  expression: logistic regression, smile (face-api's top expression is ``happy``) vs neutral (top is
  ``neutral``); faces whose top expression is anything else are left out of the fit;
  age: ridge regression of the age in years on w (face-api's age estimate), lambda chosen on the held-out fifth;
- ``mean-difference`` (attribute vectors: where the faces of a class actually lie in w): gender and expression:
  mean w of one class minus the mean w of the other; age: the covariance of w with log(age), i.e. the mean shift
  of w per log-year. It stays in the directions w varies in, but the class means also differ along correlated
  attributes, so holding those costs large moves: measured on pilots it kept identity far worse than the
  classifier at equal success (docs/attributes.md), so ``classifier`` is what ships.
An 80/20 split (by seed index) gives held-out accuracy / MAE of the classifiers (both methods report them); the
final directions are fitted on all faces.

Classes as intervals of p = n . w, calibrated on the labeled faces (1-D models of the judge given p), where each
face's p comes from a direction fitted without it (5-fold cross-fitting: in-sample projections separate the classes
far better than new faces do, which made the first margins much too thin):
- gender, expression: per class a logistic P(class | p); the class interval is where P >= ``--target``;
- age: log(age) | p ~ N(a p + b, s^2) (a least-squares line and its residual spread); a class [A, B) years is
  the p interval where P(A <= age < B | p) >= target, or, when no p reaches the target, where it is within 2
  points of its best; ``age_min=N`` (N = 13..70) is p >= where P(age >= N | p) = target;
- every bound is kept within the 0.5 .. 99.5 percentiles of p over the labeled faces (no move beyond the faces
  the model draws on its own).
Age classes: child < 13, young 13-29, adult 30-59, senior >= 60 years (as face-api estimates them).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path

import numpy as np

from seedface.paths import REPO
from seedface.pipeline import attributes as at
from seedface.release import manifest as mf

AGE_CLASSES = {"child": (None, 13.0), "young": (13.0, 30.0), "adult": (30.0, 60.0), "senior": (60.0, None)}
AGE_MIN_RANGE = (13, 70)
RIDGE_LAMBDAS = (1.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
CLIP_PCT = (0.5, 99.5)
GLASSES_WHY = ("no pretrained glasses judge is reachable here: face-api (the attribute judge) has no glasses "
               "model and dlib's 68 landmarks do not see glasses, so no direction could be fitted or measured")


def log(msg: str) -> None:
    print(f"[fit] {msg}", file=sys.stderr, flush=True)


def load_labels(label_dir) -> dict:
    d = Path(label_dir)
    ws, rows, seeds = [], [], []
    meta = json.loads((d / "meta.json").read_text())
    judge = None
    for f in sorted(d.glob("chunk_*.faceapi.json")):
        c = int(f.name.split("_")[1].split(".")[0])
        wf = d / f"chunk_{c:04d}.w.npy"
        if not wf.exists():
            continue
        j = json.loads(f.read_text())
        judge = j["judge"]
        w = np.load(wf)
        if len(w) != len(j["rows"]):
            raise ValueError(f"{f}: {len(j['rows'])} rows for {len(w)} w")
        ws.append(w)
        rows += j["rows"]
        seeds += [c * meta["chunk"] + i for i in range(len(w))]
    if not ws:
        raise SystemExit(f"{d}: no judged chunks")
    return {"w": np.concatenate(ws).astype(np.float64), "rows": rows, "index": np.asarray(seeds), "meta": meta,
            "judge": judge}


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 300) -> tuple[np.ndarray, float]:
    """L2 logistic regression (torch LBFGS, float64): returns (coef, bias)."""
    import torch

    X = torch.tensor(x, dtype=torch.float64)
    Y = torch.tensor(y, dtype=torch.float64)
    mu = X.mean(0)
    Xc = X - mu
    wt = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([wt, b], lr=1, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        z = Xc @ wt + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, Y) + l2 * (wt * wt).sum()
        loss.backward()
        return loss

    opt.step(closure)
    coef = wt.detach().numpy()
    return coef, float(b.detach() - mu @ wt.detach())


def ridge(x: np.ndarray, y: np.ndarray, lam: float = 1.0, unpenalized: tuple[int, ...] = ()):
    """Ridge regression on centred data: (coef, intercept). y may be [n] (intercept a float) or [n, k] (one fit per
    column); the columns of x listed in ``unpenalized`` are not shrunk."""
    mu, ym = x.mean(0), y.mean(0)
    xc = x - mu
    pen = np.full(x.shape[1], float(lam))
    pen[list(unpenalized)] = 0.0
    coef = np.linalg.solve(xc.T @ xc + np.diag(pen), xc.T @ (y - ym))
    b = ym - mu @ coef
    return coef, (float(b) if np.ndim(b) == 0 else b)


FOLDS = 5
L2S = (1e-3, 1e-2, 1e-1)


def _folds(idx: np.ndarray) -> np.ndarray:
    return idx % FOLDS


def oof_logistic(x, y, idx, mask=None):
    """(l2 with the best out-of-fold accuracy, out-of-fold projections p = n_f . w for every face, accuracy):
    each face projected on the unit normal of a fit that did not see it (so the calibration is honest)."""
    m = np.ones(len(y), bool) if mask is None else mask
    f = _folds(idx)
    best = None
    for l2 in L2S:
        p = np.zeros(len(y))
        correct = 0
        for k in range(FOLDS):
            tr, te = m & (f != k), f == k
            c, b = logistic(x[tr], y[tr], l2)
            nrm = np.linalg.norm(c)
            p[te] = x[te] @ (c / nrm)
            correct += int((((x[te & m] @ c + b) > 0) == (y[te & m] > 0.5)).sum())
        acc = correct / m.sum()
        if best is None or acc > best[2]:
            best = (l2, p, acc)
    return best


METHODS = ("classifier", "mean-difference")


def direction(method: str, kind: str, x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3, lam: float = 1.0):
    """Un-normalised direction in w of a binary label (kind "class": y in {0, 1}) or a number ("value")."""
    if method == "mean-difference":
        if kind == "class":
            return x[y > 0.5].mean(0) - x[y <= 0.5].mean(0)
        return (x - x.mean(0)).T @ (y - y.mean()) / len(y)
    if method != "classifier":
        raise ValueError(f"method must be one of {METHODS} (got {method!r})")
    return logistic(x, y, l2)[0] if kind == "class" else ridge(x, y, lam)[0]


def class_direction(method: str, x: np.ndarray, y: np.ndarray, idx: np.ndarray, mask=None):
    """A binary label's unit direction in w, fitted on the faces of `mask` (default all): (normal, out-of-fold
    projections p of every face, the l2 chosen out of fold, out-of-fold accuracy, p's clip percentiles)."""
    m = np.ones(len(y), bool) if mask is None else mask
    l2, p, acc = oof_logistic(x, y, idx, mask)
    fn = lambda xx, yy: direction(method, "class", xx, yy, l2=l2)  # noqa: E731
    if method != "classifier":
        p = oof_projections(fn, x, y, idx, mask)
    c = fn(x[m], y[m])
    n = c / np.linalg.norm(c)
    return n, p, l2, acc, np.percentile(x @ n, CLIP_PCT)


PROBE_LAMBDAS = (0.1, 1.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)


def load_probes(probe_dir) -> dict:
    """The pairs of ``seedface.attributes_probe`` whose two faces the judge detected: step d [n, 512] and half the
    judged change of log(age) between ``b + d`` and ``b - d`` [n]."""
    d = Path(probe_dir)
    steps, ys, idx = [], [], []
    meta = json.loads((d / "meta.json").read_text())
    for f in sorted(d.glob("chunk_*.faceapi.json")):
        c = int(f.name.split("_")[1].split(".")[0])
        rows = json.loads(f.read_text())["rows"]
        step = np.load(d / f"chunk_{c:04d}.probe.npz")["step"]
        for i, (plus, minus) in enumerate(zip(rows[0::2], rows[1::2])):
            if plus["detected"] and minus["detected"]:
                steps.append(step[i])
                ys.append((math.log(max(plus["age"], 1.0)) - math.log(max(minus["age"], 1.0))) / 2)
                idx.append(c * (meta["chunk"] // 2) + i)
    if not steps:
        raise SystemExit(f"{d}: no judged probe pairs")
    return {"step": np.asarray(steps), "y": np.asarray(ys), "index": np.asarray(idx), "meta": meta}


def _r2(y, pred) -> float:
    return float(1 - ((y - pred) ** 2).sum() / (y ** 2).sum())


def probe_direction(probe_dir, compare: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """The judge's mean gradient g of log(age) in w, from probe pairs: ridge regression (no intercept: a pair is
    symmetric) of the half change on the step, lambda chosen on the held-out fifth of the pairs. With ``compare``
    (the unit direction it would replace), g = k compare + h with k fitted first and the ridge on h, so it is shrunk
    towards that direction rather than towards 0. Returns g's unit direction and figures: held-out R^2 of the
    change predicted by g, and by the best multiple k of ``compare . d`` alone."""
    P = load_probes(probe_dir)
    X, y, test = P["step"], P["y"], (P["index"] % 5) == 4
    prior = np.zeros(X.shape[1]) if compare is None else compare

    def fit_g(lam, m):
        s = X[m] @ prior
        k = float(s @ y[m] / (s @ s)) if compare is not None else 0.0
        res = y[m] - k * s
        return k * prior + np.linalg.solve(X[m].T @ X[m] + lam * np.eye(X.shape[1]), X[m].T @ res)

    r2s = {lam: _r2(y[test], X[test] @ fit_g(lam, ~test)) for lam in PROBE_LAMBDAS}
    lam = max(r2s, key=r2s.get)
    g = fit_g(lam, np.ones(len(y), bool))
    figs = {"pairs": int(len(y)), "eps": P["meta"]["eps"], "lambda": lam, "held_out_r2": r2s[lam],
            "change_std_log_years": float(y.std()), "gradient_norm": float(np.linalg.norm(g))}
    if compare is not None:
        s = X @ compare
        k = float(s[~test] @ y[~test] / (s[~test] @ s[~test]))
        figs["held_out_r2_of_replaced_direction"] = _r2(y[test], k * s[test])
        figs["replaced_direction_slope"] = k
        figs["cosine_with_replaced_direction"] = float(compare @ g / np.linalg.norm(g))
    log(f"age probes: {figs}")
    return g / np.linalg.norm(g), figs


def oof_projections(fn, x: np.ndarray, y: np.ndarray, idx: np.ndarray, mask=None) -> np.ndarray:
    """p = n_f . w for every face, n_f fitted (by ``fn(x, y)``) on the folds that do not hold the face."""
    m = np.ones(len(y), bool) if mask is None else mask
    f = _folds(idx)
    p = np.zeros(len(y))
    for k in range(FOLDS):
        n = fn(x[m & (f != k)], y[m & (f != k)])
        p[f == k] = x[f == k] @ (n / np.linalg.norm(n))
    return p


def _logit(q: float) -> float:
    return math.log(q / (1 - q))


def _phi(x):
    from math import erf

    return 0.5 * (1 + np.vectorize(erf)(np.asarray(x) / math.sqrt(2)))


def _clip(v, lo, hi):
    return None if v is None else float(min(max(v, lo), hi))


def fit(label_dir, target: float = 0.98, l2: float = 1e-3, method: str = "classifier", age_probes=None,
        identity: float | None = None, identity_only: tuple[str, ...] | None = None, start_vectors=None,
        start_vector_classes: tuple[str, ...] = ("child", "senior")) -> dict:
    L = load_labels(label_dir)
    rows, W, idx = L["rows"], L["w"], L["index"]
    det = np.array([r["detected"] for r in rows])
    log(f"{len(rows)} labeled faces, {det.sum()} detected by the judge")
    W, idx = W[det], idx[det]
    R = [r for r in rows if r["detected"]]
    female = np.array([r["gender"] == "female" for r in R], np.float64)
    age = np.array([r["age"] for r in R], np.float64)
    top = [max(r["expressions"], key=r["expressions"].get) for r in R]
    smile = np.array([t == "happy" for t in top])
    neutral = np.array([t == "neutral" for t in top])
    ex_mask = smile | neutral
    test = (idx % 5) == 4
    figures: dict = {"faces": len(rows), "detected": int(det.sum()), "held_out": int(test.sum())}

    def holdout_cls(x, y, mask=None):
        m = np.ones(len(y), bool) if mask is None else mask
        c, b = logistic(x[m & ~test], y[m & ~test], l2)
        pred = (x[m & test] @ c + b) > 0
        return float((pred == (y[m & test] > 0.5)).mean())

    figures["gender"] = {"female": int(female.sum()), "male": int(len(female) - female.sum()),
                         "held_out_accuracy": holdout_cls(W, female)}
    figures["expression"] = {"smile": int(smile.sum()), "neutral": int(neutral.sum()),
                             "other": int((~ex_mask).sum()),
                             "held_out_accuracy": holdout_cls(W, smile.astype(np.float64), ex_mask)}
    maes = {}
    for lam in RIDGE_LAMBDAS:
        c_tr, b_tr = ridge(W[~test], age[~test], lam)
        maes[lam] = float(np.abs(W[test] @ c_tr + b_tr - age[test]).mean())
    ridge_lam = min(maes, key=maes.get)
    c_tr, b_tr = ridge(W[~test], age[~test], ridge_lam)
    pred = W[test] @ c_tr + b_tr
    figures["age"] = {"median_years": float(np.median(age)), "p05_years": float(np.percentile(age, 5)),
                      "p95_years": float(np.percentile(age, 95)),
                      "counts": {k: int(((age >= (lo or 0)) & (age < (hi or 1e9))).sum())
                                 for k, (lo, hi) in AGE_CLASSES.items()},
                      "held_out_mae_years": float(np.abs(pred - age[test]).mean()),
                      "held_out_mae_median_guess_years": float(np.abs(np.median(age[~test]) - age[test]).mean()),
                      "ridge_lambda": ridge_lam}
    log(f"held out: gender {figures['gender']['held_out_accuracy']:.3f}, expression "
        f"{figures['expression']['held_out_accuracy']:.3f}, age MAE {figures['age']['held_out_mae_years']:.2f} y")

    attrs = []
    figures["method"] = method
    # gender
    ng, pg, l2g, accg, (lo_c, hi_c) = class_direction(method, W, female, idx)
    figures["gender"]["out_of_fold_accuracy"], figures["gender"]["l2"] = accg, l2g
    a, b = logistic(pg[:, None], female, 1e-6)
    a = float(a[0])
    f_lo = (_logit(target) - b) / a
    m_hi = (_logit(1 - target) - b) / a
    attrs.append({"name": "gender", "judged_by": "face-api ageGenderNet gender",
                  "normal": ng.tolist(),
                  "calibration": {"kind": "logistic", "a": a, "b": b, "p_clip": [float(lo_c), float(hi_c)]},
                  "classes": {"female": {"lo": _clip(f_lo, lo_c, hi_c), "hi": None},
                              "male": {"lo": None, "hi": _clip(m_hi, lo_c, hi_c)}}})
    # age
    age_target = age if method == "classifier" else np.log(age)
    adir = lambda x, y: direction(method, "value", x, y, lam=ridge_lam)  # noqa: E731
    ca = adir(W, age_target)
    na = ca / np.linalg.norm(ca)
    if age_probes is None:
        pa = oof_projections(adir, W, age_target, idx)
    else:
        # the edit's own gradient replaces the ridge normal; not fitted on the labels, so p = n . w is honest
        na, figures["age"]["probes"] = probe_direction(age_probes, compare=na)
        figures["age"]["direction"] = "probes"
        pa = W @ na
    lo_c, hi_c = np.percentile(W @ na, CLIP_PCT)
    A = np.vstack([pa, np.ones_like(pa)]).T
    (sa, sb), *_ = np.linalg.lstsq(A, np.log(age), rcond=None)
    s = float(np.std(np.log(age) - (sa * pa + sb)))
    grid = np.linspace(lo_c, hi_c, 4001)
    mu = sa * grid + sb
    classes = {}
    for k, (ylo, yhi) in AGE_CLASSES.items():
        P = (_phi((math.log(yhi) - mu) / s) if yhi else 1.0) - (_phi((math.log(ylo) - mu) / s) if ylo else 0.0)
        P = np.broadcast_to(P, grid.shape)
        q = min(target, float(P.max()) - 0.02)
        ok = grid[P >= q]
        lo = None if ylo is None else float(ok.min())
        hi = None if yhi is None else float(ok.max())
        classes[k] = {"lo": lo, "hi": hi, "years": [ylo, yhi], "best_p_in_class": float(P.max())}
    z = float(np.sqrt(2) * _erfinv(2 * target - 1))
    age_min_lo = [_clip((math.log(n) + s * z - sb) / sa, lo_c, hi_c) for n in range(AGE_MIN_RANGE[0],
                                                                                     AGE_MIN_RANGE[1] + 1)]
    attrs.append({"name": "age", "judged_by": "face-api ageGenderNet age (years)", "normal": na.tolist(),
                  "calibration": {"kind": "log-normal", "a": float(sa), "b": float(sb), "sigma": s,
                                  "p_clip": [float(lo_c), float(hi_c)]},
                  "classes": classes,
                  "age_min": {"from": AGE_MIN_RANGE[0], "lo": age_min_lo}})
    # expression
    ne, pe, l2e, acce, (lo_c, hi_c) = class_direction(method, W, smile.astype(np.float64), idx, ex_mask)
    figures["expression"]["out_of_fold_accuracy"], figures["expression"]["l2"] = acce, l2e
    a1, b1 = logistic(pe[:, None], smile.astype(np.float64), 1e-6)
    a0, b0 = logistic(pe[:, None], neutral.astype(np.float64), 1e-6)
    s_lo = (_logit(target) - b1) / float(a1[0])
    n_hi = (_logit(target) - b0) / float(a0[0])
    attrs.append({"name": "expression", "judged_by": "face-api faceExpressionNet (top expression)",
                  "normal": ne.tolist(),
                  "calibration": {"kind": "logistic per class", "smile": [float(a1[0]), b1],
                                  "neutral": [float(a0[0]), b0], "p_clip": [float(lo_c), float(hi_c)]},
                  "classes": {"smile": {"lo": _clip(s_lo, lo_c, hi_c), "hi": None},
                              "neutral": {"lo": None, "hi": _clip(n_hi, lo_c, hi_c)}}})
    # expression=neutral, second direction: among the faces that do not smile, neutral vs the other expressions
    # (sad, surprised, angry, ...): below the smile bound alone, a face may still read as one of those
    other = ~smile
    nn_, pn, l2n, accn, (lo_c, hi_c) = class_direction(method, W, neutral.astype(np.float64), idx, other)
    figures["neutral_vs_other"] = {"neutral": int(neutral.sum()), "other": int((other & ~neutral).sum()),
                                   "out_of_fold_accuracy": accn, "l2": l2n}
    a2, b2 = logistic(pn[other][:, None], neutral[other].astype(np.float64), 1e-6)
    nn_lo = (_logit(target) - b2) / float(a2[0])
    attrs.append({"name": "neutral_vs_other", "option": "expression",
                  "judged_by": "face-api faceExpressionNet (top expression), faces whose top is not happy",
                  "normal": nn_.tolist(),
                  "calibration": {"kind": "logistic", "a": float(a2[0]), "b": b2, "p_clip": [float(lo_c), float(hi_c)]},
                  "classes": {"neutral": {"lo": _clip(nn_lo, lo_c, hi_c), "hi": None}}})
    N = np.stack([ng, na, ne, nn_])
    figures["cosines"] = {f"{attrs[i]['name']}-{attrs[j]['name']}": float(N[i] @ N[j])
                          for i in range(len(N)) for j in range(i + 1, len(N))}
    log(f"cosines {figures['cosines']}")
    for a_, n_ in zip(attrs, N):
        pw = W @ n_
        a_["calibration"]["p_mean"], a_["calibration"]["p_std"] = float(pw.mean()), float(pw.std())
    if identity:
        figures["identity_metric"] = identity_moves(label_dir, L, det, attrs, N, identity,
                                                    [np.log(age), female, smile.astype(np.float64)], test, identity_only)
    if start_vectors:
        from seedface.eval.attribute_edits import start_vectors as fit_start_vectors

        sv = fit_start_vectors(Path(start_vectors))
        age_attr = next(x for x in attrs if x["name"] == "age")
        for cls in start_vector_classes:
            age_attr["classes"][cls]["start"] = sv[cls]["start"]
        figures["start_vectors"] = {cls: {k: v for k, v in sv[cls].items() if k != "start"}
                                    | {"weight": sv[cls]["start"]["weight"]} for cls in start_vector_classes}
    for a_ in attrs:
        log(f"{a_['name']}: {json.dumps({k: [v.get('lo'), v.get('hi')] for k, v in a_['classes'].items()})}")
    return {"attributes": attrs, "figures": figures, "judge": L["judge"], "meta": L["meta"], "target": target}


def identity_moves(label_dir, L, det, attrs, N, lam, targets, test, only=None) -> dict:
    """Give the directions (``only``: those named; default every one) a ``move`` vector
    (seedface.train.identity_metric): the edit's smallest move in a metric that also counts how far dlib's
    descriptor moves, minus its attribute axes. The others keep their normal as the move."""
    from seedface.train import identity_metric as im

    D = im.load_descriptors(label_dir, L["index"], L["meta"]["chunk"])[det]
    ok = np.isfinite(D[:, 0])
    if ok.sum() < 500:
        raise SystemExit(f"{label_dir}: {ok.sum()} faces with dlib descriptors; run python -m seedface.attributes_identity first")
    W = L["w"][det]
    B, info = im.descriptor_map(W[ok], D[ok], test[ok])
    axes = im.attribute_axes(D[ok], [t[ok] for t in targets])
    U, minfo = im.move_vectors(N, B, axes, lam)
    for a_, u in zip(attrs, U):
        if only is None or a_["name"] in only:
            a_["move"] = u.tolist()
    minfo["directions_with_move"] = [a_["name"] for a_ in attrs if "move" in a_]
    log(f"identity metric: descriptor map held-out R^2 {info['held_out_r2']:.3f}; per unit of projection the "
        f"identity part moves " + ", ".join(f"{a_['name']} {d['identity_per_unit_normal']:.3f} -> "
                                           f"{d['identity_per_unit_move']:.3f} (|w| {d['w_norm_per_unit_move']:.2f})"
                                           for a_, d in zip(attrs, minfo["directions"])))
    return {"faces": int(ok.sum()), **info, **minfo, "axes": "log age, female, smile (ridge on the descriptor)"}


def _erfinv(y: float) -> float:
    # Newton on erf (offline only)
    x = 0.0
    for _ in range(100):
        x -= (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
    return x


def write(model_dir, res: dict) -> Path:
    model_dir = Path(model_dir)
    man = mf.load(model_dir)
    m = res["meta"]
    data = {
        "format": at.FORMAT,
        "model": man["id"], "model_version": man["version"], "style_dim": int(man["style_dim"]),
        "space": "truncated w' (after the mapping and truncation, before the W+ broadcast)",
        "about": "unit normals n_k and class intervals of p_k = n_k . w (margins included); the edit is "
                 "training/seedface/pipeline/attributes.py = src/shared/attributes.ts (docs/attributes.md)",
        "attributes": res["attributes"],
        "unavailable": {"glasses": GLASSES_WHY},
        "fit": {"tool": "seedface.attributes_fit", "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "labels": {"seeds": f"'{m['seed_prefix']}0'..", "psi": m["psi"], "output": m["output"],
                           "size": m["size"], "judge": res["judge"]},
                "target": res["target"], "figures": res["figures"],
                **({"bounds_override": res["bounds_override"],
                    "bounds_override_why": "edited faces need deeper bounds than natural faces at the same p: "
                                           "margins measured by seedface.attributes_pilot on its seeds attr-pilot3/* (not the eval seeds)"}
                   if res.get("bounds_override") else {})},
    }
    p = model_dir / at.FILE
    p.write_text(json.dumps(data) + "\n")
    at.parse(json.loads(p.read_text()), int(man["style_dim"]))
    entry = {"path": at.FILE, "sha256": mf.sha256_file(p), "bytes": p.stat().st_size, "network": "attributes",
             "precision": "float64-json", "produced_by": "npm run fit:attributes"}
    man["files"] = [f for f in man["files"] if f["path"] != at.FILE] + [entry]
    old = man.get("attributes") or {}
    man["attributes"] = {"format": at.FORMAT, "file": at.FILE, "sha256": entry["sha256"],
                         "options": at.allowed(data), "unavailable": data["unavailable"],
                         "fit": {k: data["fit"][k] for k in ("tool", "when", "target")} | {
                             "faces": res["figures"]["faces"], "detected": res["figures"]["detected"]},
                         **({"metrics": old["metrics"]} if "metrics" in old else {})}
    mf.save(model_dir, man)
    return p


def apply_bounds(res: dict, spec: str) -> None:
    """Override class bounds: comma-separated ``ATTR.CLASS.lo|hi=V``; V is p itself, or ``zX``: X natural
    standard deviations of p from its mean over the labeled faces (comparable across directions).
    ``ATTR.CLASS.start=R`` gives the class a start weight R (ref: the labeled faces' mean p): the interval bounds
    ``p + R (p_seed - ref)``, so seeds that start further from the class land deeper.
    ``age.age_min.shift=D`` moves every bound of the age_min table by D (deeper for D > 0)."""
    res["bounds_override"] = {}
    for item in spec.split(","):
        k, v = item.split("=")
        name, cls, side = k.split(".")
        attr = next(x for x in res["attributes"] if x["name"] == name)
        c = attr["calibration"]
        if (cls, side) == ("age_min", "shift"):
            t = attr["age_min"]
            t.setdefault("calibrated", list(t["lo"]))
            t["lo"] = [None if x is None else x + float(v) for x in t["calibrated"]]
            res["bounds_override"][k] = float(v)
            continue
        if side == "start":
            # the start weight (docs/attributes.md): ref = the labeled faces' mean p
            attr["classes"][cls]["start"] = {"weight": float(v), "ref": c["p_mean"]}
            res["bounds_override"][k] = float(v)
            continue
        val = c["p_mean"] + float(v[1:]) * c["p_std"] if v.startswith("z") else float(v)
        attr["classes"][cls].setdefault("calibrated", {"lo": attr["classes"][cls]["lo"],
                                                      "hi": attr["classes"][cls]["hi"]})
        attr["classes"][cls][side] = val
        res["bounds_override"][k] = v if v.startswith("z") else float(v)
    log(f"bounds overridden: {res['bounds_override']}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", default=str(REPO / "training" / "runs" / "attributes" / "ffhq"))
    ap.add_argument("--model", default=str(REPO / "models" / "ffhq"))
    ap.add_argument("--target", type=float, default=0.98)
    ap.add_argument("--method", choices=METHODS, default="classifier", help="how a direction is found (see above)")
    ap.add_argument("--age-probes", default=None, help="a folder of seedface.attributes_probe pairs: the age "
                    "direction is the judge's mean gradient measured by the pairs instead of the ridge normal")
    ap.add_argument("--identity", type=float, default=None, help="give the directions identity-aware move vectors "
                    "with this weight (seedface.train.identity_metric; needs python -m seedface.attributes_identity)")
    ap.add_argument("--identity-only", default=None, help="comma-separated directions that get move vectors (default: all)")
    ap.add_argument("--start-vectors", default=None, help="a folder of seedface.attributes_edits judged edits: the "
                    "--start-vector-classes get per-seed start vectors fitted on them")
    ap.add_argument("--start-vector-classes", default="child,senior")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--bounds", default="", help="comma-separated overrides ATTR.CLASS.lo|hi=P or =zX (X natural std of p from its mean; margins measured on "
                    "pilot seeds, see docs/attributes.md), applied after the calibration")
    a = ap.parse_args(argv)
    res = fit(a.labels, a.target, method=a.method, age_probes=a.age_probes, identity=a.identity,
              identity_only=tuple(a.identity_only.split(",")) if a.identity_only else None,
              start_vectors=a.start_vectors, start_vector_classes=tuple(a.start_vector_classes.split(",")))
    if a.bounds:
        apply_bounds(res, a.bounds)
    print(json.dumps(res["figures"], indent=2))
    if a.write:
        log(f"wrote {write(a.model, res)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
