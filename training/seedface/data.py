"""Face images held in memory as one uint8 tensor, from a folder of images or a packed .npz of JPEG bytes.

The work is done by seedface.train.data; this module parses the flags.
"""
from __future__ import annotations

import argparse

from seedface.train.data import DEFAULT_DATA, DEFAULT_HOLDOUT, write_pack


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Pack a face subset as JPEG bytes in one .npz for the GPU trip")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--out", required=True, help="a path under training/runs/ or /tmp (never the tracked tree)")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--max-mib", type=float, default=40.0)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--holdout", type=int, default=DEFAULT_HOLDOUT)
    a = ap.parse_args(argv)
    info = write_pack(a.data, a.out, a.resolution, a.max_mib, a.quality, a.limit, a.holdout)
    print(f"[data] wrote {a.out}: {info['train']} train + {info['holdout']} held-out faces at "
          f"{info['resolution']}px, {info['bytes'] / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
