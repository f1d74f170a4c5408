"""The input layer's finite fan-in: the mask mixture of docs/math.md#input-layer.

When the input matrix ``W^(1)`` carries a hard mask, neuron ``i`` of layer 1 sees its own
mask row ``m`` and, conditional on it, its pre-activations are Gaussian with covariance
``α_1 Λ_m``, ``Λ_m = [[xᵀD_m x, xᵀD_m x'], [x'ᵀD_m x, x'ᵀD_m x']]``. As ``d_1 → ∞``:

    Σ̃^(1)(x,x')      = E_m[ c_σ E_{N(0, α_1 Λ_m)}[σ(u)σ(v)] ]
    layer-1 NTK term = α_1 E_m[ (xᵀD_m x') · c_σ E_{N(0, α_1 Λ_m)}[σ'(u)σ'(v)] ]

with ``m ∈ {0,1}^{d0}`` iid Bernoulli(q_1). The expectation over ``m`` is taken

* exactly, by enumerating all ``2^{d0}`` masks, for ``d0 ≤ EXACT_MAX_D0`` (= 16; cost
  ``O(2^{d0} · n² · d0²)``), with any backend and symbolic ``p``;
* beyond that, by Monte Carlo over ``n_masks`` masks drawn with a fixed seed (float64
  only). This is the documented approximation: its standard error is returned by
  :func:`layer1_mixture` (``stderr_sigma``, ``stderr_grad``) and is ``O(n_masks^{-1/2})``
  times the spread of the per-mask kernel, which itself shrinks as ``d0`` grows for
  delocalised inputs.

The angle of each masked pair is computed as ``atan2(|x_m ∧ x'_m|, x_mᵀx'_m)`` with the
wedge norm ``|x_m ∧ x'_m|² = Σ_{j<k} m_j m_k (x_j x'_k − x_k x'_j)²`` (Lagrange's identity),
so that masks that keep a single coordinate give exactly ``θ ∈ {0, π}``.

This mixture applies only to the hard-mask model. In the variance model the input
weights are Gaussian (variance ``s_1``) and layer 1 is exactly the wide formula.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from .architecture import Architecture
from .backends import Backend, MpmathBackend, NumpyBackend, SympyBackend
from .activations import ArcCosine
from .backends import NUMPY
from .recursion import FirstLayer, pair_angles, unit_rows

EXACT_MAX_D0 = 16
DEFAULT_N_MASKS = 1 << 15
DEFAULT_TOL = 1e-10


class MixtureSampledWarning(RuntimeWarning):
    """``input_layer="exact"`` could only sample the mask mixture for some entries."""


@dataclass
class Mixture:
    first: FirstLayer
    method: str                    # "exact" or "sampled"
    n_masks: int
    stderr_sigma: np.ndarray | None = None   # Monte Carlo standard error of Σ̃^(1) (sampled only)
    stderr_grad: np.ndarray | None = None    # … of the layer-1 gradient term


def needs_mixture(arch: Architecture) -> bool:
    """The exact limit differs from the wide one only if matrix 0 is hard-masked and
    followed by a nonlinearity."""
    return arch.depth >= 1 and arch.model == "mask" and 0 in arch.pruned_matrices()


def enumerate_masks(d0: int) -> np.ndarray:
    """All ``2^{d0}`` binary masks as a ``(2^{d0}, d0)`` int8 array."""
    k = np.arange(1 << d0, dtype=np.int64)
    return ((k[:, None] >> np.arange(d0)) & 1).astype(np.int8)


def mask_rows(B: Backend, d0: int, q: Any, method: str, *, n_masks: int = DEFAULT_N_MASKS,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Input-mask rows ``M`` (K, d0) and their weights ``w`` (K,): all ``2^{d0}`` rows with
    weights ``q^k (1−q)^{d0−k}`` (``method="exact"``, any backend, ``q`` may be symbolic),
    or ``n_masks`` iid Bernoulli(q) rows with weights ``1/K`` drawn from ``seed``
    (``"sampled"``, float64 only)."""
    if method == "exact":
        M = enumerate_masks(d0)
        k = M.sum(axis=1)
        if isinstance(B, NumpyBackend):
            return M, q ** k * (1 - q) ** (d0 - k)
        return M, np.array([q ** int(kk) * (1 - q) ** int(d0 - kk) for kk in k], dtype=object)
    if not isinstance(B, NumpyBackend):
        raise ValueError("the sampled mask mixture is float64 only; use backend='numpy' "
                         f"or d0 <= {EXACT_MAX_D0}")
    if not isinstance(n_masks, (int, np.integer)) or n_masks < 2:
        raise ValueError(f"n_masks must be an integer >= 2, got {n_masks!r}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED_0001]))
    M = (rng.random((int(n_masks), d0)) < float(q)).astype(np.int8)
    return M, np.full(int(n_masks), 1.0 / n_masks)


def masked_pair_geometry(B: Backend, Mb: np.ndarray, xa: Any, xb: Any):
    """For one pair of inputs and every mask row of ``Mb`` (K, d0): ``a = xᵀD_m x``,
    ``b = x'ᵀD_m x'``, ``c = xᵀD_m x'`` and the angle ``(θ_m, φ_m)`` from the wedge norm
    (module docstring), each of shape (K,)."""
    a, b, c = Mb @ (xa * xa), Mb @ (xb * xb), Mb @ (xa * xb)
    W = np.outer(xa, xb)
    W = (W - W.T) ** 2                          # (x_j x'_k − x_k x'_j)²
    wedge = ((Mb @ W) * Mb).sum(axis=1) / 2
    th, ph = _angle(B, B.sqrt(wedge), c)
    return a, b, c, th, ph


def _angle(B: Backend, wedge_sqrt, c):
    """``(θ, φ)`` from ``|x∧x'|`` and ``xᵀx'``; a zero vector gets ``θ = φ = π/2``."""
    if isinstance(B, SympyBackend):
        def one(w, cc):
            if w == 0 and cc == 0:
                return sympy.pi / 2
            return sympy.atan2(w, cc)
        th = np.vectorize(one, otypes=[object])(wedge_sqrt, c)
        return th, np.vectorize(lambda t: sympy.pi - t, otypes=[object])(th)
    th = B.atan2(wedge_sqrt, c)
    ph = B.atan2(wedge_sqrt, -c)
    if isinstance(B, NumpyBackend):
        z = (wedge_sqrt == 0) & (c == 0)
        th = np.where(z, np.pi / 2, th)
        ph = np.where(z, np.pi / 2, ph)
    else:
        z = np.vectorize(lambda w, cc: w == 0 and cc == 0, otypes=[bool])(wedge_sqrt, c)
        th = np.where(z, B.pi / 2, th)
        ph = np.where(z, B.pi / 2, ph)
    return th, ph


def layer1_mixture(B: Backend, arch: Architecture, X: Any, *, method: str = "auto",
                   n_masks: int = DEFAULT_N_MASKS, seed: int = 0) -> Mixture:
    """Layer-1 kernels of docs/math.md#input-layer for all pairs of rows of ``X``."""
    if method not in ("auto", "exact", "sampled"):
        raise ValueError(f"method must be 'auto', 'exact' or 'sampled', got {method!r}")
    X = np.asarray(X, dtype=np.float64) if not isinstance(B, SympyBackend) else np.asarray(X)
    n, d0 = X.shape
    if method == "auto":
        method = "exact" if d0 <= EXACT_MAX_D0 else "sampled"
    if method == "exact" and d0 > 24:
        raise ValueError(f"exact enumeration of 2^{d0} masks is infeasible; d0 must be <= 24 "
                         f"(default limit {EXACT_MAX_D0}) or use method='sampled'")
    act = arch.act
    q = B.const(arch.q_of(0))
    alpha = B.const(arch.alpha_of(0))
    M, w = mask_rows(B, d0, q, method, n_masks=n_masks, seed=seed)
    Xb = B.asarray(X)
    Mb = M.astype(np.float64) if isinstance(B, NumpyBackend) else M.astype(object)
    sig = np.empty((n, n), dtype=np.float64 if isinstance(B, NumpyBackend) else object)
    grad = np.empty_like(sig)
    se_s = np.zeros((n, n)) if method == "sampled" else None
    se_g = np.zeros((n, n)) if method == "sampled" else None
    for i in range(n):
        for j in range(i, n):
            A, Bq, C, th, ph = masked_pair_geometry(B, Mb, Xb[i], Xb[j])
            s_m, sd_m = act.pair_map(B, alpha * A, alpha * Bq, th, ph)
            g_m = alpha * C * sd_m
            sig[i, j] = sig[j, i] = w @ s_m
            grad[i, j] = grad[j, i] = w @ g_m
            if method == "sampled":
                se_s[i, j] = se_s[j, i] = np.std(s_m, ddof=1) / np.sqrt(len(M))
                se_g[i, j] = se_g[j, i] = np.std(g_m, ddof=1) / np.sqrt(len(M))
    v = np.array([sig[i, i] for i in range(n)], dtype=sig.dtype)
    # angle of Σ̃^(1); exactly 0 on the diagonal
    if isinstance(B, SympyBackend):
        cos = np.empty((n, n), dtype=object)
        for i in range(n):
            for j in range(n):
                den = sympy.sqrt(v[i]) * sympy.sqrt(v[j])
                cos[i, j] = 1 if i == j else (sig[i, j] / den if den != 0 else 0)
        th1, ph1 = B.angle_from_cos(cos)
    else:
        den = B.sqrt(v[:, None]) * B.sqrt(v[None, :])
        if isinstance(B, NumpyBackend):
            with np.errstate(invalid="ignore", divide="ignore"):
                cos = np.where(den > 0, sig / np.where(den > 0, den, 1.0), 0.0)
        else:
            cos = np.vectorize(lambda s_, d_: s_ / d_ if d_ > 0 else B.ctx.mpf(0),
                               otypes=[object])(sig, den)
        th1, ph1 = B.angle_from_cos(cos)
        th1, ph1 = np.array(th1), np.array(ph1)
        np.fill_diagonal(th1, 0)
        np.fill_diagonal(ph1, B.pi)
    first = FirstLayer(v[:, None], v[None, :], th1, ph1, sig, grad)
    return Mixture(first, method, len(M), se_s, se_g)


# ------------------------------------------------------------------ data-set scale (float64)
#: enumeration is "cheap" when 2^d0 · d0² · (pairs) stays below this many operations
ENUMERATION_BUDGET = 2e9
#: largest Monte Carlo fallback (entries × masks × d0) attempted per tile before
#: MixturePlan raises instead (minutes, not hours)
SAMPLING_BUDGET = 2e10
#: factor on the geometric next-term estimate ``|T_1| r²``: against the exact mixture the
#: true error was 1.55–2.36 times ``|T_1| r²`` for d0 >= 64 (notes/input_layer_expansion.md),
#: so 4 leaves a margin of 1.7 there. A calibrated estimate, not a proof.
ESTIMATE_SAFETY = 4.0
#: ReLU/ReLU² (expansion through T_4): entries are certified only while the majorants
#: ``M_k`` of consecutive orders shrink at least by this ratio; the error estimate is then
#: ``M_4 ρ/(1 − ρ) = M_4`` at ``ρ = RATIO_MAX`` (notes/input_layer_expansion.md)
RATIO_MAX = 0.5


def _hoeffding_tail(q: float, P: dict) -> np.ndarray:
    """Per-row bound ``2 exp(−q² a²/(2 Σ_j x_j⁴))`` on ``P(|A − q a| ≥ q a/2)`` (Hoeffding,
    summands in ``[0, x_j²]``): the mass where the Taylor expansion around the mean is not
    controlled, added to the expansion's error estimate (notes/input_layer_expansion.md)."""
    a, s4 = P[2], P[4]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        t = np.where(s4 > 0, 2 * np.exp(-(q * a) ** 2 / (2 * np.where(s4 > 0, s4, 1.0))), 0.0)
    return t


class MixturePlan:
    """The input-layer mixture for float64 tiles of ``X1 × X2`` (``X2=None``: ``X1 × X1``).

    Routes per entry (``method="auto"``): enumeration of all ``2^{d0}`` masks when that is
    cheap (``2^{d0} d0² · pairs <= ENUMERATION_BUDGET`` and ``d0 <= EXACT_MAX_D0``);
    otherwise the ``1/d0`` expansion through ``T_2`` (``theory.mixture_expansion``) where
    its error estimate is below ``tol`` relative to ``sqrt(K(x,x) K(x',x'))``; the
    remaining entries are enumerated if ``d0 <= EXACT_MAX_D0`` and sampled (``n_masks``
    masks, standard error reported) otherwise. ``method`` may force ``"exact"``
    (enumerate), ``"expansion"`` (all entries, whatever the estimate) or ``"sampled"``.

    ReLU/ReLU²: the expansion is summed through ``T_4``
    (``theory.mixture_expansion.expansion_tile3``); the estimate per entry is the majorant
    ``M_4`` of ``T_4`` plus the Hoeffding tail times the kernel scale, and entries whose
    majorants do not shrink by ``RATIO_MAX`` per order are not certified (with
    ``method="expansion"`` they are truncated before their smallest majorant, which is
    reported). A validated estimate, not a proof (notes/input_layer_expansion.md).

    erf: error estimate of the expansion per entry (relative to the diagonal scale
    ``sqrt(K(x,x) K(x',x'))``): ``4 |T_1| r² + tail``, ``r = max(|T_2/T_1|, |T_1|/scale)``
    (the two observed ratios of consecutive terms), i.e. the size of the next term
    ``T_3`` if the series keeps its ratio, plus the Hoeffding mass of masks far
    from the mean (:func:`_hoeffding_tail`) times the kernel scale. This is an estimate,
    validated against enumeration in tests/test_dataset_scale.py and the note."""

    def __init__(self, arch: Architecture, X1: np.ndarray, X2: np.ndarray | None, *,
                 method: str = "auto", n_masks: int = DEFAULT_N_MASKS, seed: int = 0,
                 tol: float = DEFAULT_TOL, propagate: bool = True):
        from . import mixture_expansion as me
        if method not in ("auto", "exact", "enumerate", "expansion", "sampled"):
            raise ValueError("mixture_method must be 'auto', 'exact' (= 'enumerate'), "
                             f"'expansion' or 'sampled', got {method!r}")
        if not (isinstance(tol, (int, float)) and 0 < tol < 1):
            raise ValueError(f"tol must be a relative tolerance in (0, 1), got {tol!r}")
        if not isinstance(n_masks, (int, np.integer)) or n_masks < 2:
            raise ValueError(f"n_masks must be an integer >= 2, got {n_masks!r}")
        self.me = me
        self.arch, self.act = arch, arch.act
        self.q, self.alpha = float(arch.q_of(0)), float(arch.alpha_of(0))
        self.tol, self.n_masks, self.seed = float(tol), int(n_masks), seed
        self.sym = X2 is None
        self.X1 = X1
        self.X2 = X1 if X2 is None else X2
        self.d0 = X1.shape[1]
        n1, n2 = X1.shape[0], self.X2.shape[0]
        pairs = n1 * n2 / (2 if self.sym else 1)
        method = "exact" if method == "enumerate" else method
        if method == "exact" and self.d0 > 24:
            raise ValueError(f"exact enumeration of 2^{self.d0} masks is infeasible; d0 must "
                             f"be <= 24 or use mixture_method='auto'/'expansion'/'sampled'")
        can_expand = me.supported(self.act)
        if method == "expansion" and not can_expand:
            raise ValueError(f"the 1/d0 expansion needs a closed-form activation (relu, relu2, "
                             f"erf), got {self.act.name!r}")
        if method == "auto":
            cheap = self.d0 <= EXACT_MAX_D0 and \
                (1 << self.d0) * self.d0 ** 2 * pairs <= ENUMERATION_BUDGET
            method = "exact" if (cheap or not can_expand) and self.d0 <= EXACT_MAX_D0 else \
                ("expansion" if can_expand else "sampled")
            self.fallback = "exact" if self.d0 <= EXACT_MAX_D0 else "sampled"
            self.certify = True
        else:
            self.fallback = None
            self.certify = False
        self.method = method
        self.order = (4 if isinstance(self.act, ArcCosine) else 2) if method == "expansion" \
            else None
        self.propagate = propagate and method == "expansion"
        self.homogeneous = isinstance(self.act, ArcCosine)
        self._prepare()

    # -- per-row data -------------------------------------------------------------------
    def _prepare(self) -> None:
        if self.homogeneous:  # expand on unit rows, multiply back (|x||x'|)^n
            self.v1, self.U1, _ = unit_rows(self.X1)
            self.v2, self.U2, _ = (self.v1, self.U1, None) if self.sym else unit_rows(self.X2)
        else:
            self.U1, self.U2 = self.X1, self.X2
            self.v1 = np.einsum("ij,ij->i", self.X1, self.X1)
            self.v2 = self.v1 if self.sym else np.einsum("ij,ij->i", self.X2, self.X2)
        top = 2 * self.me.MAX_ORDER + 2 if self.order == 4 else 6   # highest power sum
        self.P1 = {r: np.sum(self.U1 ** r, axis=1) for r in range(1, top + 1)}
        self.P2 = self.P1 if self.sym else \
            {r: np.sum(self.U2 ** r, axis=1) for r in range(1, top + 1)}
        self.pow1 = {r: self.U1 ** r for r in range(1, top)}
        self.pow2 = self.pow1 if self.sym else {r: self.U2 ** r for r in range(1, top)}
        self.gram_keys = [(r, t - r) for t in range(2, top + 1, 2) for r in range(1, t)] \
            if self.order == 4 else [(r, s_) for r in range(1, 6) for s_ in range(1, 7 - r)]
        self.tail1 = _hoeffding_tail(self.q, self.P1)
        self.tail2 = self.tail1 if self.sym else _hoeffding_tail(self.q, self.P2)
        self.d1 = (1 - self.q) / self.q * self.P1[4] / np.where(self.P1[2] > 0, self.P1[2], 1) ** 2
        self.d2 = self.d1 if self.sym else \
            (1 - self.q) / self.q * self.P2[4] / np.where(self.P2[2] > 0, self.P2[2], 1) ** 2
        self.diag1 = self._diagonal(self.X1)
        self.diag2 = self.diag1 if self.sym else self._diagonal(self.X2)

    def _diagonal(self, X: np.ndarray) -> dict:
        """``Σ̃^(1)(x,x)`` and the layer-1 gradient term at ``(x, x)``, exactly where a
        closed form exists (ReLU, ReLU²: polynomial in ``A``), else by the pair routes."""
        q, al, n = self.q, self.alpha, X.shape[0]
        a = np.einsum("ij,ij->i", X, X)
        if isinstance(self.act, ArcCosine):
            if self.act.n == 1:   # F(A,A,A) = H(A,A,A) = αA
                s = al * q * a
                return {"sigma": s, "grad": s.copy(), "err": np.zeros(n), "route": "exact"}
            # F = (αA)², H = (4/3)(αA)²;  E A² = (qa)² + q(1−q) Σ x⁴  (exact moments)
            EA2 = (q * a) ** 2 + q * (1 - q) * np.sum(X ** 4, axis=1)
            return {"sigma": al * al * EA2, "grad": 4 / 3 * al * al * EA2, "err": np.zeros(n),
                    "route": "exact"}
        if self.method == "expansion":   # erf: smooth at A = B = C, expand on the diagonal
            P = {r: np.sum(X ** r, axis=1) for r in range(1, 7)}
            G = {(r, s): P[r + s] for r in range(1, 6) for s in range(1, 7 - r)}
            z = np.zeros(n)
            o = self.me.expansion_tile(self.act, al, q, P, P, G, z, z + np.pi, pairwise=False)
            out, errs = {}, {}
            tail = 2 * _hoeffding_tail(q, P)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                for key, name in (("F", "sigma"), ("H", "grad")):
                    t0, t1, t2 = o[key + "0"], o[key + "1"], o[key + "2"]
                    val = t0 + t1 + t2
                    r = np.maximum(np.abs(t2) / np.abs(t1), np.abs(t1) / np.abs(val))
                    rel = ESTIMATE_SAFETY * (np.abs(t1) * r * r) / np.abs(val) + tail
                    out[name] = val
                    errs[name] = np.where(np.isfinite(rel), rel, np.inf)
            err = np.maximum(errs["sigma"], errs["grad"])
            bad = np.flatnonzero(err > self.tol) if self.certify else np.array([], int)
            if len(bad):
                s_, g_, _, route, _, _ = self._pairs_by_route(X, X, [(i, i) for i in bad])
                out["sigma"][bad], out["grad"][bad], err[bad] = s_, g_, 0.0
            return {"sigma": out["sigma"], "grad": out["grad"], "err": err, "route": "expansion"}
        sig, grad, err, route, se_s, se_g = self._pairs_by_route(
            X, X, [(i, i) for i in range(n)])
        return {"sigma": sig, "grad": grad, "err": err, "route": route}

    # -- per-pair fallbacks (enumeration / sampling), the masked_pair_geometry code ------
    def _pairs_by_route(self, Xa, Xb, pairs, method=None):
        method = method or (self.fallback if self.method == "expansion" else self.method)
        if method in (None, "expansion"):   # forced expansion: entries it cannot estimate
            method = self.fallback or ("exact" if self.d0 <= EXACT_MAX_D0 else "sampled")
        B = NUMPY
        M, w = mask_rows(B, self.d0, self.q, method, n_masks=self.n_masks, seed=self.seed)
        Mb = M.astype(np.float64)
        k = len(pairs)
        sig, grad = np.empty(k), np.empty(k)
        se_s = np.zeros(k)
        se_g = np.zeros(k)
        for t, (i, j) in enumerate(pairs):
            if method == "sampled":
                # Monte Carlo: the wedge from Lagrange's identity AB − C² (O(K d0) instead
                # of O(K d0²)); its rounding (≲ sqrt(ε) in θ for nearly collinear masked
                # pairs) is far below the sampling error
                xa, xb = Xa[i], Xb[j]
                A, Bq, C = Mb @ (xa * xa), Mb @ (xb * xb), Mb @ (xa * xb)
                th, ph = _angle(B, np.sqrt(np.maximum(A * Bq - C * C, 0.0)), C)
            else:
                A, Bq, C, th, ph = masked_pair_geometry(B, Mb, Xa[i], Xb[j])
            s_m, sd_m = self.act.pair_map(B, self.alpha * A, self.alpha * Bq, th, ph)
            g_m = self.alpha * C * sd_m
            sig[t], grad[t] = w @ s_m, w @ g_m
            if method == "sampled":
                se_s[t] = np.std(s_m, ddof=1) / np.sqrt(len(M))
                se_g[t] = np.std(g_m, ddof=1) / np.sqrt(len(M))
        return sig, grad, np.zeros(k), ("enumerated" if method == "exact" else "sampled"), se_s, se_g

    # -- one tile -----------------------------------------------------------------------
    def tile(self, i0: int, i1: int, j0: int, j1: int):
        """``(FirstLayer, stats)`` for rows ``i0:i1`` of X1 and ``j0:j1`` of X2."""
        shape = (i1 - i0, j1 - j0)
        diag_tile = self.sym and i0 == j0
        dg1 = {k: v[i0:i1] for k, v in self.diag1.items() if k != "route"}
        dg2 = {k: v[j0:j1] for k, v in self.diag2.items() if k != "route"}
        va, vb = dg1["sigma"][:, None], dg2["sigma"][None, :]
        ga, gb = dg1["grad"][:, None], dg2["grad"][None, :]
        scale_s = np.sqrt(np.abs(va)) * np.sqrt(np.abs(vb))
        scale_g = np.sqrt(np.abs(ga)) * np.sqrt(np.abs(gb))
        routes = np.zeros(shape, dtype=np.int8)   # 0 enum, 1 expansion, 2 sampled, 3 diag
        err_s = np.zeros(shape)
        err_g = np.zeros(shape)
        se_s = np.zeros(shape)
        se_g = np.zeros(shape)
        todo = np.ones(shape, dtype=bool)
        sig = np.empty(shape)
        grad = np.empty(shape)
        if diag_tile:
            idx = np.arange(min(shape))
            sig[idx, idx] = dg1["sigma"][idx]
            grad[idx, idx] = dg1["grad"][idx]
            err_s[idx, idx] = dg1["err"][idx]
            err_g[idx, idx] = dg1["err"][idx]
            todo[idx, idx] = False
            routes[idx, idx] = 3
        if self.method == "expansion":
            U1, U2 = self.U1[i0:i1], self.U2[j0:j1]
            G = {}
            for r, s_ in self.gram_keys:   # on a diagonal tile G[(s, r)] = G[(r, s)]ᵀ
                G[(r, s_)] = G[(s_, r)].T if diag_tile and (s_, r) in G else \
                    self.pow1[r][i0:i1] @ self.pow2[s_][j0:j1].T
            if self.homogeneous:
                th0, ph0 = pair_angles(U1, U2, diagonal=diag_tile, cos=G[(1, 1)])
            else:
                _, W1, _ = unit_rows(U1)
                _, W2, _ = unit_rows(U2)
                th0, ph0 = pair_angles(W1, W2, diagonal=diag_tile)
            P1 = {r: v[i0:i1] for r, v in self.P1.items()}
            P2 = {r: v[j0:j1] for r, v in self.P2.items()}
            if self.order == 4:
                o = self.me.expansion_tile3(self.act, self.alpha, self.q, P1, P2, G, th0, ph0)
            else:
                o = self.me.expansion_tile(self.act, self.alpha, self.q, P1, P2, G, th0, ph0)
            if self.homogeneous:
                nn = (np.sqrt(self.v1[i0:i1, None]) * np.sqrt(self.v2[None, j0:j1])) ** self.act.n
            else:
                nn = 1.0
            tail = self.tail1[i0:i1, None] + self.tail2[None, j0:j1]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                for key, out, err, scale in (("F", sig, err_s, scale_s), ("H", grad, err_g, scale_g)):
                    if self.order == 4:
                        # value through T_4; if the majorants M_k of the terms shrink by a
                        # ratio <= RATIO_MAX, the remainder is <= M_4 ρ/(1 − ρ) <= M_4 at
                        # ρ = 1/2: the estimate is M_4 (notes/input_layer_expansion.md)
                        val = sum(o[key + str(k)] for k in range(5)) * nn
                        M = [np.abs(o[key + f"M{k}"]) for k in range(1, 5)]
                        rho = np.maximum.reduce([M[k + 1] / M[k] for k in range(3)])
                        est = M[3] * nn * (RATIO_MAX / (1 - RATIO_MAX)) + tail * scale
                        rel = est / scale
                        diverging = ~(rho <= RATIO_MAX) & (M[3] != 0)
                        if not self.certify and np.any(diverging):
                            # forced expansion: where the orders stop shrinking, truncate
                            # before the smallest majorant and report it (the usual rule
                            # for asymptotic series; not validated, never certifies)
                            Ms = np.stack(M)
                            ks = np.argmin(np.where(np.isfinite(Ms), Ms, np.inf), axis=0)
                            csum = np.cumsum(np.stack([o[key + str(k)] for k in range(5)]), 0)
                            v_opt = np.take_along_axis(csum, ks[None], 0)[0] * nn
                            e_opt = np.take_along_axis(Ms, ks[None], 0)[0] * nn + tail * scale
                            val = np.where(diverging, v_opt, val)
                            est = np.where(diverging, e_opt, est)
                            diverging = np.zeros_like(diverging)
                        rel = est / scale
                        bad = ~np.isfinite(rel) | ~np.isfinite(val) | diverging
                        rel = np.where(bad, np.inf, rel)
                        out[todo] = val[todo]
                        err[todo] = rel[todo]
                        continue
                    t0, t1, t2 = o[key + "0"] * nn, o[key + "1"] * nn, o[key + "2"] * nn
                    # per-order ratio: the larger of |T_2/T_1| and |T_1|/scale
                    r = np.maximum(np.abs(t2) / np.abs(t1), np.abs(t1) / scale)
                    est = ESTIMATE_SAFETY * np.abs(t1) * r * r + tail * scale
                    rel = est / scale
                    bad = ~np.isfinite(rel) | ~np.isfinite(t0 + t1 + t2)
                    rel = np.where(bad, np.inf, rel)
                    m = todo
                    out[m] = (t0 + t1 + t2)[m]
                    err[m] = rel[m]
            ok = todo & (err_s <= self.tol) & (err_g <= self.tol) if self.certify else \
                todo & np.isfinite(err_s) & np.isfinite(err_g)
            routes[ok] = 1
            todo &= ~ok
        if np.any(todo):
            ii, jj = np.nonzero(todo)
            if self.method == "expansion" and self.fallback == "sampled":
                self._check_sampling_cost(len(ii), err_s[todo], err_g[todo])
            if self.sym:   # a symmetric tile: compute i<j once
                keep = (ii + i0) <= (jj + j0) if diag_tile else np.ones(len(ii), bool)
                ii, jj = ii[keep], jj[keep]
            s_, g_, e_, route, ss, sg = self._pairs_by_route(
                self.X1[i0:i1], self.X2[j0:j1], list(zip(ii, jj)))
            sig[ii, jj], grad[ii, jj] = s_, g_
            err_s[ii, jj] = err_g[ii, jj] = 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                se_s[ii, jj] = np.where(scale_s[ii, jj] > 0, ss / scale_s[ii, jj], 0.0)
                se_g[ii, jj] = np.where(scale_g[ii, jj] > 0, sg / scale_g[ii, jj], 0.0)
            routes[ii, jj] = 0 if route == "enumerated" else 2
            if self.sym and diag_tile:  # mirror inside the diagonal tile
                sig[jj, ii], grad[jj, ii] = s_, g_
                se_s[jj, ii], se_g[jj, ii] = se_s[ii, jj], se_g[ii, jj]
                err_s[jj, ii] = err_g[jj, ii] = 0.0
                routes[jj, ii] = routes[ii, jj]
        # parallel inputs (input angle exactly 0, e.g. duplicated rows): the mixture's output
        # angle is exactly 0 too (Cauchy–Schwarz equality for every mask), but sig and the
        # diagonal values va, vb come from different routes, so acos of their ratio would
        # return ~1e-8 and cost ~1e-8 relative accuracy downstream
        if self.homogeneous:  # the plan already holds the unit rows
            W1, W2 = self.U1[i0:i1], self.U2[j0:j1]
        else:
            W1, W2 = unit_rows(self.X1[i0:i1])[1], unit_rows(self.X2[j0:j1])[1]
        parallel = pair_angles(W1, W2, diagonal=diag_tile)[0] == 0
        first = self._first_layer(sig, grad, va, vb, diag_tile, parallel)
        stats = {"routes": np.bincount(routes.ravel(), minlength=4) * (1 if not self.sym or diag_tile else 2),
                 "err_s": err_s, "err_g": err_g,
                 "abs_s": np.where(np.isfinite(err_s), err_s * scale_s, 0.0),
                 "abs_g": np.where(np.isfinite(err_g), err_g * scale_g, 0.0),
                 "stderr": float(max(se_s.max(initial=0), se_g.max(initial=0)))}
        return first, stats

    def _check_sampling_cost(self, k: int, es: np.ndarray, eg: np.ndarray) -> None:
        """Refuse a fallback to Monte Carlo that would take hours, saying what to do."""
        cost = float(k) * self.n_masks * self.d0
        if cost <= SAMPLING_BUDGET:
            return
        est = np.maximum(es, eg)
        fin = est[np.isfinite(est)]
        worst = f"{np.max(fin):.1e}" if fin.size else "inf"
        raise ValueError(
            f"input_layer='exact': the 1/d0 expansion cannot certify tol = {self.tol:g} for "
            f"{k} entries of this tile (largest error estimate {worst}; the rest are within "
            f"tol), and sampling them ({self.n_masks} masks × d0 = {self.d0} per entry) would "
            f"cost ~{cost:.1e} operations. Pass a larger tol (e.g. tol={worst if fin.size else '1e-6'}), "
            f"mixture_method='expansion' to accept the expansion with its reported estimate, "
            f"fewer n_masks, or input_layer='wide'")

    def _first_layer(self, sig, grad, va, vb, diag_tile, parallel=None):
        B = NUMPY
        den = np.sqrt(va) * np.sqrt(vb)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.where(den > 0, sig / np.where(den > 0, den, 1.0), 0.0)
        th1, ph1 = B.angle_from_cos(cos)
        if diag_tile:
            idx = np.arange(min(sig.shape))
            th1[idx, idx] = 0.0
            ph1[idx, idx] = np.pi
        if parallel is not None:
            th1[parallel] = 0.0
            ph1[parallel] = np.pi
        return FirstLayer(va, vb, th1, ph1, sig, grad)

    def propagate_error(self, arch, first, stats, va0, vb0, theta, phi, r):
        """Absolute change of the NTK and NNGP when the layer-1 kernels move by their error
        estimates (one extra recursion pass), as a fraction of ``sqrt(K(x,x) K(x',x'))``."""
        from .recursion import run_recursion
        es, eg = stats["abs_s"], stats["abs_g"]
        pert = self._first_layer(first.sigma + es, first.grad + eg, first.va, first.vb, False)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            rp = run_recursion(NUMPY, arch, va0, vb0, theta, phi, first=pert)
            d = {}
            for k in ("ntk", "nngp"):
                base = np.asarray(getattr(r, k))
                diff = np.abs(np.asarray(getattr(rp, k)) - base)
                d[k] = diff
        return self._relative(d["ntk"], r.ntk), self._relative(d["nngp"], r.nngp)

    @staticmethod
    def _relative(diff, K):
        K = np.asarray(K)
        scale = np.max(np.abs(K))
        return float(np.max(diff) / scale) if scale > 0 else 0.0

    def report(self, all_stats: list, errs: dict) -> dict:
        counts = np.sum([s["routes"] for s in all_stats], axis=0)
        names = ("enumerated", "expansion", "sampled", "diagonal")
        routes = {nm: int(c) for nm, c in zip(names, counts) if c}
        offd = {k: v for k, v in routes.items() if k != "diagonal"}
        if "sampled" in offd:
            route = "sampled"
        elif len(offd) > 1:
            route = "mixed"
        elif offd:
            route = next(iter(offd))
        else:
            route = "enumerated" if self.method == "exact" else self.method
            if route == "expansion" and not offd:
                route = "enumerated" if self.diag1["route"] == "exact" else route
        err1 = max((float(np.max(np.where(np.isfinite(s["err_s"]), s["err_s"], 0), initial=0))
                    for s in all_stats), default=0.0)
        err1 = max(err1, max((float(np.max(np.where(np.isfinite(s["err_g"]), s["err_g"], 0),
                                           initial=0)) for s in all_stats), default=0.0))
        stderr = max((s["stderr"] for s in all_stats), default=0.0)
        rep = {"route": route, "routes": routes, "tol": self.tol,
               "order": self.order if "expansion" in routes else None,
               "n_masks": (self.n_masks if "sampled" in routes else
                           (1 << self.d0) if "enumerated" in routes else None),
               "stderr": stderr if "sampled" in routes else None,
               "warnings": []}
        if "expansion" in routes:
            rep["error_kind"] = (
                ("estimate (validated against exact mixtures, not a proof): the majorant of "
                 "the last included order T_4 of the 1/d0 expansion" if self.order == 4 else
                 "estimate: next term of the 1/d0 expansion") +
                " plus the Hoeffding tail, propagated through the recursion, relative to max |K|")
            rep["layer1_error_estimate"] = err1
            rep["error_estimate_ntk"] = errs.get("ntk", err1)
            rep["error_estimate_nngp"] = errs.get("nngp", err1)
            rep["error_estimate"] = max(rep["error_estimate_ntk"], rep["error_estimate_nngp"])
            if "sampled" in routes:   # the sampled entries' standard error dominates
                rep["error_kind"] += "; sampled entries: Monte Carlo standard error"
                for k in ("error_estimate", "error_estimate_ntk", "error_estimate_nngp"):
                    rep[k] = max(rep[k], stderr)
        elif "sampled" in routes:
            rep["error_kind"] = "Monte Carlo standard error (relative to sqrt(K(x,x)K(x',x')), layer 1)"
            rep["error_estimate"] = stderr
        else:
            rep["error_kind"] = "rounding"
            rep["error_estimate"] = 0.0
        return rep
