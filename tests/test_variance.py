"""Exact one-hidden-layer variance (theory/variance.py): symbolic identities, agreement with
the limit kernel, and Monte Carlo with a negative control."""
import numpy as np
import pytest
import sympy

import theory
from theory import variance as V
from theory.finite_width import sphere_pair
from theory.stats import variance_test


def arch(**kw):
    return theory.Architecture(depth=1, **kw)


@pytest.fixture(scope="module")
def wide_mask_rescaled():
    return V.symbolic_moments(arch(p=V.P, rescale=True))


def test_affine_in_inverse_keep_probability(wide_mask_rescaled):
    law = V.sparsity_law(wide_mask_rescaled.variance)
    assert law.affine and law.degree == 1
    dense = V.symbolic_moments(arch(p=0.0, pruned="none"))
    assert sympy.simplify(law.A - dense.variance) == 0          # A = dense variance
    assert sympy.simplify(law.B - dense.second) == 0            # B = E[T_dense²]
    # B at θ = 0, unit norms: E[T²] = 16 on the diagonal
    assert sympy.simplify(law.B.subs({V.THETA: 0, V.NORM_X: 1, V.NORM_Y: 1}) - 16) == 0


def test_p_to_zero_reduces_to_dense(wide_mask_rescaled):
    dense = V.symbolic_moments(arch(p=0.0, pruned="none"))
    for a in (arch(p=V.P, rescale=True), arch(p=V.P), arch(p=V.P, model="variance")):
        m = V.symbolic_moments(a)
        assert sympy.simplify(m.variance.subs(V.P, 0) - dense.variance) == 0
        assert sympy.simplify(m.mean.subs(V.P, 0) - dense.mean) == 0


def test_variance_model_scalings():
    dense = V.symbolic_moments(arch(p=0.0, pruned="none"))
    resc = V.symbolic_moments(arch(p=V.P, rescale=True, model="variance"))
    assert sympy.simplify(resc.variance - dense.variance) == 0   # it *is* the dense net
    unr = V.symbolic_moments(arch(p=V.P, model="variance"))
    assert sympy.simplify(unr.variance - (1 - V.P) ** 2 * dense.variance) == 0


def test_diagonal_exact_in_d0():
    dm = V.diagonal_moments(arch(p=V.P, rescale=True))
    law = V.sparsity_law(dm.variance)
    assert sympy.simplify(dm.mean - 2 * V.NORM_X ** 2) == 0
    assert law.A == 12 * V.NORM_X ** 4 and law.B == 16 * V.NORM_X ** 4 and law.C == 16 * V.X4
    # against enumeration of the 2^d0 mask rows
    X = sphere_pair(5, 0.2, seed=1)
    for p in (0.3, 0.8):
        num = V.neuron_moments(arch(p=p, rescale=True), X, method="exact")
        val = float(dm.variance.subs({V.P: p, V.NORM_X: 1, V.X4: float(np.sum(X[0] ** 4))}))
        assert num.variance[0, 0] == pytest.approx(val, rel=1e-12)


def test_width_growth():
    a = arch(p=V.P, rescale=True)
    at = {V.THETA: sympy.pi / 3, V.NORM_X: 1, V.NORM_Y: 1}
    k, _ = V.width_growth_in_r(V.required_width(V.symbolic_moments(a).variance.subs(at)))
    assert k == 1                                                 # wide input: linear
    k2, lead = V.width_growth_in_r(V.required_width(V.diagonal_moments(a).variance.subs(V.NORM_X, 1),
                                                    rule="chebyshev"))
    assert k2 == 2 and sympy.simplify(lead - 16 * V.X4 / (V.DELTA * V.EPS ** 2)) == 0


