"""Distil the MobileStyleGAN student from a frozen StyleGAN2 teacher (the paper's training).

    python -m seedface.distill --teacher training/runs/teacher/checkpoint.pt --minutes 30 \\
        --run training/runs/distill [--resume] [--export models/<id>]

The training itself is seedface.train.distill; this module only declares the flags.
"""
from __future__ import annotations

import argparse

from seedface.train import distill
from seedface.train.flags import add_run_flags, entry_points, parse_resumable


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=distill.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", default=None,
                    help="teacher checkpoint (ours, a run dir, a published .ckpt, or the release converter's pair "
                         "as mapping.ckpt,synthesis.ckpt)")
    ap.add_argument("--student-channels", default=None,
                    help="comma list (default: the teacher preset's student, else the teacher's channels without the "
                         "last entry, as the paper)")
    add_run_flags(ap, run="training/runs/distill", batch_help="default 16 on CUDA, 4 on CPU", lr=5e-4, r1=10.0,
                  export_help="write a complete model directory here at the end")
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--d-lr", type=float, default=5e-4)
    ap.add_argument("--d-from-teacher", action=argparse.BooleanOptionalAction, default=True,
                    help="start the discriminator from the teacher run's D when the checkpoint has one")
    ap.add_argument("--rgb-weight", type=float, default=1.0)
    ap.add_argument("--wavelet-weight", type=float, default=1.0)
    ap.add_argument("--perceptual-weight", type=float, default=1.0)
    ap.add_argument("--gan-weight", type=float, default=0.5)
    ap.add_argument("--w-modes", default="1,1,1", help="relative probabilities of single,mixing,wplus")
    ap.add_argument("--vgg-weights", default=None, help="local torchvision VGG16 weights for the perceptual term")
    ap.add_argument("--perceptual", choices=("d", "vgg", "face"), default=None,
                    help="perceptual features: the discriminator's (d, default), VGG16 (vgg, with --vgg-weights) or "
                         "the face descriptor's distance (face)")
    ap.add_argument("--face-batch", type=int, default=4, help="samples per step the face term sees (it is costly)")
    ap.add_argument("--resolution", type=int, default=None,
                    help="the student's output size (default the teacher's); with the release wheel as teacher, "
                         "the release's head of that size teaches")
    ap.add_argument("--freeze-levels", type=int, default=0,
                    help="keep the student's first N output levels (8, 16, .. px) as initialised: with --init narrow "
                         "the levels whose width is unchanged are the release's own, exactly")
    ap.add_argument("--replay", type=int, default=0,
                    help="keep the last N teacher samples and reuse them (0: every sample is new)")
    ap.add_argument("--replay-fresh", type=int, default=2, help="new teacher samples per step with --replay")
    ap.add_argument("--init", choices=("random", "narrow"), default="random",
                    help="narrow: start from the teacher's own weights cut to --student-channels (release only)")
    ap.add_argument("--init-from", default=None, metavar="CKPT",
                    help="with --init narrow: cut a previous edge-student run's student (its checkpoint.pt) to "
                         "--student-channels instead of the release, so a narrower candidate keeps that training")
    ap.add_argument("--quantize", action=argparse.BooleanOptionalAction, default=True)
    return parse_resumable(ap, argv)


run, main = entry_points(parse_args, distill.train)


if __name__ == "__main__":
    main()
