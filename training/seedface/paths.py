"""Where things are: the repository root (models/, training/, src/), found from this file."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def repo_root() -> Path:
    return REPO
