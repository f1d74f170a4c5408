"""Monte Carlo finite-width measurements (theory/finite_width.py) on tiny configurations."""
import math

import numpy as np
import pytest

import theory
from theory import finite_width as F
from theory import variance as V
from theory.stats import z_test


def test_sphere_pair():
    X = F.sphere_pair(6, 0.3, seed=2)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)
    assert X[0] @ X[1] == pytest.approx(0.3, abs=1e-12)
    with pytest.raises(ValueError):
        F.sphere_pair(1, 0.0)
    with pytest.raises(ValueError):
        F.sphere_pair(3, 1.5)


def test_needed_width_one_layer_matches_exact_variance():
    """L = 1: Θ_d is an average of d iid terms, so the (1−δ)-quantile of |error| is
    ≈ z_{δ/2} sqrt(V/d) and the needed width ≈ z² V/tol² (CLT); the measured value must
    fall in a generous band around it (order-statistic CI widened by 30 % for the CLT)."""
    a = theory.Architecture(depth=1, p=0.0, pruned="none")
    X = F.sphere_pair(5, 0.5, seed=0)
    nw = F.needed_width(a, X, eps=0.1, delta=0.2, widths=(32,), n_draws=600, seed=3)
    Vx = V.neuron_moments(a, X).variance[0, 1]
    pred = float(V.required_width(Vx, 2 * 0.1, 0.2))
    assert nw.ci[0] / 1.3 <= pred <= nw.ci[1] * 1.3
    assert nw.tolerance == pytest.approx(0.2)
    q = nw.quantiles[0]
    assert q.ci_low <= q.quantile <= q.ci_high and q.n == 600


def test_slack_table_tiny():
    rows = F.slack_table(depths=(1,), ps=(0.0, 0.5), widths=(16,), n_draws=40)
    assert [r["p"] for r in rows] == [0.0, 0.5]
    for r in rows:
        assert r["arora"] == pytest.approx(1e4 * math.log(10))
        assert r["slack_arora"] == pytest.approx(r["arora"] / r["measured"])
    assert rows[1]["yang_wang"] == pytest.approx(2 * rows[1]["arora"])


def test_diagonal_log_ratio_one_layer_exact():
    """L = 1: E[Θ²]/E[Θ]² = 1 + V/(d (E T)²) exactly."""
    a = theory.Architecture(depth=1, p=0.5, rescale=True)
    x = F.sphere_pair(8, 0.0, seed=1)[:1]
    d = 16
    r = F.diagonal_log_ratio(a, x[0], d, n_draws=800, seed=9)
    m = V.neuron_moments(a, x)
    exact = math.log(1 + m.variance[0, 0] / (d * m.mean[0, 0] ** 2))
    assert not z_test(r.value, exact, r.stderr, alpha=1e-3).reject


def test_beta_and_depth_law_on_synthetic_records():
    assert F.beta(4, 64, 0.5, False) == pytest.approx(4 / 64)
    assert F.beta(4, 64, 0.5, True) == pytest.approx(4 / 32)
    recs = []
    rng = np.random.default_rng(0)
    for p in (0.0, 0.5):
        for L in (1, 2, 4):
            for d in (32, 64, 128):
                b = F.beta(L, d, p, True)             # truth: slope 3 in the effective β
                recs.append(F.LogRatio(L, d, p, 3 * b + rng.normal(0, 1e-3), 1e-3, 100))
    fits = {(f.p, f.effective): f for f in F.depth_law(recs)}
    assert fits[(0.5, True)].fit.contains(3.0)
    assert abs(fits[(0.5, True)].z_vs_dense) < 4
    assert abs(fits[(0.5, False)].z_vs_dense) > 10       # nominal β: slope doubled
    assert fits[(0.0, False)].z_vs_dense is None


# ----------------------------------------------------------------------------- robust tools
def test_weighted_fit_recovers_parameters_and_chi2_rejects_a_wrong_model():
    rng = np.random.default_rng(4)
    L = np.repeat([1.0, 2, 4, 8], 3)
    d = np.tile([64.0, 128, 256], 4)
    sig = np.full(L.size, 2e-3)
    y = (2.0 + 3.5 * L) / d - 30 / d ** 2 + rng.normal(0, sig)
    A = np.stack([1 / d, L / d, 1 / d ** 2], 1)
    f = F.weighted_fit(A, y, sig, ("a", "b", "c"))
    assert f.dof == 9 and f.p_value > 1e-3
    assert abs(f.value("b") - 3.5) < 4 * f.stderr("b")
    # the single-β line cannot describe a depth-independent 1/d term: χ² rejects it
    g = F.weighted_fit(np.stack([np.ones_like(d), L / d], 1), y, sig, ("a", "c"))
    assert g.p_value < 1e-6 and g.scale > 1
    with pytest.raises(ValueError):
        F.weighted_fit(A, y, -sig, ("a", "b", "c"))
    with pytest.raises(ValueError):
        F.weighted_fit(A, y, sig, ("a", "b"))


def test_homogeneity_and_wilson():
    chi2, dof, p = F.homogeneity_test([1.0, 1.0, 1.0], [0.1, 0.2, 0.3])
    assert chi2 == 0 and dof == 2 and p == pytest.approx(1.0)
    assert F.homogeneity_test([0.0, 1.0], [0.1, 0.1])[2] < 1e-10
    lo, hi = F.wilson_interval(90, 100)
    assert lo < 0.9 < hi and lo == pytest.approx(0.8256, abs=1e-3) and hi == pytest.approx(0.9448, abs=1e-3)
    assert F.wilson_interval(0, 10)[0] == 0.0
    f, lo, hi = F.coverage([0.1, -0.3, 0.05, 0.2], 0.2)
    assert f == 0.75 and lo < 0.75 < hi
    with pytest.raises(ValueError):
        F.wilson_interval(5, 3)


def test_log_ratio_bootstrap_matches_the_delta_method_on_light_tails():
    rng = np.random.default_rng(5)
    y = 2 + 0.3 * rng.standard_normal(4000)
    v, se = F.log_ratio_bootstrap(y, n_boot=300, seed=1)
    assert v == pytest.approx(np.log(np.mean(y * y) / np.mean(y) ** 2))
    m1, m2 = y.mean(), (y * y).mean()
    g = np.array([-2 / m1, 1 / m2])
    se_delta = float(np.sqrt(g @ np.cov(np.stack([y, y * y])) @ g / y.size))
    assert se == pytest.approx(se_delta, rel=0.2)
    with pytest.raises(ValueError):
        F.log_ratio_bootstrap(y[:5])
