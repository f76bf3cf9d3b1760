"""Seed -> latent z and noise maps, algorithm ``seedface-seed/1`` (docs/determinism.md).

The work is done by seedface.pipeline.seeding; this module parses the flags.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seedface.pipeline.seeding import PHILOX_KAT, build_vectors, dump_compact, latent, philox4x32_10, seed_words


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write-vectors", metavar="PATH", help="write the JSON test vectors to PATH")
    ap.add_argument("--seed", help="print z[:8] and noise_0 for a seed")
    args = ap.parse_args(argv)
    for c, k, o in PHILOX_KAT:
        got = philox4x32_10(c, k)
        if got != o:
            print(f"Philox known answer failed: {c} {k} -> {[hex(x) for x in got]}", file=sys.stderr)
            return 1
    if args.write_vectors:
        p = Path(args.write_vectors)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(dump_compact(build_vectors()) + "\n", encoding="utf-8")
        print(f"wrote {p}")
    if args.seed is not None:
        print("h", seed_words(args.seed))
        print("z[:8]", latent(args.seed, 8).tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main())
