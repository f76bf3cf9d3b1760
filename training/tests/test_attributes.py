"""seedface.attributes (issue 16): options, the closed-form edit, the shipped data file and the shared vectors."""
import base64
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from seedface.pipeline import attributes as at
from seedface.release import manifest as mf

REPO = Path(__file__).resolve().parents[2]
FFHQ = REPO / "models" / "ffhq"
VECTORS = REPO / "vectors" / "attributes.json"


def synthetic(d=8, seed=0):
    rng = np.random.default_rng(seed)
    n = rng.normal(size=(3, d))
    n[1] += 0.3 * n[0]
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return {"format": at.FORMAT, "style_dim": d, "unavailable": {"glasses": "no judge"}, "attributes": [
        {"name": "gender", "normal": n[0].tolist(), "classes": {"female": {"lo": 0.5, "hi": None},
                                                                  "male": {"lo": None, "hi": -0.5}}},
        {"name": "age", "normal": n[1].tolist(), "classes": {"child": {"lo": None, "hi": -1.0, "years": [None, 13]},
                                                               "young": {"lo": -0.5, "hi": 0.0, "years": [13, 30]},
                                                               "adult": {"lo": 0.2, "hi": 0.6, "years": [30, 60]},
                                                               "senior": {"lo": 1.0, "hi": None, "years": [60, None]}},
         "age_min": {"from": 13, "lo": [-0.6 + 0.03 * i for i in range(58)]}},
        {"name": "expression", "normal": n[2].tolist(), "classes": {"smile": {"lo": 0.4, "hi": None},
                                                                      "neutral": {"lo": None, "hi": -0.4}}}]}


def test_canonical_options_and_errors():
    d = synthetic()
    assert at.canonical(d, {"expression": "smile", "gender": "female", "age_min": "18", "age": ""}) == \
        {"gender": "female", "age_min": 18, "expression": "smile"}
    assert at.query_string(at.canonical(d, {"age_min": "18", "gender": "male"})) == "gender=male&age_min=18"
    with pytest.raises(at.AttributeError_) as e:
        at.canonical(d, {"gender": "other"})
    assert e.value.code == "bad_attribute" and e.value.allowed["gender"] == ["female", "male"]
    with pytest.raises(at.AttributeError_, match="glasses is not available for this model: no judge"):
        at.canonical(d, {"glasses": "yes"})
    with pytest.raises(at.AttributeError_, match="age_min must be an integer from 13 to 70"):
        at.canonical(d, {"age_min": "5"})
    with pytest.raises(at.AttributeError_, match="exclude each other"):
        at.canonical(d, {"age": "child", "age_min": "18"})
    with pytest.raises(at.AttributeError_, match=r"age=young \(under 30 years\) and age_min=30 exclude each other"):
        at.canonical(d, {"age": "young", "age_min": "30"})
    assert at.canonical(d, {"age": "adult", "age_min": "18"}) == {"age": "adult", "age_min": 18}


def test_age_with_age_min():
    d = synthetic()
    w = np.full((1, 8), 0.1, np.float32)
    np.testing.assert_array_equal(at.edit(d, w, {"age": "adult", "age_min": 18}), at.edit(d, w, {"age": "adult"}))
    assert at.projections(d, at.edit(d, w, {"age": "senior", "age_min": 40}))[1] == pytest.approx(1.0, abs=1e-5)
    d["attributes"][1]["age_min"]["lo"] = [x + 1 for x in d["attributes"][1]["age_min"]["lo"]]
    # young's top (0) is below the deepened table's 18 bound (0.85): the minimum age wins
    assert at.projections(d, at.edit(d, w, {"age": "young", "age_min": 18}))[1] == pytest.approx(-0.6 + 5 * 0.03 + 1,
                                                                                             abs=1e-5)


