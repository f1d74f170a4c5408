"""The ``1/d0`` expansion of the input-layer mask mixture (notes/input_layer_expansion.md).

Per mask row ``m`` (iid Bernoulli(q) entries) the layer-1 kernels are functions of the
three quadratic forms ``A = Σ m_j x_j²``, ``B = Σ m_j x'_j²``, ``C = Σ m_j x_j x'_j``
(docs/math.md#input-layer, ``theory.input_layer``):

    F(A, B, C) = c_σ E_{N(0, α Λ)}[σ(u)σ(v)],      H(A, B, C) = α C · c_σ E[σ'(u)σ'(v)].

``Z = (A, B, C) − q (a, b, c)`` is a sum of ``d0`` independent terms
``(m_j − q) w_j``, ``w_j = (x_j², x'_j², x_j x'_j)``, so its joint cumulants are
``κ_k = c_k(q) Σ_j w_j^{⊗k}`` with the Bernoulli cumulants ``c_2 = q(1−q)``,
``c_3 = q(1−q)(1−2q)``. For delocalised inputs ``w_j = O(1/d0)``, so ``κ_k = O(d0^{1−k})``
and the Taylor expansion of ``E F(μ + Z)`` around the mean ``μ`` (the wide formula)
ordered in ``1/d0`` is

    E F = F(μ) + T_1 + T_2 + O(d0^-3),
    T_1 = ½ F_ij κ_ij,        T_2 = (1/6) F_ijk κ_ijk + (1/8) F_ijkl κ_ij κ_kl

(summation over ``i, j, … ∈ {A, B, C}``). The derivatives are taken symbolically (sympy)
with the auxiliary quantities of each closed form (for the arc-cosine kernels
``s = sqrt(AB − C²)`` and ``θ = acos(C/sqrt(AB))``, for erf the two square roots of
Williams' formula) treated as symbols with known gradients, and powers of the square
roots reduced, so that the derivative formulas stay small; they are compiled once per
activation and ``α`` with ``sympy.lambdify(..., cse=True)``.

Only activations with a closed form (ReLU, ReLU², erf) have an expansion; the others use
enumeration or sampling (``theory.input_layer``).
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sympy as sp

from .activations import ArcCosine, Erf

A_, B_, C_ = sp.symbols("A B C", positive=True)
VARS = (A_, B_, C_)
#: multi-indices of the symmetric cumulant tensors (0 = A, 1 = B, 2 = C)
IDX2 = list(itertools.combinations_with_replacement(range(3), 2))
IDX3 = list(itertools.combinations_with_replacement(range(3), 3))
K2 = {c: sp.Symbol("k" + "".join("ABC"[i] for i in c)) for c in IDX2}
K3 = {c: sp.Symbol("k" + "".join("ABC"[i] for i in c)) for c in IDX3}


def powers(c: tuple[int, ...]) -> tuple[int, int]:
    """``(r, s)`` with ``Σ_j w_j^c = Σ_j x_j^r x'_j^s`` for the multi-index ``c``."""
    nA, nB, nC = c.count(0), c.count(1), c.count(2)
    return 2 * nA + nC, 2 * nB + nC


@dataclass
class Aux:
    """An auxiliary symbol: ``square`` (if a square root) and its gradient in ``VARS``
    (expressions in ``VARS`` and earlier auxiliaries)."""
    sym: sp.Symbol
    grad: tuple
    square: Any = None


