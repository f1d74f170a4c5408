"""Independent reference kernels, written here from docs/math.md#limit, docs/math.md#pruning without the engine.

``ntk_variance_recursion(act, X, L, s, G)`` is the NTK of a *dense* network (Arora et al.
convention, docs/math.md#network) whose matrix ``h`` (0-based) is ``sqrt(s_h) · Z_h`` with ``Z_h`` iid
N(0,1); ``G_h`` is the factor the gradient of matrix ``h`` carries:

* ``G_h = s_h``: NTK parametrisation, the trainable parameter is ``Z_h`` (the hard-mask
  model's limit, docs/math.md#pruning: a kept weight's gradient carries the same ``s_h``);
* ``G_h = 1``: the trainable parameter is the weight itself (the variance model).

ReLU uses the arc-cosine closed forms (Cho & Saul 2009); any other activation a 2-D
trapezoid rule on a uniform grid of the standard normal coordinates (``z ∈ [-9, 9]``,
``GRID`` points per axis) after a Cholesky factorisation of each pair's covariance. For a
Gaussian-weighted integrand analytic in a strip of half-width ``w`` the trapezoid error is
``~exp(-2π w / h)``: tanh' = sech² has poles at distance ``π/(2√v)``, so with ``h = 0.03``
the error is below 1e-25 for every variance ``v ≤ 25`` used here (truncation: ``e^{-40}``).
(Gauss–Hermite with a fixed 64 nodes — the engine's float64 quadrature — is *not*
accurate for tanh at variances above ~1 before it was fixed; see ``ENGINE_TANH_NOTE``.)
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np


GRID = 601
ENGINE_TANH_NOTE = (
    "tanh kernel maps: the engine's float64 quadrature was a fixed 64-node Gauss-Hermite "
    "rule that lost accuracy as the pre-activation variance grew (Θ(x,x) off by 4.4e-2 at "
    "|x| = 3); found by these checks and fixed in theory/activations.py (adaptive "
    "trapezoid). test_engine_tanh_float64_kernel_accuracy guards it against this "
    "module's independent trapezoid reference")


def _grid():
    z = np.linspace(-9.0, 9.0, GRID)
    w = np.exp(-0.5 * z * z)
    return z, w / w.sum()


def gauss_pair(f: Callable, g: Callable, a: float, b: float, c: float) -> float:
    """E[f(u) g(v)], (u, v) ~ N(0, [[a, c], [c, b]]), by the trapezoid rule (docstring)."""
    z, w = _grid()
    ra = math.sqrt(max(a, 0.0))
    if ra > 0:
        l21 = c / ra
        l22 = math.sqrt(max(b - l21 * l21, 0.0))
    else:
        l21, l22 = 0.0, math.sqrt(max(b, 0.0))
    fu = f(ra * z)
    if l22 == 0.0:  # v is a multiple of the same normal coordinate
        return float(np.sum(w * fu * g(l21 * z)))
    v = l21 * z[:, None] + l22 * z[None, :]
    return float(w @ ((fu[:, None] * g(v)) @ w))


def _pair_expect(f: Callable, g: Callable, K: np.ndarray, nodes: int = 0) -> np.ndarray:
    """E[f(u) g(v)], (u, v) ~ N(0, [[K_ii, K_ij], [K_ij, K_jj]]) for every pair (i, j)."""
    n = K.shape[0]
    out = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            out[i, j] = out[j, i] = gauss_pair(f, g, K[i, i], K[j, j], K[i, j])
    return out


def ntk_variance_recursion(act: str | tuple, X: np.ndarray, L: int, s: Sequence[float],
                           G: Sequence[float], nodes: int = 0) -> np.ndarray:
    """The NTK of the dense network with weight variances ``s`` and gradient factors ``G``
    (module docstring) on all pairs of rows of ``X``."""
    X = np.asarray(X, dtype=float)
    K = X @ X.T
    ntk = G[0] * K
    if act == "relu":
        for l in range(1, L + 1):
            Lam = s[l - 1] * K
            d = np.sqrt(np.clip(np.diag(Lam), 0.0, None))
            den = np.outer(d, d)
            with np.errstate(invalid="ignore", divide="ignore"):
                rho = np.where(den > 0, Lam / np.where(den > 0, den, 1.0), 0.0)
            rho = np.clip(rho, -1.0, 1.0)
            # arccos is ill-conditioned at ±1 (one ulp in ρ moves θ by 1.5e-8): parallel
            # inputs of different norms give ρ = 1 ± ulp; snap those to exactly ±1
            rho = np.where(np.abs(np.abs(rho) - 1.0) < 1e-14, np.sign(rho), rho)
            np.fill_diagonal(rho, 1.0)
            th = np.arccos(rho)
            sig = den * (np.sin(th) + (np.pi - th) * np.cos(th)) / np.pi   # c_σ = 2
            sdot = (np.pi - th) / np.pi
            ntk = s[l] * ntk * sdot + G[l] * sig
            K = sig
        return ntk
    f, df = act
    z, w = _grid()
    c = 1.0 / float(np.sum(w * f(z) ** 2))
    for l in range(1, L + 1):
        Lam = s[l - 1] * K
        sig = c * _pair_expect(f, f, Lam, nodes)
        sdot = c * _pair_expect(df, df, Lam, nodes)
        ntk = s[l] * ntk * sdot + G[l] * sig
        K = sig
    return ntk


def arora_ntk_relu(X: np.ndarray, L: int) -> np.ndarray:
    """Arora et al. (2019) dense ReLU NTK Θ^(L) (docs/math.md#limit), closed form."""
    return ntk_variance_recursion("relu", X, L, [1.0] * (L + 1), [1.0] * (L + 1))


def activation_pair(name: str):
    """(σ, σ') as numpy callables, written here (not taken from the engine)."""
    from scipy.special import erf
    if name == "erf":
        return erf, lambda z: 2.0 / math.sqrt(math.pi) * np.exp(-z * z)
    if name == "tanh":
        return np.tanh, lambda z: 1.0 / np.cosh(z) ** 2
    if name == "callable":
        return (lambda z: np.sin(z) + 0.5 * z), (lambda z: np.cos(z) + 0.5)
    if name == "relu":
        return "relu"
    raise ValueError(name)



# ----------------------------------------------------------------------------- plain sampler
FAULTS = ("shared_mask_row", "quantised_keep", "backward_d_plus_1")


def reference_c_sigma(name: str) -> float:
    """``1 / E[σ(z)²]``, ``z ~ N(0, 1)`` (docs/math.md#network), by this module's trapezoid
    rule (exactly 2 for ReLU)."""
    if name == "relu":
        return 2.0
    f, _ = activation_pair(name)
    z, w = _grid()
    return 1.0 / float(np.sum(w * f(z) ** 2))


class _Plan:
    """Everything :func:`reference_ntk` needs that does not depend on the draw (read from
    ``arch`` once: activation, ``c_σ``, layer sizes and each matrix's model, ``q_h``,
    ``α_h``, ``s_h``), so that a draw is only the plain per-matrix sampling and the
    forward/backward pass."""

    def __init__(self, arch, X: np.ndarray, width: int, fault: str | None):
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS} or None, got {fault!r}")
        name = arch.act.name
        if name not in ("relu", "erf", "tanh"):
            raise ValueError("reference sampler: activation must be relu, erf or tanh, got "
                             f"{name}")
        if name == "relu":
            self.sig = lambda z: np.maximum(z, 0.0)          # noqa: E731
            self.dsig = lambda z: (z > 0).astype(float)      # noqa: E731
        else:
            self.sig, self.dsig = activation_pair(name)
        c = reference_c_sigma(name)
        self.X = np.asarray(X, dtype=float)
        self.n, d0 = self.X.shape
        self.L = L = arch.depth
        self.dims = dims = [d0] + [int(width)] * L + [1]
        masked = set(arch.pruned_matrices())
        self.fault = fault
        # per matrix: (rows, cols, kind, keep probability, weight factor)
        self.mats = []
        for h in range(L + 1):
            if arch.model == "mask" and h in masked:
                q = float(arch.q_of(h))
                if fault == "quantised_keep":
                    q = math.floor(256 * q) / 256
                self.mats.append((dims[h + 1], dims[h], "mask", q,
                                  math.sqrt(float(arch.alpha_of(h)))))
            elif arch.model == "variance" and h in masked:
                self.mats.append((dims[h + 1], dims[h], "variance", 1.0,
                                  math.sqrt(float(arch.s_of(h)))))
            else:
                self.mats.append((dims[h + 1], dims[h], "dense", 1.0, 1.0))
        self.fwd = [math.sqrt(c / dims[h + 1]) for h in range(L)]
        self.bwd = [math.sqrt(c / ((dims[h] + 1) if fault == "backward_d_plus_1" else dims[h]))
                    for h in range(L + 1)]

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        L, n = self.L, self.n
        g = [self.X.T]
        f = []
        Weff, gs = [], []
        for h, (rows, cols, kind, q, a) in enumerate(self.mats):
            Z = rng.standard_normal((rows, cols))
            if kind == "mask":
                if self.fault == "shared_mask_row":
                    M = np.repeat(rng.binomial(1, q, size=(1, cols)), rows, axis=0)
                else:
                    M = rng.binomial(1, q, size=(rows, cols))
                G = a * M           # ∂W_eff/∂W: sqrt(α_h) on kept weights, 0 on pruned ones
                W = G * Z
            else:
                G = None            # the gradient factor is 1 (dense or variance model)
                W = a * Z
            Weff.append(W)
            gs.append(G)
            if h < L:
                pre = W @ g[h]
                f.append(pre)
                g.append(self.fwd[h] * self.sig(pre))
        b = [None] * (L + 1)
        b[L] = np.ones((1, n))
        for h in range(L, 0, -1):
            b[h - 1] = (Weff[h].T @ b[h]) * self.bwd[h] * self.dsig(f[h - 1])
        out = np.empty((L + 1, n, n))
        for h in range(L + 1):
            # Θ_h(x, x') = Σ_ij ∂f(x)/∂W_ij ∂f(x')/∂W_ij with the per-weight gradient
            # ∂f(x)/∂W_ij = G_ij b_i(x) g_j(x): Σ_i b_i(x) b_i(x') Σ_j G_ij² g_j(x) g_j(x')
            if gs[h] is None:                      # G = 1: (b·b') (g·g')
                out[h] = (b[h].T @ b[h]) * (g[h].T @ g[h])
            else:
                gg = (g[h][:, :, None] * g[h][:, None, :]).reshape(g[h].shape[0], n * n)
                Kb = (b[h][:, :, None] * b[h][:, None, :]).reshape(b[h].shape[0], n * n)
                out[h] = np.sum(Kb * ((gs[h] * gs[h]) @ gg), axis=0).reshape(n, n)
        return out


