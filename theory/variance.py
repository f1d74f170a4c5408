"""Exact variance of the one-hidden-layer empirical NTK (docs/math.md#finite-width), symbolic and numeric.

For ``L = 1`` (docs/math.md#network with one hidden layer of width ``d``) the empirical NTK is an
average of iid neuron terms, ``Θ_d = (1/d) Σ_i T_i``, so ``E Θ_d = E T`` at every width
and ``Var Θ_d = V/d`` exactly, ``V = Var T``. Writing ``u, v`` for neuron ``i``'s
pre-activations at ``x, x'`` and ``c`` for the inner product its input weights see:

* hard masks (model ``"mask"``, docs/math.md#pruning): with ``α_1, α_2`` the forward multipliers,
  ``m`` the neuron's input mask row, ``M ~ Bernoulli(q_2)`` its output mask entry and
  ``W ~ N(0,1)`` its output weight,

      T = c_σ α_2 M (σ(u)σ(v) + α_1 W² c σ'(u)σ'(v)),   c = xᵀD_m x',
      (u, v) | m ~ N(0, α_1 Λ_m)                        (docs/math.md#input-layer)

* variance model: ``T = c_σ (σ(u)σ(v) + s_2 Z² xᵀx' σ'(u)σ'(v))``, ``(u,v) ~ N(0, s_1 Λ)``.

Both are ``T = c_σ γ M (R + β W² c H)`` with ``R = σ(u)σ(v)``, ``H = σ'(u)σ'(v)``. For
ReLU ``RH = R`` and ``H² = H``; with ``E W² = 1``, ``E W⁴ = 3``, ``E M^k = q_2``:

      E[T | m]  = c_σ   γ  q_2 (E R + β c E H)
      E[T² | m] = c_σ² γ² q_2 (E R² + 2 β c E R + 3 β² c² E H)

and the Gaussian moments are arc-cosine kernels (Cho & Saul 2009, docs/references.md):
``E R = sqrt(ab) J_1/(2π)``, ``E H = J_0/(2π)``, ``E R² = ab J_2/(2π)``. They are taken
here from :mod:`theory.activations` (the ReLU and ReLU² kernel maps divided by their
``c_σ``), on any backend of :mod:`theory.backends`.

Input mask, exactly in ``d0``: conditional on ``m`` every quantity above scales with
``α_1`` by homogeneity, so ``E[T|m] = c_σ γ q_2 α_1 N(m)`` and
``E[T²|m] = c_σ² γ² q_2 α_1² K(m)`` with ``q``-free ``N(m), K(m)``. Hence the mixture is a
polynomial in ``q_1`` whose coefficients are popcount sums ``S_k = Σ_{|m|=k} K(m)``:
enumerated exactly (``d0 ≤ 16``), or sampled. On the diagonal the result has a closed
form in ``|x|²`` and ``|x|_4^4 = Σ_j x_j⁴`` (:func:`diagonal_moments`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import functools

import numpy as np
import sympy
from scipy import stats as _st

from .activations import get_activation
from .architecture import Architecture
from .backends import Backend, NumpyBackend, SympyBackend, get_backend
from .input_layer import EXACT_MAX_D0, enumerate_masks, mask_rows, masked_pair_geometry
from .recursion import input_state

__all__ = [
    "THETA", "NORM_X", "NORM_Y", "P", "R", "X4", "EPS", "DELTA",
    "NeuronMoments", "conditional_moments", "symbolic_moments", "diagonal_moments",
    "neuron_moments", "variance_polynomial", "SparsityLaw", "sparsity_law",
    "required_width", "width_growth_in_r", "one_layer_arch",
]

THETA = sympy.Symbol("theta", positive=True)      # angle between x and x', in (0, π)
NORM_X = sympy.Symbol("n_x", positive=True)       # |x|
NORM_Y = sympy.Symbol("n_y", positive=True)       # |x'|
P = sympy.Symbol("p", nonnegative=True)           # pruning probability (q = 1 - p)
R = sympy.Symbol("r", positive=True)              # r = 1/(1 - p)
X4 = sympy.Symbol("x4", positive=True)            # |x|_4^4 = Σ_j x_j^4 (diagonal exact form)
EPS = sympy.Symbol("epsilon", positive=True)
DELTA = sympy.Symbol("delta", positive=True)


@dataclass
class NeuronMoments:
    """``E T``, ``E T²`` and ``V = Var T`` of one neuron term (arrays or sympy)."""
    mean: Any
    second: Any
    variance: Any
    method: str = "exact"           # "exact" | "sampled" | "wide" | "symbolic"
    stderr_variance: Any = None     # Monte Carlo error of the mask mixture (sampled only)


# ----------------------------------------------------------------------------- structure
def one_layer_arch(arch: Architecture) -> Architecture:
    """Validate: one hidden layer, ReLU (the fourth moments are arc-cosine kernels)."""
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be a theory.Architecture, got {type(arch).__name__}")
    if arch.depth != 1:
        raise ValueError(f"the exact variance is for one hidden layer (depth=1), got {arch.depth}")
    if arch.act.name != "relu":
        raise ValueError(f"closed-form fourth moments need ReLU, got {arch.act.name}")
    return arch


def _structure(arch: Architecture) -> dict[str, Any]:
    """``γ, q_2, β`` and the covariance multiplier of the neuron term (module docstring)."""
    if arch.model == "mask":
        return dict(gamma=arch.alpha_of(1), q_out=arch.q_of(1), beta=arch.alpha_of(0),
                    cov=arch.alpha_of(0), masked_input=0 in arch.pruned_matrices(),
                    q_in=arch.q_of(0))
    return dict(gamma=1, q_out=1, beta=arch.s_of(1), cov=arch.s_of(0), masked_input=False,
                q_in=1)


def conditional_moments(B: Backend, va: Any, vb: Any, theta: Any, phi: Any, c: Any,
                        beta: Any) -> tuple[Any, Any]:
    """``(E[R + βcH], E[(R + βW²cH)²])`` for ``(u,v) ~ N(0, [[va, ·],[·, vb]])`` with angle
    ``θ`` (``φ = π − θ``), ReLU, ``W ~ N(0,1)`` (``E W⁴ = 3``). Gaussian moments from the
    ReLU / ReLU² kernel maps of :mod:`theory.activations` (arc-cosine, Cho & Saul 2009)."""
    relu, relu2 = get_activation("relu"), get_activation("relu2")
    s1, s0 = relu.pair_map(B, va, vb, theta, phi)      # c_σ E R, c_σ E H
    s2, _ = relu2.pair_map(B, va, vb, theta, phi)      # c_σ2 E[R²]
    cs1, cs2 = relu.c_sigma(B), relu2.c_sigma(B)
    ER, EH, ER2 = s1 / cs1, s0 / cs1, s2 / cs2
    return ER + beta * c * EH, ER2 + 2 * beta * c * ER + 3 * beta ** 2 * c ** 2 * EH


# ----------------------------------------------------------------------------- symbolic
def symbolic_moments(arch: Architecture, *, simplify: bool = True) -> NeuronMoments:
    """``E T, E T², V`` in closed form in ``θ, |x|, |x'|`` (symbols :data:`THETA`,
    :data:`NORM_X`, :data:`NORM_Y`) and ``p`` (``arch.p`` may be the symbol :data:`P`).

    Exact whenever the input matrix is not hard-masked (any ``d0``). With a hard-masked
    input matrix this is the *wide-input form* (docs/math.md#pruning): ``Λ_m → q_1 Λ``,
    ``c → q_1 xᵀx'``, i.e. the mask-row fluctuations are dropped; their exact effect is
    :func:`diagonal_moments` (closed form) and :func:`neuron_moments` (enumeration).
    """
    return _symbolic_moments(arch, simplify)


@functools.lru_cache(maxsize=64)
def _symbolic_moments(arch: Architecture, simplify: bool) -> NeuronMoments:
    arch = one_layer_arch(arch)
    st = _structure(arch)
    B = SympyBackend()
    c0 = NORM_X * NORM_Y * sympy.cos(THETA)
    if st["masked_input"]:
        k = st["cov"] * st["q_in"]                 # α_1 q_1 = s_1
        c = st["q_in"] * c0
    else:
        k, c = st["cov"], c0
    m1, m2 = conditional_moments(B, k * NORM_X ** 2, k * NORM_Y ** 2, THETA,
                                 sympy.pi - THETA, c, st["beta"])
    cs = get_activation("relu").c_sigma(B)
    mean = cs * st["gamma"] * st["q_out"] * m1
    second = cs ** 2 * st["gamma"] ** 2 * st["q_out"] * m2
    var = second - mean ** 2
    if simplify:
        mean, second, var = (sympy.simplify(e) for e in (mean, second, var))
    return NeuronMoments(mean, second, var, "symbolic" if not st["masked_input"] else "wide")


def diagonal_moments(arch: Architecture, *, simplify: bool = True) -> NeuronMoments:
    """Exact-in-``d0`` moments on the diagonal ``x = x'``, in ``|x|`` (:data:`NORM_X`) and
    ``|x|_4^4`` (:data:`X4`). On the diagonal ``θ_m = 0`` for every mask row, so
    ``E[T|m]`` and ``E[T²|m]`` are polynomials in ``a_m = xᵀD_m x`` and the mixture needs
    only ``E a_m = q_1|x|²`` and ``E a_m² = q_1²|x|⁴ + q_1 p_1 |x|_4^4``."""
    arch = one_layer_arch(arch)
    st = _structure(arch)
    B = SympyBackend()
    a = sympy.Symbol("a", nonnegative=True)
    k = st["cov"]
    m1, m2 = conditional_moments(B, k * a, k * a, sympy.Integer(0), sympy.pi, a, st["beta"])
    cs = get_activation("relu").c_sigma(B)
    mean_m = sympy.expand(cs * st["gamma"] * st["q_out"] * m1)
    second_m = sympy.expand(cs ** 2 * st["gamma"] ** 2 * st["q_out"] * m2)
    if st["masked_input"]:
        q1 = st["q_in"]
        Ea, Ea2 = q1 * NORM_X ** 2, q1 ** 2 * NORM_X ** 4 + q1 * (1 - q1) * X4
    else:
        Ea, Ea2 = NORM_X ** 2, NORM_X ** 4
    # both are monomials in a (degree 1 and 2) by homogeneity: substitute the moments
    mean = mean_m.coeff(a, 1) * Ea + mean_m.coeff(a, 0)
    second = second_m.coeff(a, 2) * Ea2 + second_m.coeff(a, 1) * Ea + second_m.coeff(a, 0)
    var = second - mean ** 2
    if simplify:
        mean, second, var = (sympy.simplify(e) for e in (mean, second, var))
    return NeuronMoments(mean, second, var, "exact")


# ----------------------------------------------------------------------------- numeric
def _per_mask(B: Backend, arch: Architecture, X: np.ndarray, M: np.ndarray):
    """``N(m), K(m)`` (``q``-free, see module docstring) for every mask and pair:
    arrays ``(n_masks, n, n)``."""
    n = X.shape[0]
    st = _structure(arch)
    Mb = M.astype(object) if isinstance(B, SympyBackend) else M.astype(np.float64)
    Xb = np.array([[sympy.nsimplify(t) for t in row] for row in X], dtype=object) \
        if isinstance(B, SympyBackend) else X
    dt = object if isinstance(B, SympyBackend) else np.float64
    N = np.empty((len(M), n, n), dtype=dt)
    K = np.empty_like(N)
    for i in range(n):
        for j in range(i, n):
            a, b, c, th, ph = masked_pair_geometry(B, Mb, Xb[i], Xb[j])
            # per-mask, α_1 = 1: E[T|m] ∝ N(m), E[T²|m] ∝ K(m)
            m1, m2 = conditional_moments(B, a, b, th, ph, c, 1)
            if isinstance(B, SympyBackend):
                m1 = np.array([sympy.nsimplify(sympy.simplify(t)) for t in m1], dtype=object)
                m2 = np.array([sympy.simplify(t) for t in m2], dtype=object)
            N[:, i, j] = N[:, j, i] = m1
            K[:, i, j] = K[:, j, i] = m2
    return N, K


def neuron_moments(arch: Architecture, X: Any, *, method: str = "auto",
                   n_masks: int = 1 << 15, seed: int = 0) -> NeuronMoments:
    """``E T``, ``E T²``, ``V`` for all pairs of rows of ``X`` (float64, ``(n, n)``).

    ``method``: ``"exact"`` enumerates the ``2^{d0}`` input-mask rows (``d0 ≤ 16``);
    ``"sampled"`` averages over ``n_masks`` rows drawn with ``seed`` (``stderr_variance``
    then holds the Monte Carlo error of ``V``); ``"wide"`` is :func:`symbolic_moments`'
    wide-input form; ``"auto"`` = exact if ``d0 ≤ 16`` else sampled. Without a hard input
    mask every method is exact.
    """
    arch = one_layer_arch(arch)
    if arch.is_symbolic:
        raise ValueError("numeric moments need numeric p; use variance_polynomial for symbolic p")
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d0), got shape {X.shape}")
    n, d0 = X.shape
    if method not in ("auto", "exact", "sampled", "wide"):
        raise ValueError(f"method must be auto/exact/sampled/wide, got {method!r}")
    st = _structure(arch)
    B = NumpyBackend()
    cs = float(arch.act.c_sigma(B))
    gamma, qo = float(st["gamma"]), float(st["q_out"])
    if not st["masked_input"] or method == "wide":
        v, th, ph = input_state(B, X)  # accurate angles, exact diagonal (theory.recursion)
        G = np.sqrt(np.outer(v, v)) * B.cos_angle(th, ph)
        k = float(st["cov"]) * (float(st["q_in"]) if st["masked_input"] else 1.0)
        cfac = float(st["q_in"]) if st["masked_input"] else 1.0
        m1, m2 = conditional_moments(B, k * v[:, None], k * v[None, :], th, ph, cfac * G,
                                     float(st["beta"]))
        mean, second = cs * gamma * qo * m1, cs ** 2 * gamma ** 2 * qo * m2
        return NeuronMoments(mean, second, second - mean ** 2,
                             "wide" if st["masked_input"] else "exact")
    if method == "auto":
        method = "exact" if d0 <= EXACT_MAX_D0 else "sampled"
    q1, a1 = float(st["q_in"]), float(st["cov"])
    if method == "exact" and d0 > 20:
        raise ValueError(f"exact enumeration of 2^{d0} masks is infeasible; use 'sampled'")
    M, w = mask_rows(B, d0, q1, method, n_masks=n_masks, seed=seed)
    N, K = _per_mask(B, arch, X, M)
    EN, EK = np.tensordot(w, N, 1), np.tensordot(w, K, 1)
    mean = cs * gamma * qo * a1 * EN
    second = cs ** 2 * gamma ** 2 * qo * a1 ** 2 * EK
    var = second - mean ** 2
    se = None
    if method == "sampled":  # delta method for E K − (E N)² scaled
        cK = cs ** 2 * gamma ** 2 * qo * a1 ** 2
        cN = cs * gamma * qo * a1
        Z = cK * K - 2 * cN * mean * N
        se = np.std(Z, axis=0, ddof=1) / np.sqrt(len(M))
    return NeuronMoments(mean, second, var, method, se)


def variance_polynomial(arch: Architecture, X: Any, *, p: sympy.Symbol = P,
                        exact_arithmetic: bool = False) -> NeuronMoments:
    """Exact-in-``d0`` ``E T, E T², V`` of the pair ``X[0], X[-1]`` as sympy expressions in
    the pruning probability ``p`` (same ``p`` for every pruned matrix of ``arch``'s
    pattern), by enumerating the ``2^{d0}`` mask rows: the ``q``-free per-mask sums
    ``S_k`` (module docstring) multiply ``q^k (1-q)^{d0-k}``. Coefficients are float64
    unless ``exact_arithmetic`` (sympy backend, tiny ``d0`` only)."""
    arch = one_layer_arch(arch)
    X = np.asarray(X, dtype=np.float64) if not exact_arithmetic else np.asarray(X, dtype=object)
    d0 = X.shape[1]
    if d0 > EXACT_MAX_D0:
        raise ValueError(f"enumeration needs d0 <= {EXACT_MAX_D0}, got {d0}")
    sym_arch = arch.with_(p=p)
    st = _structure(sym_arch)
    Xp = X[[0, -1]]
    if sym_arch.model == "variance":
        return _variance_model_poly(sym_arch, Xp, exact_arithmetic)
    B = SympyBackend() if exact_arithmetic else NumpyBackend()
    M = enumerate_masks(d0) if st["masked_input"] else np.ones((1, d0), dtype=np.int8)
    kk = M.sum(axis=1)
    N, K = _per_mask(B, arch, Xp, M)
    q1 = st["q_in"]
    EN_s = EK_s = sympy.Integer(0)
    for k in sorted(set(kk.tolist())):
        sel = kk == k
        if exact_arithmetic:
            sN, sK = sympy.nsimplify(sum(N[sel, 0, 1])), sympy.simplify(sum(K[sel, 0, 1]))
        else:
            sN, sK = sympy.Float(float(N[sel, 0, 1].sum())), sympy.Float(float(K[sel, 0, 1].sum()))
        wk = q1 ** k * (1 - q1) ** (d0 - k) if st["masked_input"] else 1
        EN_s += wk * sN
        EK_s += wk * sK
    # homogeneity: E[T|m] ∝ α_1 N(m), E[T²|m] ∝ α_1² K(m)  (β = covariance scale = α_1)
    EN_s, EK_s = st["cov"] * EN_s, st["cov"] ** 2 * EK_s
    cs = get_activation("relu").c_sigma(SympyBackend())
    mean = cs * st["gamma"] * st["q_out"] * EN_s
    second = cs ** 2 * st["gamma"] ** 2 * st["q_out"] * EK_s
    return NeuronMoments(mean, second, second - mean ** 2, "exact")


def _variance_model_poly(arch: Architecture, Xp: np.ndarray, exact: bool) -> NeuronMoments:
    """Variance model: ``s_1`` scales ``R`` (homogeneity), ``s_2`` multiplies ``c``."""
    B = SympyBackend() if exact else NumpyBackend()
    st = _structure(arch)
    xa, xb = (np.asarray(r, dtype=object if exact else np.float64) for r in Xp)
    M = np.ones((1, Xp.shape[1]), dtype=np.int8)
    a, b, c, th, ph = _pair_geometry(B, M.astype(object if exact else np.float64), xa, xb)
    s1, s2 = st["cov"], st["beta"]
    relu, relu2 = get_activation("relu"), get_activation("relu2")
    sR, sH = relu.pair_map(B, a, b, th, ph)
    sR2, _ = relu2.pair_map(B, a, b, th, ph)
    f = (lambda t: sympy.nsimplify(sympy.simplify(t[0]))) if exact else (lambda t: sympy.Float(float(t[0])))
    ER, EH, ER2 = f(sR / 2), f(sH / 2), f(sR2 * sympy.Rational(3, 2) if exact else sR2 * 1.5)
    cc = f(c)
    mean = 2 * (s1 * ER + s2 * cc * EH)
    second = 4 * (s1 ** 2 * ER2 + 2 * s1 * s2 * cc * ER + 3 * s2 ** 2 * cc ** 2 * EH)
    return NeuronMoments(mean, second, second - mean ** 2, "exact")


# ----------------------------------------------------------------------------- sparsity law
@dataclass
class SparsityLaw:
    """``expr(p)`` rewritten in ``r = 1/(1-p)``. When it is a Laurent polynomial in ``r``,
    ``powers`` maps each power of ``r`` to its coefficient; with powers in ``{0, 1, 2}`` it
    is ``A + B p/(1-p) + C p/(1-p)²`` (``p/(1-p) = r - 1``, ``p/(1-p)² = r² - r``)."""
    expr_r: sympy.Expr
    powers: dict[int, sympy.Expr] | None   # None: not a Laurent polynomial in r
    degree: int | None                     # highest power of r (growth as p -> 1)
    A: sympy.Expr | None
    B: sympy.Expr | None
    C: sympy.Expr | None
    affine: bool                           # exactly A + B p/(1-p)


def sparsity_law(expr: sympy.Expr, p: sympy.Symbol = P) -> SparsityLaw:
    """Show symbolically whether ``expr`` (e.g. ``V`` or ``V/(E T)²``) is affine in
    ``r = 1/(1-p)``: substitute ``p = 1 - 1/r``, bring to one fraction and check that the
    denominator is a monomial in ``r`` (a Laurent polynomial); read off its powers."""
    e = sympy.together(sympy.expand(expr.subs(p, 1 - 1 / R)))
    num, den = sympy.fraction(e)
    powers = None
    try:
        dpoly = sympy.Poly(den, R)
        if len(dpoly.terms()) == 1:
            (dk,), dc = dpoly.terms()[0]
            npoly = sympy.Poly(sympy.expand(num), R)
            powers = {}
            for (k,), cf in npoly.terms():
                powers[k - dk] = sympy.simplify(powers.get(k - dk, 0) + cf / dc)
            powers = {k: v for k, v in powers.items() if v != 0}
    except sympy.PolynomialError:
        powers = None
    A = Bc = Cc = None
    degree = max(powers) if powers else (0 if powers == {} else None)
    if powers is not None and set(powers) <= {0, 1, 2}:
        c0, c1, c2 = (powers.get(k, sympy.Integer(0)) for k in range(3))
        Cc, Bc, A = sympy.simplify(c2), sympy.simplify(c1 + c2), sympy.simplify(c0 + c1 + c2)
    affine = powers is not None and set(powers) <= {0, 1}
    return SparsityLaw(sympy.simplify(e), powers, degree, A, Bc, Cc, affine)


def required_width(V: Any, eps: Any = EPS, delta: Any = DELTA, rule: str = "clt") -> Any:
    """Width needed for ``|Θ_d − E Θ_d| ≤ ε`` with probability ``≥ 1 − δ`` given the
    one-layer ``Var Θ_d = V/d``: ``rule="clt"``: ``d ≥ z_{δ/2}² V/ε²``,
    ``z_{δ/2} = √2 erfc⁻¹(δ)``; ``rule="chebyshev"``: ``d ≥ V/(δ ε²)`` (rigorous)."""
    if rule == "clt":
        d_ = sympy.sympify(delta)
        z = (sympy.Float(float(_st.norm.isf(float(d_) / 2))) if d_.is_number
             else sympy.sqrt(2) * sympy.erfcinv(d_))
        return z ** 2 * V / eps ** 2
    if rule == "chebyshev":
        return V / (delta * eps ** 2)
    raise ValueError(f"rule must be 'clt' or 'chebyshev', got {rule!r}")


def width_growth_in_r(width: sympy.Expr, p: sympy.Symbol = P) -> tuple[sympy.Expr, sympy.Expr]:
    """``(k, lim_{r→∞} width/r^k)``: the degree of growth of a width in ``r = 1/(1-p)``
    (``k = lim log(width)/log r``) and its leading coefficient."""
    w = sympy.simplify(width.subs(p, 1 - 1 / R))
    k = sympy.limit(sympy.log(w) / sympy.log(R), R, sympy.oo)
    lead = sympy.limit(w / R ** k, R, sympy.oo)
    return k, sympy.simplify(lead)