def test_edit_moves_to_the_bound_and_holds_the_rest():
    d = synthetic()
    w = np.full((1, 8), 0.1, np.float32)
    p0 = at.projections(d, w)
    for opt, k, target in [({"gender": "male"}, 0, -0.5), ({"age": "senior"}, 1, 1.0),
                           ({"expression": "smile"}, 2, 0.4), ({"age_min": 40}, 1, -0.6 + 0.03 * 27)]:
        e = at.edit(d, w, opt)
        assert e is not w and e.dtype == np.float32 and e.shape == w.shape
        p = at.projections(d, e)
        assert p[k] == pytest.approx(target, abs=1e-5)
        for j in range(3):
            if j != k:
                assert p[j] == pytest.approx(p0[j], abs=1e-5)
    inside = (np.asarray(d["attributes"][0]["normal"], np.float32) * 2).reshape(1, 8)
    assert at.edit(d, inside, {"gender": "female"}) is inside
    assert at.edit(d, w, {}) is w


def test_a_second_direction_of_one_option_constrains_only_its_values():
    d = synthetic()
    extra = np.array([0.2, -0.1, 0.4, 0.3, -0.5, 0.1, 0.6, -0.2])
    d["attributes"].append({"name": "neutral_vs_other", "option": "expression",
                            "normal": (extra / np.linalg.norm(extra)).tolist(),
                            "classes": {"neutral": {"lo": 0.3, "hi": None}}})
    assert at.allowed(d)["expression"] == ["smile", "neutral"] and "neutral_vs_other" not in at.allowed(d)
    w = np.full((1, 8), -0.1, np.float32)
    p0 = at.projections(d, w)
    assert p0[2] > -0.4 and p0[3] < 0.3
    p = at.projections(d, at.edit(d, w, {"expression": "neutral"}))
    assert p[2] == pytest.approx(-0.4, abs=1e-5) and p[3] == pytest.approx(0.3, abs=1e-5)
    assert p[0] == pytest.approx(p0[0], abs=1e-5)
    p = at.projections(d, at.edit(d, w, {"expression": "smile"}))
    assert p[2] == pytest.approx(0.4, abs=1e-5) and p[3] == pytest.approx(p0[3], abs=1e-5)  # held in place


def test_a_start_weight_lands_far_seeds_deeper():
    d = synthetic()
    d["attributes"][1]["classes"]["senior"]["start"] = {"weight": 1.0, "ref": 0.2}
    n = np.asarray(d["attributes"][1]["normal"])

    def landing(p):
        return at.projections(d, at.edit(d, (p * n).astype(np.float32)[None], {"age": "senior"}))[1]

    lo = d["attributes"][1]["classes"]["senior"]["lo"]
    assert landing(0.2) == pytest.approx(lo, abs=1e-5)
    assert landing(-0.3) == pytest.approx(lo + 0.5, abs=1e-5)
    assert landing(0.5) == pytest.approx(lo - 0.3, abs=1e-5)   # starts 0.3 above ref: lands 0.3 less deep
    w = ((lo + 0.5) * n).astype(np.float32)[None]
    assert at.edit(d, w, {"age": "senior"}) is w          # start + landing already past the bound: not moved
    d["attributes"][1]["classes"]["senior"]["start"] = {"weight": "1"}
    with pytest.raises(ValueError, match=r"senior.start must be \{weight, ref\}"):
        at.parse(d, 8)


def test_a_start_vector_reads_the_start_along_its_own_normal():
    d = synthetic()
    m = [0.0] * 7 + [1.0]
    d["attributes"][1]["classes"]["senior"]["start"] = {"weight": 2.0, "ref": 0.1, "normal": m}
    at.parse(d, 8)

    def landing(s7):
        w = np.zeros(8)
        w[7] = s7
        return at.projections(d, at.edit(d, w.astype(np.float32)[None], {"age": "senior"}))[1]

    # the bound lo = 1 applies to p + 2.0 * (w[7] - 0.1), whatever the seed's own age projection
    for s7 in (0.1, -0.15, 0.3):
        assert landing(s7) == pytest.approx(1.0 - 2.0 * (s7 - 0.1), abs=1e-5)
    assert landing(-0.15) == pytest.approx(1.5, abs=1e-5)
    d["attributes"][1]["classes"]["senior"]["start"]["normal"] = [1.0, 2.0]
    with pytest.raises(ValueError, match=r"senior.start.normal must be 8 finite numbers"):
        at.parse(d, 8)


