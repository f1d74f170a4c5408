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
