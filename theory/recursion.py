"""The one infinite-width recursion (docs/math.md#limit, docs/math.md#pruning, docs/math.md#input-layer), generic over the backend.

State per input pair ``(x, x')``: the two variances ``Σ(x,x)``, ``Σ(x',x')`` and the
correlation angle ``θ`` (``cos θ = ρ``) carried together with ``φ = π − θ`` (see
``theory.backends`` for why). With ``s_h`` the effective weight variance and ``G_h`` the
gradient factor of matrix ``h`` (0-based; ``theory.architecture``), the recursion is

    pre-activation covariance of layer l:   s_{l-1} · Σ̃^(l-1)
    Σ̃^(l), Σ̇̃^(l)                           from the activation's kernel map
    T^(0) = G_0 Σ^(0);   T^(l) = s_l · T^(l-1) · Σ̇̃^(l) + G_l · Σ̃^(l);   Θ̃ = T^(L)

which unrolls to docs/math.md#pruning: layer ``h``'s own term is
``G_h Σ̃^(h-1) Π_{k≥h} Σ̇̃^(k) Π_{k>h} s_k`` (1-based there). For ``s_h = G_h = 1`` this is
Arora et al.'s ``Θ^(h) = Θ^(h-1) Σ̇^(h) + Σ^(h)``. When the input matrix is pruned and its
fan-in ``d0`` is finite, layer 1 is replaced by the mask mixture of docs/math.md#input-layer
(``theory.input_layer``), which supplies ``Σ̃^(1)`` and the product ``T^(0) Σ̇̃^(1)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from .architecture import Architecture
from .backends import Backend, MpmathBackend, NumpyBackend, SympyBackend


@dataclass
class FirstLayer:
    """Layer-1 quantities handed to the recursion (wide formula or mask mixture)."""
    va: Any      # Σ̃^(1)(x, x)
    vb: Any      # Σ̃^(1)(x', x')
    theta: Any   # angle of Σ̃^(1)(x, x')
    phi: Any
    sigma: Any   # Σ̃^(1)(x, x')
    grad: Any    # T^(0) · Σ̇̃^(1)(x, x')  (layer-1 weights' gradient term before later layers)


@dataclass
class RecursionResult:
    ntk: Any                 # Θ̃(x, x') = T^(L)
    nngp: Any                # Σ̃^(L)(x, x') (last hidden layer; Σ^(0) when L = 0)
    per_layer: list | None = None   # contribution of each weight matrix 0..L (sum = ntk)
    sigma_dot: list = field(default_factory=list)  # Σ̇̃^(l), l = 1..L
    sigma: list = field(default_factory=list)      # Σ̃^(l), l = 1..L


def _times(c, x):
    """``c · x``, skipping a float64 pass over ``x`` when ``c`` is the number 1."""
    return x if (isinstance(c, float) and c == 1.0) else c * x


def layer_factors(arch: Architecture, B: Backend) -> tuple[list, list]:
    """``[s_h]`` and ``[G_h]`` for h = 0..L as backend numbers."""
    if arch.is_symbolic and not isinstance(B, SympyBackend):
        raise ValueError("p is symbolic: evaluate with backend='sympy' or substitute numbers for p")
    s = [B.const(arch.s_of(h)) for h in range(arch.n_matrices)]
    G = [B.const(arch.grad_factor_of(h)) for h in range(arch.n_matrices)]
    return s, G


def wide_first_layer(B: Backend, arch: Architecture, va, vb, theta, phi, s, G) -> FirstLayer:
    """Layer 1 as for every other layer (fan-in treated as large, docs/math.md#pruning)."""
    act = arch.act
    # Σ^(0) before the layer map: a float64 map remembers its output angle's trig values
    # in place of the input's (NumpyBackend.remember_trig)
    sigma0 = B.sqrt(va) * B.sqrt(vb) * B.cos_angle(theta, phi)
    ua, ub = s[0] * va, s[0] * vb
    sig, sdot, va1, vb1, th1, ph1 = act.layer_map(B, ua, ub, theta, phi)
    return FirstLayer(va1, vb1, th1, ph1, sig, _times(G[0], sigma0 * sdot))


def run_recursion(B: Backend, arch: Architecture, va, vb, theta, phi, *,
                  first: FirstLayer | None = None, per_layer: bool = False) -> RecursionResult:
    """Evaluate ``Θ̃`` and ``Σ̃^(L)`` from the input state ``Σ^(0)`` (variances ``va, vb``,
    angle ``θ, φ``), broadcasting over whatever array shape the backend's numbers have."""
    s, G = layer_factors(arch, B)
    L = arch.depth
    act = arch.act
    if L == 0:  # a linear model: only the output matrix, Θ = G_0 xᵀx'
        sigma0 = B.sqrt(va) * B.sqrt(vb) * B.cos_angle(theta, phi)
        return RecursionResult(G[0] * sigma0, sigma0, [G[0] * sigma0] if per_layer else None)
    if first is None:
        first = wide_first_layer(B, arch, va, vb, theta, phi, s, G)
    va, vb, theta, phi, sig = first.va, first.vb, first.theta, first.phi, first.sigma
    va, vb = B.bind(va, "v"), B.bind(vb, "v")
    theta = B.bind(theta, "theta")
    if isinstance(B, SympyBackend):
        phi = sympy.pi - theta
    ntk = _times(s[1], first.grad) + _times(G[1], sig)
    contrib = [s[1] * first.grad, G[1] * sig] if per_layer else None
    res = RecursionResult(ntk=None, nngp=None, sigma=[sig])
    for l in range(2, L + 1):
        ua, ub = s[l - 1] * va, s[l - 1] * vb  # pre-activation covariance s_{l-1} Σ̃^(l-1)
        sig, sdot, nva, nvb, theta, phi = act.layer_map(B, ua, ub, theta, phi)
        va, vb = B.bind(nva, "v"), B.bind(nvb, "v")
        theta = B.bind(theta, "theta")
        if isinstance(B, SympyBackend):
            phi = sympy.pi - theta
        ntk = _times(s[l], ntk * sdot) + _times(G[l], sig)
        if per_layer:
            contrib = [c * s[l] * sdot for c in contrib] + [G[l] * sig]
        res.sigma.append(sig)
        res.sigma_dot.append(sdot)
    res.ntk, res.nngp, res.per_layer = ntk, sig, contrib
    return res


# ----------------------------------------------------------------------------- inputs
def input_state(B: Backend, X: Any) -> tuple[Any, Any, Any]:
    """``Σ^(0)`` of all pairs of rows of ``X``: per-input squared norms ``v`` (n,) and the
    angle pair ``(θ, φ)`` (n, n).

    ``θ = 2 atan2(|x̂ − x̂'|, |x̂ + x̂'|)`` and ``φ = 2 atan2(|x̂ + x̂'|, |x̂ − x̂'|)`` keep full
    relative accuracy at both ends (``ρ → ±1``), and the diagonal is exactly ``θ = 0``.
    A zero input has no direction: we set ``θ = φ = π/2`` (``ρ = 0``) for its pairs. The
    value is immaterial for every kernel here because each term carrying that pair's
    correlation also carries the factor ``|x| = 0`` (for ReLU-type activations) or the
    covariance ``0`` (for smooth ones); a test checks this against the limit ``x → 0``.
    """
    if isinstance(B, NumpyBackend):
        v, U, _ = unit_rows(X)
        theta, phi = pair_angles(U, U, diagonal=True)
        return v, theta, phi
    if isinstance(B, MpmathBackend):
        ctx = B.ctx
        Xm = B.asarray(np.asarray(X, dtype=np.float64))
        n = Xm.shape[0]
        v = np.array([ctx.fsum(t * t for t in row) for row in Xm], dtype=object)
        U = [[t / ctx.sqrt(vi) for t in row] if vi > 0 else None for row, vi in zip(Xm, v)]
        theta = np.empty((n, n), dtype=object)
        phi = np.empty((n, n), dtype=object)
        for i in range(n):
            for j in range(n):
                if U[i] is None or U[j] is None:
                    theta[i, j] = phi[i, j] = ctx.pi / 2
                    continue
                dm = ctx.sqrt(ctx.fsum((a - b) ** 2 for a, b in zip(U[i], U[j])))
                dp = ctx.sqrt(ctx.fsum((a + b) ** 2 for a, b in zip(U[i], U[j])))
                theta[i, j] = 2 * ctx.atan2(dm, dp)
                phi[i, j] = 2 * ctx.atan2(dp, dm)
        return v, theta, phi
    if isinstance(B, SympyBackend):
        Xs = B.asarray(X)
        n = Xs.shape[0]
        v = np.array([sum(t * t for t in row) for row in Xs], dtype=object)
        theta = np.empty((n, n), dtype=object)
        for i in range(n):
            for j in range(n):
                if v[i] == 0 or v[j] == 0:
                    theta[i, j] = sympy.pi / 2
                elif i == j:
                    theta[i, j] = sympy.Integer(0)
                else:
                    c = sum(a * b for a, b in zip(Xs[i], Xs[j])) / sympy.sqrt(v[i] * v[j])
                    theta[i, j] = sympy.acos(sympy.nsimplify(c))
        phi = np.vectorize(lambda t: sympy.pi - t, otypes=[object])(theta)
        return v, theta, phi
    raise TypeError(f"unsupported backend {B!r}")


# ----------------------------------------------------------------- float64 Gram route
#: ``|cos θ|`` above which the angle is recomputed from ``|x̂ ∓ x̂'|`` (see pair_angles)
ACCURATE_COS = 0.9


def unit_rows(X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Squared norms ``v`` (n,), unit rows ``U`` (zero rows stay zero) and the zero-row
    mask of a float64 ``X``; the rows are first divided by their largest entry so that
    ``|x|²`` neither overflows nor underflows."""
    X = np.asarray(X, dtype=np.float64)
    scale = np.max(np.abs(X), axis=1)
    zero = scale == 0
    Y = X / np.where(zero, 1.0, scale)[:, None]
    nrm_s = np.sqrt(np.einsum("ij,ij->i", Y, Y))
    v = (scale * nrm_s) ** 2
    U = Y / np.where(zero, 1.0, nrm_s)[:, None]
    return v, U, zero


def pair_angles(U1: np.ndarray, U2: np.ndarray, *, diagonal: bool = False,
                cos: np.ndarray | None = None, trig: bool = False) -> tuple:
    """Angles ``(θ, φ = π − θ)`` between the unit rows of ``U1`` and ``U2`` (zero rows give
    ``θ = φ = π/2``; see :func:`input_state`).

    One GEMM gives ``cos θ``; ``acos`` of it has absolute error ``≲ δ/sin θ`` with ``δ`` the
    rounding error of the dot product, which is harmless while ``|cos θ| <= ACCURATE_COS``
    (``sin θ >= 0.43``). Only the remaining pairs (near ``ρ = ±1``) are recomputed with the
    accurate ``θ = 2 atan2(|x̂ − x̂'|, |x̂ + x̂'|)``, ``φ = 2 atan2(|x̂ + x̂'|, |x̂ − x̂'|)``,
    which is exact (``θ = 0``) for identical rows. ``diagonal=True`` (``U1 is U2``) sets
    the diagonal to ``θ = 0`` exactly (zero rows excepted).

    ``trig=True`` also returns ``(cos θ, sin θ, 1 − cos θ)`` as a third element, without
    ``sin``/``cos``: ``sin θ = sqrt((1 − cos θ)(1 + cos θ))`` (relative error ``≲ δ/sin²θ``,
    the same as ``sin`` of the ``acos``) where ``|cos θ| <= ACCURATE_COS``, and near
    ``ρ = ±1`` from ``dm = |x̂ − x̂'|``, ``dp = |x̂ + x̂'|``: ``1 − cos θ = dm²/2``,
    ``cos θ = (dp² − dm²)/4``, ``sin θ = dm·dp/2`` (half-angle identities, no
    cancellation)."""
    if cos is None:
        cos = U1 @ U2.T
    cos = np.clip(cos, -1.0, 1.0)
    theta = np.arccos(cos)
    phi = np.subtract(np.pi, theta)
    if trig:
        vers = np.subtract(1.0, cos)
        sin = np.add(1.0, cos)
        sin *= vers
        np.sqrt(sin, out=sin)
    i, j = np.nonzero(np.abs(cos) > ACCURATE_COS)
    for k in range(0, len(i), 1 << 16):  # bounded temporaries
        ii, jj = i[k:k + (1 << 16)], j[k:k + (1 << 16)]
        a, b = U1[ii], U2[jj]
        dm = np.sqrt(np.einsum("ij,ij->i", a - b, a - b))
        dp = np.sqrt(np.einsum("ij,ij->i", a + b, a + b))
        theta[ii, jj] = 2 * np.arctan2(dm, dp)
        phi[ii, jj] = 2 * np.arctan2(dp, dm)
        if trig:
            vers[ii, jj] = 0.5 * dm * dm
            cos[ii, jj] = 0.25 * (dp * dp - dm * dm)
            sin[ii, jj] = 0.5 * dm * dp
    if diagonal:
        nz = np.flatnonzero(np.any(U1 != 0, axis=1))
        theta[nz, nz] = 0.0
        phi[nz, nz] = np.pi
        if trig:
            cos[nz, nz], sin[nz, nz], vers[nz, nz] = 1.0, 0.0, 0.0
    if trig:
        return theta, phi, (cos, sin, vers)
    return theta, phi
