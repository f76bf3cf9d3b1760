"""Dataset loading, the GPU pack, batches with flips."""
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seedface.train import data

FACES = data.resolve_data_path(data.DEFAULT_DATA)
needs_faces = pytest.mark.skipif(not FACES.is_dir(), reason="shared faces128 folder not present")


def _write_images(folder: Path, n: int, size: int = 32) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = []
    for i in range(n):
        a = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        Image.fromarray(a).save(folder / f"{i:04d}.png")
        arrays.append(a)
    return arrays


def test_folder_split_resize_and_uint8(tmp_path):
    arrays = _write_images(tmp_path / "imgs", 10, 32)
    train = data.load_images(tmp_path / "imgs", 32, holdout=3, quiet=True)
    held = data.load_images(tmp_path / "imgs", 32, split="holdout", holdout=3, quiet=True)
    assert train.dtype == torch.uint8 and train.shape == (7, 3, 32, 32) and held.shape == (3, 3, 32, 32)
    assert torch.equal(train[0], torch.from_numpy(arrays[0]).permute(2, 0, 1))  # PNG: lossless, same order
    assert torch.equal(held[0], torch.from_numpy(arrays[7]).permute(2, 0, 1))
    small = data.load_images(tmp_path / "imgs", 16, limit=2, holdout=3, quiet=True)
    # area (box) downscale: each output pixel is the mean of a 2x2 block
    ref = arrays[0].astype(np.float64).reshape(16, 2, 16, 2, 3).mean((1, 3))
    assert small.shape == (2, 3, 16, 16)
    assert np.abs(small[0].permute(1, 2, 0).numpy() - ref).max() <= 1.0


def test_batches_are_in_range_and_flip(tmp_path):
    imgs = torch.arange(2 * 3 * 4 * 4, dtype=torch.uint8).view(2, 3, 4, 4)
    b = data.FaceBatches(imgs)
    x = b.sample(64, torch.Generator().manual_seed(0))
    assert x.shape == (64, 3, 4, 4) and x.min() >= -1 and x.max() <= 1
    originals = [imgs[i].float() / 127.5 - 1 for i in range(2)]
    flipped = sum(any(torch.equal(s, o.flip(2)) for o in originals) for s in x)
    plain = sum(any(torch.equal(s, o) for o in originals) for s in x)
    assert flipped + plain == 64 and 10 < flipped < 54


def test_pack_roundtrip_and_budget(tmp_path):
    _write_images(tmp_path / "imgs", 12, 32)
    out = tmp_path / "runs" / "pack.npz"
    info = data.write_pack(tmp_path / "imgs", out, 16, max_mib=1.0, quality=95, holdout=2)
    assert info["train"] == 10 and info["holdout"] == 2 and info["resolution"] == 16
    packed = data.load_images(out, 16, quiet=True)
    direct = data.load_images(tmp_path / "imgs", 16, holdout=2, quiet=True)
    assert packed.shape == direct.shape
    for i in (0, 9):  # each packed image is exactly the q95 JPEG of the resized image
        buf = io.BytesIO()
        Image.fromarray(direct[i].permute(1, 2, 0).numpy()).save(buf, "JPEG", quality=95)
        expected = np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        assert torch.equal(packed[i], torch.from_numpy(expected).permute(2, 0, 1))
    tiny = data.write_pack(tmp_path / "imgs", tmp_path / "runs" / "small.npz", 16, max_mib=3000 / 2**20, holdout=2)
    assert 0 < tiny["train"] < 10 and tiny["bytes"] < 6000


def test_pack_refuses_the_tracked_tree(tmp_path):
    with pytest.raises(ValueError, match="repo tree"):
        data.write_pack(tmp_path, data.repo_root() / "training" / "faces.npz", 16, 1.0)


@needs_faces
def test_shared_faces_load_at_64px():
    x = data.load_images(data.DEFAULT_DATA, 64, limit=3, quiet=True)
    assert x.shape == (3, 3, 64, 64) and x.dtype == torch.uint8 and x.float().std() > 10
