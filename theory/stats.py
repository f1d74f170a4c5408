"""The statistical core: tests, critical values, multiplicity and power.

Used by ``checks/`` (the built-in claims), by user claim files (``theory.claims``), by the
notes and by the Monte Carlo unit tests, so that each test exists once.

Every Monte Carlo comparison in this project is a hypothesis test with a stated
false-alarm probability ``alpha`` (two-sided unless said otherwise), corrected for the
number of comparisons ``m`` in a run by Bonferroni (``alpha/m`` each), so that the whole
run raises a false alarm with probability at most ``alpha``.

Power is stated the way TensorFlow Probability's ``statistical_testing`` module states it
(every assertion has a false-fail rate, and a companion gives the smallest discrepancy a
sample can detect at a stated false-pass rate): :func:`detectable_effect` is the smallest
true deviation ``|truth − prediction|`` that a test rejects with probability ``power``
(default 0.8), and :func:`draws_for_effect` inverts it. Where the standard error is
estimated from ``n`` draws the critical values are Student-t with ``n − 1`` degrees of
freedom (normal critical values with ``n ≈ 250`` draws inflate the per-test tail by
1.4–1.6× at Bonferroni levels).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict
from typing import Sequence

import numpy as np
from scipy import stats as _st


@dataclass
class TestResult:
    statistic: float      # z or t (or the test's own statistic, standardised where possible)
    p_value: float        # two-sided
    critical: float       # |statistic| above this rejects
    reject: bool
    alpha: float          # per-comparison false-alarm probability used
    n: int                # sample size
    df: float | None = None                 # Student-t degrees of freedom (None: normal)
    detectable_effect: float | None = None  # smallest |truth − prediction| rejected with
                                            # probability ``power`` (absolute units)
    estimate: float | None = None
    predicted: float | None = None
    stderr: float | None = None

    @property
    def relative_detectable_effect(self) -> float | None:
        """:attr:`detectable_effect` relative to ``|predicted|`` (``None`` if undefined)."""
        if self.detectable_effect is None or not self.predicted:
            return None
        return self.detectable_effect / abs(self.predicted)

    def as_dict(self) -> dict:
        return asdict(self)


def _check_alpha(alpha: float, m: int = 1) -> float:
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m (number of comparisons) must be a positive integer, got {m!r}")
    return alpha / m


def bonferroni(alpha: float, m: int) -> float:
    """Per-comparison level for ``m`` comparisons with family-wise level ``alpha``."""
    return _check_alpha(alpha, m)


def z_critical(alpha: float, m: int = 1) -> float:
    """Two-sided standard-normal critical value at family-wise ``alpha`` over ``m`` tests."""
    return float(_st.norm.isf(_check_alpha(alpha, m) / 2))


def critical_value(alpha: float, m: int = 1, df: float | None = None) -> float:
    """Two-sided critical value at family-wise ``alpha`` over ``m`` Bonferroni-corrected
    tests: standard normal when ``df`` is ``None``, Student t with ``df`` degrees of
    freedom otherwise."""
    a = _check_alpha(alpha, m)
    if df is None:
        return float(_st.norm.isf(a / 2))
    if not (df > 0):
        raise ValueError(f"df (degrees of freedom) must be positive, got {df}")
    return float(_st.t.isf(a / 2, df))


def _check_power(power: float) -> float:
    if not (0 < power < 1):
        raise ValueError(f"power must lie in (0, 1), got {power}")
    return float(power)


def detectable_effect(stderr: float, *, alpha: float, m: int = 1, power: float = 0.8,
                      df: float | None = None) -> float:
    """Smallest true deviation ``δ = |truth − prediction|`` (in the units of ``stderr``'s
    estimate) that the two-sided test at per-test level ``alpha/m`` rejects with
    probability ``power``.

    Normal test (``df=None``): ``δ = (z_{a/2} + z_{power})·se`` up to the negligible
    opposite tail, solved exactly. Student t: ``δ/se`` is the noncentrality at which
    ``P(|T'| > t_crit) = power`` for ``T'`` noncentral t with ``df`` degrees of freedom.
    """
    if not (stderr >= 0 and math.isfinite(stderr)):
        raise ValueError(f"stderr must be finite and >= 0, got {stderr}")
    power = _check_power(power)
    crit = critical_value(alpha, m, df)
    if stderr == 0:
        return 0.0
    if df is None:
        def rej(nc: float) -> float:
            return float(_st.norm.sf(crit - nc) + _st.norm.cdf(-crit - nc))
    else:
        def rej(nc: float) -> float:
            # the opposite tail is negligible for nc ≥ 0 and scipy returns NaN for it at
            # large nc: count it as 0
            lower = float(_st.nct.cdf(-crit, df, nc))
            return float(_st.nct.sf(crit, df, nc)) + (lower if math.isfinite(lower) else 0.0)
    lo, hi = 0.0, crit + 10.0
    while rej(hi) < power:
        hi *= 2
    from scipy.optimize import brentq
    nc = brentq(lambda x: rej(x) - power, lo, hi, xtol=1e-10)
    return float(nc * stderr)


def draws_for_effect(sd: float, effect: float, *, alpha: float, m: int = 1,
                     power: float = 0.8) -> int:
    """Number of independent draws ``n`` for which a mean test (standard error
    ``sd/sqrt(n)``, Student t with ``n − 1`` degrees of freedom) detects a deviation
    ``effect`` with probability ``power``. ``sd``: standard deviation of one draw."""
    if not (effect > 0 and math.isfinite(effect)):
        raise ValueError(f"effect must be positive and finite, got {effect}")
    if not (sd >= 0 and math.isfinite(sd)):
        raise ValueError(f"sd must be finite and >= 0, got {sd}")
    if sd == 0:
        return 2
    # the normal answer is a lower bound; walk up through the t correction
    z = critical_value(alpha, m) + float(_st.norm.isf(1 - _check_power(power)))
    n = max(2, math.ceil((z * sd / effect) ** 2))
    while detectable_effect(sd / math.sqrt(n), alpha=alpha, m=m, power=power, df=n - 1) > effect:
        n = math.ceil(n * 1.05) + 1
    return int(n)


def mean_test(samples: Sequence[float], predicted: float, *, alpha: float, m: int = 1,
              power: float | None = 0.8, scale: float | None = None) -> TestResult:
    """Mean of iid samples against a prediction: Student t with ``n − 1`` degrees of
    freedom, standard error from the samples, with the detectable effect at ``power``
    (``power=None`` skips that computation, for simulation studies).

    A degenerate sample (every draw equal, e.g. a kernel entry that is identically zero)
    has no standard error; it is compared exactly, up to rounding: ``|mean − predicted| ≤
    64·eps·scale`` (``scale`` = the magnitude of the quantity, default
    ``max(|mean|, |predicted|)``) gives statistic 0, otherwise ``inf`` (reject).
    """
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError("samples: need at least two samples")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples: contain NaN or inf")
    if not math.isfinite(float(predicted)):
        raise ValueError(f"predicted must be finite, got {predicted}")
    n = x.size
    est = float(np.mean(x))
    se = float(np.std(x, ddof=1) / math.sqrt(n))
    df = n - 1
    crit = critical_value(alpha, m, df)
    a = _check_alpha(alpha, m)
    if se == 0.0:
        sc = max(abs(est), abs(float(predicted))) if scale is None else float(scale)
        ok = abs(est - float(predicted)) <= 64 * np.finfo(np.float64).eps * sc
        stat = 0.0 if ok else math.inf
        return TestResult(stat, 1.0 if ok else 0.0, crit, not ok, a, n, df, 0.0, est,
                          float(predicted), 0.0)
    t = (est - float(predicted)) / se
    de = None if power is None else detectable_effect(se, alpha=alpha, m=m, power=power, df=df)
    return TestResult(t, float(2 * _st.t.sf(abs(t), df)), crit, abs(t) > crit, a, n, df, de,
                      est, float(predicted), se)


def z_test(estimate: float, predicted: float, stderr: float, *, alpha: float,
           m: int = 1, n: int = 0) -> TestResult:
    """``z = (estimate − predicted)/stderr``; reject when ``|z|`` exceeds the Bonferroni
    critical value. ``stderr`` must come from the data (independent draws) or from an
    exact variance formula."""
    if not (stderr > 0 and math.isfinite(stderr)):
        raise ValueError(f"stderr must be positive and finite, got {stderr}")
    a = _check_alpha(alpha, m)
    z = (float(estimate) - float(predicted)) / float(stderr)
    crit = float(_st.norm.isf(a / 2))
    de = detectable_effect(float(stderr), alpha=alpha, m=m)
    return TestResult(z, float(2 * _st.norm.sf(abs(z))), crit, abs(z) > crit, a, n, None, de,
                      float(estimate), float(predicted), float(stderr))


def z_test_mean(samples: Sequence[float], predicted: float, *, alpha: float,
                m: int = 1) -> TestResult:
    """Mean of iid samples against a prediction, standard error from the samples, normal
    critical values (CLT). Prefer :func:`mean_test` (Student t), which is calibrated at
    the sample sizes the checks use."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError("need at least two samples")
    se = float(np.std(x, ddof=1) / math.sqrt(x.size))
    return z_test(float(np.mean(x)), predicted, se, alpha=alpha, m=m, n=x.size)


def variance_z(s2: float, predicted_variance: float, kurtosis: float, n: int,
               extra_rel_se: float = 0.0) -> float:
    """Standardised deviation of a sample variance ``s2`` (of ``n`` draws with kurtosis
    ``κ``) from ``σ²``: ``s²/σ²`` is treated as a scaled ``χ²_ν/ν`` with
    ``ν = 2(n−1)/(κ−1)`` and made normal by the Wilson–Hilferty cube root, which keeps
    both tails right for heavy-tailed data (a plain z with the standard error estimated
    from the same draws had P(z < −3) = 0.4–0.8 % instead of 0.13 % on NTK neuron terms,
    found in checks/test_08). ``extra_rel_se``: an independent relative standard error of
    the prediction itself (e.g. a sampled mask mixture), added in quadrature."""
    if not (predicted_variance > 0):
        raise ValueError(f"predicted_variance must be positive, got {predicted_variance}")
    nu = 2.0 * (n - 1) / max(kurtosis - 1.0, 1e-9)
    z = ((s2 / predicted_variance) ** (1.0 / 3.0) - (1.0 - 2.0 / (9.0 * nu))) / math.sqrt(2.0 / (9.0 * nu))
    a, b = (kurtosis - 1.0) / n, extra_rel_se ** 2
    return z * math.sqrt(a / (a + b))


def variance_test(samples: Sequence[float], predicted_variance: float, *, alpha: float,
                  m: int = 1, kurtosis: float | None = None) -> TestResult:
    """Sample variance against a predicted variance, robust to non-normal data
    (:func:`variance_z`).

    ``kurtosis``: the kurtosis of one draw if known from theory — then the z is
    calibrated; by default it is estimated from the same draws. Measured tails of that
    default (notes/calibration.md, finding 3; 1e5–2e5 simulated replications):
    ``P(|z| > 3.89)`` = 1.2e-4 (normal data, n = 1500), 2.4e-4 (χ²₄ data, n = 1500) and
    1.1e-3 (χ²₄, n = 300) against the nominal 1e-4. The excess comes from the skewness of
    the squared deviations, not from the dependence of the kurtosis estimate on the same
    draws: an independent split (kurtosis from a quarter of the draws, or cross-fitted
    halves) makes the tails *heavier* (6.3e-3 and 1.8e-3 at n = 300), because the noisy
    kurtosis estimate widens them. Callers that need the stated level with an estimated
    kurtosis divide ``alpha`` by the measured inflation (claim 8: 4, measured at its
    sample sizes by benchmarks/variance_z_tail.py)."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    n = x.size
    if n < 10:
        raise ValueError("samples: need at least 10 samples for a variance test")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples: contain NaN or inf")
    d = x - x.mean()
    s2 = float(np.sum(d * d) / (n - 1))
    if kurtosis is None:
        kurt = float(np.mean(d ** 4)) / (s2 * s2) if s2 > 0 else 3.0
    else:
        if not (kurtosis >= 1 and math.isfinite(kurtosis)):
            raise ValueError(f"kurtosis must be finite and >= 1, got {kurtosis}")
        kurt = float(kurtosis)
    z = variance_z(s2, predicted_variance, kurt, n)
    a = _check_alpha(alpha, m)
    crit = float(_st.norm.isf(a / 2))
    rel_se = math.sqrt(max(kurt - 1.0, 0.0) / n)
    de = detectable_effect(rel_se * float(predicted_variance), alpha=alpha, m=m)
    return TestResult(z, float(2 * _st.norm.sf(abs(z))), crit, abs(z) > crit, a, n,
                      detectable_effect=de, estimate=s2, predicted=float(predicted_variance),
                      stderr=rel_se * float(predicted_variance))


@dataclass
class SlopeFit:
    slope: float
    intercept: float
    stderr: float
    ci_low: float
    ci_high: float
    dof: int
    alpha: float

    def contains(self, value: float) -> bool:
        return self.ci_low <= value <= self.ci_high

    def as_dict(self) -> dict:
        return asdict(self)


def slope_fit(x: Sequence[float], y: Sequence[float], *, alpha: float,
              weights: Sequence[float] | None = None) -> SlopeFit:
    """Least-squares line ``y = a + b x`` with a two-sided ``1 − alpha`` Student-t
    confidence interval for the slope ``b`` (weighted by ``1/σ²`` when ``weights`` are
    given as inverse variances)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 3:
        raise ValueError("x and y must be 1-D of equal length >= 3")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    W = w / w.sum()
    xm, ym = float(W @ x), float(W @ y)
    sxx = float(W @ (x - xm) ** 2)
    b = float(W @ ((x - xm) * (y - ym))) / sxx
    a = ym - b * xm
    r = y - (a + b * x)
    dof = x.size - 2
    s2 = float(np.sum(w * r * r) / dof)
    se = math.sqrt(s2 / (sxx * w.sum()))
    t = float(_st.t.isf(alpha / 2, dof))
    return SlopeFit(b, a, se, b - t * se, b + t * se, dof, alpha)


# ============================================================================ claims
# (added for user claim files, theory.claims: power of the variance test)
def variance_detectable_effect(n: int, kurtosis: float, *, alpha: float, m: int = 1,
                               power: float = 0.8) -> float:
    """Smallest relative deviation ``r = |σ²_true/σ²_predicted − 1|`` of a variance that
    the Wilson–Hilferty test of :func:`variance_z` (``n`` draws, kurtosis ``κ``, level
    ``alpha/m`` two-sided) detects with probability ``power``, in either direction (the
    larger of the upward and downward solutions).

    Under the test's model ``s²/σ²_true ~ χ²_ν/ν`` with ``ν = 2(n−1)/(κ−1)``, the cube root
    ``Y = (s²/σ²_true)^{1/3}`` is normal with mean ``a = 1 − 2/(9ν)`` and sd
    ``s = sqrt(2/(9ν))``; with ``k = (σ²_true/σ²_predicted)^{1/3}`` the statistic is
    ``(kY − a)/s``, so the upward effect solves ``k (a − z_pow s) = a + c s`` and the
    downward one ``k (a + z_pow s) = a − c s`` (``c`` the critical value, ``z_pow`` the
    normal quantile of ``power``)."""
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (kurtosis > 1 and math.isfinite(kurtosis)):
        raise ValueError(f"kurtosis must be finite and > 1, got {kurtosis}")
    zp = float(_st.norm.ppf(_check_power(power)))
    c = critical_value(alpha, m)
    nu = 2.0 * (n - 1) / (kurtosis - 1.0)
    a, s = 1.0 - 2.0 / (9.0 * nu), math.sqrt(2.0 / (9.0 * nu))
    if a - zp * s <= 0:
        return math.inf
    up = ((a + c * s) / (a - zp * s)) ** 3 - 1.0
    down = 1.0 - max(a - c * s, 0.0) ** 3 / (a + zp * s) ** 3
    return float(max(up, down))


def draws_for_variance_effect(kurtosis: float, effect: float, *, alpha: float, m: int = 1,
                              power: float = 0.8) -> int:
    """Smallest ``n`` with :func:`variance_detectable_effect` ``≤ effect``."""
    if not (effect > 0 and math.isfinite(effect)):
        raise ValueError(f"effect must be positive and finite, got {effect}")
    lo, hi = 2, 4
    while variance_detectable_effect(hi, kurtosis, alpha=alpha, m=m, power=power) > effect:
        lo, hi = hi, hi * 2
        if hi > 1 << 40:
            raise ValueError("effect too small: more than 2^40 draws needed")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if variance_detectable_effect(mid, kurtosis, alpha=alpha, m=m, power=power) > effect:
            lo = mid
        else:
            hi = mid
    return int(hi)


# ============================================================================ rate fits
# (added for claim 7, checks/test_07_rate.py: the finite-width rate with standard errors
# from the draws instead of the residual scatter of a few widths)
def log_pooled_sd(samples: np.ndarray) -> tuple[float, float]:
    """``(y, se)``: ``y = ½ log P`` with ``P`` the mean over the columns (kernel entries)
    of their sample variances, i.e. the log of the root-mean-square standard deviation of
    the entries, and its standard error from the same draws.

    ``samples``: ``(n, k)`` draws of ``k`` (possibly correlated) entries. ``P`` is, up to
    the ``n/(n − 1)`` factor, the mean over draws of ``Z = (1/k) Σ_e (x_e − x̄_e)²``, so
    its standard error is ``sd(Z)/√n`` (the delta method through the estimated means is
    of lower order): this carries the kurtosis of the draws and the correlation between
    the entries, which a normal-theory ``1/√(2n)`` would not. Then
    ``se(y) = se(P)/(2P)``."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 10:
        raise ValueError(f"samples must be (n >= 10, k), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples: contain NaN or inf")
    n = x.shape[0]
    dev = x - x.mean(axis=0)
    Z = np.mean(dev * dev, axis=1) * (n / (n - 1.0))
    P = float(Z.mean())
    if not P > 0:
        raise ValueError("samples: every entry is constant (zero variance)")
    return 0.5 * math.log(P), float(Z.std(ddof=1) / math.sqrt(n)) / (2.0 * P)


@dataclass
class RateFit:
    """Weighted least-squares fit of ``y(d) = a + γ log d (+ b/d)``."""
    exponent: float          # γ
    stderr: float            # its standard error (from the per-width standard errors)
    coef: tuple              # (a, γ[, b])
    cov: np.ndarray          # covariance of coef
    chi2: float              # residual Σ ((y − fit)/se)²
    dof: int                 # widths − parameters
    chi2_p: float            # goodness of fit (nan when dof = 0)
    df: float                # degrees of freedom of the t statistic on γ

    def t(self, exponent: float) -> float:
        """``(γ̂ − exponent)/se``."""
        return (self.exponent - float(exponent)) / self.stderr


def rate_fit(widths: Sequence[float], y: Sequence[float], se: Sequence[float], *,
             correction: bool = True, df: float = math.inf) -> RateFit:
    """Fit the finite-width law ``log sd(Θ_d) = a + γ log d + b/d`` (``correction``) or
    ``a + γ log d`` to per-width log standard deviations ``y`` with *known* standard
    errors ``se`` (:func:`log_pooled_sd`), by weighted least squares.

    The ``b/d`` term models the O(1/d) relative correction of the variance
    (``Var Θ_d = V₁/d + V₂/d² + …``, docs/math.md#finite-width); its uncertainty is carried
    into ``se(γ)`` by the fit's covariance ``(Dᵀ W D)⁻¹``. The standard error of ``γ``
    comes from the draws, not from the residual scatter, so the test on ``γ`` has the
    draws' degrees of freedom ``df`` (pass the smallest ``n − 1``) rather than
    ``widths − parameters``; the residual ``χ²`` is returned as a goodness-of-fit check of
    the model (e.g. a visible O(1/d²) term)."""
    d = np.asarray(widths, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(se, dtype=np.float64)
    if not (d.shape == y.shape == s.shape and d.ndim == 1):
        raise ValueError("widths, y and se must be 1-D of equal length")
    cols = [np.ones_like(d), np.log(d)] + ([1.0 / d] if correction else [])
    if d.size < len(cols) or len(np.unique(d)) < len(cols):
        raise ValueError(f"need at least {len(cols)} distinct widths, got {d.size}")
    if not np.all((s > 0) & np.isfinite(s)):
        raise ValueError("se must be positive and finite")
    D = np.vstack(cols).T
    W = 1.0 / (s * s)
    cov = np.linalg.inv(D.T @ (D * W[:, None]))
    coef = cov @ (D.T @ (W * y))
    r = (y - D @ coef) / s
    chi2 = float(r @ r)
    dof = int(d.size - len(cols))
    p = float(_st.chi2.sf(chi2, dof)) if dof > 0 else math.nan
    return RateFit(float(coef[1]), float(math.sqrt(cov[1, 1])), tuple(float(c) for c in coef),
                   cov, chi2, dof, p, float(df))
