"""Face images held in memory as one uint8 tensor, from a folder of images or a packed .npz of JPEG bytes.

The folder is the shared faces128 set (never copied into the repo). The pack is a single compressed file that
travels to the GPU box: JPEG bytes re-encoded at the training resolution, sized to a byte budget.
Split convention: the last `holdout` files of the sorted folder are held out for evaluation; training uses the
files before them (the folder is shuffled already, so any prefix is a random subset).
"""
from __future__ import annotations

import io
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from seedface.paths import repo_root

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
DEFAULT_DATA = "../shared/datasets/faces128"
DEFAULT_HOLDOUT = 1000


def resolve_data_path(path: str | os.PathLike | None) -> Path:
    """Paths relative to the repo root work from anywhere (npm scripts run from the root, python from training/)."""
    p = Path(path or DEFAULT_DATA)
    if p.is_absolute() or p.exists():
        return p
    alt = repo_root() / p
    return alt if alt.exists() else p


def list_images(folder: Path) -> list[Path]:
    files = sorted(f for f in Path(folder).iterdir() if f.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise FileNotFoundError(f"no images in {folder}")
    return files


def split_files(files: list[Path], holdout: int) -> tuple[list[Path], list[Path]]:
    holdout = min(holdout, len(files) // 2)
    return (files[: len(files) - holdout], files[len(files) - holdout:]) if holdout > 0 else (files, [])


def to_resolution(img: Image.Image, resolution: int) -> Image.Image:
    img = img.convert("RGB")
    w, h = img.size
    if w != h:  # centre crop to a square
        s = min(w, h)
        img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    if img.size[0] == resolution:
        return img
    # BOX = area averaging for downscales (antialiased); Lanczos when upscaling.
    method = Image.BOX if img.size[0] > resolution else Image.LANCZOS
    return img.resize((resolution, resolution), method)


def decode(data: bytes | Path, resolution: int) -> np.ndarray:
    src = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    with Image.open(src) as im:
        return np.asarray(to_resolution(im, resolution), dtype=np.uint8)


def _progress(label: str, i: int, n: int, every: int = 2000) -> None:
    if i % every == 0 or i == n:
        print(f"[data] {label}: {i}/{n}", file=sys.stderr, flush=True)


def _decode_all(items: list, resolution: int, label: str, quiet: bool) -> list[np.ndarray]:
    """Decode in a thread pool (PIL releases the GIL while decoding), keeping the order."""
    workers = max(1, min(8, os.cpu_count() or 1))
    out: list[np.ndarray] = []
    with ThreadPoolExecutor(workers) as pool:
        for i, a in enumerate(pool.map(lambda x: decode(x, resolution), items, chunksize=64)):
            out.append(a)
            if not quiet:
                _progress(label, i + 1, len(items))
    if not out:
        raise ValueError(f"{label}: no images")
    return out


def _stack(arrays: list[np.ndarray]) -> torch.Tensor:
    """[N, H, W, 3] uint8 -> [N, 3, H, W] uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(np.stack(arrays).transpose(0, 3, 1, 2)))


def load_images(path: str | os.PathLike | None, resolution: int, limit: int | None = None,
                split: str = "train", holdout: int = DEFAULT_HOLDOUT, quiet: bool = False) -> torch.Tensor:
    """Images as uint8 [N, 3, R, R]. `path` is a folder or a pack (.npz); split is 'train' or 'holdout'."""
    p = resolve_data_path(path)
    if p.suffix == ".npz":
        return load_pack(p, resolution, limit, split, quiet)
    train, held = split_files(list_images(p), holdout)
    files = train if split == "train" else held
    files = files[:limit] if limit else files
    return _stack(_decode_all(files, resolution, f"decode {split} {p.name}", quiet))


def load_pack(path: Path, resolution: int | None = None, limit: int | None = None, split: str = "train",
              quiet: bool = False) -> torch.Tensor:
    with np.load(path) as z:
        blob, offsets = z[f"{split}_bytes"], z[f"{split}_offsets"]
        res = int(z["resolution"]) if resolution is None else resolution
    n = len(offsets) - 1 if not limit else min(limit, len(offsets) - 1)
    items = [blob[offsets[i]:offsets[i + 1]].tobytes() for i in range(n)]
    return _stack(_decode_all(items, res, f"decode {split} {path.name}", quiet))


def pack_info(path: Path) -> dict:
    with np.load(path) as z:
        return {"resolution": int(z["resolution"]), "train": len(z["train_offsets"]) - 1,
                "holdout": len(z["holdout_offsets"]) - 1, "quality": int(z["quality"]), "bytes": path.stat().st_size}


def _encode(files: list[Path], resolution: int, quality: int, budget: int) -> tuple[np.ndarray, np.ndarray]:
    chunks, offsets, total = [], [0], 0
    for i, f in enumerate(files):
        buf = io.BytesIO()
        Image.fromarray(decode(f, resolution)).save(buf, "JPEG", quality=quality)
        b = buf.getvalue()
        if total + len(b) > budget:
            break
        chunks.append(b)
        total += len(b)
        offsets.append(total)
        _progress(f"pack {resolution}px q{quality}", i + 1, len(files))
    blob = np.frombuffer(b"".join(chunks), dtype=np.uint8) if chunks else np.zeros(0, np.uint8)
    return blob, np.asarray(offsets, dtype=np.int64)


def write_pack(src: str | os.PathLike, out: str | os.PathLike, resolution: int, max_mib: float,
               quality: int = 90, limit: int | None = None, holdout: int = DEFAULT_HOLDOUT) -> dict:
    """Re-encode the training split (then `holdout` held-out faces) as JPEG until `max_mib` is used."""
    out = Path(out)
    if repo_root() in out.resolve().parents and "runs" not in out.resolve().parts:
        raise ValueError("packs of face images must not be written into the repo tree (use training/runs/ or /tmp)")
    train, held = split_files(list_images(resolve_data_path(src)), holdout)
    train = train[:limit] if limit else train
    budget = int(max_mib * 2**20)
    h_blob, h_off = _encode(held, resolution, quality, budget // 8)  # held-out first: a fixed small share
    t_blob, t_off = _encode(train, resolution, quality, budget - len(h_blob))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, train_bytes=t_blob, train_offsets=t_off, holdout_bytes=h_blob, holdout_offsets=h_off,
             resolution=np.int64(resolution), quality=np.int64(quality))
    return pack_info(out)


class FaceBatches:
    """Random batches in [-1, 1] with random horizontal flips, from a uint8 tensor kept on `device`."""

    def __init__(self, images: torch.Tensor, device: str | torch.device = "cpu"):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError("images must be uint8 [N, 3, H, W]")
        self.images = images.to(device)
        self.device = torch.device(device)

    def __len__(self) -> int:
        return self.images.shape[0]

    def sample(self, batch: int, gen: torch.Generator) -> torch.Tensor:
        idx = torch.randint(0, len(self), (batch,), generator=gen, device=gen.device)
        flip = torch.rand(batch, generator=gen, device=gen.device) < 0.5
        x = self.images[idx.to(self.device)].float() / 127.5 - 1.0
        return torch.where(flip.to(self.device)[:, None, None, None], x.flip(3), x)
