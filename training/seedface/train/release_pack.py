"""A compact copy of the release teacher for the GPU box (format `seedface-release-pack/1`).

The device tool takes 64 MiB for the working tree and everything carried, so the 37.6 MB wheel does not travel:
this file holds only what StudentTeacher(net, level) reads (the release's mapping network, its 4x4 layer and
first heads, blocks up to the `level` px head) in 16 bits, the release's config, and where it came from (wheel and
fitted-heads sha256). The mapping is always float16 (its rounding moves every w); the synthesis is float16 or
bfloat16. Layout: MAGIC, an 8-byte little-endian header length, the JSON header, then two zlib streams: the high
and the low bytes of every 16-bit value, in header order (weights' high bytes, mostly sign and exponent, compress
well; the low bytes hardly). Reading needs no pickle.
"""
from __future__ import annotations

import hashlib
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

FORMAT = "seedface-release-pack/1"
MAGIC = FORMAT.encode() + b"\n"
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
PARTS = ("mapping", "synthesis")


def is_pack(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def write(path: Path, parts: dict[str, dict[str, torch.Tensor]], dtypes: dict[str, str], meta: dict) -> dict:
    """parts: {"mapping": state dict, "synthesis": state dict}; dtypes: the 16-bit type of each part. Returns the
    header written (atomic: temp file + rename)."""
    entries, values = [], []
    for part in PARTS:
        dt = DTYPES[dtypes[part]]
        for name, t in parts[part].items():
            if not t.is_floating_point():
                raise ValueError(f"{part}.{name}: {t.dtype} tensors are not packed (floating point only)")
            values.append(t.detach().cpu().contiguous().to(dt).view(torch.int16).numpy().view(np.uint16).ravel())
            entries.append({"part": part, "name": name, "shape": list(t.shape), "dtype": dtypes[part]})
    u = np.concatenate(values)
    streams = [zlib.compress((u >> 8).astype(np.uint8).tobytes(), 9),
               zlib.compress((u & 0xFF).astype(np.uint8).tobytes(), 9)]
    header = {"format": FORMAT, "meta": meta, "tensors": entries, "values": int(u.size),
              "streams": [{"bytes": len(s), "sha256": hashlib.sha256(s).hexdigest()} for s in streams]}
    head = json.dumps(header).encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(MAGIC + struct.pack("<Q", len(head)) + head)
        for s in streams:
            f.write(s)
    tmp.replace(path)
    return header


def read(path: Path) -> tuple[dict, dict[str, dict[str, torch.Tensor]]]:
    """(meta, {part: {name: float32 tensor}}); the values are exactly the stored 16-bit ones."""
    data = Path(path).read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError(f"{path}: not a {FORMAT} file")
    at = len(MAGIC) + 8
    (n,) = struct.unpack("<Q", data[len(MAGIC):at])
    header = json.loads(data[at:at + n])
    at += n
    raw = []
    for s in header["streams"]:
        blob = data[at:at + s["bytes"]]
        at += s["bytes"]
        if len(blob) != s["bytes"] or hashlib.sha256(blob).hexdigest() != s["sha256"]:
            raise ValueError(f"{path}: damaged or truncated (a stream's sha256 does not match its header)")
        raw.append(np.frombuffer(zlib.decompress(blob), dtype=np.uint8))
    hi, lo = raw
    if hi.size != header["values"] or lo.size != header["values"]:
        raise ValueError(f"{path}: damaged (expected {header['values']} values)")
    u = (hi.astype(np.uint16) << 8) | lo.astype(np.uint16)
    parts: dict[str, dict[str, torch.Tensor]] = {p: {} for p in PARTS}
    i = 0
    for e in header["tensors"]:
        k = int(np.prod(e["shape"], dtype=np.int64))
        bits = torch.from_numpy(u[i:i + k].view(np.int16).copy())
        parts[e["part"]][e["name"]] = bits.view(DTYPES[e["dtype"]]).float().reshape(e["shape"])
        i += k
    return header["meta"], parts
