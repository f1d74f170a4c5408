"""The float64 dense Gram route (docs/guide/dataset_scale.md): the remembered
trigonometric values (``NumpyBackend.remember_trig``, no ``sin``/``cos`` in any layer)
agree with the generic ``sin``/``cos`` evaluation of the same recursion and with 30-digit
mpmath, and threads over tiles give bit-identical matrices."""
from __future__ import annotations

import numpy as np
import pytest

import theory
from theory.backends import NUMPY
from theory.recursion import input_state, pair_angles, run_recursion, unit_rows


def _hard_inputs() -> np.ndarray:
    """Rows whose pairs cover every branch: ρ within 1e-9 of ±1, φ < 1 (ρ < −0.54),
    θ < 1/4, ρ near 0, exact duplicates, an exact negation and a zero row."""
    rng = np.random.default_rng(11)
    x, e = rng.standard_normal(6), rng.standard_normal(6)
    rows = [x, x + 1e-9 * e, -x + 1e-9 * e, -x, 2.5 * x, x + 0.1 * e, -x + 0.3 * e,
            rng.standard_normal(6), rng.standard_normal(6), np.zeros(6)]
    return np.array(rows)


def _generic(arch, X):
    """The same recursion on the angles of ``input_state`` without remembered trig values
    (every layer's ``cos``/``sin`` from ``np.cos``/``np.sin`` of the angle)."""
    v, th, ph = input_state(NUMPY, X)
    NUMPY.forget_trig()
    with np.errstate(all="ignore"):
        r = run_recursion(NUMPY, arch, v[:, None], v[None, :], th, ph)
    return np.asarray(r.ntk), np.broadcast_to(r.nngp, th.shape)


@pytest.mark.parametrize("act", ["relu", "relu2", "erf"])
def test_gram_route_matches_generic_path_and_mpmath(act):
    X = _hard_inputs()
    arch = theory.Architecture(depth=3, activation=act)
    res = theory.limit_kernels(arch, X, input_layer="wide", tile=4, workers=2)
    Kg, Ng = _generic(arch, X)
    Km = np.array(theory.limit_ntk(arch, X, "wide", backend="mpmath", dps=30), dtype=float)
    Nm = np.array(theory.limit_nngp(arch, X, "wide", backend="mpmath", dps=30), dtype=float)
    for K, N in [(res.ntk, res.nngp), (Kg, Ng)]:
        for A, M in [(K, Km), (N, Nm)]:
            # relative to the row/column scale: erf kernels cross zero
            s = np.sqrt(np.outer(np.abs(np.diag(M)), np.abs(np.diag(M))))
            nz = s > 0
            assert np.max(np.abs(A - M)[nz] / s[nz]) <= 1e-13
            assert np.all(A[~nz] == M[~nz])
            if act != "erf":  # positive kernels: entrywise relative accuracy too
                pos = M > 0
                assert np.max(np.abs(A - M)[pos] / M[pos]) <= 1e-13


def test_arccos_triplet_with_remembered_trig_matches_sin_cos():
    theta = np.concatenate([np.linspace(0, np.pi, 2001), [1e-9, 0.2, 0.26, np.pi - 1e-9,
                                                          np.pi - 0.99, np.pi - 1.01]])
    phi = np.pi - theta
    trig = (np.cos(theta), np.sin(theta), 2 * np.sin(theta / 2) ** 2)
    for n in (1, 2):
        ref = NUMPY.arccos_triplet(n, theta, phi)
        got = NUMPY.arccos_triplet(n, theta, phi, trig=trig)
        for a, b in zip(got, ref):
            scale = np.maximum(np.abs(b), 1e-300)
            assert np.max(np.abs(a - b) / scale) < 1e-13


def test_pair_angles_trig_values():
    X = _hard_inputs()
    _, U, _ = unit_rows(X)
    th, ph, (c, s, vers) = pair_angles(U, U, diagonal=True, trig=True)
    th0, ph0 = pair_angles(U, U, diagonal=True)
    assert np.array_equal(th, th0) and np.array_equal(ph, ph0)
    np.testing.assert_allclose(c, np.cos(th), rtol=0, atol=1e-15)
    # reference sin from the accurate one of θ, φ (sin θ of a θ near π has an absolute
    # error ~1e-16: π is not a float64 number)
    np.testing.assert_allclose(s, np.where(th < np.pi / 2, np.sin(th), np.sin(ph)), rtol=1e-14,
                               atol=1e-300)
    np.testing.assert_allclose(vers, 2 * np.sin(th / 2) ** 2, rtol=1e-14, atol=1e-300)
    assert np.all(np.diag(c)[:-1] == 1) and np.all(np.diag(s)[:-1] == 0)


@pytest.mark.parametrize("act", ["relu", "erf"])
def test_threads_are_bit_identical(act):
    X = np.random.default_rng(5).standard_normal((300, 16))
    arch = theory.Architecture(depth=3, activation=act)
    K1 = theory.limit_ntk(arch, X, "wide", tile=64, workers=1)
    for w in (2, 3):
        assert np.array_equal(theory.limit_ntk(arch, X, "wide", tile=64, workers=w), K1)
    Kx1 = theory.limit_ntk(arch, X[:70], "wide", X2=X, tile=64, workers=1)
    assert np.array_equal(theory.limit_ntk(arch, X[:70], "wide", X2=X, tile=64, workers=2), Kx1)
