"""seedface.face_judge (dlib detector + landmarks + 128-d descriptor), seedface.face_render (faces drawn as the
service draws them) and seedface.eval_faces end to end on the shipped faces64 model.

Real photos come from ../shared/datasets/faces128 (non-commercial research data: read in place, never copied into
the repository); the tests that need them skip without it. dlib-bin and face-recognition-models are pinned in
training/requirements.txt, so a missing dlib fails these tests rather than skipping them.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from seedface.eval import face_judge as fj
from seedface.release import manifest as mf
from seedface.eval.faces import recommend_psi
from seedface.eval_faces import main as eval_main
from seedface.pipeline import face
from seedface.pipeline.face import FaceRenderer
from seedface.pipeline.runtime import AUTO_THREADS, prune_to_outputs, session
from seedface.pipeline.resample import finish_pixels, resample, resample_taps, to_rgb8

REPO = Path(__file__).resolve().parents[2]
FACES = REPO.parent / "shared" / "datasets" / "faces128"
FACES64 = REPO / "models" / "faces64"
needs_faces = pytest.mark.skipif(not (FACES / "000000.jpg").is_file(),
                                 reason=f"{FACES} (the faces128 photos) is not present")
needs_model = pytest.mark.skipif(not (FACES64 / "manifest.json").is_file(), reason="models/faces64 is not present")


@pytest.fixture(scope="module")
def judge():
    return fj.FaceJudge()


def photo(i: int) -> np.ndarray:
    from PIL import Image
    with Image.open(FACES / f"{i:06d}.jpg") as im:
        return np.asarray(im.convert("RGB"))


# ---- descriptors and the look-alike rate (no dlib needed) ----------------------------------------------------

def test_descriptor_distance_is_euclidean():
    a, b = np.zeros(128), np.zeros(128)
    b[0], b[1] = 3.0, 4.0
    assert fj.descriptor_distance(a, b) == 5.0
    assert fj.descriptor_distance(b, a) == 5.0
    assert fj.descriptor_distance(a, a) == 0.0
    with pytest.raises(ValueError):
        fj.descriptor_distance(np.zeros(128), np.zeros(64))


def test_lookalike_rate_exact_fraction():
    e1, e2 = np.eye(128)[0], np.eye(128)[1]
    d = [0 * e1, 0.5 * e1, 1.0 * e1, 3.0 * e2]
    # pairs: (0,1) 0.5 and (1,2) 0.5 are below 0.6; (0,2) 1.0, (0,3) 3, (1,3) 3.04, (2,3) 3.16 are not
    assert fj.lookalike_rate(d) == pytest.approx(2 / 6, abs=0)
    assert fj.lookalike_rate(d, threshold=1.5) == pytest.approx(3 / 6, abs=0)
    assert fj.lookalike_rate(d, threshold=0.1) == 0.0
    assert fj.lookalike_rate(d, threshold=10.0) == 1.0
    # strictly below: a pair exactly at the threshold is not a look-alike
    assert fj.lookalike_rate([0 * e1, 0.6 * e1]) == 0.0
    assert fj.lookalike_rate(np.stack([0 * e1, 0.59 * e1, 5 * e2])) == pytest.approx(1 / 3, abs=0)
    with pytest.raises(ValueError):
        fj.lookalike_rate([e1])
    dist = fj.pairwise_distances(d)
    assert np.allclose(dist, dist.T) and np.all(np.diag(dist) == 0)
    assert dist[0, 3] == fj.descriptor_distance(d[0], d[3])


def test_missing_dlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # `import dlib` now raises ImportError
    with pytest.raises(fj.FaceJudgeUnavailable, match="dlib-bin.*face-recognition-models"):
        fj.FaceJudge()
    assert not fj.judge_available()


def test_recommend_psi_rule():
    rows = [{"psi": 0.5, "detection_rate": 1.0, "lookalike_rate": 0.20},
            {"psi": 0.7, "detection_rate": 0.99, "lookalike_rate": 0.075},
            {"psi": 1.0, "detection_rate": 0.97, "lookalike_rate": 0.07}]
    r = recommend_psi(rows)
    assert r["psi"] == 0.7 and r["met_rule"] and r["reference_psi"] == 1.0
    rows[1]["detection_rate"] = 0.9  # 0.7 fails detection, 0.5 is too look-alike, 1.0 fails detection
    r = recommend_psi(rows)
    assert r["psi"] == 0.5 and not r["met_rule"]  # fallback: highest detection rate


# ---- the judge on real photos ---------------------------------------------------------------------------------

def test_no_face_in_noise_or_flat_images(judge):
    rng = np.random.default_rng(0)
    for img in (rng.integers(0, 256, (128, 128, 3), dtype=np.uint8), np.full((128, 128, 3), 128, np.uint8),
                np.zeros((64, 64, 3), np.uint8)):
        ok, d = judge.describe(img)
        assert not ok and d is None
    with pytest.raises(ValueError):
        judge.describe(np.zeros((128, 128), np.uint8))


@needs_faces
def test_detects_faces_and_tells_people_apart(judge):
    from PIL import Image

    ids = [0, 1, 2, 3, 4, 5]
    descs = []
    for i in ids:
        ok, d = judge.describe(photo(i))
        assert ok, f"no face found in faces128/{i:06d}.jpg"
        assert d.shape == (128,) and np.isfinite(d).all()
        descs.append(d)
    # the same photo resized (down to 112 px, and to 64 px, which the judge enlarges back to 128) stays the person
    for size in (112, 64):
        small = np.asarray(Image.fromarray(photo(0)).resize((size, size), Image.LANCZOS))
        ok, d = judge.describe(small)
        assert ok, f"no face found in faces128/000000.jpg resized to {size}px"
        same = fj.descriptor_distance(d, descs[0])
        assert same < 0.6, f"same photo at {size}px: distance {same:.3f} >= 0.6"
    # different people: typically beyond the threshold, and all further than the resized copy
    dist = fj.pairwise_distances(descs)[np.triu_indices(len(ids), 1)]
    assert np.median(dist) > 0.6, f"median distance between different people {np.median(dist):.3f} <= 0.6"
    assert dist.min() > same
    # deterministic
    assert np.array_equal(judge.describe(photo(1))[1], descs[1])


# ---- rendering as the service does ----------------------------------------------------------------------------

def test_resample_matches_the_service_rules():
    taps = resample_taps(4, 2)  # area: each output averages two inputs
    assert [t[0] for t in taps] == [0, 2] and all(np.allclose(w, [0.5, 0.5]) for _, w in taps)
    up = resample_taps(2, 4)  # Catmull-Rom, edge-folded, weights sum to 1
    assert all(abs(w.sum() - 1) < 1e-12 for _, w in up)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (3, 16, 16)).astype(np.float32)
    assert resample(x, 16, 16) is x
    flat = np.full((3, 8, 8), 0.25, np.float32)
    assert np.allclose(resample(flat, 20, 20), 0.25, atol=1e-6) and np.allclose(resample(flat, 3, 3), 0.25)
    # round(clamp((x + 1) * 127.5, 0, 255)) with Math.round (0 -> 127.5 -> 128), NaN -> 0; planar -> interleaved
    px = to_rgb8(np.array([-2.0, -1.0, 1.0, 5.0, 0.0, np.nan], np.float32).reshape(3, 1, 2))
    assert px.reshape(-1).tolist() == [0, 255, 128, 0, 255, 0]
    assert finish_pixels(x, 32).shape == (32, 32, 3)


@needs_model
def test_renderer_feeds_and_pruned_graph_match_the_edge_inputs():
    r = FaceRenderer(FACES64)
    man = r.man
    assert r.output_for(16) == "img_16" and r.output_for(48) == "img_64" and r.output_for(128) == "img_64"
    man_serving = {**r.student, "serving": {"sizes": [{"up_to": 24, "output": "img_16"}, {"up_to": 4096,
                                                                                           "output": "img_64"}]}}
    r2 = FaceRenderer(FACES64)
    r2.student = man_serving
    assert r2.output_for(20) == "img_16" and r2.output_for(32) == "img_64"
    seed = "eval/3"
    ref = face.seed_feeds(FACES64, man, [seed])[0]  # the quantizer's feeds, "exactly as the edge builds them"
    got = r.feeds(seed, r.style(seed, man["truncation"]["default_psi"]))
    assert set(got) == set(ref)
    for k in ref:
        assert np.array_equal(got[k], ref[k]), k
    full = session(FACES64 / "student_fp32.onnx", threads=AUTO_THREADS).run(["img_32"], ref)[0][0]
    assert np.array_equal(r.planar(seed, output="img_32"), full)
    import onnx
    pruned = prune_to_outputs(onnx.load(str(FACES64 / "student_fp32.onnx")), ["img_16"])
    assert [o.name for o in pruned.graph.output] == ["img_16"]
    assert len(pruned.graph.node) < len(onnx.load(str(FACES64 / "student_fp32.onnx")).graph.node)
    img = r.render(seed, size=128, psi=0.7)
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    assert np.array_equal(img, finish_pixels(r.planar(seed, 0.7, output="img_64"), 128))
    assert not np.array_equal(img, r.render("eval/4", size=128, psi=0.7))
    assert r.files("int8")["student"] == ("student_int8.onnx", {"session.disable_quant_qdq": "1"})
    assert r.files("int8")["mapping"] == ("mapping.onnx", {})  # no int8 mapping in faces64


@needs_model
def test_eval_faces_end_to_end(tmp_path):
    model = tmp_path / "faces64"
    shutil.copytree(FACES64, model)
    before = mf.load(model)
    out = tmp_path / "reports"
    assert eval_main([str(model), "--seeds", "4", "--psi", "0.7", "--out", str(out), "--write-manifest"]) == 0
    rep = json.loads((out / "faces64_faces.json").read_text())
    for k in ("bench", "when", "model", "seeds", "size", "output", "judge", "threshold", "fp32", "int8",
              "recommended_psi", "seconds"):
        assert k in rep, k
    assert rep["seeds"] == {"n": 4, "names": "'eval/0'..'eval/3'"} and rep["size"] == 128
    assert rep["output"] == "img_64"
    (row,) = rep["fp32"]["per_psi"]
    assert row["psi"] == 0.7 and 0 <= row["detection_rate"] <= 1 and row["detected"] >= 2
    assert row["pairs"] == row["faces"] * (row["faces"] - 1) // 2
    q = rep["int8"]
    assert q["available"] and q["psi"] == 0.7 and q["session_config"] == {"session.disable_quant_qdq": "1"}
    assert q["distance_vs_fp32"]["n"] >= 2 and len(q["per_seed"]) == 4
    assert q["distance_vs_fp32"]["max"] < 0.2, q["distance_vs_fp32"]  # weight-only int8: the same person
    assert (out / "faces64_faces.md").is_file() and (out / "faces64_faces_grid.jpg").is_file()
    from PIL import Image
    with Image.open(out / "faces64_faces_grid.jpg") as g:
        assert g.size == (4 * 130 + 2, 2 * 130 + 2)  # 4 seeds x (psi 0.7 row + int8 row), 128 px + 2 px gaps
    after = mf.load(model)
    mf.validate(after, model)
    faces = after["metrics"]["faces"]
    assert faces["seeds"] == 4 and faces["psi"][0]["psi"] == 0.7 and "int8" in faces
    assert after["truncation"]["default_psi"] == before["truncation"]["default_psi"]
    assert {k: v for k, v in after["metrics"].items() if k != "faces"} == before["metrics"]
