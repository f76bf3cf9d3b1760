"""Locate the OpenVINO IR files of the MobileStyleGAN release: the PyPI `random-face` wheel, or the two .xml files.

The pinned release (what `npm run models:ffhq` downloads and checks):
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seedface.release.manifest import sha256_file

PINNED = {
    "package": "random-face",
    "version": "2021.7.21.1",
    "file": "random_face-2021.7.21.1-py3-none-any.whl",
    "sha256": "e5d10e2be7df63f06123855ec591ca35dcb1d059eba47ddcb175d7d26b4019b5",
    "authors": "Sergei Belousov (bes-dev), MobileStyleGAN (arXiv 2104.04767)",
    "package_licence": "Apache-2.0",
}
WHEEL_DATA = "random_face/data/"
NAMES = ("MappingNetwork", "SynthesisNetwork")


class ReleaseFileError(ValueError):
    pass


@dataclass
class ReleaseFiles:
    mapping_xml: Path
    synthesis_xml: Path
    label: str
    sources: list[dict] = field(default_factory=list)  # [{file, sha256}] of what the user gave

    @property
    def synthesis_bin_sha256(self) -> str:
        return sha256_file(self.synthesis_xml.with_suffix(".bin"))


def _from_wheel(whl: Path) -> ReleaseFiles:
    if not zipfile.is_zipfile(whl):
        raise ReleaseFileError(f"{whl}: not a wheel (zip) file")
    with zipfile.ZipFile(whl) as zf:
        names = set(zf.namelist())
        want = [f"{WHEEL_DATA}{n}.{ext}" for n in NAMES for ext in ("xml", "bin")]
        missing = [w for w in want if w not in names]
        if missing:
            xmls = sorted(n for n in names if n.endswith(".xml"))
            raise ReleaseFileError(f"{whl}: not the random-face wheel: missing {', '.join(missing)} "
                                   f"(it has {', '.join(xmls[:6]) or 'no .xml files'})")
        tmp = Path(tempfile.mkdtemp(prefix="seedface-release-"))
        atexit.register(shutil.rmtree, tmp, True)
        for w in want:
            (tmp / Path(w).name).write_bytes(zf.read(w))
    dist = next((n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA")), whl.name)
    return ReleaseFiles(tmp / "MappingNetwork.xml", tmp / "SynthesisNetwork.xml", dist.replace(".dist-info", ""),
                        [{"file": whl.name, "sha256": sha256_file(whl)}])


def open_release(paths: list[Path]) -> ReleaseFiles:
    """A wheel, or the two .xml files (each with its .bin beside it), in any order."""
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.is_file():
            raise ReleaseFileError(f"{p}: no such file")
    if len(paths) == 1 and paths[0].suffix == ".whl":
        return _from_wheel(paths[0])
    if len(paths) == 2 and all(p.suffix.lower() == ".xml" for p in paths):
        for p in paths:
            if not p.with_suffix(".bin").is_file():
                raise ReleaseFileError(f"{p}: its weights {p.with_suffix('.bin').name} must sit beside it")
        by_name = {p.stem: p for p in paths}
        m, s = by_name.get("MappingNetwork", paths[0]), by_name.get("SynthesisNetwork", paths[1])
        srcs = [{"file": f.name, "sha256": sha256_file(f)} for p in (m, s) for f in (p, p.with_suffix(".bin"))]
        return ReleaseFiles(m, s, "OpenVINO IR " + " + ".join(p.name for p in (m, s)), srcs)
    raise ReleaseFileError("give the random-face wheel (.whl), or MappingNetwork.xml and SynthesisNetwork.xml "
                           "with their .bin files beside them; got " + ", ".join(p.name for p in paths))


def style_mean(mapping, n: int = 65536, seed: int = 0, batch: int = 8192) -> torch.Tensor:
    """Truncation mean [1, D]: average mapping output over n z ~ N(0, I) from a fixed torch generator
    (the release ships none; random_face itself averages 4096 unseeded z)."""
    return mapping.mean_w(n, seed=seed, batch=batch).unsqueeze(0)
