"""A face judge built on dlib's pretrained face networks: is there a face, and whose is it.

- detection: dlib's HOG frontal face detector (``dlib.get_frontal_face_detector()``);
- landmarks: the 68-point shape predictor (``face_recognition_models.pose_predictor_model_location()``);
- identity: the 128-d ResNet face descriptor (``face_recognition_models.face_recognition_model_location()``),
  trained so that two photos of one person lie closer than 0.6 (Euclidean) and two people further apart
  (dlib reports 99.38% on LFW with that threshold).

How an image is judged (fixed, so figures are comparable): an image whose shorter side is below ``judge_size``
(128 px) is first enlarged to ``judge_size`` on that side with the service's Catmull-Rom resampling
(``seedface.resample``); larger images are judged as they are. The detector runs with ``upsample`` = 1 (dlib
doubles the image once, so faces down to about 40 px in a 128 px image are found) and the highest-scoring box is
the face. The descriptor is computed on the 150 px chip dlib aligns from the 68 landmarks (padding 0.25, no
jitter): deterministic for a given image.

Pretrained weights come from PyPI: ``pip install dlib-bin face-recognition-models`` (pinned in
training/requirements.txt; ``bash training/setup.sh`` installs them). They are used to *measure* models, never
shipped with one (dlib's 68-landmark model was trained on iBUG 300-W, whose terms exclude commercial use).

    judge = FaceJudge()
    ok, d = judge.describe(rgb)            # rgb: [H, W, 3] uint8
    descriptor_distance(d1, d2) < 0.6      # "same person" by dlib's threshold
    lookalike_rate([d1, d2, d3, ...])      # share of pairs closer than 0.6
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from seedface.pipeline.resample import resample, to_rgb8

SAME_PERSON_THRESHOLD = 0.6
JUDGE_SIZE = 128
UPSAMPLE = 1
DESCRIPTOR_DIM = 128
INSTALL_HINT = ("pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0 "
                "(both pinned in training/requirements.txt: `bash training/setup.sh` installs them)")


class FaceJudgeUnavailable(ImportError):
    """dlib or the pretrained model files are missing."""


def _import_dlib():
    try:
        import dlib  # noqa: F401
    except ImportError as e:
        raise FaceJudgeUnavailable(
            f"the face judge needs dlib (PyPI package `dlib-bin`, a prebuilt wheel) and the pretrained models of "
            f"`face-recognition-models`, but `import dlib` failed ({e}). Install them into training/.venv: "
            f"{INSTALL_HINT}") from e
    try:
        import face_recognition_models
    except ImportError as e:
        raise FaceJudgeUnavailable(
            f"the face judge needs the pretrained dlib models of the PyPI package `face-recognition-models`, but "
            f"`import face_recognition_models` failed ({e}). Install: {INSTALL_HINT}") from e
    return dlib, face_recognition_models


def judge_available() -> bool:
    try:
        _import_dlib()
        return True
    except FaceJudgeUnavailable:
        return False


def _enlarge(rgb: np.ndarray, judge_size: int) -> np.ndarray:
    """Shorter side below judge_size -> that side enlarged to judge_size (Catmull-Rom, the service's resampling)."""
    h, w = rgb.shape[:2]
    if min(h, w) >= judge_size:
        return rgb

    s = judge_size / min(h, w)
    nh, nw = max(judge_size, round(h * s)), max(judge_size, round(w * s))
    planar = rgb.astype(np.float32).transpose(2, 0, 1) / np.float32(127.5) - np.float32(1.0)
    return to_rgb8(resample(planar, nw, nh))


class FaceJudge:
    """dlib face detection + 68 landmarks + 128-d descriptor; see the module docstring for the fixed procedure."""

    def __init__(self, upsample: int = UPSAMPLE, judge_size: int = JUDGE_SIZE, num_jitters: int = 0,
                 padding: float = 0.25):
        dlib, frm = _import_dlib()
        self._dlib = dlib
        try:
            self.detector = dlib.get_frontal_face_detector()
            self.predictor = dlib.shape_predictor(frm.pose_predictor_model_location())
            self.encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        except RuntimeError as e:
            raise FaceJudgeUnavailable(f"could not load dlib's pretrained models ({e}); reinstall: {INSTALL_HINT}") \
                from e
        self.upsample, self.judge_size = int(upsample), int(judge_size)
        self.num_jitters, self.padding = int(num_jitters), float(padding)

    @property
    def procedure(self) -> dict:
        """The judging settings, for reports."""
        return {"detector": "dlib frontal (HOG)", "landmarks": "shape_predictor_68_face_landmarks",
                "descriptor": "dlib_face_recognition_resnet_model_v1 (128-d)", "judge_size": self.judge_size,
                "enlarge": "shorter side < judge_size -> judge_size, Catmull-Rom (seedface.resample)",
                "upsample": self.upsample, "face": "highest detector score", "num_jitters": self.num_jitters,
                "padding": self.padding, "same_person_threshold": SAME_PERSON_THRESHOLD,
                "dlib": getattr(self._dlib, "__version__", "?")}

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {rgb.dtype} {rgb.shape}")
        return np.ascontiguousarray(_enlarge(rgb, self.judge_size))

    def detect(self, rgb: np.ndarray):
        """(prepared image, best dlib.rectangle or None, its score)."""
        img = self.prepare(rgb)
        boxes, scores, _ = self.detector.run(img, self.upsample, 0.0)
        if len(boxes) == 0:
            return img, None, None
        i = int(np.argmax(scores))
        return img, boxes[i], float(scores[i])

    def describe(self, rgb: np.ndarray) -> tuple[bool, np.ndarray | None]:
        """(face detected, its 128-d float64 descriptor or None)."""
        img, box, _ = self.detect(rgb)
        if box is None:
            return False, None
        shape = self.predictor(img, box)
        d = self.encoder.compute_face_descriptor(img, shape, self.num_jitters, self.padding)
        return True, np.asarray(d, dtype=np.float64)

    def describe_many(self, images: Iterable[np.ndarray]) -> list[tuple[bool, np.ndarray | None]]:
        return [self.describe(im) for im in images]


def descriptor_distance(a, b) -> float:
    """Euclidean distance of two descriptors (dlib: < 0.6 means the same person)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"descriptor shapes differ: {a.shape} vs {b.shape}")
    diff = a - b
    return float(np.sqrt((diff * diff).sum()))


def pairwise_distances(descriptors: Sequence) -> np.ndarray:
    """[N, N] Euclidean distances, each computed from the difference (as descriptor_distance, no Gram-matrix
    shortcut, so a pair right at the threshold is classified the same way by both)."""
    d = np.asarray([np.asarray(x, np.float64) for x in descriptors], np.float64)
    if d.ndim != 2:
        raise ValueError(f"expected N descriptors of equal length, got shape {d.shape}")
    out = np.zeros((len(d), len(d)), np.float64)
    for i in range(len(d) - 1):
        diff = d[i + 1:] - d[i]
        out[i, i + 1:] = np.sqrt((diff * diff).sum(axis=1))
    return out + out.T


def lookalike_rate(descriptors: Sequence, threshold: float = SAME_PERSON_THRESHOLD) -> float:
    """Share of the N(N-1)/2 pairs of different items whose distance is below `threshold` (strictly)."""
    n = len(descriptors)
    if n < 2:
        raise ValueError(f"lookalike_rate needs at least 2 descriptors, got {n}")
    dist = pairwise_distances(descriptors)
    iu = np.triu_indices(n, 1)
    return float((dist[iu] < threshold).mean())
