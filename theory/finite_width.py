"""Monte Carlo finite-width measurements (docs/math.md#finite-width, docs/math.md#bounds).

* :func:`error_quantile` / :func:`needed_width` / :func:`slack_table`: the width that the
  empirical NTK actually needs so that ``|Θ_d(x,x') − Θ̃(x,x')| ≤ (L+1)ε`` with probability
  ``≥ 1 − δ`` (the event of Arora et al. 2019, Thm 3.1), compared with the symbolic bounds
  of :mod:`theory.bounds` (Arora; the Yang–Wang family's default) at constant ``C = 1``.
  Method: the empirical ``(1−δ)``-quantile ``Q(d)`` of the error at a measured width ``d``
  is extrapolated with the ``d^{-1/2}`` law (docs/math.md#finite-width, "Rate"):
  ``d_needed = d · (Q(d)/((L+1)ε))²``; measuring at two widths checks the law. The
  Monte Carlo interval is the distribution-free order-statistic interval of the quantile,
  mapped through the same formula (it does not include the extrapolation's systematic
  error, which the two widths expose).
* :func:`diagonal_log_ratio` / :func:`depth_law`: ``log(E[Θ²]/E[Θ]²)`` on the diagonal
  against ``β`` (Hanin & Nica 2020: ``≃ exp(5β)``, ``β = Σ_l 1/d_l``; docs/references.md), with
  ``β`` computed with the nominal widths ``d_l`` or the effective ``q·d_l``. This
  single-``β`` line does not fit pruned networks (notes/depth_law.md); the tools for the
  model that does are :func:`log_ratio_bootstrap` (heavy-tail-robust errors),
  :func:`weighted_fit` (generalised least squares with ``χ²``, dof and ``P``) and
  :func:`homogeneity_test` (are values at equal ``β`` equal?).
* :func:`coverage` / :func:`wilson_interval`: direct ``P(|Θ_d − Θ̃| ≤ tol)`` with a
  binomial (Wilson) interval, the check that needs no ``d^{-1/2}`` extrapolation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy import stats as _st

from . import bounds as _bounds
from .architecture import Architecture
from .limits import limit_ntk
from .network import sample_kernels
from .stats import SlopeFit, slope_fit

__all__ = [
    "sphere_pair", "QuantileEstimate", "error_quantile", "NeededWidth", "needed_width",
    "slack_table", "LogRatio", "diagonal_log_ratio", "beta", "DepthLawFit", "depth_law",
    "log_ratio_bootstrap", "LinearFit", "weighted_fit", "homogeneity_test", "wilson_interval",
    "coverage",
]


def sphere_pair(d0: int, rho: float, seed: int = 0) -> np.ndarray:
    """Two unit vectors in ``R^{d0}`` with inner product ``rho`` (random orientation from
    ``seed``): a ``(2, d0)`` array."""
    if d0 < 2:
        raise ValueError("d0 must be >= 2 for two distinct directions")
    if not -1 <= rho <= 1:
        raise ValueError(f"rho must lie in [-1, 1], got {rho}")
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d0, 2)))
    u, w = Q[:, 0], Q[:, 1]
    return np.stack([u, rho * u + math.sqrt(1 - rho * rho) * w])


def _draws(arch: Architecture, X: np.ndarray, width: Any, n: int, seed: int) -> np.ndarray:
    """``n`` independent empirical NTK matrices (seeds ``seed·10⁶ + i``): ``(n, k, k)``."""
    return np.stack([sample_kernels(arch, X, width, seed * 1_000_000 + i)["ntk"]
                     for i in range(n)])


@dataclass
class QuantileEstimate:
    width: int
    level: float            # 1 − δ
    quantile: float         # empirical level-quantile of |Θ_d − Θ̃|
    ci_low: float           # order-statistic CI (confidence 1 − alpha)
    ci_high: float
    n: int
    mean_error: float       # E[Θ_d] − Θ̃ (bias at this width), sample mean
    alpha: float


def _order_ci(sorted_x: np.ndarray, level: float, alpha: float) -> tuple[float, float]:
    """Distribution-free CI for the ``level``-quantile from order statistics
    (binomial counts of samples below it)."""
    n = sorted_x.size
    lo = int(_st.binom.ppf(alpha / 2, n, level))
    hi = int(_st.binom.ppf(1 - alpha / 2, n, level)) + 1
    return float(sorted_x[max(lo - 1, 0)]), float(sorted_x[min(hi - 1, n - 1)])


def error_quantile(arch: Architecture, X: np.ndarray, width: int, *, n_draws: int = 200,
                   delta: float = 0.1, pair: tuple[int, int] = (0, 1), seed: int = 0,
                   alpha: float = 0.05, target: float | None = None) -> QuantileEstimate:
    """Empirical ``(1 − δ)``-quantile of ``|Θ_d(x,x') − Θ̃(x,x')|`` over ``n_draws``
    networks of width ``width``; ``Θ̃`` = :func:`theory.limit_ntk` with the exact input
    layer (docs/math.md#input-layer) unless ``target`` is given."""
    X = np.asarray(X, dtype=np.float64)
    i, j = pair
    lim = float(limit_ntk(arch, X)[i, j]) if target is None else float(target)
    err = _draws(arch, X, width, n_draws, seed)[:, i, j] - lim
    a = np.sort(np.abs(err))
    qv = float(np.quantile(a, 1 - delta))
    lo, hi = _order_ci(a, 1 - delta, alpha)
    return QuantileEstimate(int(width), 1 - delta, qv, lo, hi, n_draws, float(err.mean()), alpha)


@dataclass
class NeededWidth:
    depth: int
    p: float
    tolerance: float                    # (L+1) ε
    estimates: list[tuple[int, float, float, float]]   # (measured d, d_needed, lo, hi)
    width: float                        # from the largest measured width
    ci: tuple[float, float]
    quantiles: list[QuantileEstimate] = field(default_factory=list)


def needed_width(arch: Architecture, X: np.ndarray, *, eps: float = 0.1, delta: float = 0.1,
                 widths: Sequence[int] = (64, 256), n_draws: int = 200, seed: int = 0,
                 alpha: float = 0.05) -> NeededWidth:
    """Width at which ``|Θ_d − Θ̃| ≤ (L+1)ε`` with frequency ``1 − δ``, by the ``d^{-1/2}``
    extrapolation ``d·(Q(d)/((L+1)ε))²`` from each measured width (module docstring)."""
    tol = (arch.depth + 1) * eps
    ests, qs = [], []
    for k, d in enumerate(widths):
        qe = error_quantile(arch, X, d, n_draws=n_draws, delta=delta, seed=seed + 7919 * k,
                            alpha=alpha)
        qs.append(qe)
        f = lambda t: d * (t / tol) ** 2
        ests.append((int(d), f(qe.quantile), f(qe.ci_low), f(qe.ci_high)))
    last = ests[-1]
    p0 = float(arch.p_of(arch.pruned_matrices()[0])) if arch.pruned_matrices() else 0.0
    return NeededWidth(arch.depth, p0, tol, ests, last[1], (last[2], last[3]), qs)


def slack_table(depths: Sequence[int] = (1, 2, 3, 4), ps: Sequence[float] = (0.0, 0.5, 0.9),
                *, d0: int = 8, rho: float = 0.5, eps: float = 0.1, delta: float = 0.1,
                widths: Sequence[int] = (64, 256), n_draws: int = 200, seed: int = 0,
                rescale: bool = True, model: str = "mask") -> list[dict[str, Any]]:
    """One row per ``(L, p)``: measured width (and CI), the widths of Arora's bound and of
    the Yang–Wang default at ``C = 1``, and their slack ``bound / measured``
    (``= 1/C*`` with ``C*`` = :func:`theory.bounds.constant_at_width`)."""
    X = sphere_pair(d0, rho, seed)
    ar, yw = _bounds.arora_bound(), _bounds.yang_wang_bound()
    rows = []
    for L in depths:
        for p in ps:
            arch = Architecture(depth=L, p=p, rescale=rescale, model=model,
                                pruned="all" if p > 0 else "none")
            nw = needed_width(arch, X, eps=eps, delta=delta, widths=widths, n_draws=n_draws,
                              seed=seed + 1000 * L + int(100 * p))
            b_ar = float(_bounds.required_width(ar, L=L, eps=eps, delta=delta, C=1))
            b_yw = float(_bounds.required_width(yw, L=L, eps=eps, delta=delta, p=p, C=1))
            rows.append(dict(L=L, p=p, measured=nw.width, ci=nw.ci, estimates=nw.estimates,
                             arora=b_ar, yang_wang=b_yw, slack_arora=b_ar / nw.width,
                             slack_yang_wang=b_yw / nw.width, bias=[q.mean_error for q in nw.quantiles]))
    return rows


# ----------------------------------------------------------------------------- depth law
@dataclass
class LogRatio:
    depth: int
    width: int
    p: float
    value: float        # log(E[Θ²]/E[Θ]²), Θ = Θ_d(x, x)
    stderr: float       # delta method from the sample covariance of (Θ, Θ²)
    n: int


def diagonal_log_ratio(arch: Architecture, x: np.ndarray, width: int, *, n_draws: int = 300,
                       seed: int = 0) -> LogRatio:
    """``log(E[Θ_d(x,x)²]/E[Θ_d(x,x)]²)`` by Monte Carlo, with its delta-method error
    (Hanin & Nica 2020's quantity; docs/references.md)."""
    X = np.asarray(x, dtype=np.float64).reshape(1, -1)
    y = _draws(arch, X, width, n_draws, seed)[:, 0, 0]
    m1, m2 = float(y.mean()), float((y * y).mean())
    g = np.array([-2.0 / m1, 1.0 / m2])            # ∂/∂(m1, m2) of log m2 − 2 log m1
    S = np.cov(np.stack([y, y * y]), ddof=1) / n_draws
    se = float(math.sqrt(max(g @ S @ g, 0.0)))
    p0 = float(arch.p_of(arch.pruned_matrices()[0])) if arch.pruned_matrices() else 0.0
    return LogRatio(arch.depth, int(width), p0, math.log(m2 / m1 ** 2), se, n_draws)


def beta(depth: int, width: int, p: float, effective: bool) -> float:
    """``Σ_{l=1}^{L} 1/d_l`` (``effective=False``) or ``Σ_l 1/(q d_l)`` (``True``),
    equal widths."""
    q = 1.0 - p if effective else 1.0
    return depth / (q * width)


@dataclass
class DepthLawFit:
    p: float
    effective: bool
    fit: SlopeFit
    z_vs_dense: float | None     # (slope − dense slope)/combined stderr
    p_value_vs_dense: float | None


def depth_law(records: Sequence[LogRatio], *, alpha: float = 0.05) -> list[DepthLawFit]:
    """Weighted fits ``log-ratio = a + c·β`` per ``p`` and per definition of ``β``, and
    the z-score of each pruned slope against the dense one."""
    out: list[DepthLawFit] = []
    ps = sorted({r.p for r in records})
    for eff in (False, True):
        fits = {}
        for p in ps:
            rs = [r for r in records if r.p == p]
            x = [beta(r.depth, r.width, r.p, eff) for r in rs]
            y = [r.value for r in rs]
            w = [1.0 / max(r.stderr, 1e-12) ** 2 for r in rs]
            fits[p] = slope_fit(x, y, alpha=alpha, weights=w)
        dense = fits.get(0.0)
        for p in ps:
            f = fits[p]
            if dense is None or p == 0.0:
                out.append(DepthLawFit(p, eff, f, None, None))
                continue
            z = (f.slope - dense.slope) / math.sqrt(f.stderr ** 2 + dense.stderr ** 2)
            out.append(DepthLawFit(p, eff, f, z, float(2 * _st.norm.sf(abs(z)))))
    return out


# ----------------------------------------------------------------------------- robust tools
def log_ratio_bootstrap(y: Any, *, n_boot: int = 400, seed: int = 0) -> tuple[float, float]:
    """``(log(mean(y²)/mean(y)²), bootstrap standard error)`` of iid draws ``y``.

    The bootstrap resamples whole draws, so it follows the estimator's non-linearity and
    skew; unlike the delta method it needs no fourth-moment estimate. It still cannot see
    tail mass absent from the sample (notes/depth_law.md checks the errors against
    independent replications)."""
    y = np.asarray(y, dtype=np.float64).ravel()
    if y.size < 10 or not np.all(np.isfinite(y)):
        raise ValueError(f"y must hold >= 10 finite draws, got {y.size}")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 20:
        raise ValueError(f"n_boot must be an integer >= 20, got {n_boot!r}")
    val = math.log(float(np.mean(y * y)) / float(np.mean(y)) ** 2)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, y.size, size=(int(n_boot), y.size))
    yb = y[idx]
    boots = np.log(np.mean(yb * yb, axis=1) / np.mean(yb, axis=1) ** 2)
    return val, float(np.std(boots, ddof=1))


