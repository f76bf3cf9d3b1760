"""A differentiable 128-d face descriptor (dlib's ResNet, as ported to tfjs by face-api.js) for perceptual losses.

Where it comes from: dlib's ``dlib_face_recognition_resnet_model_v1`` (a 29-conv ResNet trained by Davis King with a
metric loss: two photos of one person lie closer than 0.6, Euclidean). face-api.js (justadudewhohacks/face-api.js,
MIT) ported it to tfjs as ``FaceRecognitionNet``; the weights used here are the ones shipped by its maintained fork,
the npm package ``@vladmandic/face-api`` (MIT): ``model/face_recognition_model-weights_manifest.json`` +
``face_recognition_model.bin``, read from the repository's node_modules (``npm ci`` installs them). Most tensors
there are uint8-quantized (``value = q * scale + min``); they are dequantized exactly as tfjs does. Licence of the
weights: the PyPI package ``face_recognition_models`` (which ships dlib's original .dat) carries the CC0 1.0
Universal text (its LICENSE file) and its description says "These models were created by Davis King ... and are
licensed in the public domain or under CC0 1.0 Universal" (its package metadata says "MIT license"); the
@vladmandic/face-api package ships only its MIT LICENSE, no separate terms for the converted weights (its README
points to face-api.js-models as their origin). No weights are committed here: they are read from node_modules.

The network (read from face-api's src/faceRecognitionNet/, NHWC there, NCHW here):
    x255 (RGB, 0..255) -> (x - [122.782, 117.001, 104.298]) / 255
    conv32_down: conv 7x7 s2 valid + bias -> scale (w*x + b) -> relu;  maxpool 3x3 s2 valid
    conv32_1..3, conv64_1..3, conv128_1..2, conv256_1..2: residual
        relu(x + scale(conv3x3 s1 same(relu(scale(conv3x3 s1 same(x))))))
    conv64_down, conv128_down, conv256_down, conv256_down_out: residual-down
        main: conv3x3 s2 valid -> scale -> relu -> conv3x3 s1 same -> scale, zero-padded by one row/column at the
        bottom/right when smaller than the shortcut; shortcut: avgpool 2x2 s2 valid, channels zero-padded to match;
        relu(sum)
    global average pool -> fc 256 -> 128 (no bias)
150x150 input: 72 -> 35 -> 35 -> 17 -> 8 -> 4 -> 2 spatial.

``FaceDescriptor.forward`` takes generator images ([B, 3, H, W], [-1, 1], FFHQ-aligned), cuts the fixed box
``CROP`` (fractions of the side), resizes it to 150x150 (bilinear, antialiased) and returns [B, 128] descriptors;
``embed`` takes ready 150x150 chips in 0..255. Parameters are frozen and the module stays in eval mode; gradients
flow to the input.

The crop: ``CROP`` = (0.155, 0.26, 0.845, 0.95), a square of 0.69 of the side centred at (0.50, 0.605). It is the
mean of the box dlib's chip (68 landmarks, padding 0.25) covers on 60 generated FFHQ faces (per-face sd of the
edges 0.007-0.019 of the side, rotation sd 1.5 degrees); a coordinate search around it for the smallest distance to
dlib's own descriptor found nothing better (sizes 0.65 / 0.75 of the side are clearly worse).

Measured with training/tools/face_descriptor_check.py (FFHQ fp32 student, psi 0.7, seeds ``descriptor/0..49``):
- parity with face-api itself (@vladmandic/face-api 1.7.15, tfjs 4.22 WASM backend, ``computeFaceDescriptor``) on
  the same 150x150 uint8 chips: max |difference| 2.2e-7 (entries are ~0.1); the test asserts < 1e-4.
- against dlib (seedface.eval.face_judge: detector + landmarks + aligned chip) on the same images, distances of
  200 same-seed pairs (blur, 4x down-up, JPEG q20, noise sd 12) and 1225 different-seed pairs, at 128 px:
  Pearson 0.991 / Spearman 0.978 over all pairs, 0.981 / 0.970 within same-seed pairs, 0.969 / 0.966 within
  different-seed pairs; both sides agree on dlib's 0.6 threshold for 96.4% of pairs (mean distances 0.664 here vs
  0.667 dlib). At 256 px: 0.994 / 0.978 all, 0.944 / 0.911 same, 0.970 / 0.966 different. Our descriptor of a face
  lies 0.15 (mean; max 0.25) from dlib's descriptor of it: ~0.04 of that is the uint8-quantized tfjs weights
  (measured on dlib's own chips), the rest is the fixed crop instead of landmark alignment.
- forward + backward, batch 8 at 128x128 input, 1 thread, on a 2-core machine shared with a training run:
  min 0.37 s / median 0.51 s (5 runs, load ~1); 0.46 / 0.97 s (10 runs, load ~5); 0.78 / 0.79 s (load ~7).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[3]
DEFAULT_MODEL_DIR = REPO / "node_modules" / "@vladmandic" / "face-api" / "model"
MANIFEST = "face_recognition_model-weights_manifest.json"
MEAN_RGB = (122.782, 117.001, 104.298)
CHIP = 150
#: (left, top, right, bottom) as fractions of the image side: the FFHQ-aligned face region that matches dlib's
#: aligned 150 px chip (padding 0.25) on generated faces; see the module docstring.
CROP = (0.155, 0.26, 0.845, 0.95)

_DTYPES = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16, "float32": np.float32}

# (name, stride-2 "down" block?) in forward order, after conv32_down + maxpool
_BLOCKS = [("conv32_1", False), ("conv32_2", False), ("conv32_3", False),
           ("conv64_down", True), ("conv64_1", False), ("conv64_2", False), ("conv64_3", False),
           ("conv128_down", True), ("conv128_1", False), ("conv128_2", False),
           ("conv256_down", True), ("conv256_1", False), ("conv256_2", False), ("conv256_down_out", True)]


def load_tfjs_weights(model_dir=DEFAULT_MODEL_DIR, manifest: str = MANIFEST) -> dict[str, np.ndarray]:
    """{name: float32 array in the manifest's shape}, dequantized as tfjs's io.decodeWeights does."""
    model_dir = Path(model_dir)
    path = model_dir / manifest
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the face descriptor's weights come from the npm package "
                                f"@vladmandic/face-api; run `npm ci` in the repository root to install it")
    out = {}
    for group in json.loads(path.read_text()):
        buf = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        off = 0
        for spec in group["weights"]:
            if spec["dtype"] != "float32":
                raise ValueError(f"{spec['name']}: unsupported dtype {spec['dtype']}")
            n = int(np.prod(spec["shape"], dtype=np.int64))
            q = spec.get("quantization")
            dt = np.dtype(_DTYPES[q["dtype"] if q else "float32"]).newbyteorder("<")
            raw = np.frombuffer(buf, dt, n, off)
            off += n * dt.itemsize
            if q and q["dtype"] in ("uint8", "uint16"):
                vals = raw.astype(np.float64) * q["scale"] + q["min"]  # JS doubles, stored as float32
            else:
                vals = raw
            out[spec["name"]] = vals.astype(np.float32).reshape(spec["shape"])
        if off != len(buf):
            raise ValueError(f"{path}: {len(buf) - off} bytes left over after the weights")
    return out


class _ConvScale(nn.Module):
    """conv (+bias) then the per-channel scale layer (w * x + b): dlib's folded batch norm."""

    def __init__(self, w: dict, prefix: str, stride: int, padding: int):
        super().__init__()
        filt = torch.from_numpy(w[f"{prefix}/conv/filters"]).permute(3, 2, 0, 1).contiguous()  # HWIO -> OIHW
        self.conv = nn.Conv2d(filt.shape[1], filt.shape[0], filt.shape[2], stride, padding)
        self.conv.weight.data.copy_(filt)
        self.conv.bias.data.copy_(torch.from_numpy(w[f"{prefix}/conv/bias"]))
        self.register_buffer("mul", torch.from_numpy(w[f"{prefix}/scale/weights"]).view(1, -1, 1, 1).clone())
        self.register_buffer("add", torch.from_numpy(w[f"{prefix}/scale/biases"]).view(1, -1, 1, 1).clone())

    def forward(self, x):
        return self.conv(x) * self.mul + self.add


class _Residual(nn.Module):
    def __init__(self, w: dict, prefix: str, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = _ConvScale(w, f"{prefix}/conv1", 2 if down else 1, 0 if down else 1)
        self.conv2 = _ConvScale(w, f"{prefix}/conv2", 1, 1)

    def forward(self, x):
        out = self.conv2(F.relu(self.conv1(x)))
        if not self.down:
            return F.relu(out + x)
        short = F.avg_pool2d(x, 2, 2)
        if short.shape[2:] != out.shape[2:]:  # face-api: one zero row at the bottom, one zero column at the right
            out = F.pad(out, (0, short.shape[3] - out.shape[3], 0, short.shape[2] - out.shape[2]))
        if short.shape[1] != out.shape[1]:  # channels: the shortcut followed by zeros
            short = F.pad(short, (0, 0, 0, 0, 0, out.shape[1] - short.shape[1]))
        return F.relu(out + short)


class FaceDescriptor(nn.Module):
    """Frozen dlib/face-api face descriptor; ``forward`` maps [-1, 1] FFHQ-aligned faces to [B, 128]."""

    def __init__(self, model_dir=DEFAULT_MODEL_DIR, crop=CROP):
        super().__init__()
        w = load_tfjs_weights(model_dir)
        self.crop = tuple(float(c) for c in crop)
        if not (0 <= self.crop[0] < self.crop[2] <= 1 and 0 <= self.crop[1] < self.crop[3] <= 1):
            raise ValueError(f"crop (left, top, right, bottom) must lie inside [0, 1], got {crop}")
        self.stem = _ConvScale(w, "conv32_down", 2, 0)
        self.blocks = nn.ModuleList(_Residual(w, name, down) for name, down in _BLOCKS)
        self.register_buffer("fc", torch.from_numpy(w["fc"]).clone())  # [256, 128]
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # no batch norm or dropout anyway; stays in eval mode

    def embed(self, chips: torch.Tensor) -> torch.Tensor:
        """[B, 3, 150, 150] RGB in 0..255 (face-api's input) -> [B, 128]."""
        x = (chips - self.mean) / 255.0
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        for b in self.blocks:
            x = b(x)
        return x.mean(dim=(2, 3)) @ self.fc

    def chips(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] in [-1, 1] -> the CROP box resized to [B, 3, 150, 150] in 0..255 (differentiable; values
        outside [-1, 1] are not clamped, so their gradients survive)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images [B, 3, H, W], got {tuple(images.shape)}")
        h, w = images.shape[2:]
        l, t, r, b = self.crop
        x0, y0 = round(l * w), round(t * h)
        x1, y1 = x0 + round((r - l) * w), y0 + round((b - t) * h)  # one rounded size: a square box stays square
        box = F.interpolate(images[:, :, y0:min(y1, h), x0:min(x1, w)], size=(CHIP, CHIP), mode="bilinear",
                            align_corners=False, antialias=True)
        return (box + 1.0) * 127.5

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed(self.chips(images))


def descriptor_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distance over the last dimension (dlib: < 0.6 means the same person); differentiable."""
    return (a - b).pow(2).sum(-1).clamp_min(1e-12).sqrt()