def test_numeric_matches_symbolic_and_limit():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 6))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X[1] *= 0.6
    for model in ("mask", "variance"):
        for resc in (True, False):
            for pr in ("all", "all_but_input", "all_but_output", "none"):
                a = arch(p=0.4 if pr != "none" else 0.0, rescale=resc, model=model, pruned=pr)
                m = V.neuron_moments(a, X)
                np.testing.assert_allclose(m.mean, theory.limit_ntk(a, X), rtol=1e-12, atol=1e-14)
                if (model, resc, pr) in (("mask", True, "all_but_input"), ("variance", False, "all")):
                    s = V.symbolic_moments(a.with_(p=V.P) if pr != "none" else a)
                    G = X @ X.T
                    nrm = np.sqrt(np.diag(G))
                    th = np.arccos(np.clip(G[0, 2] / (nrm[0] * nrm[2]), -1, 1))
                    val = float(s.variance.subs({V.THETA: th, V.NORM_X: nrm[0], V.NORM_Y: nrm[2], V.P: 0.4}))
                    assert m.variance[0, 2] == pytest.approx(val, rel=1e-10)


def test_variance_polynomial():
    X = sphere_pair(4, 0.5, seed=3)
    a = arch(p=0.5, rescale=True)
    pol = V.variance_polynomial(a, X)
    for p in (0.2, 0.5, 0.9):
        num = V.neuron_moments(a.with_(p=p), X, method="exact")
        assert float(pol.variance.subs(V.P, p)) == pytest.approx(num.variance[0, 1], rel=1e-10)
    law = V.sparsity_law(pol.variance)
    assert law.degree == 2 and not law.affine and float(law.powers[2]) > 0
    ex = V.variance_polynomial(a, np.array([[1, 0], [1, 1]]), exact_arithmetic=True)
    fl = V.variance_polynomial(a, np.array([[1.0, 0.0], [1.0, 1.0]]))
    assert float(ex.variance.subs(V.P, 0.3)) == pytest.approx(float(fl.variance.subs(V.P, 0.3)), rel=1e-12)


def test_required_width_rules():
    assert V.required_width(4, 0.5, 0.25, rule="chebyshev") == 64
    z = 1.959963984540054
    assert float(V.required_width(1, 0.1, 0.05)) == pytest.approx(z ** 2 / 0.01, rel=1e-9)
    with pytest.raises(ValueError):
        V.required_width(1, rule="hoeffding")
    with pytest.raises(ValueError):
        V.neuron_moments(theory.Architecture(depth=2), np.eye(2))


# Monte Carlo: d·Var(Θ_d) against V, family-wise alpha = 1e-3 over all tests below
ALPHA, WIDTH, DRAWS = 1e-3, 64, 1500
MC = [("mask", True, 0.5, 4), ("mask", True, 0.5, 32), ("variance", False, 0.5, 4)]
ENTRIES = [(0, 0), (0, 1)]
M_TESTS = 2 * len(MC) * len(ENTRIES)


@pytest.mark.parametrize("model,resc,p,d0", MC)
def test_monte_carlo_variance(model, resc, p, d0):
    a = arch(p=p, rescale=resc, model=model)
    X = sphere_pair(d0, 0.3, seed=d0)
    seed0 = 1_000_000 * (MC.index((model, resc, p, d0)) + 1)
    th = np.stack([theory.empirical_ntk(a, X, WIDTH, seed0 + s) for s in range(DRAWS)])
    good = V.neuron_moments(a, X).variance
    wrong = V.neuron_moments(a.dense(), X).variance          # negative control: dense V
    for i, j in ENTRIES:
        y = th[:, i, j] * np.sqrt(WIDTH)
        t = variance_test(y, good[i, j], alpha=ALPHA, m=M_TESTS)
        assert not t.reject, (model, resc, p, d0, (i, j), t)
        c = variance_test(y, wrong[i, j], alpha=ALPHA, m=M_TESTS)
        assert c.reject, ("control", model, (i, j), c)


def test_monte_carlo_input_mask_correction():
    """At d0 = 4 the wide-input V (mask-row fluctuations dropped) must be rejected."""
    a = arch(p=0.5, rescale=True)
    X = sphere_pair(4, 0.3, seed=4)
    th = np.stack([theory.empirical_ntk(a, X, WIDTH, 7_000_000 + s) for s in range(DRAWS)])
    y = th[:, 0, 1] * np.sqrt(WIDTH)
    wide = V.neuron_moments(a, X, method="wide").variance[0, 1]
    assert variance_test(y, wide, alpha=ALPHA, m=M_TESTS).reject
