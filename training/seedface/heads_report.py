"""How close each fitted head draws the release's face, per serving size, and which level should serve each size.

    python -m seedface.heads_report models/ffhq [--seeds 500] [--write-manifest] [--figures training/heads/X.json]

The work is done by seedface.eval.heads; this module parses the flags.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seedface.eval.heads import SIZES, choose, log, measure, write_markdown
from seedface.release import manifest as mf


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m seedface.heads_report", description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--seeds", type=int, default=500)
    ap.add_argument("--edge-level", type=int, default=256, help="largest level the edge may draw")
    ap.add_argument("--figures", type=Path, default=None, help="also write {serving, figures} JSON here "
                    "(training/heads/<release>.heads.json, read by the converter)")
    ap.add_argument("--write-manifest", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("training/reports"))
    a = ap.parse_args(argv)
    man = mf.load(a.model_dir)
    sizes = [s for s in SIZES if s < man["resolution"]]
    m = measure(a.model_dir, a.seeds, sizes)
    serving = choose(m, a.edge_level)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{man['id']}_heads.json").write_text(json.dumps({"figures": m, "serving": serving}, indent=1))
    write_markdown(m, serving, a.out / f"{man['id']}_heads.md")
    if a.figures:
        a.figures.write_text(json.dumps({"serving": serving, "figures": m}, indent=1))
    if a.write_manifest:
        man["networks"]["student"]["serving"] = serving
        mf.save(a.model_dir, man)
        mf.validate(man)
    for r in serving["sizes"]:
        log(f"size <= {r['up_to']:4d}: {r['output']:>9}  PSNR {r['psnr_db']}  distance {r['face_distance']}  "
            f"{'edge' if r['edge'] else 'origin'}")
    log(f"edge_max_size {serving['edge_max_size']}; report {a.out / (man['id'] + '_heads.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
