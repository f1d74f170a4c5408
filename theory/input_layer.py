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
from .recursion import FirstLayer

EXACT_MAX_D0 = 16
DEFAULT_N_MASKS = 1 << 15


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
