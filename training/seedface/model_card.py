"""MODEL_CARD.md and samples.jpg of an imported release model directory, generated from its manifest.

The work is done by seedface.release.model_card; this module parses the flags.
"""
from __future__ import annotations

import sys
from pathlib import Path

from seedface.release.model_card import write_release_card


if __name__ == "__main__":
    write_release_card(Path(sys.argv[1]))
