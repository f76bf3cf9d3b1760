"""Train the StyleGAN2 teacher (mapping + synthesis + discriminator) on a folder of faces.

    python -m seedface.train_teacher --preset small64 --data ../shared/datasets/faces128 --minutes 30 \\
        --run training/runs/teacher64 [--resume] [--export models/teacher64]

The training itself is seedface.train.teacher; this module only declares the flags.
"""
from __future__ import annotations

import argparse

from seedface.train import data, teacher
from seedface.train.flags import add_run_flags, entry_points, parse_resumable


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=teacher.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small64", help="model preset (tiny, small64, default128, ...)")
    ap.add_argument("--data", default=data.DEFAULT_DATA, help="image folder or packed .npz")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    ap.add_argument("--holdout", type=int, default=data.DEFAULT_HOLDOUT)
    add_run_flags(ap, run="training/runs/teacher", batch_help="default 32 on CUDA, 8 on CPU", lr=0.002, r1=None,
                  r1_help="R1 gamma (default 0.0002 * R^2 / batch, as ADA)",
                  export_help="write a model directory (mapping + teacher ONNX) here")
    ap.add_argument("--pl-weight", type=float, default=0.0, help="path-length regularisation weight (2 in StyleGAN2)")
    ap.add_argument("--pl-every", type=int, default=4)
    ap.add_argument("--mix-prob", type=float, default=0.9)
    ap.add_argument("--ema-kimg", type=float, default=10.0)
    ap.add_argument("--ema-rampup", type=float, default=0.05)
    ap.add_argument("--augment", choices=("ada", "diffaug", "none"), default="ada")
    ap.add_argument("--ada-target", type=float, default=0.6)
    ap.add_argument("--ada-kimg", type=float, default=100.0, help="images (k) for p to move by 1")
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=False,
                    help="NHWC weights and batches (CUDA; off by default: the modulated convs are grouped convs)")
    return parse_resumable(ap, argv)


run, main = entry_points(parse_args, teacher.train)


if __name__ == "__main__":
    main()
