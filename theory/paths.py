"""The path-kernel lens: Θ = J_v Π J_vᵀ, the trace of Π, SynFlow, and random pruning.

Gebhart, Saxena & Schrater, *A Unified Paths Perspective for Pruning at Initialization*
(arXiv 2101.10552, 2021); SynFlow: Tanaka, Kunin, Yamins & Ganguli, *Pruning neural
networks without any data by iteratively conserving synaptic flow* (NeurIPS 2020, arXiv
2006.05467). The mathematics, in this project's convention, is in docs/math.md#path-kernel;
the random-pruning laws are derived in ``notes/path_kernel.md``.

Convention (:mod:`theory.network`, docs/math.md#network). A bias-free ReLU network with
effective matrices ``W'_h = sqrt(a_h)(M_h ⊙ W_h)`` (model ``"mask"``) or ``W'_h =
sqrt(s_h) Z_h`` (model ``"variance"``), ``h = 0 … L``, and layer constants
``sqrt(c_σ/d_h)``. A *path* ``P = (j_0, j_1, …, j_L)`` picks one unit per layer (``j_0``
an input coordinate, the output unit is the only one). With ReLU ``σ(z) = z·1[z > 0]``,

    f(x) = Σ_P v_P · J_P(x),     v_P = Π_h W'_h[j_{h+1}, j_h],
                                 J_P(x) = C · x_{j_0} · Π_{h=1}^{L} 1[f^(h)_{j_h}(x) > 0],
                                 C = Π_{h=1}^{L} sqrt(c_σ / d_h).

``v_P`` (the *path value*) depends on the weights only, ``J_P(x)`` on the data through the
activation pattern (and on the architecture through ``C``). The activation pattern is
locally constant in the weights, so ``∂f/∂θ = Σ_P J_P(x) ∂v_P/∂θ`` and

    Θ(x, x') = J_v(x) Π J_v(x')ᵀ,     Π_{PP'} = Σ_θ (∂v_P/∂θ)(∂v_{P'}/∂θ)  (the path kernel).

The trainable parameters ``θ`` are those of :mod:`theory.network`: the kept entries of
``W_h`` under hard masks (``∂W'/∂W = sqrt(a_h)``, so an edge contributes ``a_h (v_P /
W'_e)²``), every entry of ``W'_h`` under the variance model (``(v_P / W'_e)²``).

Traces in one pass of squared weights (no enumeration): with ``u_0 = 1`` (all ones, length
``d_0``), ``u_{h+1} = W'^{⊙2}_h u_h`` and ``r_{L+1} = 1``, ``r_h = (W'^{⊙2}_h)ᵀ r_{h+1}``,

    R₂  = Σ_P v_P² = 1ᵀ W'^{⊙2}_L ⋯ W'^{⊙2}_0 1 = u_{L+1},
    tr Π = Σ_θ Σ_{P ∋ θ} (∂v_P/∂θ)² = Σ_h g_h Σ_{(i,j) trainable} r_{h+1}[i] u_h[j],

because the paths through edge ``(i, j)`` of matrix ``h`` are an upstream path into unit
``j`` times a downstream path out of unit ``i`` (``g_h = a_h`` for hard masks, 1 for the
variance model). SynFlow's objective ``R_SF = 1ᵀ|W'_L| ⋯ |W'_0|1`` (the ℓ1 path norm) and its
scores ``S = θ ⊙ ∂R_SF/∂θ`` are the same pass with ``|W'|``; the ℓ2 variant uses ``R₂``.
"""
from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import sympy

from .architecture import Architecture
from .network import Network, draw_network, forward_backward, ntk_contributions

__all__ = [
    "PathDecomposition", "path_decomposition", "path_traces", "PathTraces", "synflow_scores",
    "synflow_prune", "masked_network", "expected_path_traces", "path_trace_variance",
    "ntk_spectrum_summary",
]

# enumeration is exponential in depth: refuse what would not fit
_MAX_PATHS = 200_000
_MAX_PARAMS = 20_000


