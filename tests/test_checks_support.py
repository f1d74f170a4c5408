"""The statistical machinery of checks/_support.py: stratified designs from --seed
(finding 5), exact comparison of degenerate entries (finding 7), the a + b/d fit that
removes a finite-width bias (finding 1), Student-t critical values (finding 4) and the
near control's power (finding 2)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from checks import _support as S


@pytest.fixture
def seed_restore():
    old = S.RUN.seed
    yield
    S.RUN.seed = old


def test_design_varies_with_seed_and_covers_levels(seed_restore):
    firsts, covered = [], set()
    for seed in range(20):
        S.RUN.seed = seed
        depths = [S.Design("1c", k, 2).choice("depth", [1, 2, 3]) for k in range(2)]
        firsts.append(depths[0])
        covered |= set(depths)
        assert depths[0] != depths[1]        # two configurations never share a stratum
        p = S.Design("1c", 0, 2).uniform("p", 0.3, 0.7)
        assert 0.3 <= p <= 0.7 and (p * 256) % 1 != 0   # non-dyadic
    assert covered == {1, 2, 3}
    assert len(set(firsts)) == 3             # the first configuration is not always the simplest
    S.RUN.seed = 0
    a = S.Design("1c", 0, 2).uniform("p", 0.3, 0.7)
    S.RUN.seed = 1
    assert S.Design("1c", 0, 2).uniform("p", 0.3, 0.7) != a


def test_degenerate_entry_is_compared_exactly():
    A = np.random.default_rng(0).standard_normal((50, 2, 2)) + 3.0
    A[:, 0, 1] = A[:, 1, 0] = 0.0                   # identically zero across draws
    es = S.mc_entry_stats([(64, A)], S.upper_entries(2), [True] * 3, np.full((2, 2), 3.0))
    P = np.array([[3.0, -1.3e-16], [-1.3e-16, 3.0]])
    r = es.test(P, alpha=1e-3, m=3)
    assert not r.reject and r.z[1] == 0.0
    P[0, 1] = P[1, 0] = 1e-3
    assert es.test(P, alpha=1e-3, m=3).reject


def test_two_width_fit_removes_a_one_over_d_bias():
    # synthetic draws with mean a + b/d (b/d = 2 % at d = 128): the single-width test
    # rejects the limit a, the a + b/d fit does not, and its variance is 4 v2 + v1
    rng = np.random.default_rng(1)
    a, b, n = 1.0, 2.56, 40000
    S1 = (a + b / 64 + 0.1 * rng.standard_normal(n)).reshape(n, 1, 1)
    S2 = (a + b / 128 + 0.1 * rng.standard_normal(n)).reshape(n, 1, 1)
    P = np.array([[a]])
    one = S.mc_entry_stats([(128, S2)], [(0, 0)], [True], P).test(P, alpha=1e-4, m=1)
    assert one.reject
    fit = S.mc_entry_stats([(64, S1), (128, S2)], [(0, 0)], [False], P)
    assert not fit.test(P, alpha=1e-4, m=1).reject
    assert fit.se[0] == pytest.approx(math.sqrt((4 * 0.01 + 0.01) / n), rel=0.03)
    assert fit.bias[0] == pytest.approx(b / 128, abs=5 * fit.bias_se[0])


def test_student_t_critical_value_and_near_control_power():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 1, 1))
    es = S.mc_entry_stats([(1, x)], [(0, 0)], [True], np.ones((1, 1)))
    r = es.test(np.zeros((1, 1)), alpha=1e-3, m=4)
    assert r.crit == pytest.approx(st.t.isf(1e-3 / 4 / 2, 299))
    # the near shift is the 1 − 5e-7 power effect, 1.7–1.9× the 80 % effect here
    assert 1.5 < r.near / r.detect < 2.0
    # simulated: at the near shift the test rejects (2000 replications, none may miss;
    # each misses with probability ≤ 5e-7)
    miss = 0
    for _ in range(2000):
        y = rng.standard_normal((300, 1, 1))
        e2 = S.mc_entry_stats([(1, y)], [(0, 0)], [True], np.ones((1, 1)))
        r2 = e2.test(np.zeros((1, 1)), alpha=1e-3, m=4)
        miss += not e2.test(np.full((1, 1), r2.near), alpha=1e-3, m=4).reject
    assert miss == 0


def test_sized_estimates_reach_the_target_from_an_independent_pilot():
    # issue 13 (power): the final draws are sized by a pilot from other streams, so that
    # the detectable effect lands near the target; n is clipped to [n_min, n_max]
    import theory
    X = np.random.default_rng(3).standard_normal((3, 8))
    seed = np.random.SeedSequence([5, 6])
    alpha, m = 8e-5, 12
    # depth 1: every entry exact -> one width
    arch = theory.Architecture(depth=1, activation="relu", p=0.4, pruned="all")
    lim = theory.limit_ntk(arch, X, "exact")
    sz = S.Sizing(exact_width=16, fit_widths=(8, 32), target=0.03, pilot=200, n_min=100,
                  n_max=50000)
    es = S.sized_estimates(arch, X, seed, S.upper_entries(3), lim, sizing=sz, alpha=alpha, m=m)
    assert es.widths == (16,) and es.n[0] == es.sizing[1][0] == min(max(es.sizing[2], 100), 50000)
    r = es.test(lim, alpha=alpha, m=m)
    assert 0.8 * sz.target < r.detect < 1.25 * sz.target
    pilot = S.draw_ntks(arch, X, 16, 200, np.random.SeedSequence(
        seed.entropy, spawn_key=(S._PILOT_TAG, 16)))
    final = S.draw_ntks(arch, X, 16, es.n[0], np.random.SeedSequence(
        seed.entropy, spawn_key=(S._FINAL_TAG, 16)))
    assert np.mean(np.isin(final[:200, 0, 0], pilot[:, 0, 0])) < 0.05   # independent streams
    # a lax target asks for fewer than n_min draws: n_min is used
    lax = S.sized_estimates(arch, X, seed, S.upper_entries(3), lim, alpha=alpha, m=m,
                            sizing=S.Sizing(16, (8, 32), target=0.5, pilot=200, n_min=300))
    assert lax.n == (300,)
    # depth 2, off-diagonal entries: the a + b/d fit at (d1, d2) with n_d1 = 2 n_d2, capped
    arch2 = theory.Architecture(depth=2, activation="erf", p=[0, 0.5, 0], pruned=[1])
    lim2 = theory.limit_ntk(arch2, X)
    es2 = S.sized_estimates(arch2, X, seed, S.upper_entries(3), lim2, alpha=alpha, m=m,
                            sizing=S.Sizing(16, (8, 32), target=0.001, pilot=50,
                                            n_min=10, n_max_fit=400))
    assert es2.widths == (8, 32) and es2.n == (800, 400) and bool(np.all(es2.extrapolated))
