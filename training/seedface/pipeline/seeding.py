"""Seed -> latent z and noise maps, algorithm ``seedface-seed/1`` (docs/determinism.md).

Bit-exact across runtimes: only SHA-256, uint32 arithmetic and IEEE-754 float64 ``+ - * /`` and ``sqrt``.
All functions are vectorised with numpy; numpy never fuses multiply-adds, so every float64 operation below is
rounded exactly as the spec writes it.

CLI: ``python -m seedface.seeding --write-vectors ../vectors/seed.json``
"""
from __future__ import annotations

import hashlib
import json
import re

import numpy as np

ALGORITHM = "seedface-seed/1"
DOMAIN = b"seedface/v1:"
M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK32 = 0xFFFFFFFF

# Random123 tests/kat_vectors, the three `philox4x32 10` lines (ctr[4], key[2] -> out[4]).
PHILOX_KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([MASK32] * 4, [MASK32] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]

_A = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
      -3.066479806614716e+01, 2.506628277459239e+00]
_B = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
      -1.328068155288572e+01]
_C = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
      4.374664141464968e+00, 2.938163982698783e+00]
_D = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
P_LOW = 0.02425
P_HIGH = 1 - 0.02425
LN2 = 0.6931471805599453
SQRT2_THRESHOLD = 1.4142135623730951


def seed_bytes(seed: str) -> bytes:
    b = seed.encode("utf-8")
    if not 1 <= len(b) <= 256:
        raise ValueError(f"seed must be 1..256 UTF-8 bytes, got {len(b)}")
    return b


def seed_digest(seed: str) -> bytes:
    return hashlib.sha256(DOMAIN + seed_bytes(seed)).digest()


def seed_words(seed: str) -> list[int]:
    """h[0..7]: the SHA-256 digest as 8 little-endian uint32 words."""
    d = seed_digest(seed)
    return [int.from_bytes(d[4 * i:4 * i + 4], "little") for i in range(8)]


def _philox_np(c0, c1, c2, c3, k0: int, k1: int):
    """Vectorised Philox4x32-10 over uint64 arrays holding uint32 values (key scalar)."""
    m0 = np.uint64(M0)
    m1 = np.uint64(M1)
    mask = np.uint64(MASK32)
    sh = np.uint64(32)
    for r in range(10):
        if r > 0:
            k0 = (k0 + W0) & MASK32
            k1 = (k1 + W1) & MASK32
        p0 = c0 * m0
        p1 = c2 * m1
        c0, c1, c2, c3 = ((p1 >> sh) ^ c1 ^ np.uint64(k0)), (p1 & mask), ((p0 >> sh) ^ c3 ^ np.uint64(k1)), (p0 & mask)
    return c0, c1, c2, c3


def philox4x32_10(ctr, key) -> list[int]:
    """One Philox4x32-10 block: 4 uint32 counter words, 2 uint32 key words -> 4 uint32 words."""
    c = [np.array([int(x) & MASK32], dtype=np.uint64) for x in ctr]
    out = _philox_np(c[0], c[1], c[2], c[3], int(key[0]) & MASK32, int(key[1]) & MASK32)
    return [int(o[0]) for o in out]


def _philox_scalar_reference(ctr, key) -> list[int]:
    """Pure-Python big-int Philox (an independent formulation, used by the tests to cross-check)."""
    c = [int(x) & MASK32 for x in ctr]
    k = [int(x) & MASK32 for x in key]
    for r in range(10):
        if r:
            k = [(k[0] + W0) & MASK32, (k[1] + W1) & MASK32]
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & MASK32, (p0 >> 32) ^ c[3] ^ k[1], p0 & MASK32]
    return c


def stream_words(seed: str, stream: int, n: int) -> np.ndarray:
    """The first n uint32 words of stream `stream` for `seed`."""
    h = seed_words(seed)
    nblocks = (n + 3) // 4
    b = np.arange(nblocks, dtype=np.uint64)
    z = np.zeros(nblocks, dtype=np.uint64)
    out = _philox_np(b, z + np.uint64(stream & MASK32), z + np.uint64(h[2]), z + np.uint64(h[3]), h[0], h[1])
    words = np.stack(out, axis=1).reshape(-1)[:n]
    return words.astype(np.uint32)


def ln64(v: np.ndarray) -> np.ndarray:
    """Bit-exact natural log for positive normal float64 (docs/determinism.md section 3)."""
    v = np.asarray(v, dtype=np.float64)
    bits = v.view(np.uint64)
    e = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64) - 1023
    mbits = (bits & np.uint64(0x800FFFFFFFFFFFFF)) | np.uint64(1023 << 52)
    m = mbits.view(np.float64).copy()
    big = m > SQRT2_THRESHOLD
    m[big] = m[big] / 2.0
    e = e + big.astype(np.int64)
    s = (m - 1.0) / (m + 1.0)
    t = s * s
    p = np.full_like(s, 1.0 / 23.0)
    for k in range(10, -1, -1):
        p = (1.0 / (2 * k + 1)) + t * p
    return (e.astype(np.float64) * LN2) + ((2.0 * s) * p)


def _tail(q: np.ndarray) -> np.ndarray:
    num = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5])
    den = ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    return num / den


