"""The one way a model directory is written: atomically, into a temporary directory next to it that replaces it
in one rename at the end (or vanishes on any error, Ctrl-C included).

    with model_dir_writer(out) as tmp:
        ...write files and manifest.json into tmp...
    # out now holds exactly what was written; an old out was replaced (moved aside, then deleted)
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


class ModelDirExists(FileExistsError):
    pass


@contextlib.contextmanager
def model_dir_writer(out, replace: bool = True):
    """Yield an empty temporary directory beside `out`; when the block ends normally it becomes `out` (mode 755);
    on an exception it is removed and `out` is untouched. With replace=False an existing non-empty `out` is an error
    (raised before anything is written)."""
    out = Path(out)
    if not replace and out.exists() and any(out.iterdir()):
        raise ModelDirExists(f"{out}: already exists and is not empty (use --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rmdir(old)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