# ----------------------------------------------------------------------------- validation
def _check_relu_net(net: Any) -> Network:
    if not isinstance(net, Network):
        raise TypeError(f"net must be a theory.network.Network, got {type(net).__name__}")
    if net.arch.act.name != "relu":
        raise ValueError(
            f"the path decomposition needs a positively 1-homogeneous activation (ReLU): "
            f"f = Σ_P v_P J_P(x) holds only when σ(z) = σ'(z)·z; got activation "
            f"{net.arch.act.name!r}")
    return net


def _edge_factors(net: Network) -> list[float]:
    """``g_h``: the squared derivative of ``W'_h`` w.r.t. its trainable parameter."""
    return [float(f) for f in net.ntk_factors]


def _effective(net: Network) -> list[np.ndarray]:
    return [net.effective_weight(h) for h in range(net.depth + 1)]


def _trainable(net: Network, h: int) -> np.ndarray | None:
    """0/1 array of trainable entries of matrix ``h`` (``None``: all of them)."""
    return net.masks[h]


# ----------------------------------------------------------------------------- enumeration
@dataclass(frozen=True)
class PathDecomposition:
    """Explicit path enumeration of a tiny network (for verification).

    ``paths``: ``(P, L+1)`` unit indices ``(j_0, …, j_L)``; ``values``: ``v_P``;
    ``dv``: ``(P, n_params)`` the Jacobian ``∂v_P/∂θ``; ``params``: ``(h, i, j)`` of every
    trainable parameter; ``J``: ``(n, P)`` the data factor ``J_P(x)``; ``kernel``: the
    path kernel ``Π = dv dvᵀ`` ``(P, P)``; ``ntk``: ``J Π Jᵀ``.
    """
    paths: np.ndarray
    values: np.ndarray
    dv: np.ndarray
    params: tuple
    J: np.ndarray
    kernel: np.ndarray
    ntk: np.ndarray


def path_decomposition(net: Network, X: Any) -> PathDecomposition:
    """Enumerate every input→output path of a tiny ReLU network and build ``J_v``, ``Π``
    and ``Θ = J_v Π J_vᵀ`` explicitly (module docstring; Gebhart et al. 2021, §3).
    Exponential in depth: refused above 200 000 paths or 20 000 parameters."""
    net = _check_relu_net(net)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != net.d0:
        raise ValueError(f"X must have shape (n, d0={net.d0}), got {X.shape}")
    dims = net.dims  # (d0, d1, …, dL, 1)
    L = net.depth
    n_paths = math.prod(dims[:-1])
    if n_paths > _MAX_PATHS:
        raise ValueError(f"net has {n_paths} paths; enumeration is limited to {_MAX_PATHS} "
                         f"(use path_traces for the traces of large nets)")
    Wp = _effective(net)
    g = _edge_factors(net)
    params = []
    for h in range(L + 1):
        T = _trainable(net, h)
        for i in range(dims[h + 1]):
            for j in range(dims[h]):
                if T is None or T[i, j] != 0:
                    params.append((h, i, j))
    if len(params) > _MAX_PARAMS:
        raise ValueError(f"net has {len(params)} parameters; enumeration is limited to "
                         f"{_MAX_PARAMS}")
    index = {p: k for k, p in enumerate(params)}
    paths = np.array(list(itertools.product(*[range(d) for d in dims[:-1]])), dtype=np.int64)
    P = paths.shape[0]
    # unit sequence including the output unit 0
    units = np.concatenate([paths, np.zeros((P, 1), dtype=np.int64)], axis=1)
    edge_w = np.stack([Wp[h][units[:, h + 1], units[:, h]] for h in range(L + 1)], axis=1)
    values = np.prod(edge_w, axis=1)
    dv = np.zeros((P, len(params)))
    for h in range(L + 1):
        others = np.prod(np.delete(edge_w, h, axis=1), axis=1)  # Π_{k≠h} W'_k: no division
        for a in range(P):
            k = index.get((h, int(units[a, h + 1]), int(units[a, h])))
            if k is not None:
                dv[a, k] = math.sqrt(g[h]) * others[a]
    # data factor: C · x_{j0} · activation pattern
    tr = forward_backward(net, X, backward=False)
    C = math.prod(math.sqrt(net.c_sigma / d) for d in net.widths)
    J = np.empty((X.shape[0], P))
    for a in range(P):
        act = np.ones(X.shape[0])
        for h in range(1, L + 1):
            act = act * (tr.G[h][paths[a, h]] > 0)
        J[:, a] = C * X[:, paths[a, 0]] * act
    kernel = dv @ dv.T
    return PathDecomposition(paths=paths, values=values, dv=dv, params=tuple(params), J=J,
                             kernel=kernel, ntk=J @ kernel @ J.T)


