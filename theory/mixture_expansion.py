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

For ReLU and ReLU² the engine instead uses the order-4 expansion of the section
"order 3/4 (arc-cosine kernels)" below (``expansion_tile3``), which needs only univariate
derivatives; ``expansion_tile`` (through ``T_2``) serves erf and cross-checks the first
terms. Only activations with a closed form (ReLU, ReLU², erf) have an expansion; the
others use enumeration or sampling (``theory.input_layer``).
"""
from __future__ import annotations

import functools
import itertools
import os
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


# ------------------------------------------------------------ order 3 (arc-cosine kernels)
# For σ = ReLU^n both per-mask kernels are homogeneous of degree n in sqrt(AB) and C and
# depend on A, B only through AB (Cho & Saul 2009): F = (AB)^{n/2} h_F(cos θ),
# H = (AB)^{n/2} h_H(cos θ), cos θ = C/sqrt(AB). On unit rows (|x| = |x'| = 1) write
# A = q(1 + α), B = q(1 + β), C = q(c + γ) (c = cos θ0 the input angle's cosine); with
# S = sqrt((1 + α)(1 + β)) and h_m = h^{(m)}(c)/m!,
#
#     F / q^n = S^n h((c + γ)/S) = Σ_m h_m S^{n−m} (c + γ − c S)^m,
#
# a power series in (α, β, γ) whose coefficients are polynomials in c and the h_m. The
# deviations (α, β, γ) = Σ_j (m_j − q)(x_j², x'_j², x_j x'_j)/q have joint cumulants
# κ_{ijk} = c_{i+j+k}(q)/q^{i+j+k} · Σ_l x_l^{2i+k} x'_l^{2j+k} (order d0^{1−i−j−k} for
# delocalised inputs), and a monomial's expectation is the sum over set partitions of its
# factors into blocks of size >= 2 of the product of the blocks' cumulants. Grouping
# those products by their order Σ(|block| − 1) gives T_1, T_2, T_3 (truncation error
# O(d0^-4)) with only the univariate derivatives h^{(m)}(c), m <= 6, per pair: no
# trivariate symbolic derivatives (whose size grows ~5× per order).
DEV = sp.symbols("dA dB dC")
TH0, C0, S0 = sp.symbols("theta0 c0 s0")
#: the value is summed through T_3; T_4 and its majorant M_4 are the error estimate
MAX_ORDER = 4
MAX_DEG = 2 * MAX_ORDER
CUM_IDX = [(i, j, k) for n in range(2, MAX_ORDER + 2) for i in range(n + 1) for j in range(n + 1 - i)
           for k in [n - i - j]]
KS = {c: sp.Symbol("K_%d%d%d" % c) for c in CUM_IDX}


def _h_of_theta(n: int, which: str):
    """``h(cos θ)`` of F or H for ReLU^n, written in ``θ`` (``sin θ``, ``cos θ``, ``θ``)."""
    th = sp.Symbol("th")
    t, st, ph = sp.cos(th), sp.sin(th), sp.pi - th
    cs = sp.Rational(2, {1: 1, 2: 3}[n])
    if which == "F":   # (AB)^{n/2} J_n(θ)/(2π) · c_σ α^n
        J = {1: st + ph * t, 2: 3 * t * st + ph * (1 + 2 * t ** 2)}[n]
        return th, cs * ALPHA ** n * J / (2 * sp.pi)
    # H = α C · c_σ n² α^{n−1} (AB)^{(n−1)/2} J_{n−1}(θ)/(2π),  C = sqrt(AB) cos θ
    Jm = {1: ph, 2: st + ph * t}[n]
    return th, ALPHA * t * cs * n * n * ALPHA ** (n - 1) * Jm / (2 * sp.pi)


def _h_coeffs(n: int, which: str) -> list:
    """``h_m = h^{(m)}(c)/m!``, ``m = 0..6``, in the symbols ``c0, s0, theta0``
    (``d/dt = −(1/sin θ) d/dθ`` for ``t = cos θ``)."""
    th, h = _h_of_theta(n, which)
    out, cur = [], h
    for m in range(MAX_DEG + 1):
        out.append(cur / sp.factorial(m))
        cur = sp.together(-sp.diff(cur, th) / sp.sin(th))
    sub = lambda e: e.subs({sp.sin(th): S0, sp.cos(th): C0}).subs(th, TH0)
    return [sub(e) for e in out]


def _truncate(expr) -> dict:
    """``{(i, j, k): coefficient}`` of a polynomial in ``DEV``, total degree <= 6."""
    P = sp.Poly(sp.expand(expr), *DEV)
    return {m: c for m, c in zip(P.monoms(), P.coeffs()) if sum(m) <= MAX_DEG}


def _power_terms(n: int) -> list:
    """``[S^{n−m}(c + γ − cS)^m for m = 0..6]`` as ``{(i, j, k): coefficient}``
    polynomials in ``(α, β, γ)`` truncated at total degree 6, with
    ``S = (1 + α)^{1/2}(1 + β)^{1/2}``: the terms of ``F/q^n`` that :func:`_series` and
    :func:`_moments3` weight."""
    a, b, g = DEV

    def half_pow(x, p):   # (1 + x)^{p/2} to degree 6
        return sum(sp.binomial(sp.Rational(p, 2), k) * x ** k for k in range(MAX_DEG + 1))

    def mul(p1, p2):
        out: dict = {}
        for m1, c1 in p1.items():
            for m2, c2 in p2.items():
                m = tuple(u + v for u, v in zip(m1, m2))
                if sum(m) <= MAX_DEG:
                    out[m] = out.get(m, 0) + c1 * c2
        return out

    S = mul(_truncate(half_pow(a, 1)), _truncate(half_pow(b, 1)))
    base = {m: -C0 * v for m, v in S.items()}                # c + γ − cS
    base[(0, 0, 0)] = base.get((0, 0, 0), 0) + C0
    base[(0, 0, 1)] = base.get((0, 0, 1), 0) + 1
    terms = []
    powm = {(0, 0, 0): sp.Integer(1)}
    for m in range(MAX_DEG + 1):
        Sp = mul(_truncate(half_pow(a, n - m)), _truncate(half_pow(b, n - m)))
        terms.append(mul(Sp, powm))
        powm = mul(powm, base)
    return terms


def _series(n: int, hs: list) -> dict:
    """Coefficients of ``F/q^n = Σ_m h_m S^{n−m}(c + γ − cS)^m`` in ``(α, β, γ)``."""
    total: dict = {}
    for m, term in enumerate(_power_terms(n)):
        for mono, v in term.items():
            total[mono] = total.get(mono, 0) + hs[m] * v
    return {m: sp.expand(v) for m, v in total.items()}



def _moment_terms(mono: tuple) -> dict:
    """``{order: (Σ Π κ, Σ Π |κ|)}`` for ``E[α^i β^j γ^k]`` (blocks of size >= 2)."""
    from sympy.utilities.iterables import multiset_partitions
    labels = [0] * mono[0] + [1] * mono[1] + [2] * mono[2]
    out: dict = {}
    if not labels:
        return out
    for part in multiset_partitions(list(range(len(labels)))):
        if any(len(bl) < 2 for bl in part):
            continue
        order = len(labels) - len(part)
        if order > MAX_ORDER:
            continue
        prod, prod_abs = sp.Integer(1), sp.Integer(1)
        for bl in part:
            key = tuple(sum(1 for p in bl if labels[p] == v) for v in range(3))
            prod *= KS[key]
            prod_abs *= sp.Abs(KS[key])
        s, sa = out.get(order, (0, 0))
        out[order] = (s + prod, sa + prod_abs)
    return out


GENERATED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_mixture_terms")


def derivation_key() -> str:
    """Hash of the code that derives the order-4 terms: the shipped generated modules
    (``theory/_mixture_terms/relu{n}.py``) are valid only for this key."""
    import hashlib
    import inspect
    parts = [inspect.getsource(g) for g in (_h_of_theta, _h_coeffs, _truncate, _power_terms,
                                            _moments3, _moment_terms, _build3)]
    parts.append(repr((MAX_ORDER, MAX_DEG, CUM_IDX)))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def generated_source(n: int) -> str:
    """Source of the module holding the compiled order-4 terms for ReLU^n."""
    import inspect
    return (f'"""Generated by ``python -m theory.mixture_expansion`` (do not edit): the '
            f'order-4 terms of the\ninput-layer mixture for ReLU^{n} '
            f'(theory.mixture_expansion._build3)."""\n'
            f'# flake8: noqa\nimport numpy\nfrom numpy import *\n\nKEY = "{derivation_key()}"\n\n\n'
            + inspect.getsource(_build3(n)))