@dataclass
class LinearFit:
    """Generalised least squares ``y ≈ A·θ`` with known errors ``σ``."""
    names: tuple[str, ...]
    params: np.ndarray        # θ̂
    cov: np.ndarray           # (AᵀWA)⁻¹, W = diag(1/σ²); NOT rescaled by χ²/dof
    chi2: float
    dof: int
    p_value: float            # P(χ²_dof ≥ chi2)

    @property
    def scale(self) -> float:
        """PDG scale factor ``S = sqrt(max(1, χ²/dof))`` for the parameter errors."""
        return math.sqrt(max(1.0, self.chi2 / self.dof)) if self.dof > 0 else 1.0

    def stderr(self, name: str, *, scaled: bool = True) -> float:
        i = self.names.index(name)
        return float(math.sqrt(self.cov[i, i]) * (self.scale if scaled else 1.0))

    def value(self, name: str) -> float:
        return float(self.params[self.names.index(name)])


def weighted_fit(design: Any, y: Any, sigma: Any, names: Sequence[str]) -> LinearFit:
    """GLS fit of ``y = design @ θ`` with independent errors ``sigma`` (one per row),
    reporting ``χ² = Σ (r/σ)²`` with ``n − k`` degrees of freedom and its ``P``-value.

    ``sigma`` should not come from the same draws as ``y`` when those are heavy-tailed:
    a sample that misses its rare large draws has both a low value and a low error, and
    1/σ² weights then pull the fit down (notes/depth_law.md uses the error of an
    independent replication)."""
    A = np.asarray(design, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    s = np.asarray(sigma, dtype=np.float64).ravel()
    if A.ndim != 2 or A.shape[0] != y.size or s.size != y.size:
        raise ValueError(f"design must be (n, k) with n = len(y) = len(sigma); got "
                         f"{A.shape}, {y.size}, {s.size}")
    if len(names) != A.shape[1]:
        raise ValueError(f"names must have {A.shape[1]} entries, got {len(names)}")
    if not np.all(s > 0) or not np.all(np.isfinite(s)):
        raise ValueError("sigma must be positive and finite")
    if A.shape[0] < A.shape[1]:
        raise ValueError(f"need at least as many points ({A.shape[0]}) as parameters "
                         f"({A.shape[1]})")
    Aw, yw = A / s[:, None], y / s
    cov = np.linalg.inv(Aw.T @ Aw)
    th = cov @ (Aw.T @ yw)
    r = yw - Aw @ th
    chi2 = float(r @ r)
    dof = int(A.shape[0] - A.shape[1])
    pv = float(_st.chi2.sf(chi2, dof)) if dof > 0 else float("nan")
    return LinearFit(tuple(names), th, cov, chi2, dof, pv)


def homogeneity_test(values: Any, sigma: Any) -> tuple[float, int, float]:
    """``(χ², dof, P)`` for "all ``values`` are equal" (weighted mean, known ``sigma``)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    s = np.asarray(sigma, dtype=np.float64).ravel()
    if v.size < 2 or s.size != v.size or not np.all(s > 0):
        raise ValueError("need >= 2 values with positive sigma of the same length")
    w = 1.0 / s ** 2
    m = float(w @ v / w.sum())
    chi2 = float(w @ (v - m) ** 2)
    return chi2, v.size - 1, float(_st.chi2.sf(chi2, v.size - 1))


def wilson_interval(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval (confidence ``1 − alpha``) of a binomial proportion ``k/n``."""
    if not (0 <= k <= n) or n < 1:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    z = float(_st.norm.isf(alpha / 2))
    ph = k / n
    den = 1 + z * z / n
    c = (ph + z * z / (2 * n)) / den
    h = z * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    return max(0.0, c - h), min(1.0, c + h)


def coverage(errors: Any, tol: float, alpha: float = 0.05) -> tuple[float, float, float]:
    """``(fraction of |errors| ≤ tol, Wilson interval)`` over iid draws."""
    e = np.abs(np.asarray(errors, dtype=np.float64).ravel())
    k = int(np.sum(e <= tol))
    lo, hi = wilson_interval(k, e.size, alpha)
    return k / e.size, lo, hi