# ----------------------------------------------------------------------------- one pass
@dataclass(frozen=True)
class PathTraces:
    """``R₂ = Σ_P v_P²`` (the ℓ2 path norm, squared), ``trace = tr Π``, and ``per_matrix``:
    the share of ``tr Π`` of each weight matrix (sums to ``trace``)."""
    R2: float
    trace: float
    per_matrix: tuple

    def as_dict(self) -> dict:
        return {"R2": self.R2, "trace": self.trace, "per_matrix": list(self.per_matrix)}


def _flow(mats: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Forward ``u_h`` from all-ones input and backward ``r_h`` from the output through
    nonnegative matrices ``mats[h]`` (shape ``(d_{h+1}, d_h)``)."""
    u = [np.ones(mats[0].shape[1])]
    for A in mats:
        u.append(A @ u[-1])
    r = [None] * (len(mats) + 1)
    r[-1] = np.ones(mats[-1].shape[0])
    for h in range(len(mats) - 1, -1, -1):
        r[h] = r[h + 1] @ mats[h]
    return u, r


def path_traces(net: Network) -> PathTraces:
    """``tr Π`` and ``R₂`` in one forward and one backward pass of squared weights
    (module docstring), ``O(Σ_h d_h d_{h+1})``: runs at width 4096. Float64 throughout;
    the values grow like the number of paths ``d_0 Π d_h``, so very deep or wide nets
    overflow only beyond ~1e308 (an ``OverflowError``-free check raises ``ValueError``)."""
    net = _check_relu_net(net)
    sq = [W * W for W in _effective(net)]
    u, r = _flow(sq)
    g = _edge_factors(net)
    per = []
    for h in range(net.depth + 1):
        T = _trainable(net, h)
        if T is None:
            s = float(r[h + 1].sum() * u[h].sum())
        else:
            s = float(r[h + 1] @ T @ u[h])
        per.append(g[h] * s)
    R2 = float(u[-1][0])
    trace = float(sum(per))
    if not (math.isfinite(R2) and math.isfinite(trace)):
        raise ValueError("path traces overflow float64 (the number of paths is too large); "
                         "use smaller widths or depth")
    return PathTraces(R2=R2, trace=trace, per_matrix=tuple(per))


# ----------------------------------------------------------------------------- SynFlow
def synflow_scores(net: Network, norm: str = "l1") -> list[np.ndarray]:
    """SynFlow scores ``S = θ ⊙ ∂R/∂θ`` for every matrix (Tanaka et al. 2020, eq. 4).

    ``norm="l1"``: ``R_SF = 1ᵀ|W'_L| ⋯ |W'_0|1`` (SynFlow), ``S_ij = |W'_ij| r_{h+1}[i]
    u_h[j]``; ``norm="l2"``: ``R₂ = 1ᵀ W'^{⊙2}_L ⋯ W'^{⊙2}_0 1`` (the path-kernel norm, the
    ℓ2 variant of Gebhart et al. 2021), ``S_ij = 2 W'^2_ij r_{h+1}[i] u_h[j]``. ``θ`` is
    taken as the effective weight ``W'``; scores of pruned entries are 0."""
    net = _check_relu_net(net)
    if norm not in ("l1", "l2"):
        raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")
    Wp = _effective(net)
    mats = [np.abs(W) for W in Wp] if norm == "l1" else [W * W for W in Wp]
    u, r = _flow(mats)
    k = 1.0 if norm == "l1" else 2.0
    return [k * mats[h] * np.outer(r[h + 1], u[h]) for h in range(net.depth + 1)]


def masked_network(net: Network, masks: Sequence[np.ndarray | None], *,
                   rescale: bool = False) -> Network:
    """The same weights with new masks (hard-mask model): pruned entries frozen at 0.
    ``rescale``: multiply matrix ``h`` by ``1/sqrt(density_h)`` (its kept fraction), as
    random pruning's rescaling does."""
    if len(masks) != net.depth + 1:
        raise ValueError(f"masks must have depth + 1 = {net.depth + 1} entries, got {len(masks)}")
    Ws, Ms, scales, factors = [], [], [], []
    for h, M in enumerate(masks):
        base = net.weights[h]
        sc = net.scales[h]
        if M is None:
            Ws.append(base)
            Ms.append(net.masks[h])
            scales.append(sc)
            factors.append(net.ntk_factors[h])
            continue
        M = np.asarray(M, dtype=np.float64)
        if M.shape != base.shape:
            raise ValueError(f"masks[{h}] must have shape {base.shape}, got {M.shape}")
        if not np.all((M == 0) | (M == 1)):
            raise ValueError(f"masks[{h}] must contain only 0 and 1")
        dens = float(M.mean())
        # a matrix that keeps nothing (random pruning at tiny density can do that) has
        # nothing to rescale: the network is then disconnected and its NTK is 0
        a = 1.0 / dens if (rescale and dens > 0) else 1.0
        Ws.append(base * M)
        Ms.append(M)
        scales.append(sc * math.sqrt(a))
        factors.append(net.ntk_factors[h] * a)
    return Network(arch=net.arch, d0=net.d0, widths=net.widths, weights=tuple(Ws),
                   masks=tuple(Ms), scales=tuple(scales), ntk_factors=tuple(factors),
                   c_sigma=net.c_sigma)


def synflow_prune(net: Network, density: float, *, iterations: int = 100, norm: str = "l1",
                  rescale: bool = False) -> Network:
    """Iterative SynFlow (Tanaka et al. 2020, Algorithm 1): ``iterations`` rounds; round
    ``k`` scores the current masked network and keeps the top ``density^(k/iterations)``
    fraction of all weights globally (ties broken by index). Returns the masked network
    (hard masks, pruned weights frozen). ``density`` in (0, 1]."""
    net = _check_relu_net(net)
    if isinstance(density, bool) or not isinstance(density, numbers.Real) or not (0 < density <= 1):
        raise ValueError(f"density must lie in (0, 1], got {density!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or iterations < 1:
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    if any(M is not None for M in net.masks):
        raise ValueError("net is already masked; SynFlow prunes a dense network (p = 0)")
    shapes = [W.shape for W in net.weights]
    total = sum(a * b for a, b in shapes)
    masks = [np.ones(s) for s in shapes]
    cur = net
    for k in range(1, iterations + 1):
        S = synflow_scores(cur, norm)
        flat = np.concatenate([(s * m).ravel() for s, m in zip(S, masks)])
        keep = int(round(total * density ** (k / iterations)))
        keep = max(1, keep)
        order = np.argsort(-flat, kind="stable")
        new = np.zeros(total)
        new[order[:keep]] = 1.0
        masks, off = [], 0
        for a, b in shapes:
            masks.append(new[off:off + a * b].reshape(a, b))
            off += a * b
        cur = masked_network(net, masks, rescale=False)
    return masked_network(net, masks, rescale=rescale)


# ----------------------------------------------------------------------------- laws
def _sym(x: Any) -> sympy.Expr:
    return x if isinstance(x, sympy.Basic) else sympy.nsimplify(x)


def _layer_moments(arch: Architecture, h: int) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
    """``(E[W'²], E[W'⁴], g_h E[trainable])`` for an entry of matrix ``h``.

    Hard masks: ``W' = sqrt(a) M W``, ``E W'² = a q = s``, ``E W'⁴ = 3 a² q``, a trainable
    entry is kept with probability ``q`` and carries ``g = a``. Variance model: ``W' =
    sqrt(s) Z``: ``s``, ``3 s²``, every entry trainable with ``g = 1``."""
    masked = h in arch.pruned_matrices()
    if arch.model == "variance" or not masked:
        s = _sym(arch.s_of(h)) if arch.model == "variance" else sympy.Integer(1)
        return s, 3 * s ** 2, sympy.Integer(1)
    q = _sym(arch.q_of(h))
    a = _sym(arch.alpha_of(h))
    return a * q, 3 * a ** 2 * q, a * q


def expected_path_traces(arch: Architecture, d0: Any, width: Any) -> dict[str, sympy.Expr]:
    """Exact ``E[R₂]`` and ``E[tr Π]`` over random weights and masks (notes/path_kernel.md).

    Every path uses one independent entry per matrix, so ``E[v_P²] = Π_h E[W'_h²] = Π_h
    s_h`` and, with ``N = d_0 Π_h d_h`` paths,

        E[R₂]   = N Π_h s_h,
        E[tr Π] = N Σ_h γ_h Π_{k≠h} s_k,     γ_h = g_h P(trainable) = s_h (hard masks), 1 (variance).

    Hard masks give ``(L+1) N Π_h s_h`` — the factor ``Π s_h`` of the NTK (docs/math.md#pruning)
    — and the variance model ``N Σ_h Π_{k≠h} s_k`` (one power fewer per term). ``p``,
    ``d0`` and ``width`` may be sympy symbols (``width``: one value or one per hidden
    layer)."""
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be a theory.Architecture, got {type(arch).__name__}")
    if arch.act.name != "relu":
        raise ValueError(f"path traces are defined for ReLU networks, got {arch.act.name!r}")
    L = arch.depth
    ws = list(width) if isinstance(width, (list, tuple)) else [width] * L
    if len(ws) != L:
        raise ValueError(f"width must be one value or {L} values, got {len(ws)}")
    N = _sym(d0) * sympy.Mul(*[_sym(w) for w in ws])
    mom = [_layer_moments(arch, h) for h in range(L + 1)]
    s = [m[0] for m in mom]
    gam = [m[2] for m in mom]
    R2 = N * sympy.Mul(*s)
    tr = N * sympy.Add(*[gam[h] * sympy.Mul(*[s[k] for k in range(L + 1) if k != h])
                         for h in range(L + 1)])
    return {"R2": sympy.simplify(R2), "trace": sympy.simplify(tr)}


def path_trace_variance(arch: Architecture, d0: Any, width: Any) -> sympy.Expr:
    """Exact ``Var[R₂]`` over random weights and masks (notes/path_kernel.md).

    ``u_{h+1} = A_h u_h`` with ``A_h = W'^{⊙2}_h`` iid entries of mean ``m₁ = s_h`` and
    second moment ``m₂ = E W'⁴``, ``u_0 = 1``. By exchangeability ``E[u u ᵀ]`` has one
    diagonal value ``α`` and one off-diagonal value ``β``; one layer maps

        α' = d (m₂ α + (d−1) m₁² β),     β' = m₁² (d α + d(d−1) β)      (d = fan-in),

    and ``Var R₂ = α_{L+1} − (E R₂)²``."""
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be a theory.Architecture, got {type(arch).__name__}")
    L = arch.depth
    ws = list(width) if isinstance(width, (list, tuple)) else [width] * L
    dims = [_sym(d0)] + [_sym(w) for w in ws]
    alpha, beta = sympy.Integer(1), sympy.Integer(1)
    for h in range(L + 1):
        m1, m2, _ = _layer_moments(arch, h)
        d = dims[h]
        alpha, beta = (d * (m2 * alpha + (d - 1) * m1 ** 2 * beta),
                       m1 ** 2 * (d * alpha + d * (d - 1) * beta))
    ER2 = expected_path_traces(arch, d0, width)["R2"]
    return sympy.factor(sympy.expand(alpha - ER2 ** 2))


# ----------------------------------------------------------------------------- NTK summary
def ntk_spectrum_summary(net: Network, X: Any) -> dict[str, float]:
    """Trace, extreme eigenvalues and condition number of the empirical NTK on ``X``."""
    K = ntk_contributions(net, forward_backward(net, X)).sum(axis=0)
    ev = np.linalg.eigvalsh(K)
    lo, hi = float(ev[0]), float(ev[-1])
    return {"trace": float(np.trace(K)), "lambda_min": lo, "lambda_max": hi,
            "condition": hi / lo if lo > 0 else math.inf}
