"""The edge student's distillation on the GPU box and back (issue 15; training/device/run.sh's edge modes).

    python -m seedface.edge_gpu prepare [--teacher WHEEL] [--resolution 256] [--out training/runs/gpu_edge]
                                        [--dtype bf16] [--resume training/runs/edge_fast/checkpoint.pt] [--psnr-seeds 4]
    python -m seedface.edge_gpu collect RUN_DIR --teacher PACK --out $OUT     (on the GPU box)
    python -m seedface.edge_gpu finish FETCHED_DIR [--run training/runs/edge_fast] [--teacher WHEEL]

The work is done by seedface.train.edge_bundle; this module parses the flags.
"""
from __future__ import annotations

import argparse
import json

from seedface.console import cli, logger
from seedface.release.wheel import PINNED
from seedface.train.edge_bundle import collect, finish, prepare
from seedface.train.runenv import resolve

WHEEL = f"training/downloads/{PINNED['file']}"


def run(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="here: the teacher pack (+ the run's checkpoint to resume) to carry")
    p.add_argument("--teacher", default=WHEEL, help="the random-face wheel")
    p.add_argument("--resolution", type=int, default=256, help="the release's head the pack keeps (and below)")
    p.add_argument("--out", default="training/runs/gpu_edge", help="the folder to carry")
    p.add_argument("--dtype", choices=("bf16", "fp16"), default="bf16", help="the synthesis weights' type")
    p.add_argument("--resume", default=None, help="a run's checkpoint to continue on the GPU")
    p.add_argument("--psnr-seeds", type=int, default=4, help="seeds to compare the pack's teacher with (0: skip)")
    c = sub.add_parser("collect", help="on the GPU box: the run into $OUT")
    c.add_argument("run")
    c.add_argument("--teacher", required=True, help="the pack the run was taught by")
    c.add_argument("--out", required=True)
    c.add_argument("--extra", default=None, help="JSON object added to summary.json")
    f = sub.add_parser("finish", help="here: the fetched folder into the run directory")
    f.add_argument("src", help="the fetched $OUT folder (files_at)")
    f.add_argument("--run", default="training/runs/edge_fast")
    f.add_argument("--teacher", default=WHEEL, help="the random-face wheel the pack was made from")
    a = ap.parse_args(argv)
    log = logger("edge-gpu", err=True)  # progress on stderr; the summary JSON alone on stdout
    if a.cmd == "prepare":
        out = prepare(resolve(a.teacher), a.resolution, resolve(a.out), a.dtype,
                      resolve(a.resume) if a.resume else None, a.psnr_seeds, log)
    elif a.cmd == "collect":
        out = collect(resolve(a.run), resolve(a.teacher), resolve(a.out), json.loads(a.extra) if a.extra else None)
    else:
        out = finish(resolve(a.src), resolve(a.run), a.teacher, log)
    print(json.dumps(out))
    return out


def main(argv=None) -> None:
    cli(run, argv)


if __name__ == "__main__":
    main()
