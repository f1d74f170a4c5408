"""The pruning factor ``Θ̃ / Θ`` of the wide-input recursion, two independent ways.

**Fast (per-layer structure), :func:`factor_structure` / :func:`scaling_factor`.** The
recursion (``theory.recursion``; docs/math.md#pruning) unrolls to
``Θ̃ = Σ_h G_h Σ̃^(h-1) Π_{k≥h} Σ̇̃^(k) Π_{k>h} s_k`` (1-based), and layer ``l``'s
pre-activation covariance is ``s_{l-1} Σ̃^(l-1)``. If the activation is positively
homogeneous of degree ``k`` (``σ(λz) = λ^k σ(z)``, ``λ > 0``; ``Activation.degree``),
multiplying a pre-activation covariance by ``b`` multiplies ``Σ̃`` by ``b^k`` and ``Σ̇̃`` by
``b^(k-1)`` (``σ'`` is homogeneous of degree ``k − 1``; ``c_σ`` is defined at unit
variance and does not change). So ``Σ̃^(l) = a_l Σ^(l)`` with ``a_0 = 1``,
``a_l = (s_{l-1} a_{l-1})^k``, ``Σ̇̃^(l) = (s_{l-1} a_{l-1})^(k-1) Σ̇^(l)``, and layer ``h``'s
term is the dense term times a coefficient ``c_h`` (a product of powers of the ``s_h`` and
``G_h``). The ratio ``Θ̃/Θ`` is a scalar exactly when all ``c_h`` are equal (the dense
terms are different functions of the inputs). For an activation that is not homogeneous
(erf, tanh, …) ``Σ̃`` keeps the dense shape only when no pre-activation variance is
scaled (``s_h = 1`` for every matrix feeding a nonlinearity); otherwise no scalar exists.
The ``c_h`` are kept as exponent vectors over the distinct ``s_h``, compared in a
canonical factorisation (primes for rational numbers, irreducible factors for
expressions in symbolic ``p``), so any depth costs ``O(L · #distinct p)`` — no depth-``L``
expression is built or simplified.

**Slow (cross-check), :func:`derive_scaling_factor`.** The pruned and the dense
recursions are evaluated with the sympy backend on symbolic inputs (norms
``‖x‖, ‖x'‖ > 0`` and angle ``θ ∈ (0, π)``); the ratio is cancelled, and it is a *scalar
factor* exactly when the cancelled ratio is free of the inputs and of every bound
intermediate (layer angles, transcendental variances). Its cost grows quickly with depth
(seconds at ``L ≈ 10``–``90``); it is kept as the independent check of the fast rule
(``tests/test_engine.py`` compares them at small depth).

Both describe the wide-input recursion (docs/math.md#pruning). With a hard-masked input
matrix and finite ``d0`` the exact limit is the mask mixture (docs/math.md#input-layer),
which is not a scalar multiple off the diagonal (see ``theory.input_layer`` and
``checks/``). For ReLU with every one of the ``L+1`` matrices hard-masked at the same
``p`` the factor is ``(1-p)^(L+1)``; the variance model gives one power fewer when every
matrix is pruned at the same ``p`` (with non-uniform pruning it has no scalar factor:
layer h's term carries ``Π_{k≠h} s_k``).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sympy

from .architecture import Architecture, _is_symbolic
from .backends import SympyBackend
from .recursion import run_recursion

NORM_X = sympy.Symbol("n_x", positive=True)
NORM_Y = sympy.Symbol("n_y", positive=True)
THETA = sympy.Symbol("theta", positive=True)

WIDE_RECURSION = "wide-input"
MIXTURE_NOTE = (
    "the factor belongs to the wide-input recursion (docs/math.md#pruning); with a "
    "hard-masked input matrix and finite d0 the exact limit uses the input-layer mask "
    "mixture (docs/math.md#input-layer), whose off-diagonal entries are NOT this multiple "
    "of the dense kernel (for degree-1 homogeneous activations such as ReLU the diagonal "
    "entries still are)")


@dataclass
class ScalingDerivation:
    factor: sympy.Expr | None     # the scalar Θ̃/Θ, or None when none exists
    reason: str                   # how it was established, or why there is none
    ratio: sympy.Expr             # the cancelled ratio Θ̃/Θ (may depend on the inputs)


@dataclass
class FactorStructure:
    """Result of :func:`factor_structure`.

    ``factor`` is the scalar ``Θ̃/Θ`` of the wide-input recursion or ``None``;
    ``reason`` says how it follows (or why there is none) in words, without internal
    symbols; ``recursion`` is always ``"wide-input"``; ``coefficients`` are the multiples
    ``c_h`` of the dense layer terms, one per weight matrix ``W1 … W{L+1}`` (``None``
    when the activation is not homogeneous and the kernels change shape);
    ``mixture_note`` is set when the architecture's exact limit uses the input-layer mask
    mixture, to which the factor does not apply off the diagonal."""

    factor: sympy.Expr | None
    reason: str
    recursion: str = WIDE_RECURSION
    coefficients: list | None = None
    mixture_note: str | None = None


# ----------------------------------------------------------------------------- fast rule
def _exact(v: Any) -> sympy.Expr:
    if isinstance(v, sympy.Basic):
        return v
    if isinstance(v, int):
        return sympy.Integer(v)
    return sympy.nsimplify(v, rational=True)


def _exact_factors(arch: Architecture) -> tuple[list, list]:
    """``[s_h]``, ``[G_h]`` (h = 0..L) as exact sympy numbers/expressions: the
    architecture's own rules (``Architecture.s_of``, ``grad_factor_of``) applied to a copy
    whose numeric ``p_h`` are exact rationals, evaluated once per distinct
    ``(p_h, pruned)`` so that depth 300 stays cheap."""
    conv: dict = {}
    ps = []
    for h in range(arch.n_matrices):
        v = arch.p_of(h)
        if not _is_symbolic(v):
            if v not in conv:
                conv[v] = _exact(v)
            v = conv[v]
        ps.append(v)
    on = {ps[h] for h in arch.pruned_matrices()}
    # one value on every pruned matrix: pass it as a scalar (validating a list of exact
    # rationals costs a sympy call per matrix)
    ex = arch.with_(p=on.pop() if len(on) == 1 else (0 if not on else ps))
    pm = frozenset(ex.pruned_matrices())
    memo: dict = {}
    s, G = [], []
    for h in range(ex.n_matrices):
        key = (ps[h], h in pm)
        if key not in memo:
            memo[key] = (_exact(ex.s_of(h)), _exact(ex.grad_factor_of(h)))
        s.append(memo[key][0])
        G.append(memo[key][1])
    return s, G


@lru_cache(maxsize=1024)
def _canonical(base: sympy.Expr) -> tuple:
    """A canonical factorisation of a positive base: prime exponents for a rational,
    irreducible polynomial factors for an expression (sign parity kept mod 2)."""
    c: Counter = Counter()
    if base.is_Rational:
        for pr, e in sympy.factorint(base.p).items():
            c[pr] += e
        for pr, e in sympy.factorint(base.q).items():
            c[pr] -= e
    else:
        try:
            coeff, facs = sympy.factor_list(base)
        except (sympy.PolynomialError, NotImplementedError, ValueError):
            coeff, facs = sympy.Integer(1), [(base, 1)]
        c.update(dict(_canonical(sympy.Rational(coeff))))
        for f, m in facs:
            c[f] += m
    return tuple((k, e) for k, e in c.items() if e)


def _canonical_vector(powers: Counter) -> frozenset:
    total: Counter = Counter()
    for b, e in powers.items():
        for k, m in _canonical(b):
            total[k] += m * e
    if -1 in total:
        total[-1] %= 2
    return frozenset((k, e) for k, e in total.items() if e)


def _add(c: Counter, base: sympy.Expr, e: int = 1) -> Counter:
    out = Counter(c)
    if base != 1 and e:
        out[base] += e
    return out


def _scale(c: Counter, k: int) -> Counter:
    return Counter({b: k * e for b, e in c.items() if k * e})


_MAX_EVAL_BITS = 4096  # larger numeric powers are kept unevaluated (e.g. ReLU² at depth 300)


def _power_product(powers: Counter) -> sympy.Expr:
    """``Π b^e`` as a sympy expression; numeric powers too large to evaluate stay as
    unevaluated powers (printing ``(1/2)**(2**301 - 1)`` would otherwise be a huge
    rational)."""
    factors, lazy = [], False
    for b, e in sorted(powers.items(), key=lambda t: sympy.default_sort_key(t[0])):
        if not e:
            continue
        if b.is_Rational and e * max(abs(b.p), b.q).bit_length() > _MAX_EVAL_BITS:
            factors.append(sympy.Pow(b, e, evaluate=False))
            lazy = True
        else:
            factors.append(b ** e)
    if not factors:
        return sympy.Integer(1)
    return sympy.Mul(*factors, evaluate=not lazy)


def _fmt(e: sympy.Expr) -> str:
    return str(e)


def factor_structure(arch: Architecture) -> FactorStructure:
    """The scaling factor ``Θ̃/Θ`` of the wide-input recursion from the per-layer structure
    (module docstring), with its reason, at any depth in ``O(L)``."""
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be a theory.Architecture, got {type(arch).__name__}")
    from .input_layer import needs_mixture  # local: input_layer imports recursion only
    note = MIXTURE_NOTE if needs_mixture(arch) else None
    L, act = arch.depth, arch.act
    s, G = _exact_factors(arch)
    k = act.degree
    if k is None:
        scaled = [h for h in range(L) if s[h] != 1]  # matrices feeding a nonlinearity
        if scaled:
            runs: list[list] = []  # consecutive matrices with the same s, as W3-W15
            for h in scaled:
                if runs and runs[-1][1] == h - 1 and s[runs[-1][0]] == s[h]:
                    runs[-1][1] = h
                else:
                    runs.append([h, h])
            which = ", ".join((f"W{a + 1}" if a == b else f"W{a + 1}-W{b + 1}") + f" (s = {_fmt(s[a])})"
                              for a, b in runs)
            return FactorStructure(
                None,
                f"no scalar factor: activation {act.name!r} is not positively homogeneous, and "
                f"pruning without rescaling changes the weight variance of {which}, which "
                f"feeds a nonlinearity; that changes the shape of the layer kernels, not only "
                f"their scale, so the ratio of the pruned to the dense limit depends on the "
                f"inputs. The pruned limit is the dense recursion with weight variances s_h "
                f"(docs/math.md#pruning).", WIDE_RECURSION, None, note)
        a = [Counter() for _ in range(L + 1)]
        d = [Counter() for _ in range(L + 1)]
    else:
        a, d = [Counter()], [Counter()]
        for l in range(1, L + 1):
            b = _add(a[l - 1], s[l - 1])          # pre-activation scale s_{l-1} a_{l-1}
            a.append(_scale(b, k))
            d.append(_scale(b, k - 1))
    coeffs: list[Counter] = [Counter()] * (L + 1)
    suffix: Counter = Counter()                   # Π_{j>h} s_j · (Σ̇ scale)_j
    for h in range(L, -1, -1):
        c = _add(a[h], G[h])
        c.update(suffix)
        coeffs[h] = Counter({b: e for b, e in c.items() if e})
        suffix = _add(suffix, s[h])
        suffix.update(d[h])
    canon = [_canonical_vector(c) for c in coeffs]
    exprs = [_power_product(c) for c in coeffs]
    if all(cv == canon[0] for cv in canon):
        how = (f"activation {act.name!r} is positively homogeneous of degree {k}: scaling a "
               f"pre-activation variance by b scales the layer kernel by b^{k} and its "
               f"derivative kernel by b^{k - 1}" if k is not None else
               "no matrix feeding a nonlinearity is pruned without rescaling, so the layer "
               "kernels equal the dense ones")
        return FactorStructure(
            exprs[0],
            f"scalar: every weight matrix's term of the wide-input NTK recursion is the dense "
            f"term times the same factor ({how}; docs/math.md#pruning)",
            WIDE_RECURSION, exprs, note)
    i = next(h for h in range(1, L + 1) if canon[h] != canon[0])
    return FactorStructure(
        None,
        f"no scalar factor: the weight matrices' terms of the NTK are multiplied by different "
        f"factors (W1's term by {_fmt(exprs[0])}, W{i + 1}'s by {_fmt(exprs[i])}), so the ratio "
        f"of the pruned to the dense limit depends on the inputs (docs/math.md#pruning)",
        WIDE_RECURSION, exprs, note)


def scaling_factor(arch: Architecture) -> sympy.Expr | None:
    """The scalar ``Θ̃ / Θ`` of the wide-input recursion (sympy), or ``None`` when no scalar
    factor exists; derived from the per-layer structure at any depth
    (:func:`factor_structure` gives the reason; :func:`derive_scaling_factor` is the
    independent sympy-ratio derivation)."""
    return factor_structure(arch).factor


# ----------------------------------------------------------------------------- slow check
def _positive_q(arch: Architecture) -> tuple[Architecture, dict]:
    """Replace each symbolic ``p_h`` by ``1 - q_h`` with ``q_h > 0`` so that sympy can split
    ``sqrt(q·v) = sqrt(q)·sqrt(v)``; numbers become exact rationals."""
    back: dict = {}
    fwd: dict = {}
    ps = []
    for h in range(arch.n_matrices):
        v = arch.p_of(h)
        if _is_symbolic(v):
            if v not in fwd:
                q = sympy.Dummy(f"q{h}", positive=True)
                fwd[v] = 1 - q
                back[q] = 1 - v
            ps.append(fwd[v])
        else:
            ps.append(sympy.nsimplify(v, rational=True))
    return arch.with_(p=ps), back


def symbolic_ntk(arch: Architecture, B: SympyBackend | None = None,
                 norms: tuple = (NORM_X, NORM_Y), theta: Any = THETA) -> tuple[sympy.Expr, SympyBackend]:
    """``Θ̃(x, x')`` as a sympy expression in the input norms and angle, with intermediates
    bound to symbols in ``B.definitions`` (use ``B.expand`` to substitute them)."""
    B = B or SympyBackend()
    nx, ny = norms
    res = run_recursion(B, arch, nx ** 2, ny ** 2, theta, sympy.pi - theta)
    return res.ntk, B


def derive_scaling_factor(arch: Architecture) -> ScalingDerivation:
    """Derive ``Θ̃/Θ`` for ``arch`` against its dense counterpart (same depth, activation)."""
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be a theory.Architecture, got {type(arch).__name__}")
    parch, back = _positive_q(arch)
    B = SympyBackend()  # shared: identical intermediates get identical symbols
    pruned, _ = symbolic_ntk(parch, B)
    dense, _ = symbolic_ntk(arch.dense(), B)
    ratio = sympy.cancel(sympy.together(pruned / dense))
    ratio = sympy.powsimp(sympy.factor(ratio))
    bound_syms = {s for s, _ in B.definitions}
    depends = ratio.free_symbols & ({NORM_X, NORM_Y, THETA} | bound_syms)
    undefined = ratio.atoms(sympy.core.function.AppliedUndef)
    ratio_out = ratio.xreplace(back)  # no simplify: a non-cancelling ratio can be huge
    if depends or undefined:
        kind = ("homogeneous of degree %d" % arch.act.degree) if arch.act.degree else "not known to be homogeneous"
        # say what it depends on in words; the bound symbols (theta_12, v_10, ...) are
        # internal names of this derivation
        return ScalingDerivation(
            None,
            f"no scalar factor: the cancelled ratio of the pruned to the dense limit still "
            f"depends on the inputs (their norms and angle, through the layer kernels) "
            f"(activation {arch.act.name!r} is {kind}; rescale={arch.rescale}). "
            f"The pruned limit is the dense recursion with weight variances s_h instead.",
            ratio_out)
    # factor in the positive q_h first, then map q_h -> 1 - p_h: prints as (1 - p)**k
    factor = sympy.factor(sympy.simplify(ratio)).xreplace(back)
    return ScalingDerivation(
        factor,
        "scalar: the cancelled ratio of the sympy recursions is free of the inputs "
        "(wide-input recursion, docs/math.md#pruning)", factor)
