"""A second attribute judge, independent of face-api: linear heads on dlib's 128-d face descriptor, fitted to the
true age and gender of real photos.

    python -m seedface.eval.second_judge [--photos 5000] [--write]      (~10 min on 2 cores)

The attribute directions are fitted on face-api's labels and face-api judges the edits, so its success figures
are not independent of the fit. This judge shares nothing with it: dlib's descriptor (seedface.eval.face_judge,
the identity judge, so the evaluation computes it anyway) and two linear heads fitted here on UTKFace
(``../shared/datasets/faces128``: real photos with the age and gender their file names carry; non-commercial
research terms, see its PROVENANCE.md): two small MLP heads (128 -> 64 tanh -> 1): the logit of "female" and
log(age in years) (a linear ridge head on log(age) was measured first: MAE 11.6 years on held-out photos against
15.3 for guessing the median; the MLP: 6.3). An 80/20 split of the photos gives the judge's own accuracy on real
faces (gender accuracy, age MAE, per-class recall/precision), which bounds what its verdicts on generated faces can
mean. The heads (~17k numbers, derived from UTKFace and used only to measure, never served) are written to
``training/judges/utkface_dlib_heads.json``.

    from seedface.eval.second_judge import SecondJudge
    SecondJudge.load().judge(descriptor)   # {"gender": "female"|"male", "gender_p": .., "age": years}
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from seedface.eval.attributes import AGE_YEARS, age_class
from seedface.paths import REPO

DATASET = REPO.parent / "shared" / "datasets" / "faces128"
HEADS = REPO / "training" / "judges" / "utkface_dlib_heads.json"
CACHE = REPO / "training" / "runs" / "second_judge" / "utkface_descriptors.npz"
NAME = ("MLP heads on dlib's 128-d descriptor, fitted to UTKFace's true age and gender "
        "(seedface.eval.second_judge)")


def log(msg: str) -> None:
    print(f"[second-judge] {msg}", file=sys.stderr, flush=True)


HIDDEN = 64
STEPS = 1500


def mlp_forward(head: dict, d: np.ndarray) -> np.ndarray:
    h = np.tanh(d @ np.asarray(head["w1"]).T + np.asarray(head["b1"]))
    return h @ np.asarray(head["w2"]) + float(head["b2"])


def fit_mlp(x: np.ndarray, y: np.ndarray, loss: str, seed: int = 0) -> dict:
    """A 128 -> 64 tanh -> 1 head (Adam, full batch, fixed seed): y a logit target (loss "bce") or a value ("l1")."""
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, 1))
    opt = torch.optim.Adam(net.parameters(), 3e-3, weight_decay=1e-4)
    X, Y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    for _ in range(STEPS):
        opt.zero_grad()
        z = net(X).squeeze(1)
        ls = (torch.nn.functional.binary_cross_entropy_with_logits(z, Y) if loss == "bce"
              else torch.nn.functional.smooth_l1_loss(z, Y, beta=0.1))
        ls.backward()
        opt.step()
    l1, l2 = net[0], net[2]
    return {"w1": l1.weight.detach().double().numpy().round(6).tolist(),
            "b1": l1.bias.detach().double().numpy().round(6).tolist(),
            "w2": l2.weight.detach().double().numpy()[0].round(6).tolist(), "b2": round(float(l2.bias.detach()), 6)}


class SecondJudge:
    def __init__(self, heads: dict):
        self.heads = heads

    @classmethod
    def load(cls, path=HEADS) -> "SecondJudge":
        return cls(json.loads(Path(path).read_text()))

    @property
    def name(self) -> str:
        return self.heads["judge"]

    def judge(self, descriptor) -> dict:
        d = np.asarray(descriptor, np.float64)
        z = float(mlp_forward(self.heads["gender"], d))
        p = 1 / (1 + math.exp(-z))
        return {"gender": "female" if p >= 0.5 else "male", "gender_p": p,
                "age": float(math.exp(mlp_forward(self.heads["age"], d)))}


def describe_photos(n: int) -> dict:
    """dlib descriptors of the first n photos (a random subset: the folder is shuffled), cached."""
    from PIL import Image

    from seedface.eval.face_judge import FaceJudge

    if CACHE.exists():
        c = dict(np.load(CACHE))
        if len(c["file_index"]) >= n:
            return {k: v[:n] for k, v in c.items()}
    rows = list(csv.DictReader((DATASET / "manifest.csv").open()))[:n]
    judge = FaceJudge()
    ok, desc, t0 = [], [], time.time()
    for i, r in enumerate(rows):
        o, d = judge.describe(np.asarray(Image.open(DATASET / r["file"]).convert("RGB")))
        ok.append(o)
        desc.append(d if o else np.zeros(128))
        if (i + 1) % 500 == 0:
            log(f"{i + 1}/{n} photos described ({time.time() - t0:.0f} s)")
    out = {"file_index": np.arange(n), "ok": np.asarray(ok), "desc": np.asarray(desc),
           "age": np.asarray([float(r["age"]) for r in rows]),
           "female": np.asarray([r["gender"] == "1" for r in rows])}
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, **out)
    return out


def fit(n: int) -> dict:
    d = describe_photos(n)
    ok = d["ok"].astype(bool)
    X, age, female = d["desc"][ok], np.maximum(d["age"][ok], 1.0), d["female"][ok].astype(np.float64)
    test = (d["file_index"][ok] % 5) == 4
    g = fit_mlp(X[~test], female[~test], "bce")
    a = fit_mlp(X[~test], np.log(age[~test]), "l1")
    pred_f = mlp_forward(g, X[test]) > 0
    pred_age = np.exp(mlp_forward(a, X[test]))
    true_cls = np.asarray([age_class(a) for a in age[test]])
    pred_cls = np.asarray([age_class(a) for a in pred_age])
    per_class = {k: {"photos": int((true_cls == k).sum()),
                     "recall": float((pred_cls[true_cls == k] == k).mean()) if (true_cls == k).any() else None,
                     "precision": float((true_cls[pred_cls == k] == k).mean()) if (pred_cls == k).any() else None}
                 for k in AGE_YEARS}
    adult18 = pred_age >= 18
    figures = {"photos": int(n), "described": int(ok.sum()), "held_out": int(test.sum()),
               "gender_accuracy": float((pred_f == (female[test] > 0.5)).mean()),
               "age_mae_years": float(np.abs(pred_age - age[test]).mean()),
               "age_mae_median_guess_years": float(np.abs(np.median(age[~test]) - age[test]).mean()),
               "age_classes": per_class,
               "age_min_18": {"precision": float((age[test][adult18] >= 18).mean()),
                              "recall": float(adult18[age[test] >= 18].mean())}}
    return {"judge": NAME, "format": "seedface-second-judge/1",
            "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "descriptor": "dlib dlib_face_recognition_resnet_model_v1 via seedface.eval.face_judge (HOG detector, "
                          "68 landmarks, 150 px chip)",
            "trained_on": {"dataset": "UTKFace aligned & cropped (../shared/datasets/faces128, first "
                                      f"{n} files of the shuffled folder)",
                           "terms": "UTKFace: non-commercial research purposes only; these heads are used to "
                                    "measure generated faces and are never served"},
            "gender": {**fit_mlp(X, female, "bce"), "model": f"MLP 128-{HIDDEN}(tanh)-1, logit of female"},
            "age": {**fit_mlp(X, np.log(age), "l1"), "model": f"MLP 128-{HIDDEN}(tanh)-1, log(age in years)"},
            "figures": figures}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=5000)
    ap.add_argument("--write", action="store_true", help=f"write {HEADS.relative_to(REPO)}")
    a = ap.parse_args(argv)
    if not (DATASET / "manifest.csv").exists():
        raise SystemExit(f"{DATASET}: no manifest.csv (the UTKFace folder of ../shared is needed to fit the heads)")
    heads = fit(a.photos)
    print(json.dumps(heads["figures"], indent=1))
    if a.write:
        HEADS.parent.mkdir(parents=True, exist_ok=True)
        HEADS.write_text(json.dumps(heads) + "\n")
        log(f"wrote {HEADS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
