"""Does an edit work better on some W+ slots only? (issue 16: the age classes' success against identity)

    python -m seedface.attributes_slots age=senior [--seeds 64] [--variant all=0-23x1.0 --variant from7=7-23x1.0 ...]
                                        [--out training/runs/attributes/slots]

The shipped edit moves w itself, i.e. every W+ slot by the same Delta (docs/attributes.md). A variant
``NAME=A-BxS`` moves only the slots A..B-1 by S * Delta (the Delta the shipped file gives the seed for the option)
and leaves the others at the seed's w: coarse slots shape the head, later ones texture and colour (slot layout: the
release's block i reads slots 3i+1..3i+3, docs/mobilestylegan notes). Every variant is drawn on the pilot seeds
``attr-pilot3/<i>`` at psi 1.0 from ``img_128`` and judged as ``npm run eval:attributes`` judges: face-api's class
(success), dlib's distance to the unedited face (identity median), dlib detection, look-alike pairs. A variant that
beats the shipped one must reach more success at the same identity cost; the table is printed and written to
``OUT/<option>.json``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from seedface.eval.attribute_labels import JUDGE_SCRIPT
from seedface.eval.attributes import in_class
from seedface.eval.face_judge import FaceJudge, descriptor_distance, lookalike_rate
from seedface.paths import REPO
from seedface.pipeline import attributes as at
from seedface.pipeline.face import FaceRenderer, noise_feeds, w_input
from seedface.pipeline.resample import finish_pixels

SEED_PREFIX = "attr-pilot3/"
OUTPUT, SIZE = "img_128", 128
DEFAULT_VARIANTS = ["all=0-23x1.0", "coarse=0-7x1.0", "from4=4-23x1.0", "from7=7-23x1.0", "upto10=0-10x1.0",
                    "allx1.3=0-23x1.3", "from7x2=7-23x2.0"]


def log(msg: str) -> None:
    print(f"[slots] {msg}", file=sys.stderr, flush=True)


def parse_variant(spec: str) -> tuple[str, int, int, float]:
    """``NAME=A-BxS`` -> (name, A, B, S)."""
    try:
        name, rest = spec.split("=")
        span, scale = rest.split("x")
        a, b = span.split("-")
        return name, int(a), int(b), float(scale)
    except ValueError:
        raise SystemExit(f"--variant {spec!r}: expected NAME=A-BxS, e.g. from7=7-23x1.0") from None


def slot_scales(n_w: int, a: int, b: int, scale: float) -> np.ndarray:
    m = np.zeros(n_w)
    m[a:b] = scale
    return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("option", help="one option, e.g. age=senior")
    ap.add_argument("--model", default=str(REPO / "models" / "ffhq"))
    ap.add_argument("--seeds", type=int, default=64)
    ap.add_argument("--variant", action="append", default=None, help="NAME=A-BxS (repeatable); default: "
                    + " ".join(DEFAULT_VARIANTS))
    ap.add_argument("--out", default=str(REPO / "training" / "runs" / "attributes" / "slots"))
    a = ap.parse_args(argv)
    opt = tuple(a.option.split("=", 1))
    r = FaceRenderer(a.model, precisions=("fp32",))
    data = at.load(a.model, r.man)
    options = at.canonical(data, {opt[0]: opt[1]})
    sess = r.session("student", "fp32", OUTPUT)
    name, n_w, _ = w_input(r.student)
    work = Path(a.out) / f"{opt[0]}-{opt[1]}"
    work.mkdir(parents=True, exist_ok=True)
    for f in work.glob("chunk_*"):
        f.unlink()
    seeds = [f"{SEED_PREFIX}{i}" for i in range(a.seeds)]
    ws = [r.style(s, 1.0)[0].astype(np.float64) for s in seeds]
    deltas = [at.edit(data, w[None].astype(np.float32), options)[0].astype(np.float64) - w for w in ws]

    def draw(seed, wplus):
        return finish_pixels(sess.run([OUTPUT], {name: wplus[None].astype(np.float32), **noise_feeds(r.student, seed)})[0][0], SIZE)

    variants = [("unedited", 0, 0, 0.0)] + [parse_variant(v) for v in (a.variant or DEFAULT_VARIANTS)]
    for vname, lo, hi, scale in variants:
        m = slot_scales(n_w, lo, hi, scale)
        imgs = [draw(s, w[None, :] + m[:, None] * d[None, :]) for s, w, d in zip(seeds, ws, deltas)]
        np.save(work / f"chunk_{vname.replace('.', '_')}.npy", np.stack(imgs))
        log(f"{vname}: drawn")
    subprocess.run(["node", str(JUDGE_SCRIPT), str(work)], check=True, cwd=str(REPO))
    judge = FaceJudge()
    desc = {}
    rows_out = []
    for vname, lo, hi, scale in variants:
        key = vname.replace(".", "_")
        imgs = np.load(work / f"chunk_{key}.npy")
        desc[vname] = [judge.describe(im) for im in imgs]
        fa = json.loads((work / f"chunk_{key}.faceapi.json").read_text())["rows"]
        ids = [descriptor_distance(desc["unedited"][i][1], desc[vname][i][1]) for i in range(len(seeds))
               if desc["unedited"][i][0] and desc[vname][i][0]]
        ages = [x["age"] for x in fa if x["detected"]]
        rows_out.append({"variant": vname, "slots": [lo, hi], "scale": scale,
                         "success_rate": float(np.mean([in_class(opt, x) for x in fa])),
                         "identity_median": float(np.median(ids)) if vname != "unedited" else 0.0,
                         "detection_rate": float(np.mean([d[0] for d in desc[vname]])),
                         "lookalike_rate": float(lookalike_rate([d[1] for d in desc[vname] if d[0]])),
                         "age_p10_p50_p90": [float(np.percentile(ages, q)) for q in (10, 50, 90)]})
    print(f"{a.option}, {a.seeds} seeds {SEED_PREFIX}*")
    print("| variant | slots | scale | success | identity median | dlib detection | look-alike | face-api age p10/p50/p90 |")
    print("|---|---|---|---|---|---|---|---|")
    for x in rows_out:
        print(f"| {x['variant']} | {x['slots'][0]}-{x['slots'][1]} | {x['scale']} | {100 * x['success_rate']:.1f}% | "
              f"{x['identity_median']:.3f} | {100 * x['detection_rate']:.1f}% | {100 * x['lookalike_rate']:.1f}% | "
              + "/".join(f"{v:.0f}" for v in x["age_p10_p50_p90"]) + " |")
    (Path(a.out) / f"{opt[0]}-{opt[1]}.json").write_text(json.dumps({"option": a.option, "seeds": a.seeds,
                                                                     "seed_prefix": SEED_PREFIX, "rows": rows_out}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
