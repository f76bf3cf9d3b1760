"""seedface.train.identity_metric: the identity-aware move vectors of the attribute edit (issue 16)."""
import numpy as np

from seedface.train import identity_metric as im


def test_descriptor_map_recovers_a_planted_linear_map():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(600, 12))
    B = rng.normal(size=(5, 12))
    D = W @ B.T + 0.3 + 0.01 * rng.normal(size=(600, 5))
    got, info = im.descriptor_map(W, D, np.arange(600) % 5 == 4)
    assert np.abs(got - B).max() < 0.02 and info["held_out_r2"] > 0.99


def test_attribute_axes_are_orthonormal_and_span_the_predictors():
    rng = np.random.default_rng(1)
    D = rng.normal(size=(500, 6))
    y1, y2 = D @ np.array([1.0, 0, 0, 0, 0, 0]), D @ np.array([0, 1.0, 1.0, 0, 0, 0])
    Q = im.attribute_axes(D, [y1, y2])
    assert np.allclose(Q @ Q.T, np.eye(2), atol=1e-9)
    assert np.abs(Q[:, 3:]).max() < 1e-3            # nothing outside the span of the two predictors


def test_move_vectors_avoid_the_identity_directions_but_not_the_attribute_axes():
    # w in 3-d; the descriptor sees w[1] (identity) and w[2] (an attribute axis, removed by P)
    B = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    axes = np.array([[0.0, 1.0]])                   # descriptor axis 1 carries the attribute
    n = np.array([[1.0, 1.0, 1.0]]) / np.sqrt(3)
    U, info = im.move_vectors(n, B, axes, lam=8.0)
    u = U[0] / (n[0] @ U[0])                         # a unit of projection along the move
    assert abs(u[0] - u[2]) < 1e-12 and u[1] < 0.2 * u[0]   # the identity coordinate moves least
    d = info["directions"][0]
    assert d["identity_per_unit_move"] < 0.2 * d["identity_per_unit_normal"]
    # lam = 0: the Euclidean move (the normal itself)
    U0, _ = im.move_vectors(n, B, axes, lam=0.0)
    assert np.allclose(U0, n)
