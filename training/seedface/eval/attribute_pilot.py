"""Pilot for the attribute directions and class margins (issue 16): try a candidate on seeds of its own.

    cd training && python -m seedface.attributes_pilot NAME [--method classifier|mean-difference]
                                                          [--bounds gender.female.lo=z1.5,...] [--seeds 64]
                                                          [--age-probes DIR] [--options age=senior,...]

Edited faces need deeper bounds than natural faces at the same projection p (the direction moves one feature; the
judge looks at the whole face), and how far depends on the direction. A candidate = a direction method and class
bounds: it is fitted from the labels (seedface.attributes_fit) into a scratch model folder
``training/runs/attributes/pilot/NAME/model`` (links to models/ffhq's networks, its own manifest and
attributes.json) and measured exactly as ``npm run eval:attributes`` measures the shipped file, on the pilot seeds
``attr-pilot3/<i>`` (disjoint from the fitting seeds ``attr-train/*`` and the eval seeds ``attr-eval/*``), every
option on every seed. The report lands in ``training/runs/attributes/pilot/NAME/``; the bounds chosen from pilots
are the ones ``npm run fit:attributes`` passes (docs/attributes.md, "Margins").
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from seedface.eval import attributes as attribute_eval
from seedface.paths import REPO
from seedface.train import attribute_directions as directions

PILOT_SEEDS = "attr-pilot3/"
PILOTS = REPO / "training" / "runs" / "attributes" / "pilot"


def scratch_model(src: Path, dst: Path) -> Path:
    """A model folder that shares src's networks (symlinks) but has its own manifest and attributes file."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        link = dst / f.name
        if f.name in ("manifest.json", "attributes.json") or link.exists():
            continue
        link.symlink_to(f.resolve())
    shutil.copyfile(src / "manifest.json", dst / "manifest.json")
    return dst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", help="the candidate's name (its folder under training/runs/attributes/pilot/)")
    ap.add_argument("--labels", default=str(REPO / "training" / "runs" / "attributes" / "ffhq"))
    ap.add_argument("--model", default=str(REPO / "models" / "ffhq"))
    ap.add_argument("--method", choices=directions.METHODS, default="classifier")
    ap.add_argument("--target", type=float, default=0.98)
    ap.add_argument("--bounds", default="")
    ap.add_argument("--age-probes", default=None, help="age direction from these probe pairs (attributes_fit --age-probes)")
    ap.add_argument("--identity", type=float, default=None, help="identity-aware move vectors (attributes_fit --identity)")
    ap.add_argument("--identity-only", default=None, help="only these directions get move vectors")
    ap.add_argument("--start-vectors", default=None, help="per-seed start vectors from these judged edits (attributes_fit)")
    ap.add_argument("--start-vector-classes", default="child,senior")
    ap.add_argument("--seeds", type=int, default=64)
    ap.add_argument("--options", default=None, help="only these options (see attributes_eval --options)")
    a = ap.parse_args(argv)
    root = PILOTS / a.name
    model = scratch_model(Path(a.model), root / "model")
    res = directions.fit(a.labels, a.target, method=a.method, age_probes=a.age_probes, identity=a.identity,
                         identity_only=tuple(a.identity_only.split(",")) if a.identity_only else None,
                         start_vectors=a.start_vectors, start_vector_classes=tuple(a.start_vector_classes.split(",")))
    if a.bounds:
        directions.apply_bounds(res, a.bounds)
    directions.write(model, res)
    return attribute_eval.main(["--model", str(model), "--seeds", str(a.seeds), "--minor-seeds", str(a.seeds),
                                "--seed-prefix", PILOT_SEEDS, "--work", str(root / "work"), "--out", str(root)]
                               + (["--options", a.options] if a.options else []))


if __name__ == "__main__":
    sys.exit(main())
