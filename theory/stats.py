"""Statistical tests used by ``checks/`` and the Monte Carlo unit tests.

Every Monte Carlo comparison in this project is a hypothesis test with a stated
false-alarm probability ``alpha`` (two-sided unless said otherwise), corrected for the
number of comparisons ``m`` in a run by Bonferroni (``alpha/m`` each), so that the whole
run raises a false alarm with probability at most ``alpha``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict
from typing import Sequence

import numpy as np
from scipy import stats as _st


@dataclass
class TestResult:
    statistic: float      # z (or the test's own statistic, standardised where possible)
    p_value: float        # two-sided
    critical: float       # |statistic| above this rejects
    reject: bool
    alpha: float          # per-comparison false-alarm probability used
    n: int                # sample size

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
    return TestResult(z, float(2 * _st.norm.sf(abs(z))), crit, abs(z) > crit, a, n)


def z_test_mean(samples: Sequence[float], predicted: float, *, alpha: float,
                m: int = 1) -> TestResult:
    """Mean of iid samples against a prediction, standard error from the samples
    (CLT; use ``n ≥ 50``)."""
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
                  m: int = 1) -> TestResult:
    """Sample variance against a predicted variance, robust to non-normal data
    (:func:`variance_z` with the kurtosis estimated from the samples)."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    n = x.size
    if n < 10:
        raise ValueError("need at least 10 samples for a variance test")
    d = x - x.mean()
    s2 = float(np.sum(d * d) / (n - 1))
    kurt = float(np.mean(d ** 4)) / (s2 * s2)
    z = variance_z(s2, predicted_variance, kurt, n)
    a = _check_alpha(alpha, m)
    crit = float(_st.norm.isf(a / 2))
    return TestResult(z, float(2 * _st.norm.sf(abs(z))), crit, abs(z) > crit, a, n)


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