def test_move_vectors_give_the_smallest_move_in_their_metric():
    d = synthetic()
    rng = np.random.default_rng(3)
    A = rng.normal(size=(8, 2))
    M = np.eye(8) + A @ A.T
    N = np.asarray([a["normal"] for a in d["attributes"]])
    for a in d["attributes"]:
        a["move"] = np.linalg.solve(M, a["normal"]).tolist()
    at.parse(d, 8)
    w = np.full((1, 8), 0.1, np.float32)
    e = at.edit(d, w, {"age": "senior"})
    p0, p = at.projections(d, w), at.projections(d, e)
    assert p[1] == pytest.approx(1.0, abs=1e-5) and p[0] == pytest.approx(p0[0], abs=1e-5)
    assert p[2] == pytest.approx(p0[2], abs=1e-5)
    # the closed form of min delta^T M delta s.t. N delta = r
    r = np.array([0.0, 1.0 - p0[1], 0.0])
    Mi = np.linalg.inv(M)
    want = Mi @ N.T @ np.linalg.solve(N @ Mi @ N.T, r)
    assert np.abs((e - w)[0] - want).max() < 1e-6
    d["attributes"][2]["move"] = [0.0] * 7
    with pytest.raises(ValueError, match=r"expression.move must be 8 finite numbers"):
        at.parse(d, 8)


def test_solve_matches_numpy():
    g = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]]
    assert np.allclose(at.solve(g, [1.0, 2.0, 3.0]), np.linalg.solve(np.array(g), [1.0, 2.0, 3.0]), atol=1e-14)


def test_shipped_file_is_listed_with_its_sha256():
    man = mf.load(FFHQ)
    entry = man["attributes"]
    assert entry["file"] == at.FILE
    assert mf.sha256_file(FFHQ / at.FILE) == entry["sha256"]
    assert next(f for f in man["files"] if f["path"] == at.FILE)["sha256"] == entry["sha256"]
    data = at.load(FFHQ, man)
    assert [a["name"] for a in data["attributes"]] == ["gender", "age", "expression", "neutral_vs_other"]
    assert at.allowed(data)["expression"] == ["smile", "neutral"]  # neutral_vs_other serves expression=neutral
    assert "glasses" not in at.allowed(data) and "glasses" in data["unavailable"]
    for a in data["attributes"]:
        assert abs(np.linalg.norm(a["normal"]) - 1) < 1e-9
    # a tampered file is refused
    bad = dict(man["attributes"], sha256="0" * 64)
    with pytest.raises(ValueError, match="does not match"):
        at.load(FFHQ, dict(man, attributes=bad))


def test_vectors_bit_exact():
    """vectors/attributes.json is also checked by vitest (test/shared/attributes.test.ts): both reproduce it."""
    vec = json.loads(VECTORS.read_text())
    man = mf.load(FFHQ)
    assert vec["attributes_sha256"] == man["attributes"]["sha256"]
    data = at.load(FFHQ, man)
    moved = 0
    for c in vec["cases"]:
        w = np.frombuffer(base64.b64decode(c["w_b64"]), "<f4").reshape(1, -1)
        assert at.projections(data, w) == c["projections"]
        for e in c["edits"]:
            o = at.canonical(data, at.parse_query(e["query"]))
            assert at.query_string(o) == e["canonical"]
            out = at.edit(data, w, o)
            assert (out is not w) == e["moved"]
            assert hashlib.sha256(out.astype("<f4").tobytes()).hexdigest() == e["sha256"], (c["seed"], e["query"])
            moved += e["moved"]
    assert moved > len(vec["cases"]) * len(vec["cases"][0]["edits"]) / 4


def test_vectors_w_is_the_pipelines_w():
    """The vectors' input w is what seedface.face_render draws for the seed (fp32 mapping + truncation)."""
    pytest.importorskip("onnxruntime")
    if not (FFHQ / "mapping.onnx").exists():
        pytest.skip("models/ffhq/mapping.onnx is not committed (npm run models:ffhq)")
    from seedface.pipeline.face import FaceRenderer

    vec = json.loads(VECTORS.read_text())
    r = FaceRenderer(FFHQ, precisions=("fp32",))
    c = vec["cases"][0]
    w = r.style(c["seed"], c["psi"], "fp32")
    assert np.array_equal(w.reshape(-1), np.frombuffer(base64.b64decode(c["w_b64"]), "<f4"))