@functools.lru_cache(maxsize=4)
def _compiled3(n: int) -> Callable:
    """The compiled order-4 terms for ReLU^n (:func:`_build3`): from the generated module
    shipped in ``theory/_mixture_terms`` when its ``KEY`` matches :func:`derivation_key`,
    else built with sympy (several minutes of CPU for ReLU²)."""
    path = os.path.join(GENERATED_DIR, f"relu{n}.py")
    if os.path.exists(path):
        ns: dict = {}
        exec(compile(open(path, encoding="utf-8").read(), path, "exec"), ns)
        if ns.get("KEY") == derivation_key():
            return ns["_lambdifygenerated"]
    return _build3(n)


def _build3(n: int) -> Callable:
    """Compiled ``[T_0, T_1, T_2, T_3, M_1, M_2, M_3]`` of F and of H for ReLU^n (unit rows,
    divided by ``q^n``). ``T_k = Σ_m h_m μ_m^{(k)}`` with ``μ_m^{(k)}`` the order-``k`` part
    of the moment ``E[S^{n−m}(c + γ − cS)^m]``; ``M_k = Σ_m |h_m μ_m^{(k)}|`` is its
    majorant over the univariate Taylor terms (no cancellation between them)."""
    exprs = []
    mus = _moments3(n)
    for which in ("F", "H"):
        hs = _h_coeffs(n, which)
        T = [hs[0]] + [0] * MAX_ORDER
        M = [0] * (MAX_ORDER + 1)
        for m in range(MAX_DEG + 1):
            for order in range(1, MAX_ORDER + 1):
                term = hs[m] * mus[m].get(order, 0)
                T[order] += term
                M[order] += sp.Abs(term)
        exprs += T + M[1:]
    args = [ALPHA, C0, S0, TH0] + [KS[c] for c in CUM_IDX]
    return sp.lambdify(args, exprs, "numpy", cse=True)


