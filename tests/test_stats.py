"""The statistical core (theory.stats) and the verdict records (theory.verdicts)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from theory import stats as S
from theory.verdicts import ClaimRecord, VerdictTable, render_table


def test_critical_values_normal_and_t():
    assert S.critical_value(0.05) == pytest.approx(1.959963984540054)
    assert S.critical_value(0.05, m=10) == pytest.approx(st.norm.isf(0.0025))
    assert S.critical_value(0.01, df=5) == pytest.approx(st.t.isf(0.005, 5))
    with pytest.raises(ValueError, match="df"):
        S.critical_value(0.05, df=0)
    with pytest.raises(ValueError, match="alpha"):
        S.critical_value(1.5)


def test_detectable_effect_normal_closed_form():
    # normal test: δ/se solves Φ̄(c − δ) + Φ(−c − δ) = power; the second tail is ~1e-10 here
    c = st.norm.isf(1e-4 / 2)
    d = S.detectable_effect(2.0, alpha=1e-4, power=0.8)
    assert d == pytest.approx(2.0 * (c + st.norm.isf(0.2)), rel=1e-6)
    assert S.detectable_effect(0.0, alpha=1e-4) == 0.0


def test_detectable_effect_has_the_stated_power_by_simulation():
    # 3000 replications: the rejection rate at the detectable effect is 0.8 ± 0.029 (4 sd;
    # a false failure has probability 6e-5)
    rng = np.random.default_rng(11)
    n = 40
    se = 1 / math.sqrt(n)
    de = S.detectable_effect(se, alpha=0.01, df=n - 1)
    rej = np.mean([S.mean_test(rng.standard_normal(n) + de, 0.0, alpha=0.01, power=None).reject
                   for _ in range(3000)])
    assert abs(rej - 0.8) < 4 * math.sqrt(0.8 * 0.2 / 3000)
    # negative control: at half the effect the power is far below 0.8
    rej_half = np.mean([S.mean_test(rng.standard_normal(n) + de / 2, 0.0, alpha=0.01,
                                    power=None).reject for _ in range(1000)])
    assert rej_half < 0.5


def test_mean_test_uses_student_t_and_is_calibrated():
    # Gaussian data, n = 10: the t test's false-alarm rate at alpha = 0.05 is 0.05 (a
    # normal critical value would give 0.08); 6000 replications give sd 0.0028, the
    # bound is 4 sd (a false failure has probability 6e-5)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6000, 10))
    rates = np.mean([S.mean_test(r, 0.0, alpha=0.05, power=None).reject for r in x])
    assert abs(rates - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 6000)
    r = S.mean_test(x[0], 0.0, alpha=0.05)
    assert r.df == 9 and r.critical == pytest.approx(st.t.isf(0.025, 9))


def test_draws_for_effect_inverts_detectable_effect():
    n = S.draws_for_effect(1.0, 0.1, alpha=1e-4)
    assert S.detectable_effect(1 / math.sqrt(n), alpha=1e-4, df=n - 1) <= 0.1
    assert S.detectable_effect(1 / math.sqrt(0.9 * n), alpha=1e-4, df=int(0.9 * n) - 1) > 0.1


def test_degenerate_sample_is_compared_exactly():
    # an entry identically zero across draws: no standard error, compare up to rounding
    ok = S.mean_test(np.zeros(10), -1.3e-16, alpha=1e-3, scale=2.0)
    assert not ok.reject and ok.statistic == 0.0
    bad = S.mean_test(np.zeros(10), 1e-3, alpha=1e-3, scale=2.0)
    assert bad.reject and math.isinf(bad.statistic)
    with pytest.raises(ValueError, match="NaN"):
        S.mean_test(np.array([1.0, np.nan]), 0.0, alpha=1e-3)


def test_verdict_rules():
    r = ClaimRecord("x", "a claim", "|t|", resolution=0.05)
    assert r.verdict == "inconclusive"            # nothing observed
    r.observe(1.0, 3.0, False, "cmp", detectable=0.02)
    assert r.verdict == "inconclusive"            # no control yet
    r.control(10.0, 3.0, True, "gross")
    assert r.verdict == "holds"
    r.control(4.0, 3.0, True, "near", near=True)
    assert r.near_worst == 4.0 and r.verdict == "holds"
    r.observe(1.0, 3.0, False, "cmp2", detectable=0.08)
    assert r.too_coarse and r.verdict == "inconclusive"   # power below the resolution
    r2 = ClaimRecord("y", "b", "|t|")
    r2.observe(5.0, 3.0, True, "cmp")
    r2.control(9.0, 3.0, True, "gross")
    assert r2.verdict == "refuted" and not r2.matches_expectation
    r2.expect = "refuted"
    assert r2.matches_expectation
    r3 = ClaimRecord("z", "c", "|err|", stochastic=False, proved=True)
    r3.observe(0.0, 0.0, False, "sympy")
    assert r3.verdict == "proved" and r3.matches_expectation
    miss = ClaimRecord("w", "d", "|t|")
    miss.observe(1.0, 3.0, False, "cmp")
    miss.control(1.0, 3.0, False, "near", near=True)
    assert miss.verdict == "inconclusive"         # a control that does not reject


def test_table_and_json():
    t = VerdictTable()
    r = t.record("1", "claim one", "|z|", kind="mean")
    r.observe(1.5, 4.0, False, "e", detectable=0.012)
    r.control(40.0, 4.0, True, "wrong exponent")
    lines = render_table(t)
    assert any("claim one" in l and "holds" in l and "1.2%" in l for l in lines)
    js = t.to_json(seed=3)
    assert js[0]["verdict"] == "holds" and js[0]["detectable_effect"] == 0.012
    assert {"claim", "name", "kind", "verdict", "statistic", "critical", "detectable_effect",
            "expect", "details", "configs", "control_statistic"} <= set(js[0])
    assert js[0]["details"]["seed"] == 3


def test_variance_test_with_theory_kurtosis_and_power():
    # Gaussian draws: with the true kurtosis 3 the z is the Wilson–Hilferty χ² z; the
    # result carries the detectable effect (relative se sqrt(2/n) times the noncentrality)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(2000)
    r = S.variance_test(x, 1.0, alpha=1e-3, kurtosis=3.0)
    assert not r.reject
    assert r.detectable_effect == pytest.approx(
        S.detectable_effect(math.sqrt(2 / 2000), alpha=1e-3), rel=1e-9)
    assert S.variance_test(x, 1.3, alpha=1e-3, kurtosis=3.0).reject   # 30 % off: ~7 se
    with pytest.raises(ValueError, match="kurtosis"):
        S.variance_test(x, 1.0, alpha=1e-3, kurtosis=0.5)


def test_variance_test_same_draw_kurtosis_tail_is_bounded():
    # finding 3 (notes/calibration.md): with the kurtosis estimated from the same draws
    # the two-sided tail beyond 3.09 (nominal 2e-3) on normal data, n = 300, was measured
    # at 2.2-3.8e-3; 40 000 replications: expected ~110 events, the bound 5e-3 is 5 sd
    # above the measured rate (a false failure has probability < 1e-6)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((40000, 300))
    d = x - x.mean(axis=1, keepdims=True)
    s2 = (d * d).sum(axis=1) / 299
    k = (d ** 4).mean(axis=1) / s2 ** 2
    z = np.array([S.variance_z(a, 1.0, b, 300) for a, b in zip(s2[:40000], k[:40000])])
    rate = float(np.mean(np.abs(z) > 3.09))
    assert rate < 5e-3


# ---------------------------------------------------------------- rate fits (claim 7)
def test_log_pooled_sd_standard_error_is_calibrated():
    """The standard error of ½ log P from the per-draw squared deviations matches the
    scatter of y over independent replications, also for heavy-tailed, correlated
    entries (t₅ draws, kurtosis 9: a normal-theory se would be √2 too small)."""
    rng = np.random.default_rng(5)
    ys, ses = [], []
    for _ in range(400):
        z = rng.standard_t(5, size=(2000, 1))
        x = np.hstack([z, 0.6 * z + 0.8 * rng.standard_t(5, size=(2000, 1)), rng.standard_normal((2000, 1))])
        y, se = S.log_pooled_sd(x)
        ys.append(y)
        ses.append(se)
    ratio = float(np.std(ys, ddof=1) / np.mean(ses))
    assert 0.85 < ratio < 1.15, ratio
    with pytest.raises(ValueError, match="samples"):
        S.log_pooled_sd(np.ones((20, 3)))


def test_rate_fit_recovers_exponent_with_correction_and_stated_se():
    """y = a + γ log d + b/d + noise of known se: the fit recovers γ within its se (z
    over replications ~ N(0,1)); without the b/d term the same data are biased."""
    rng = np.random.default_rng(6)
    d = np.array([8, 16, 32, 64, 128], dtype=float)
    se = np.array([0.004, 0.005, 0.006, 0.008, 0.01])
    truth = 0.3 - 0.5 * np.log(d) + 1.5 / d
    zs, zs_nocorr = [], []
    for _ in range(2000):
        y = truth + se * rng.standard_normal(d.size)
        f = S.rate_fit(d, y, se)
        zs.append(f.t(-0.5))
        zs_nocorr.append(S.rate_fit(d, y, se, correction=False).t(-0.5))
    assert abs(np.mean(zs)) < 0.1 and 0.9 < np.std(zs) < 1.1
    assert abs(np.mean(zs_nocorr)) > 5          # the O(1/d) term biases the plain fit
    f = S.rate_fit(d, truth, se)
    assert abs(f.exponent + 0.5) < 1e-12 and f.chi2 < 1e-18 and f.dof == 2
    with pytest.raises(ValueError, match="distinct widths"):
        S.rate_fit([8, 8, 16], [1, 2, 3], [1, 1, 1])