def inv_normal64(u: np.ndarray) -> np.ndarray:
    """Acklam's inverse normal CDF in float64, evaluated in the spec's order."""
    u = np.asarray(u, dtype=np.float64)
    x = np.empty_like(u)
    lo = u < P_LOW
    hi = u > P_HIGH
    mid = ~(lo | hi)
    if lo.any():
        q = np.sqrt(-2.0 * ln64(u[lo]))
        x[lo] = _tail(q)
    if mid.any():
        q = u[mid] - 0.5
        r = q * q
        num = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q
        den = (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
        x[mid] = num / den
    if hi.any():
        q = np.sqrt(-2.0 * ln64(1.0 - u[hi]))
        x[hi] = -_tail(q)
    return x


def words_to_uniform(words: np.ndarray) -> np.ndarray:
    return (words.astype(np.float64) + 0.5) * (2.0 ** -32)


def normals64(seed: str, stream: int, n: int) -> np.ndarray:
    return inv_normal64(words_to_uniform(stream_words(seed, stream, n)))


def normals(seed: str, stream: int, n: int) -> np.ndarray:
    """n standard normals (float32, round-to-nearest from float64) from stream `stream`."""
    return normals64(seed, stream, n).astype(np.float32)


def latent(seed: str, style_dim: int) -> np.ndarray:
    """The latent z (float32[style_dim]) of a seed: stream 0."""
    return normals(seed, 0, style_dim)


def noise_maps(seed: str, sizes: list[int]) -> list[np.ndarray]:
    """Noise inputs noise_k (float32 [1,1,s,s], row-major) from stream 1+k, k in the teacher's layer order."""
    return [normals(seed, 1 + k, s * s).reshape(1, 1, s, s) for k, s in enumerate(sizes)]


# ---------------------------------------------------------------------------------------------------------------
# Test vectors

VECTOR_SEEDS = [
    "0",
    "hello",
    "Alice.Smith+faces@example.com",
    "Zoë Ångström – naïve façade",
    "😀🎭 face",
    "a/b",
    "  Leading and trailing spaces  ",
    "x" * 200 + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST",  # exactly 256 bytes
]
VECTOR_STYLE_DIM = 512
VECTOR_NOISE_SIZES = [4, 8, 8]


def _bits(a: np.ndarray) -> list[int]:
    return [int(x) for x in np.asarray(a, dtype=np.float32).view(np.uint32)]


def build_vectors() -> dict:
    assert len(VECTOR_SEEDS[-1].encode("utf-8")) == 256
    seeds = []
    for s in VECTOR_SEEDS:
        z = latent(s, VECTOR_STYLE_DIM)
        noises = noise_maps(s, VECTOR_NOISE_SIZES)
        seeds.append({
            "seed": s,
            "seed_utf8_hex": s.encode("utf-8").hex(),
            "digest_hex": seed_digest(s).hex(),
            "h": seed_words(s),
            "stream0_words": [int(x) for x in stream_words(s, 0, 16)],
            "stream1_words": [int(x) for x in stream_words(s, 1, 16)],
            "z_bits": _bits(z),
            "z": [float(x) for x in z],
            "noise": [{"k": k, "size": sz, "first16_bits": _bits(n.reshape(-1)[:16])}
                      for k, (sz, n) in enumerate(zip(VECTOR_NOISE_SIZES, noises))],
        })
    # Extra checks of the normal transform at chosen words (both tails, centre, extremes).
    special_words = [0, 1, 2, 0x063A0000, 0x06353F7C, 0x7FFFFFFF, 0x80000000, 0xF9C5FFFF, 0xFFFFFFFE, 0xFFFFFFFF]
    w = np.array(special_words, dtype=np.uint32)
    x64 = inv_normal64(words_to_uniform(w))
    return {
        "about": (
            f"Test vectors for {ALGORITHM} (docs/determinism.md). Written by "
            "`python -m seedface.seeding --write-vectors vectors/seed.json`. All integers are plain JSON numbers. "
            "philox: Random123 known answers {ctr: 4 uint32, key: 2 uint32, out: 4 uint32}. "
            "seeds[]: seed (the exact string), seed_utf8_hex (its UTF-8 bytes), digest_hex = SHA-256('seedface/v1:' || seed), "
            "h = the 8 little-endian uint32 words of the digest, stream0_words / stream1_words = first 16 uint32 words "
            "of streams 0 and 1, z_bits = latent z for style_dim (below) as float32 bit patterns (uint32), "
            "z = the same values as decimals (float32 widened to float64, for reading; compare bits), "
            "noise[k] = noise_k (stream 1+k) of the given size: first16_bits = first 16 values (row-major) as float32 bit "
            "patterns. normal_words: word -> float64 normal (bits as a 16-digit hex string) and float32 bits, covering "
            "both tails, the centre and the extreme words."
        ),
        "algorithm": ALGORITHM,
        "style_dim": VECTOR_STYLE_DIM,
        "noise_sizes": VECTOR_NOISE_SIZES,
        "philox": [{"ctr": c, "key": k, "out": o} for c, k, o in PHILOX_KAT],
        "seeds": seeds,
        "normal_words": [
            {"word": int(wd), "f64_hex": format(int(np.array(v, dtype=np.float64).view(np.uint64)), "016x"),
             "f32_bits": int(np.float32(v).view(np.uint32)), "value": float(v)}
            for wd, v in zip(special_words, x64)
        ],
    }


def dump_compact(obj) -> str:
    """Pretty JSON with every array of scalars on one line."""

    text = json.dumps(obj, indent=1, ensure_ascii=False)
    scalar_array = re.compile(r"\[\s*((?:-?[0-9][^\[\]{}\n]*|\"[^\"\n]*\")(?:,\s*(?:-?[0-9][^\[\]{}\n,]*|\"[^\"\n]*\"))*)\s*\]")
    return scalar_array.sub(lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
