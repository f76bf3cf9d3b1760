"""seedface-seed/1: Philox known answers (Random123 and docs/determinism.md), the float64 pipeline, vectors file."""
import json
import math
import re
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from seedface.pipeline import seeding

REPO = Path(__file__).resolve().parents[2]


def test_philox_random123_known_answers():
    for ctr, key, out in seeding.PHILOX_KAT:
        assert seeding.philox4x32_10(ctr, key) == out
        assert seeding._philox_scalar_reference(ctr, key) == out


def _philox_generic(ctr, key, bits, m0, m1, w0, w1, rounds=10):
    """Philox4xW-R written once for any word width W (Salmon et al. 2011)."""
    mask = (1 << bits) - 1
    c, k = list(ctr), list(key)
    for r in range(rounds):
        if r:
            k = [(k[0] + w0) & mask, (k[1] + w1) & mask]
        p0, p1 = m0 * c[0], m1 * c[2]
        c = [(p1 >> bits) ^ c[1] ^ k[0], p1 & mask, (p0 >> bits) ^ c[3] ^ k[1], p0 & mask]
    return c


def test_round_structure_cross_checked_with_numpy_philox4x64():
    """numpy ships Philox4x64-10 (not 4x32): the same width-generic round/key schedule must reproduce numpy's raw
    output with the 64-bit constants, and our 4x32 with the 32-bit ones."""
    p64 = dict(bits=64, m0=0xD2E7470EE14C6C93, m1=0xCA5A826395121157, w0=0x9E3779B97F4A7C15, w1=0xBB67AE8584CAA73B)
    key = [0x0123456789ABCDEF, 0xFEDCBA9876543210]
    bg = np.random.Philox(key=np.array(key, dtype=np.uint64), counter=np.array([5, 0, 0, 0], dtype=np.uint64))
    raw = [int(x) for x in bg.random_raw(8)]
    # numpy increments the counter before each block
    assert raw[:4] == _philox_generic([6, 0, 0, 0], key, **p64)
    assert raw[4:] == _philox_generic([7, 0, 0, 0], key, **p64)
    p32 = dict(bits=32, m0=seeding.M0, m1=seeding.M1, w0=seeding.W0, w1=seeding.W1)
    rng = np.random.default_rng(1)
    for _ in range(50):
        ctr = [int(x) for x in rng.integers(0, 2 ** 32, 4)]
        key = [int(x) for x in rng.integers(0, 2 ** 32, 2)]
        assert seeding.philox4x32_10(ctr, key) == _philox_generic(ctr, key, **p32)


def test_determinism_doc_known_answers_match():
    text = (REPO / "docs" / "determinism.md").read_text()
    found = re.findall(r"ctr = (\[[^\]]*\](?:\*4)?), key = (\[[^\]]*\](?:\*2)?) -> \[([^\]]*)\]", text)
    assert len(found) == 2, "the two known answers in docs/determinism.md"
    for ctr_s, key_s, out_s in found:
        ctr = eval(ctr_s.replace("0xffffffff", str(0xFFFFFFFF)))  # noqa: S307 (trusted repo text)
        key = eval(key_s.replace("0xffffffff", str(0xFFFFFFFF)))  # noqa: S307
        out = [int(x, 16) for x in out_s.split(",")]
        assert seeding.philox4x32_10(ctr, key) == out


def test_stream_layout():
    seed = "layout"
    h = seeding.seed_words(seed)
    words = seeding.stream_words(seed, 5, 13)
    assert words.dtype == np.uint32 and words.shape == (13,)
    for b in range(4):
        block = seeding._philox_scalar_reference([b, 5, h[2], h[3]], [h[0], h[1]])
        for j in range(4):
            if 4 * b + j < 13:
                assert int(words[4 * b + j]) == block[j]


def test_seed_words_and_validation():
    import hashlib

    d = hashlib.sha256(b"seedface/v1:" + "hello".encode()).digest()
    assert seeding.seed_words("hello") == [int.from_bytes(d[4 * i:4 * i + 4], "little") for i in range(8)]
    with pytest.raises(ValueError):
        seeding.seed_words("")
    with pytest.raises(ValueError):
        seeding.seed_words("x" * 257)
    seeding.seed_words("é" * 128)  # 256 bytes is allowed
    assert seeding.seed_words("Hello") != seeding.seed_words("hello")


def test_ln64_close_to_libm():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.random(5000), [2.0 ** -33, 0.5, 0.70710678, 0.9999999997671694, 1.0 - 2 ** -33]])
    got = seeding.ln64(v)
    ref = np.log(v)
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)) < 1e-14 or np.max(np.abs(got - ref)) < 1e-15


def test_inverse_normal_accuracy_and_tails():
    nd = NormalDist()
    us = [0.5 * 2 ** -32, 1e-6, 0.01, 0.02425, 0.0243, 0.3, 0.5, 0.7, 0.97575, 0.99, 1 - 1e-6, 1 - 0.5 * 2 ** -32]
    got = seeding.inv_normal64(np.array(us))
    for u, x in zip(us, got):
        assert abs(x - nd.inv_cdf(u)) < 1.5e-9 * max(1.0, abs(x))
    w = np.array([0, 0xFFFFFFFF], dtype=np.uint32)
    x = seeding.inv_normal64(seeding.words_to_uniform(w))
    assert np.isfinite(x).all() and x[0] < -6 and x[1] > 6 and x[0] == -x[1]


def test_normals_statistics_and_noise_shapes():
    x = seeding.normals("stats", 0, 100000).astype(np.float64)
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02
    maps = seeding.noise_maps("stats", [4, 8, 8, 16])
    assert [m.shape for m in maps] == [(1, 1, 4, 4), (1, 1, 8, 8), (1, 1, 8, 8), (1, 1, 16, 16)]
    assert all(m.dtype == np.float32 for m in maps)
    assert np.array_equal(maps[1].reshape(-1), seeding.normals("stats", 2, 64))
    assert not np.array_equal(maps[1], maps[2])
    z = seeding.latent("stats", 256)
    assert z.dtype == np.float32 and np.array_equal(z, seeding.normals("stats", 0, 256))
    # z of a smaller style_dim is a prefix of a larger one
    assert np.array_equal(seeding.latent("stats", 64), z[:64])


def test_vectors_file_is_current():
    path = REPO / "vectors" / "seed.json"
    assert path.exists(), "run: python -m seedface.seeding --write-vectors ../vectors/seed.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    fresh = json.loads(seeding.dump_compact(seeding.build_vectors()))
    assert data == fresh
    assert any(len(s["seed"].encode()) == 256 for s in data["seeds"])
    for s in data["seeds"]:
        z = np.array(s["z_bits"], dtype=np.uint32).view(np.float32)
        assert np.array_equal(z, seeding.latent(s["seed"], data["style_dim"]))
        assert np.allclose(z, np.array(s["z"]), rtol=0, atol=0)
        assert bytes.fromhex(s["seed_utf8_hex"]).decode("utf-8") == s["seed"]
    for e in data["normal_words"]:
        x = seeding.inv_normal64(seeding.words_to_uniform(np.array([e["word"]], dtype=np.uint32)))[0]
        assert format(int(np.float64(x).view(np.uint64)), "016x") == e["f64_hex"]
        assert math.isfinite(e["value"])
