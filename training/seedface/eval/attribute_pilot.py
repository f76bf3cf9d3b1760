"""Pilot for the class margins (issue 16): how far must an edited face move before the judge agrees?

    cd training && python -m seedface.attributes_pilot     (work files in /tmp/fa16/pil2; ~7 min on 2 shared cores)

Edited faces need deeper bounds than natural faces at the same projection p (the direction moves one feature;
the judge also looks at the rest of the face). 24 seeds ``attr-pilot2/<i>`` (disjoint from the fitting seeds
``attr-train/*`` and the eval seeds ``attr-eval/*``) are edited with each class bound set to a few levels, drawn from
``img_128`` and judged by face-api; the bounds chosen from it are passed to ``seedface.attributes_fit --bounds``
(docs/attributes.md, "Margins"). Results of the run used for ffhq 1.0.0 (success = share of the 24 faces judged in
the class): female lo 0.8 / 1.4 / 2.0: 96 / 96 / 100%; male hi -1.4 / -2.0 / -2.6: 71 / 92 / 92%; smile lo
0.5 / 0.9 / 1.3: 92 / 100 / 100%; neutral hi -0.9 / -1.4 / -1.9: 79 / 92 / 96%; child hi -1.2 / -1.7 / -2.2:
12 / 17 / 38%; senior lo 2.4 / 3.0 / 3.6: 12 / 21 / 33%; adult [v, v + 0.4] for v = 0.8 / 1.2 / 1.6: 46 / 50 / 54%.
"""
import json, sys, copy, subprocess
from pathlib import Path
import numpy as np
from seedface.pipeline import attributes as at
from seedface.pipeline.face import FaceRenderer
from seedface.pipeline.resample import finish_pixels
from seedface.eval.attribute_labels import save_atomic, JUDGE_SCRIPT
REPO = Path(__file__).resolve().parents[2]
work = Path("/tmp/fa16/pil2")
work.mkdir(parents=True, exist_ok=True)
r = FaceRenderer(REPO / "models/ffhq", precisions=("fp32",))
data = at.load(REPO / "models/ffhq", r.man)
sess = r._session("student", "fp32", "img_128")

levels = {("gender", "female", "lo"): [0.8, 1.4, 2.0], ("gender", "male", "hi"): [-1.4, -2.0, -2.6],
          ("expression", "smile", "lo"): [0.5, 0.9, 1.3], ("expression", "neutral", "hi"): [-0.9, -1.4, -1.9],
          ("age", "child", "hi"): [-1.2, -1.7, -2.2], ("age", "senior", "hi_lo"): [2.4, 3.0, 3.6],
          ("age", "adult", "lo"): [0.8, 1.2, 1.6]}
seeds = [f"attr-pilot2/{i}" for i in range(24)]
ws = [r.style(s, None, "fp32") for s in seeds]
judge = subprocess.Popen(["node", str(JUDGE_SCRIPT), str(work), "--watch"], cwd=str(REPO))
meta = {}
for (name, cls, side), vals in levels.items():
    for v in vals:
        d = copy.deepcopy(data)
        a = next(x for x in d["attributes"] if x["name"] == name)
        if side == "lo": a["classes"][cls]["lo"] = v
        elif side == "hi": a["classes"][cls]["hi"] = v
        else: a["classes"][cls]["lo"] = v
        if name == "age" and cls == "adult": a["classes"][cls]["hi"] = v + 0.4
        imgs, sd = [], []
        for s, w in zip(seeds, ws):
            e = at.edit(d, w, {name: cls})
            imgs.append(finish_pixels(sess.run(["img_128"], r.feeds(s, e))[0][0], 128)); sd.append(s)
        key = f"chunk_{name}-{cls}-{str(v).replace('.', 'p').replace('-', 'm')}"
        save_atomic(work / f"{key}.npy", np.stack(imgs)); meta[key] = [name, cls, v]
        print(key, flush=True)
(work / "meta.json").write_text(json.dumps(meta)); (work / "DONE").write_text("x")
judge.wait()