def _moments3(n: int) -> list:
    """``[{order: μ_m^{(order)}}]`` for ``m = 0..6``: the parts of order 1, 2, 3 in
    ``1/d0`` of ``E[S^{n−m}(c + γ − cS)^m]`` in the cumulant symbols ``K_ijk``."""
    out = []
    for term in _power_terms(n):
        mu: dict = {}
        for mono, v in term.items():
            for order, (s_, _) in _moment_terms(mono).items():
                mu[order] = mu.get(order, 0) + sp.expand(v) * s_
        out.append(mu)
    return out


def bernoulli_cumulant(q: float, k: int) -> float:
    """The ``k``-th cumulant of a Bernoulli(q) variable, ``k = 2, 3, 4``."""
    v = q * (1 - q)
    return {2: v, 3: v * (1 - 2 * q), 4: v * (1 - 6 * v), 5: v * (1 - 2 * q) * (1 - 12 * v)}[k]


def expansion_tile3(act, alpha: float, q: float, P1: dict, P2: dict, G: dict,
                    theta0: np.ndarray, phi0: np.ndarray, *, pairwise: bool = True) -> dict:
    """Order-3 expansion of ``E_m F`` and ``E_m H`` for ReLU^n on UNIT rows (multiply by
    ``(|x||x'|)^n`` afterwards). ``P1[r]``, ``P2[r]``, ``G[(r, s)]`` as in
    :func:`expansion_tile` (``r + s <= 8``). Returns ``F0..F3, FM1..FM3, H0..H3,
    HM1..HM3`` (terms and their majorants)."""
    e1 = (slice(None), None) if pairwise else (slice(None),)
    e2 = (None, slice(None)) if pairwise else (slice(None),)
    kv = []
    for (i, j, k) in CUM_IDX:
        r, s = 2 * i + k, 2 * j + k
        ordr = i + j + k
        v = P1[r][e1] if s == 0 else (P2[s][e2] if r == 0 else G[(r, s)])
        kv.append(bernoulli_cumulant(q, ordr) / q ** ordr * v)
    shape = np.broadcast_shapes(*[np.shape(v) for v in kv], np.shape(theta0))
    flat = [np.ascontiguousarray(np.broadcast_to(v, shape), dtype=np.float64).ravel()
            for v in [theta0, phi0] + kv]
    f = _compiled3(act.n)
    keys = [p + s for p in ("F", "H")
            for s in [str(k) for k in range(MAX_ORDER + 1)] + [f"M{k}" for k in range(1, MAX_ORDER + 1)]]
    res = {k: np.empty(flat[0].size) for k in keys}
    qn = q ** act.n
    # chunks of 4096 pairs: the ~2000 temporaries of the formula stay in cache
    for a in range(0, flat[0].size, CHUNK):
        th, ph, *kk = [v[a:a + CHUNK] for v in flat]
        c0 = np.cos(th)
        s0 = np.where(th < np.pi / 2, np.sin(th), np.sin(ph))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = f(float(alpha), c0, s0, th, *kk)
        for k, v in zip(keys, out):
            res[k][a:a + CHUNK] = v
    return {k: (v * qn).reshape(shape) for k, v in res.items()}