def reference_ntk(arch, X: np.ndarray, width: int, rng: np.random.Generator,
                  fault: str | None = None) -> np.ndarray:
    """One draw of the per-matrix empirical NTK terms ``(L+1, n, n)`` of the finite pruned
    network of docs/math.md#network and docs/math.md#pruning, written plainly and
    independently of ``theory.network``: one matrix at a time, ``rng.standard_normal``
    weights and ``rng.binomial`` masks, a plain forward and backward pass, and the NTK
    as the sum over the weights of the products of the explicit per-weight gradients
    (``Θ_h(x, x') = Σ_ij G_ij² b_i(x) b_i(x') g_j(x) g_j(x')``).

    Hard masks: ``f^(h+1) = sqrt(α_h) (M_h ⊙ W_h) g^(h)``, the trainable parameters are the
    kept ``W_h`` entries, ``∂f/∂W_ij = sqrt(α_h) M_ij b_i g_j``. Variance model: ``W'_h =
    sqrt(s_h) Z_h`` is the parameter, ``∂f/∂W'_ij = b_i g_j``. ``g^(h) = sqrt(c_σ/d_h)
    σ(f^(h))``. Only ``arch``'s parameters are read (depth, activation name, model, masked
    matrices, q_h, α_h, s_h).

    ``fault`` (for the negative controls of claim 10 and tests/): ``"shared_mask_row"``
    — every row of a masked matrix is the same mask row; ``"quantised_keep"`` — keep
    probability ``⌊256 q⌋/256``; ``"backward_d_plus_1"`` — the backward pass normalised by
    ``d + 1`` instead of ``d``."""
    return _Plan(arch, X, width, fault).draw(rng)


def reference_draws(arch, X: np.ndarray, width: int, n_draws: int, seed,
                    fault: str | None = None) -> np.ndarray:
    """``n_draws`` independent draws of :func:`reference_ntk`: ``(n_draws, L+1, n, n)``."""
    rng = np.random.default_rng(seed)
    plan = _Plan(arch, X, width, fault)
    out = np.empty((int(n_draws), arch.depth + 1, plan.n, plan.n))
    for k in range(int(n_draws)):   # one network at a time, on purpose (module docstring)
        out[k] = plan.draw(rng)
    return out
