"""Measure attribute control (issue 16): does an asked option land in the asked class, and who is still there.

    python -m seedface.attributes_eval [--model models/ffhq] [--seeds 500] [--out training/reports/]
                                       [--work training/runs/attributes/ffhq-eval] [--write-manifest]
    npm run eval:attributes

Seeds ``attr-eval/0`` .. ``attr-eval/<N-1>`` (not the fitting seeds ``attr-train/*``) at the manifest's default psi.
Each seed is drawn unedited and, for every option (gender=female|male, age=child|young|adult|senior, age_min=18,
expression=smile|neutral), edited exactly as the service edits it (seedface.attributes = src/shared/attributes.ts,
then seedface.face_render's pipeline: fp32 student, the seed's noise, at ``--size`` (default 128, the service's default size)
from the level the manifest serves that size from (ffhq: ``img_256``), exactly the face ``/face/<seed>.png`` returns). A seed the
option does not move is the unedited face (bit for bit), so only moved faces are drawn again.

Judges:
- the attribute judge, face-api (``scripts/face-attributes-judge.cjs``: age/gender net, expression net), the same
  models that labeled the fitting faces, so its success figures are not independent of the fit;
- the second judge for gender and age (seedface.eval.second_judge): small MLP heads on dlib's descriptor fitted to
  UTKFace's true ages and genders; it shares nothing with face-api or the fit (there is none for expression);
- dlib (seedface.face_judge): detection and the 128-d descriptor for identity (distance to the seed's unedited
  face) and look-alikes (pairs of different seeds closer than 0.6).

Figures per option: success rate (share of all N faces the judge puts in the asked class; a face it does not
detect counts as a miss), share already in the class unedited, share moved; identity: median / p90 descriptor
distance between edited and unedited face over the moved faces; look-alike rate among the N edited faces vs the
unedited ones; dlib detection rate edited vs unedited. Writes ``<out>/<id>_attributes.json``, ``.md`` and
``_attributes_grid.jpg`` (the same 8 seeds in every row: unedited, then each option; red frame = the judge
does not put it in the asked class). Rendering, the face-api judge and dlib run side by side (three processes);
work files under ``--work`` make a stopped run resume.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from seedface.pipeline import attributes as at
from seedface.release import manifest as mf
from seedface.eval.attribute_labels import JUDGE_SCRIPT, save_atomic
from seedface.eval.faces import _framed, lookalike_stats, sample_grid
from seedface.eval.face_judge import SAME_PERSON_THRESHOLD, FaceJudge
from seedface.pipeline.face import FaceRenderer
from seedface.pipeline.resample import finish_pixels
from seedface.paths import REPO
from seedface.train.attribute_directions import AGE_CLASSES

SEED_PREFIX = "attr-eval/"
CHUNK = 50
OPTIONS = [("gender", "female"), ("gender", "male"), ("age", "child"), ("age", "young"), ("age", "adult"),
           ("age", "senior"), ("age_min", "18"), ("expression", "smile"), ("expression", "neutral")]
# The fit's age classes in years, closed: [lo, hi) with open ends at 0 and 1e9.
AGE_YEARS = {k: (lo or 0.0, hi or 1e9) for k, (lo, hi) in AGE_CLASSES.items()}
GRID_SEEDS = 8
# The face measured is the one the service serves at its default size (src/shared/params.ts DEFAULT_SIZE): drawn from
# the level the manifest's serving table gives for it (ffhq: img_256, finished to 128 px). Until 2026-12-02 the eval
# drew img_128 at 128 px (the level of sizes 17..32, half the MACs), which face-api judges younger: --output img_128.
DEFAULT_SIZE = 128
MAIN = {"gender", "age_min", "expression"}
IDENTITY_TARGET = 0.45
SUCCESS_TARGET = 0.95
LOOKALIKE_POINTS = 0.03


def log(msg: str) -> None:
    print(f"[attr-eval] {msg}", file=sys.stderr, flush=True)


def _p(x, nd=1) -> str:
    return "-" if x is None else f"{x:.{nd}%}"


def tag(opt) -> str:
    return f"{opt[0]}-{opt[1]}"


def in_class(opt, row: dict) -> bool:
    """Does face-api put this face in the asked class?"""
    if not row.get("detected"):
        return False
    name, v = opt
    if name == "gender":
        return row["gender"] == v
    if name == "age":
        return age_class(row["age"]) == v
    if name == "age_min":
        return row["age"] >= int(v)
    if name == "expression":
        top = max(row["expressions"], key=row["expressions"].get)
        return top == ("happy" if v == "smile" else "neutral")
    raise ValueError(opt)


def age_class(age: float) -> str:
    """The age class of an age in years (face-api can give a baby a slightly negative age: that is a child)."""
    return next(k for k, (lo, hi) in AGE_YEARS.items() if lo <= max(age, 0.0) < hi)


def in_class_second(opt, second, ok: bool, desc) -> bool | None:
    """Does the second judge put this face in the asked class? None where it has no say (expression)."""
    if second is None or opt[0] not in ("gender", "age", "age_min"):
        return None
    if not ok:
        return False
    j = second.judge(desc)
    return in_class(opt, {"detected": True, "gender": j["gender"], "age": j["age"]})


def _mean_or_none(xs):
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


# ---- phase 1: render ---------------------------------------------------------------------------------------------

def seeds_for(opt, n_seeds: int, n_minor: int) -> int:
    """Seeds measured for an option: all for the main options (gender, age_min, expression), n_minor for the age
    classes (CPU budget; resumable, so a later run with a larger --minor-seeds extends them)."""
    return n_seeds if opt[0] in MAIN else min(n_seeds, n_minor)


def _forget_other_edits(work: Path, data: dict, drawn: dict | None = None) -> None:
    """Renders are resumed only for the same directions and classes and the same rendering (`drawn`: output, size):
    a work folder drawn for another attributes file (a refit, other bounds) or at another size is emptied first, so
    no figure mixes the faces of two."""
    key = data["attributes"] if drawn is None else {"attributes": data["attributes"], "drawn": drawn}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    stamp = work / "attributes.sha256"
    if stamp.exists() and stamp.read_text().strip() != digest:
        log(f"{work}: drawn for other attribute directions; starting over")
        for f in work.glob("chunk_*"):
            f.unlink()
    stamp.write_text(digest + "\n")


def _chunk_done(work: Path, name: str, seeds: list[str]) -> bool:
    """Is chunk `name` rendered for exactly these seeds? A last chunk drawn by a run with fewer seeds is not: its
    files (and what the judges made of them) are removed so that it is drawn again, whole."""
    side = work / f"{name}.json"
    if not side.exists():
        return False
    if json.loads(side.read_text())["seeds"] == seeds:
        return True
    for f in work.glob(f"{name}.*"):
        f.unlink()
    return False


def drawing(model_dir: Path, size: int, output: str | None) -> dict:
    """What the eval draws: {output, size}; the output defaults to the level the service draws `size` from."""
    return {"output": output or FaceRenderer(model_dir, precisions=("fp32",)).output_for(size), "size": int(size)}


def render_all(model_dir: Path, work: Path, data: dict, n_seeds: int, psi: float | None, n_minor: int,
               drawn: dict) -> None:
    r = FaceRenderer(model_dir, precisions=("fp32",))
    output, size = drawn["output"], drawn["size"]
    sess = r.session("student", "fp32", output)
    t0 = time.time()
    for c in range((n_seeds + CHUNK - 1) // CHUNK):
        seeds = [f"{SEED_PREFIX}{i}" for i in range(c * CHUNK, min(n_seeds, (c + 1) * CHUNK))]
        todo = [o for o in OPTIONS if c * CHUNK < seeds_for(o, n_seeds, n_minor)
                and not _chunk_done(work, f"chunk_{tag(o)}_{c:04d}", seeds)]
        base_done = _chunk_done(work, f"chunk_base_{c:04d}", seeds)
        if base_done and not todo:
            continue
        ws = [r.style(s, psi, "fp32") for s in seeds]
        draw = lambda s, w: finish_pixels(sess.run([output], r.feeds(s, w))[0][0], size)  # noqa: E731
        for opt in todo:
            side = work / f"chunk_{tag(opt)}_{c:04d}.json"
            o = at.canonical(data, {opt[0]: opt[1]})
            moved, imgs, info = [], [], []
            for s, w in zip(seeds, ws):
                e = at.edit(data, w, o)
                p0, p1 = at.projections(data, w), at.projections(data, e)
                mv = e is not w
                info.append({"seed": s, "moved": mv, "dw": float(np.sqrt(((e.astype(np.float64) - w) ** 2).sum())),
                             "p_before": p0, "p_after": p1})
                if mv:
                    moved.append(s)
                    imgs.append(draw(s, e))
            if imgs:
                save_atomic(work / f"chunk_{tag(opt)}_{c:04d}.npy", np.stack(imgs))
            side.write_text(json.dumps({"option": list(opt), "seeds": seeds, "moved": moved, "info": info}))
        if not base_done:
            save_atomic(work / f"chunk_base_{c:04d}.npy", np.stack([draw(s, w) for s, w in zip(seeds, ws)]))
            (work / f"chunk_base_{c:04d}.json").write_text(json.dumps({"seeds": seeds}))
        log(f"seeds {seeds[-1]}: rendered ({time.time() - t0:.0f} s)")


# ---- phase 2: dlib (a worker process) ------------------------------------------------------------------------------

def dlib_worker(work: Path, watch: bool) -> None:
    judge = FaceJudge()
    while True:
        todo = sorted(f for f in work.glob("chunk_*.npy") if not f.name.endswith(".tmp.npy")
                      and not f.with_suffix(".dlib.npz").exists())
        for f in todo:
            imgs = np.load(f)
            ok, desc = [], []
            for im in imgs:
                o, d = judge.describe(im)
                ok.append(o)
                desc.append(d if o else np.zeros(128))
            tmp = f.with_name(f.stem + ".dlib.tmp.npz")
            np.savez(tmp, ok=np.asarray(ok), desc=np.asarray(desc))
            os.replace(tmp, f.with_suffix(".dlib.npz"))
        if not watch or (not todo and (work / "DONE").exists()):
            return
        if not todo:
            time.sleep(2)


# ---- phase 3: figures ------------------------------------------------------------------------------------------------

def _load_chunk(work: Path, name: str):
    fa = json.loads((work / f"{name}.faceapi.json").read_text())["rows"]
    dl = np.load(work / f"{name}.dlib.npz")
    return fa, list(dl["ok"]), list(dl["desc"])


def figures(model_dir: Path, work: Path, n_seeds: int, n_minor: int, drawn: dict,
            judge_name: str | None = None) -> tuple[dict, np.ndarray]:
    from PIL import Image

    from seedface.eval.second_judge import HEADS, SecondJudge

    second = SecondJudge.load() if HEADS.exists() else None
    n_chunks = (n_seeds + CHUNK - 1) // CHUNK
    base = {}  # seed -> (faceapi row, dlib ok, desc)
    base_img = {}
    for c in range(n_chunks):
        seeds = json.loads((work / f"chunk_base_{c:04d}.json").read_text())["seeds"]
        fa, ok, desc = _load_chunk(work, f"chunk_base_{c:04d}")
        imgs = np.load(work / f"chunk_base_{c:04d}.npy") if c == 0 else None
        for i, s in enumerate(seeds):
            base[s] = (fa[i], bool(ok[i]), desc[i])
            if imgs is not None and i < GRID_SEEDS:
                base_img[s] = imgs[i]
        judge_name = judge_name or json.loads((work / f"chunk_base_{c:04d}.faceapi.json").read_text())["judge"]
    seeds_all = [f"{SEED_PREFIX}{i}" for i in range(n_seeds)]
    thumb = lambda im: np.asarray(Image.fromarray(im).resize((128, 128), Image.BOX))  # noqa: E731
    grid_rows = [[thumb(base_img[s]) for s in seeds_all[:GRID_SEEDS]]]
    base_la = lookalike_stats([base[s][2] for s in seeds_all if base[s][1]])
    base_det = sum(base[s][1] for s in seeds_all) / n_seeds
    base_fa_det = sum(bool(base[s][0].get("detected")) for s in seeds_all) / n_seeds
    per_opt = []
    for opt in OPTIONS:
        res, infos, grid_row = {}, {}, []
        n_opt = seeds_for(opt, n_seeds, n_minor)
        for c in range((n_opt + CHUNK - 1) // CHUNK):
            side = json.loads((work / f"chunk_{tag(opt)}_{c:04d}.json").read_text())
            for x in side["info"]:
                infos[x["seed"]] = x
            if side["moved"]:
                fa, ok, desc = _load_chunk(work, f"chunk_{tag(opt)}_{c:04d}")
                imgs = np.load(work / f"chunk_{tag(opt)}_{c:04d}.npy") if c == 0 else None
                for i, s in enumerate(side["moved"]):
                    res[s] = (fa[i], bool(ok[i]), desc[i])
                    if imgs is not None:
                        base_img[(tag(opt), s)] = imgs[i]
        seeds_opt = seeds_all[:n_opt]
        rows = {s: res.get(s, base[s]) for s in seeds_opt}
        hit = [in_class(opt, rows[s][0]) for s in seeds_opt]
        before = [in_class(opt, base[s][0]) for s in seeds_opt]
        hit2 = [in_class_second(opt, second, rows[s][1], rows[s][2]) for s in seeds_opt]
        before2 = [in_class_second(opt, second, base[s][1], base[s][2]) for s in seeds_opt]
        moved = [s for s in seeds_opt if infos[s]["moved"]]
        base_la_opt = base_la if n_opt == n_seeds else lookalike_stats([base[s][2] for s in seeds_opt if base[s][1]])
        base_det_opt = sum(base[s][1] for s in seeds_opt) / n_opt
        # Context: faces of one class look more alike than a mix; the rate among unedited faces already in the class.
        base_la_cls = lookalike_stats([base[s][2] for s, b in zip(seeds_opt, [in_class(opt, base[s][0]) for s in seeds_opt])
                                       if b and base[s][1]])
        dist = [float(np.sqrt(((rows[s][2] - base[s][2]) ** 2).sum())) for s in moved if rows[s][1] and base[s][1]]
        la = lookalike_stats([rows[s][2] for s in seeds_opt if rows[s][1]])
        det = sum(rows[s][1] for s in seeds_opt) / n_opt
        moved_hit = [h for s, h in zip(seeds_opt, hit) if infos[s]["moved"]]
        dws = [infos[s]["dw"] for s in moved]
        d = np.asarray(dist) if dist else np.asarray([np.nan])
        per_opt.append({
            "option": f"{opt[0]}={opt[1]}", "seeds": n_opt,
            "success_rate": float(np.mean(hit)), "in_class_unedited": float(np.mean(before)),
            "second_judge_success_rate": _mean_or_none(hit2),
            "second_judge_in_class_unedited": _mean_or_none(before2),
            "moved": len(moved), "moved_share": len(moved) / n_opt,
            "success_rate_moved": float(np.mean(moved_hit)) if moved_hit else None,
            "identity": {"n": len(dist), "median": float(np.median(d)), "p90": float(np.percentile(d, 90)),
                         "same_person_share": float((d < SAME_PERSON_THRESHOLD).mean()) if dist else None},
            "w_move": {"median": float(np.median(dws)) if dws else 0.0, "max": float(max(dws)) if dws else 0.0},
            "lookalike_rate": la["lookalike_rate"], "lookalike_rate_unedited": base_la_opt["lookalike_rate"],
            "lookalike_rate_unedited_in_class": base_la_cls["lookalike_rate"],
            "lookalike_points_vs_unedited":
                None if la["lookalike_rate"] is None else 100 * (la["lookalike_rate"] - base_la_opt["lookalike_rate"]),
            "detection_rate": det, "detection_rate_unedited": base_det_opt,
            "detection_change_points": 100 * (det - base_det_opt),
            "judge_detection_rate": sum(bool(rows[s][0].get("detected")) for s in seeds_opt) / n_opt,
        })
        for s in seeds_opt[:GRID_SEEDS]:
            im = base_img.get((tag(opt), s), base_img[s])
            grid_row.append(_framed(thumb(im), in_class(opt, rows[s][0]), 3))
        grid_rows.append(grid_row)
        r = per_opt[-1]
        log(f"{r['option']}: success {r['success_rate']:.1%} (second judge {_p(r['second_judge_success_rate'])}; unedited {r['in_class_unedited']:.1%}, moved "
            f"{r['moved_share']:.0%}), identity median {r['identity']['median']:.3f}, look-alike "
            f"{_p(r['lookalike_rate'], 2)} vs {_p(base_la_opt['lookalike_rate'], 2)}, detection {det:.1%} vs {base_det_opt:.1%}")
    man = mf.load(model_dir)
    report = {
        "tool": "seedface.attributes_eval", "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": {"id": man["id"], "version": man["version"], "attributes_sha256": man["attributes"]["sha256"]},
        "seeds": n_seeds, "seed_names": f"'{SEED_PREFIX}0'..'{SEED_PREFIX}{n_seeds - 1}'",
        "seeds_per_option": {f"{o[0]}={o[1]}": seeds_for(o, n_seeds, n_minor) for o in OPTIONS},
        "psi": man["truncation"]["default_psi"], "size": drawn["size"], "output": drawn["output"],
        "attribute_judge": judge_name, "second_judge": second.name if second else None,
        "second_judge_real_photos": second.heads["figures"] if second else None,
        "second_judge_why": ("gender and age only: no second expression model is reachable here (dlib has none; "
                             "face-api's other nets are a detector, landmarks and a face descriptor)") if second else
                            "training/judges/utkface_dlib_heads.json missing (python -m seedface.eval.second_judge --write)",
        "identity_judge": "dlib HOG detector + 68 landmarks + 128-d ResNet descriptor (seedface.face_judge)",
        "threshold": SAME_PERSON_THRESHOLD,
        "unedited": {"detection_rate": base_det, "judge_detection_rate": base_fa_det,
                     "lookalike_rate": base_la["lookalike_rate"]},
        "options": per_opt,
        "targets": {"success_rate": SUCCESS_TARGET, "identity_median": IDENTITY_TARGET,
                    "lookalike_points": 100 * LOOKALIKE_POINTS, "detection": "unchanged"},
        "summary": {
            "min_success_rate": min(r["success_rate"] for r in per_opt),
            "max_identity_median": max(r["identity"]["median"] for r in per_opt if r["identity"]["n"]),
            "max_lookalike_points": max((r["lookalike_points_vs_unedited"] for r in per_opt
                                         if r["lookalike_points_vs_unedited"] is not None), default=None),
            "min_detection_rate": min(r["detection_rate"] for r in per_opt),
        },
    }
    return report, sample_grid(grid_rows)


def markdown(rep: dict, grid_name: str) -> str:
    u = rep["unedited"]
    second = rep.get("second_judge")
    lines = [f"# Attribute control: {rep['model']['id']} {rep['model']['version']}", "",
             f"{rep['seeds']} seeds ({rep['seed_names']}) at psi {rep['psi']}, {rep['size']} px from {rep['output']} "
             f"(fp32), `npm run eval:attributes` ({rep['when']}). Attribute judge: {rep['attribute_judge']} (the "
             f"models that labeled the fitting faces). Second judge: {second or 'none'} ({rep['second_judge_why']}). "
             f"Identity, look-alikes and detection: {rep['identity_judge']}, same person below {rep['threshold']}.", ""]
    if second:
        f = rep["second_judge_real_photos"]
        cls = ", ".join(f"{k} {_p(v['recall'], 0)}" for k, v in f["age_classes"].items())
        lines += [f"The second judge on {f['held_out']} held-out real photos (UTKFace, true labels): gender accuracy "
                  f"{_p(f['gender_accuracy'])}, age MAE {f['age_mae_years']:.1f} years (guessing the median: "
                  f"{f['age_mae_median_guess_years']:.1f}), age class recall {cls}; age >= 18 precision "
                  f"{_p(f['age_min_18']['precision'])}. Its verdicts on edited faces are bounded by these figures.", ""]
    lines += [f"Unedited faces: dlib detection {u['detection_rate']:.1%}, face-api detection "
              f"{u['judge_detection_rate']:.1%}, look-alike pairs {_p(u['lookalike_rate'], 2)}.", "",
              "| option | seeds | success (target >= 95%) | second judge: success (unedited) | in class unedited | moved | "
              "success of moved | identity median / p90 (moved; target <= 0.45) | still same person | look-alike (vs "
              "unedited) | look-alike of unedited faces already in the class | dlib detection (unedited) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rep["options"]:
        i = r["identity"]
        sp = "-" if i["same_person_share"] is None else f"{i['same_person_share']:.0%}"
        sm = "-" if r["success_rate_moved"] is None else f"{r['success_rate_moved']:.1%}"
        s2 = r.get("second_judge_success_rate")
        s2 = "-" if s2 is None else f"{s2:.1%} ({_p(r['second_judge_in_class_unedited'])})"
        lines.append(f"| `{r['option']}` | {r['seeds']} | {r['success_rate']:.1%} | {s2} | {r['in_class_unedited']:.1%} | "
                     f"{r['moved_share']:.0%} | {sm} | {i['median']:.3f} / {i['p90']:.3f} | {sp} | "
                     f"{_p(r['lookalike_rate'], 2)} ({'-' if r['lookalike_points_vs_unedited'] is None else format(r['lookalike_points_vs_unedited'], '+.2f')} pt) | "
                     f"{_p(r['lookalike_rate_unedited_in_class'], 2)} | "
                     f"{r['detection_rate']:.1%} ({r['detection_rate_unedited']:.1%}) |")
    lines += ["", f"![the same {GRID_SEEDS} seeds: unedited, then one row per option in table order; red frame = the "
              f"judge does not put the face in the asked class]({grid_name})", ""]
    return "\n".join(lines)


def manifest_metrics(rep: dict) -> dict:
    return {"tool": rep["tool"], "when": rep["when"], "seeds": rep["seeds"], "seed_names": rep["seed_names"],
            "seeds_per_option": rep["seeds_per_option"], "output": rep["output"],
            "psi": rep["psi"], "size": rep["size"], "judge": rep["attribute_judge"], "second_judge": rep["second_judge"],
            "identity_judge": rep["identity_judge"], "unedited": rep["unedited"],
            "options": [{"option": r["option"], "success_rate": round(r["success_rate"], 4),
                         "in_class_unedited": round(r["in_class_unedited"], 4),
                         **({"second_judge_success_rate": round(r["second_judge_success_rate"], 4)}
                            if r.get("second_judge_success_rate") is not None else {}),
                         "moved_share": round(r["moved_share"], 4),
                         "identity_median": None if r["identity"]["n"] == 0 else round(r["identity"]["median"], 4),
                         "lookalike_rate": None if r["lookalike_rate"] is None else round(r["lookalike_rate"], 5),
                         "lookalike_rate_unedited_in_class": None if r["lookalike_rate_unedited_in_class"] is None
                         else round(r["lookalike_rate_unedited_in_class"], 5),
                         "detection_rate": round(r["detection_rate"], 4)} for r in rep["options"]]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "models" / "ffhq"))
    ap.add_argument("--seeds", type=int, default=500)
    ap.add_argument("--seed-prefix", default="attr-eval/", help="(a pilot run to tune margins uses attr-pilot/)")
    ap.add_argument("--minor-seeds", type=int, default=500, help="seeds for the age classes (default 500)")
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE, help="face size in px (default: the service's default, 128)")
    ap.add_argument("--output", default=None, help="student level to draw from (default: the one the manifest serves "
                    "--size from; img_128 reproduces the evaluations before 2026-12-02)")
    ap.add_argument("--psi", type=float, default=None)
    ap.add_argument("--work", default=str(REPO / "training" / "runs" / "attributes" / "ffhq-eval"))
    ap.add_argument("--out", default=str(REPO / "training" / "reports"))
    ap.add_argument("--write-manifest", action="store_true")
    ap.add_argument("--dlib-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--figures-only", action="store_true", help="skip rendering/judging (work files complete)")
    ap.add_argument("--options", default=None, help="only these options, e.g. expression=neutral,gender=female "
                    "(a pilot of one margin on more seeds; default: all)")
    a = ap.parse_args(argv)
    globals()["SEED_PREFIX"] = a.seed_prefix
    if a.options:
        wanted = a.options.split(",")
        unknown = [w for w in wanted if w not in {f"{o[0]}={o[1]}" for o in OPTIONS}]
        if unknown:
            ap.error(f"--options: unknown {', '.join(unknown)}")
        globals()["OPTIONS"] = [o for o in OPTIONS if f"{o[0]}={o[1]}" in wanted]
    work, model_dir = Path(a.work).resolve(), Path(a.model).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if a.dlib_worker:
        dlib_worker(work, True)
        return 0
    drawn = drawing(model_dir, a.size, a.output)
    t0 = time.time()
    if not a.figures_only:
        data = at.load(model_dir)
        if data is None:
            raise SystemExit(f"{model_dir}: the manifest lists no attributes file (run `npm run fit:attributes`)")
        # before the judges start: they must not see the chunks of another file being removed
        _forget_other_edits(work, data, drawn)
        (work / "DONE").unlink(missing_ok=True)
        procs = [subprocess.Popen(["node", str(JUDGE_SCRIPT), str(work), "--watch"], cwd=str(REPO)),
                 subprocess.Popen([sys.executable, "-m", "seedface.attributes_eval", "--dlib-worker", "--work",
                                   str(work)], cwd=str(REPO / "training"))]
        try:
            render_all(model_dir, work, data, a.seeds, a.psi, a.minor_seeds, drawn)
        finally:
            (work / "DONE").write_text("done\n")
            for p in procs:
                p.wait()
        log(f"rendered and judged in {time.time() - t0:.0f} s")
    rep, grid = figures(model_dir, work, a.seeds, a.minor_seeds, drawn)
    rep["seconds"] = round(time.time() - t0, 1)
    from PIL import Image

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{rep['model']['id']}_attributes"
    Image.fromarray(grid).save(out / f"{stem}_grid.jpg", quality=85)
    (out / f"{stem}.json").write_text(json.dumps(rep, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown(rep, f"{stem}_grid.jpg"))
    if a.write_manifest:
        man = mf.load(model_dir)
        man["attributes"]["metrics"] = manifest_metrics(rep)
        mf.save(model_dir, man)
    print(json.dumps(rep["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