CHUNK = 4096


def grouped_inputs(u: np.ndarray, v: np.ndarray, counts) -> np.ndarray:
    """The two inputs of :func:`grouped_mixture` as a (2, d0) array: group ``g`` is
    ``counts[g]`` coordinates equal to ``(u[g], v[g])``."""
    u, v = np.asarray(u, float), np.asarray(v, float)
    return np.stack([np.repeat(u, counts), np.repeat(v, counts)])


def grouped_mixture(u, v, counts, q: float, act, alpha: float = 1.0,
                    width: float = 12.0) -> tuple[float, float, float]:
    """Reference: the exact mixture ``(E_m F, E_m H)`` (float64) for two inputs made of
    groups of equal coordinates (:func:`grouped_inputs`), at any ``d0``.

    Within a group only the number ``k_g ~ Bin(n_g, q)`` of kept coordinates matters:
    ``A = Σ k_g u_g²``, ``B = Σ k_g v_g²``, ``C = Σ k_g u_g v_g`` and, by Lagrange's
    identity, the wedge ``|x_m ∧ x'_m|² = Σ_{g<h} k_g k_h (u_g v_h − u_h v_g)²`` exactly,
    so the ``2^{d0}`` masks collapse to ``Π_g (n_g + 1)`` terms. Counts further than
    ``width`` standard deviations from ``n_g q`` are left out; their total probability
    (at most the sum over groups of the binomial tails, returned as the third value) times
    the kernel scale bounds the truncation (``|F| <= sqrt(F(x,x) F(x',x'))`` per mask)."""
    from scipy.stats import binom
    counts = [int(c) for c in counts]
    u, v = np.asarray(u, float), np.asarray(v, float)
    ks, ws, dropped = [], [], 0.0
    for n in counts:
        sd = np.sqrt(n * q * (1 - q))
        lo, hi = max(0, int(np.floor(n * q - width * sd))), min(n, int(np.ceil(n * q + width * sd)))
        k = np.arange(lo, hi + 1)
        ks.append(k.astype(float))
        ws.append(binom.pmf(k, n, q))
        dropped += float(binom.cdf(lo - 1, n, q) + binom.sf(hi, n, q))
    from .backends import NUMPY as B
    sig = grad = 0.0
    grids = np.meshgrid(*ks[1:], indexing="ij") if len(ks) > 1 else []
    wrest = functools.reduce(np.multiply.outer, ws[1:]) if len(ws) > 1 else np.ones(())
    for k0, w0 in zip(ks[0], ws[0]):
        kk = [np.full(wrest.shape, k0)] + list(grids)
        A = sum(k * uu * uu for k, uu in zip(kk, u))
        Bq = sum(k * vv * vv for k, vv in zip(kk, v))
        C = sum(k * uu * vv for k, uu, vv in zip(kk, u, v))
        wedge2 = np.zeros(wrest.shape)
        for g in range(len(u)):
            for h in range(g + 1, len(u)):
                wedge2 = wedge2 + kk[g] * kk[h] * (u[g] * v[h] - u[h] * v[g]) ** 2
        wedge = np.sqrt(wedge2)
        th = np.where((wedge == 0) & (C == 0), np.pi / 2, np.arctan2(wedge, C))
        ph = np.where((wedge == 0) & (C == 0), np.pi / 2, np.arctan2(wedge, -C))
        s_m, sd_m = act.pair_map(B, alpha * A, alpha * Bq, th, ph)
        w = w0 * wrest
        sig += float(np.sum(w * s_m))
        grad += float(np.sum(w * alpha * C * sd_m))
    return sig, grad, dropped



if __name__ == "__main__":   # regenerate theory/_mixture_terms (minutes: sympy)
    os.makedirs(GENERATED_DIR, exist_ok=True)
    open(os.path.join(GENERATED_DIR, "__init__.py"), "w").write(
        '"""Generated compiled terms of the input-layer mixture expansion."""\n')
    for order_n in (1, 2):
        text = generated_source(order_n)     # minutes; write only when done
        with open(os.path.join(GENERATED_DIR, f"relu{order_n}.py"), "w", encoding="utf-8") as fh:
            fh.write(text)
        print("wrote", os.path.join(GENERATED_DIR, f"relu{order_n}.py"))