def _reduce(expr, aux: list[Aux]):
    """Replace ``r^k`` (``|k| >= 2``) of every square-root auxiliary ``r`` by
    ``r^(k mod 2) · square^(k div 2)``, then collect over a common denominator."""
    sq = {a.sym: a.square for a in aux if a.square is not None}
    def is_p(e):
        return e.is_Pow and e.base in sq and e.exp.is_Integer and abs(int(e.exp)) >= 2
    def rep(e):
        k = int(e.exp)
        return e.base ** (k % 2) * sq[e.base] ** (k // 2)
    return expr.replace(is_p, rep)


def _d(expr, i: int, aux: list[Aux]):
    """Total derivative in ``VARS[i]`` through the auxiliaries."""
    out = sp.diff(expr, VARS[i])
    for a in aux:
        out += sp.diff(expr, a.sym) * a.grad[i]
    return _reduce(out, aux)


def _spec_arccos(n: int, alpha) -> tuple:
    """ReLU^n: ``F = c_σ α^n (AB)^{n/2} J_n(θ)/(2π)``, ``H = α C · c_σ n² α^{n−1}
    (AB)^{(n−1)/2} J_{n−1}(θ)/(2π)`` (Cho & Saul 2009), written with ``s``, ``θ``."""
    s, th = sp.symbols("s theta", positive=True)
    aux = [Aux(s, (B_ / (2 * s), A_ / (2 * s), -C_ / s), A_ * B_ - C_ ** 2),
           Aux(th, (C_ / (2 * A_ * s), C_ / (2 * B_ * s), -1 / s))]
    ph = sp.pi - th
    cs = sp.Rational(2, {1: 1, 2: 3}[n])
    # (AB)^{k/2} J_k(θ): k = 0: φ; k = 1: s + φC; k = 2: 3sC + φ(AB + 2C²)
    J = {0: ph, 1: s + ph * C_, 2: 3 * s * C_ + ph * (A_ * B_ + 2 * C_ ** 2)}
    F = cs * alpha ** n * J[n] / (2 * sp.pi)
    H = alpha * C_ * cs * n * n * alpha ** (n - 1) * J[n - 1] / (2 * sp.pi)
    return F, H, aux, ("s", "theta")


def _spec_erf(alpha) -> tuple:
    """erf (Williams 1997): ``F = c_σ (2/π) asin(2αC/R)``, ``H = α C c_σ (4/π)/S`` with
    ``R² = (1+2αA)(1+2αB)``, ``S² = R² − 4α²C²``, ``u = asin(2αC/R)``."""
    R, S, u = sp.symbols("R S u", positive=True)
    R2 = (1 + 2 * alpha * A_) * (1 + 2 * alpha * B_)
    gR = (alpha * (1 + 2 * alpha * B_) / R, alpha * (1 + 2 * alpha * A_) / R, sp.Integer(0))
    gS = (alpha * (1 + 2 * alpha * B_) / S, alpha * (1 + 2 * alpha * A_) / S,
          -4 * alpha ** 2 * C_ / S)
    # d asin(v) = dv / sqrt(1 − v²) = dv · R / S,  v = 2αC/R
    gv = tuple(-2 * alpha * C_ * g / R ** 2 for g in gR[:2]) + (2 * alpha / R,)
    gu = tuple(g * R / S for g in gv)
    aux = [Aux(R, gR, R2), Aux(S, gS, R2 - 4 * alpha ** 2 * C_ ** 2), Aux(u, gu)]
    cs = sp.pi / (2 * sp.asin(sp.Rational(2, 3)))
    F = cs * 2 / sp.pi * u
    H = alpha * C_ * cs * 4 / sp.pi / S
    return F, H, aux, ("R", "S", "u")


def _terms(F, aux):
    """``[F, T_1, T_2]`` as sympy expressions in VARS, the auxiliaries and the ``k``'s."""
    D = {(): F}
    for order in range(1, 5):
        for c in itertools.combinations_with_replacement(range(3), order):
            D[c] = _d(D[c[:-1]], c[-1], aux)
    key = lambda idx: tuple(sorted(idx))
    T1 = sum(D[key(i)] * K2[key(i)] for i in itertools.product(range(3), repeat=2)) / 2
    T2 = sum(D[key(i)] * K3[key(i)] for i in itertools.product(range(3), repeat=3)) / 6
    T2 += sum(D[key(i)] * K2[key(i[:2])] * K2[key(i[2:])]
              for i in itertools.product(range(3), repeat=4)) / 8
    return [F, T1, T2]


ALPHA = sp.Symbol("alpha", positive=True)


@functools.lru_cache(maxsize=8)
def _compiled(kind: str, n: int) -> tuple[Callable, tuple]:
    """One compiled function per activation (``α`` is an argument); a few seconds once
    per process (sympy differentiation and common-subexpression elimination)."""
    F, H, aux, names = _spec_arccos(n, ALPHA) if kind == "arccos" else _spec_erf(ALPHA)
    exprs = _terms(F, aux) + _terms(H, aux)
    args = [ALPHA] + list(VARS) + [a.sym for a in aux] + [K2[c] for c in IDX2] \
        + [K3[c] for c in IDX3]
    return sp.lambdify(args, exprs, "numpy", cse=True), names


def supported(act) -> bool:
    """Whether the activation has a closed-form expansion here."""
    return isinstance(act, (ArcCosine, Erf))


def symbolic_terms(act, alpha=1):
    """``(F, H, aux)`` and their ``[F, T_1, T_2]`` (for the note)."""
    al = sp.nsimplify(alpha)
    F, H, aux, _ = _spec_arccos(act.n, al) if isinstance(act, ArcCosine) else _spec_erf(al)
    return F, H, aux, _terms(F, aux), _terms(H, aux)


def bernoulli_cumulants(q: float) -> tuple[float, float]:
    """``c_2, c_3`` of a Bernoulli(q) variable."""
    return q * (1 - q), q * (1 - q) * (1 - 2 * q)


def expansion_tile(act, alpha: float, q: float, P1: dict, P2: dict, G: dict,
                   theta0: np.ndarray, phi0: np.ndarray, *, pairwise: bool = True) -> dict:
    """``E_m F`` and ``E_m H`` through ``T_2`` for a tile of pairs, with the terms.

    ``P1[r]``/``P2[r]`` are the row power sums ``Σ_j x_j^r`` (shape (n1,)/(n2,)) and
    ``G[(r, s)] = Σ_j x_j^r x'_j^s`` the cross power sums (GEMMs) of the tile; ``theta0``,
    ``phi0`` the accurate input angles (``cos θ0 = c/sqrt(ab)``). Returns arrays
    ``F0, F1, F2, H0, H1, H2`` (value at the mean and the two correction terms).
    ``pairwise=False``: row ``i`` of ``P1`` pairs with row ``i`` of ``P2`` (1-D)."""
    c2, c3 = bernoulli_cumulants(q)
    e1 = (slice(None), None) if pairwise else (slice(None),)
    e2 = (None, slice(None)) if pairwise else (slice(None),)
    a = P1[2][e1]
    b = P2[2][e2]
    cc = G[(1, 1)]
    A, B, C = q * a, q * b, q * cc
    def cum(c, ck):
        r, s = powers(c)
        if s == 0:
            v = P1[r][e1]
        elif r == 0:
            v = P2[s][e2]
        else:
            v = G[(r, s)]
        return ck * v
    k2 = [cum(c, c2) for c in IDX2]
    k3 = [cum(c, c3) for c in IDX3]
    if isinstance(act, ArcCosine):
        f, _ = _compiled("arccos", act.n)
        # s = sqrt(AB − C²) = q sqrt(ab) sin θ0 and θ = θ0 at the mean: no cancellation
        sin0 = np.where(theta0 < np.pi / 2, np.sin(theta0), np.sin(phi0))
        s = q * np.sqrt(a) * np.sqrt(b) * sin0
        auxv = [s, theta0]
    else:
        f, _ = _compiled("erf", 0)
        R = np.sqrt(1 + 2 * alpha * A) * np.sqrt(1 + 2 * alpha * B)
        sin0 = np.where(theta0 < np.pi / 2, np.sin(theta0), np.sin(phi0))
        rs = alpha * np.sqrt(A) * np.sqrt(B) * sin0
        S = np.sqrt(1 + 2 * alpha * A + 2 * alpha * B + 4 * rs * rs)
        u = np.arcsin(np.clip(2 * alpha * C / R, -1.0, 1.0))
        auxv = [R, S, u]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = f(float(alpha), A, B, C, *auxv, *k2, *k3)
    shape = np.broadcast_shapes(np.shape(A), np.shape(B), np.shape(C))
    keys = ("F0", "F1", "F2", "H0", "H1", "H2")
    return {k: np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for k, v in zip(keys, out)}


def sign_pattern_mixture(d0: int, n_same: int, q: Any, dps: int = 30) -> tuple[float, float]:
    """Reference: the exact ReLU mixture (``α = 1``) for ``x_j = 1/sqrt(d0)`` and
    ``x'_j = ±1/sqrt(d0)`` with ``n_same`` plus signs, at ``dps`` digits (mpmath).

    The masked quadratic forms depend only on the kept counts ``k_s ~ Bin(n_same, q)``,
    ``k_d ~ Bin(d0 − n_same, q)``: ``A = B = (k_s + k_d)/d0``, ``C = (k_s − k_d)/d0`` and
    the wedge norm ``|x_m ∧ x'_m| = 2 sqrt(k_s k_d)/d0`` exactly, so the ``2^{d0}``-mask
    enumeration collapses to ``O(d0²)`` terms at any ``d0``. Returns
    ``(Σ̃^(1)(x,x'), layer-1 gradient term)`` as floats."""
    import mpmath
    with mpmath.workdps(dps):
        nd = d0 - n_same
        qq = mpmath.mpf(q)
        ws = [mpmath.binomial(n_same, k) * qq ** k * (1 - qq) ** (n_same - k)
              for k in range(n_same + 1)]
        wd = [mpmath.binomial(nd, k) * qq ** k * (1 - qq) ** (nd - k) for k in range(nd + 1)]
        sig = mpmath.mpf(0)
        grad = mpmath.mpf(0)
        for ks in range(n_same + 1):
            for kd in range(nd + 1):
                A = mpmath.mpf(ks + kd) / d0
                C = mpmath.mpf(ks - kd) / d0
                wedge = 2 * mpmath.sqrt(mpmath.mpf(ks * kd)) / d0
                th = mpmath.atan2(wedge, C) if (wedge != 0 or C != 0) else mpmath.pi / 2
                w = ws[ks] * wd[kd]
                # ReLU, c_σ = 2: Σ = sqrt(AB) J_1(θ)/π, Σ̇ = (π − θ)/π
                sig += w * A * (mpmath.sin(th) + (mpmath.pi - th) * mpmath.cos(th)) / mpmath.pi
                grad += w * C * (mpmath.pi - th) / mpmath.pi
        return float(sig), float(grad)


def sign_pattern_inputs(d0: int, n_same: int) -> np.ndarray:
    """The two inputs of :func:`sign_pattern_mixture` as a (2, d0) array."""
    X = np.full((2, d0), 1 / np.sqrt(d0))
    X[1, n_same:] *= -1
    return X
