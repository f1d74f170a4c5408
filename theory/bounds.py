"""Finite-width NTK bounds as symbolic objects (docs/math.md#bounds).

A finite-width theorem of the form::

    if every hidden width satisfies  d >= B(L, eps, delta, p; C)
    then with probability >= 1 - delta:  |Theta_d(x, x') - Theta(x, x')| <= error(L, eps)

is encoded as a :class:`WidthBound`: the width requirement ``B`` is a sympy expression in
the shared symbols of :data:`SYMBOLS` (``L, eps, delta, p``), with the theorem's unspecified
constant ``C`` kept as a positive Symbol.  The module then

* builds the two bounds the project knows of: :func:`arora_bound` (Arora et al. 2019,
  Thm 3.1) and :func:`yang_wang_bound` (Yang & Wang 2023, a *parametrised family*, since the
  printed exponents are unknown to us -- see docs/references.md);
* checks *symbolically* the two constraints the Yang & Wang abstract does state:
  :func:`reduces_to_dense_up_to_logs` (at ``p = 0`` the bound is Arora's up to log factors)
  and :func:`sparsity_dependence` (the width is asymptotically linear in ``1/(1-p)``);
* inverts bounds with ``sympy.solve`` (:func:`required_width`, :func:`error_at_width`,
  :func:`failure_prob_at_width`, :func:`constant_at_width`), compares two bounds
  asymptotically (:func:`compare`) and prints them (:func:`to_latex`).

Conventions: ``p`` is the pruning probability (fraction of weights removed), ``q = 1 - p``
the keep probability, ``r = 1/(1-p)``.  "Up to logarithmic factors" is used in the usual
soft-O sense *per variable*: ``R`` is polylogarithmic in ``x -> x0`` when
``log R / log(scale_x) -> 0`` (``scale = 1/eps, 1/delta, L``), i.e. ``R = scale^{o(1)}``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

import mpmath
import sympy
from sympy.logic.boolalg import Boolean

__all__ = [
    "BoundSymbols", "SYMBOLS", "WidthBound", "arora_bound", "yang_wang_bound",
    "log_factors", "DenseReduction", "reduces_to_dense_up_to_logs", "SparsityDependence",
    "sparsity_dependence", "Inversion", "required_width", "error_at_width",
    "failure_prob_at_width", "constant_at_width", "Comparison", "compare", "to_latex",
]


# ----------------------------------------------------------------------------- symbols

@dataclass(frozen=True)
class BoundSymbols:
    """The symbols shared by every bound (one namespace, so that bounds can be compared).

    ``L`` depth (number of hidden layers, positive integer); ``eps`` the accuracy parameter;
    ``delta`` the failure probability; ``p`` the pruning probability (``0 <= p < 1``: sympy
    only knows ``p >= 0``, the upper end is enforced when values are plugged in); ``C`` the
    theorem's unspecified constant; ``d`` the width; ``r = 1/(1-p)`` (used for ``p -> 1``).
    """

    L: sympy.Symbol = sympy.Symbol("L", integer=True, positive=True)
    eps: sympy.Symbol = sympy.Symbol("epsilon", positive=True)
    delta: sympy.Symbol = sympy.Symbol("delta", positive=True)
    p: sympy.Symbol = sympy.Symbol("p", nonnegative=True)
    C: sympy.Symbol = sympy.Symbol("C", positive=True)
    d: sympy.Symbol = sympy.Symbol("d", positive=True)
    r: sympy.Symbol = sympy.Symbol("r", positive=True)

    @property
    def q(self) -> sympy.Expr:
        """Keep probability ``q = 1 - p``."""
        return 1 - self.p


SYMBOLS = BoundSymbols()
_S = SYMBOLS

# keyword name -> symbol for the domain variables (the sympy names are accepted as aliases)
_DOMAIN_NAMES: dict[str, sympy.Symbol] = {
    "L": _S.L, "eps": _S.eps, "epsilon": _S.eps, "delta": _S.delta, "p": _S.p, "C": _S.C,
    "d": _S.d,
}


# ----------------------------------------------------------------------------- validation

def _to_sympy(name: str, value: Any) -> sympy.Expr:
    """Sympify a user value strictly (no strings, no bools); floats are kept as Floats."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a number or sympy expression, got bool {value!r}")
    if isinstance(value, Fraction):
        value = sympy.Rational(value.numerator, value.denominator)
    try:
        v = sympy.sympify(value, strict=True)
    except (sympy.SympifyError, TypeError) as exc:
        raise TypeError(f"{name}: expected a number or sympy expression, "
                        f"got {type(value).__name__} {value!r}") from exc
    if not isinstance(v, sympy.Expr):
        raise TypeError(f"{name}: expected a sympy expression, got {type(v).__name__}")
    return v


def _check_number(name: str, v: sympy.Expr) -> None:
    if v.is_number:
        if v.is_extended_real is False or v.has(sympy.nan, sympy.zoo):
            raise ValueError(f"{name} must be real, got {v}")
        if v.is_finite is False:
            raise ValueError(f"{name} must be finite, got {v}")


def _exponent(name: str, value: Any) -> sympy.Expr:
    """An exponent: a nonnegative real number or a sympy expression not known to be negative.

    Floats are converted to the rational with the same decimal expansion (``1.5 -> 3/2``)
    so that limits stay exact."""
    if isinstance(value, float):
        value = sympy.Rational(repr(value))
    v = _to_sympy(name, value)
    _check_number(name, v)
    if v.is_negative:
        raise ValueError(f"exponent {name} must be >= 0, got {v}")
    return v


def _domain_value(name: str, sym: sympy.Symbol, value: Any) -> sympy.Expr:
    """Validate a value plugged in for a domain variable (numeric values are range-checked)."""
    v = _to_sympy(name, value)
    _check_number(name, v)
    if sym is _S.L:
        if isinstance(v, sympy.Float) and v == int(v):
            v = sympy.Integer(int(v))
        if v.is_number and not (v.is_integer and v >= 1):
            raise ValueError(f"L (depth) must be a positive integer, got {v}")
        if v.is_positive is False:
            raise ValueError(f"L (depth) must be a positive integer, got {v}")
    elif sym in (_S.eps, _S.delta):
        if v.is_number and not (0 < v < 1):
            raise ValueError(f"{name} must lie in (0, 1), got {v}")
        if v.is_positive is False:
            raise ValueError(f"{name} must lie in (0, 1), got {v}")
    elif sym is _S.p:
        if v.is_number and not (0 <= v < 1):
            raise ValueError(f"p (pruning probability) must lie in [0, 1), got {v}")
        if v.is_negative:
            raise ValueError(f"p (pruning probability) must lie in [0, 1), got {v}")
    elif sym in (_S.C, _S.d):
        if v.is_number and not v > 0:
            raise ValueError(f"{name} must be > 0, got {v}")
        if v.is_positive is False:
            raise ValueError(f"{name} must be > 0, got {v}")
    return v


def _values_to_subs(bound: "WidthBound", values: Mapping[str, Any],
                    forbidden: tuple[sympy.Symbol, ...] = ()) -> dict[sympy.Symbol, sympy.Expr]:
    """Map keyword values to a substitution dict.  Accepted names: ``L, eps (epsilon), delta,
    p, C`` and the names of any other free symbol of the bound (e.g. symbolic exponents)."""
    extra = {s.name: s for s in bound.free_symbols if s not in _DOMAIN_NAMES.values()}
    subs: dict[sympy.Symbol, sympy.Expr] = {}
    for name, value in values.items():
        if name in _DOMAIN_NAMES:
            sym = _DOMAIN_NAMES[name]
            if sym in forbidden:
                raise TypeError(f"{name!r} is the quantity being solved for here; do not pass it")
            v = _domain_value(name, sym, value)
        elif name in extra:
            sym = extra[name]
            v = _to_sympy(name, value)
            _check_number(name, v)
        else:
            allowed = sorted({"L", "eps", "delta", "p", "C"} | set(extra))
            raise TypeError(f"unknown parameter {name!r} for bound {bound.name!r}; "
                            f"expected one of {allowed}")
        if sym in subs:
            raise TypeError(f"parameter {name!r} given twice (alias of {sym.name!r})")
        subs[sym] = v
    return subs


# ----------------------------------------------------------------------------- the bound

@dataclass(frozen=True)
class WidthBound:
    """A finite-width theorem: ``d >= width`` implies ``|Theta_d - Theta| <= error`` with
    probability ``>= 1 - failure_prob``.

    ``width``, ``error`` and ``failure_prob`` are sympy expressions in :data:`SYMBOLS` (plus
    any symbolic exponents); ``C`` is the theorem's unspecified constant.  ``status`` says
    what is known (read in the source) and what is assumed; ``parameters`` records the
    exponents used to build a family member.
    """

    name: str
    width: sympy.Expr
    error: sympy.Expr
    failure_prob: sympy.Expr
    assumptions: str
    source: str
    status: str = ""
    parameters: tuple[tuple[str, sympy.Expr], ...] = ()
    symbols: BoundSymbols = field(default=SYMBOLS)

    def __post_init__(self) -> None:
        for fname in ("width", "error", "failure_prob"):
            object.__setattr__(self, fname, _to_sympy(fname, getattr(self, fname)))
        if self.symbols != SYMBOLS:
            raise ValueError("symbols: every bound must use the shared namespace SYMBOLS "
                             "(the checks and comparisons are written in it)")
        if self.width.has(self.symbols.d):
            raise ValueError("width must not depend on the width symbol d itself")
        if self.width.is_zero or (self.width.is_number and self.width.is_positive is False):
            raise ValueError(f"width must be a positive expression, got {self.width}")

    @property
    def free_symbols(self) -> set[sympy.Symbol]:
        return set(self.width.free_symbols | self.error.free_symbols
                   | self.failure_prob.free_symbols)

    @property
    def success_prob(self) -> sympy.Expr:
        """``1 - failure_prob``."""
        return 1 - self.failure_prob

    @property
    def params(self) -> dict[str, sympy.Expr]:
        return dict(self.parameters)


_ARORA_SOURCE = ("S. Arora, S. S. Du, W. Hu, Z. Li, R. Salakhutdinov, R. Wang, On Exact "
                 "Computation with an Infinitely Wide Neural Net, NeurIPS 2019 "
                 "(arXiv 1904.11955), Theorem 3.1")
_YW_SOURCE = ("H. Yang, Z. Wang, On the Neural Tangent Kernel Analysis of Randomly Pruned "
              "Neural Networks, AISTATS 2023 (arXiv 2203.14328), finite-width theorem")


def arora_bound() -> WidthBound:
    """Arora et al. 2019, Theorem 3.1 (ReLU, ``||x||, ||x'|| <= 1``, no biases, ``L+1`` weight
    matrices, NTK parametrisation): if ``min_h d_h >= C L^6/eps^4 log(L/delta)`` then with
    probability ``>= 1 - delta``, ``|Theta_d(x,x') - Theta^(L)(x,x')| <= (L+1) eps``.

    Status: the statement is recalled and restated by citing papers (docs/references.md marks it
    "[derived, high confidence]"); the constant ``C`` is unspecified in the source (``Omega``).
    """
    s = SYMBOLS
    return WidthBound(
        name="Arora et al. 2019, Thm 3.1",
        width=s.C * s.L**6 / s.eps**4 * sympy.log(s.L / s.delta),
        error=(s.L + 1) * s.eps,
        failure_prob=s.delta,
        assumptions="ReLU, ||x||, ||x'|| <= 1, dense, all hidden widths >= d",
        source=_ARORA_SOURCE,
        status=("Shape recalled/restated (docs/references.md: derived, high confidence); "
                "constant C unspecified (Omega)."),
        parameters=(("a_L", sympy.Integer(6)), ("a_eps", sympy.Integer(4)),
                    ("a_log", sympy.Integer(1))),
    )


def log_factors(eps_power: Any = 0, sparsity_power: Any = 0, depth_power: Any = 0
                ) -> sympy.Expr:
    """Extra logarithmic factors ``log(1/eps)^b * log(e/(1-p))^c * log(e L)^k``.

    ``e/(1-p)`` and ``e L`` (rather than ``1/(1-p)`` and ``L``) keep the factors >= 1, so
    they do not vanish at ``p = 0`` or ``L = 1`` (a factor ``log(1/(1-p))`` would make the
    bound zero at ``p = 0`` and it could not reduce to the dense one)."""
    s = SYMBOLS
    b = _exponent("eps_power", eps_power)
    c = _exponent("sparsity_power", sparsity_power)
    k = _exponent("depth_power", depth_power)
    return (sympy.log(1 / s.eps)**b * sympy.log(sympy.E / (1 - s.p))**c
            * sympy.log(sympy.E * s.L)**k)


def yang_wang_bound(a_L: Any = 6, a_eps: Any = 4, a_q: Any = 1, a_log: Any = 1,
                    extra_log: Any = 1, error: Any = None) -> WidthBound:
    """Yang & Wang 2023 finite-width bound, as a parametrised family:

        d >= C * L^a_L / eps^a_eps * (1/(1-p))^a_q * log(L/delta)^a_log * extra_log

    with error ``(L+1) eps`` (override with ``error=``) and failure probability ``delta``.

    What is KNOWN (abstract of arXiv 2203.14328, v3): the width's dependence on the sparsity
    parameter is "asymptotically linear, as the NTK's gap to its limit goes down to zero",
    and at ``p = 0`` the bound matches Arora et al. 2019 "up to logarithmic factors".
    What is ASSUMED: everything else.  The paper's full text was not available, so the
    powers of ``L``, ``eps``, ``1/(1-p)``, the log factors, the error form and the
    constant are unknown.  The defaults are the natural guess: ``a_L = 6, a_eps = 4`` as in
    Arora, ``a_q = 1`` ("linear in sparsity"), no extra logs -- under which the family at
    ``p = 0`` is exactly Arora's bound.  Plug in the paper's exponents when known; sympy
    Symbols (or expressions) are accepted for every exponent, and ``extra_log`` may be any
    sympy expression of log factors (see :func:`log_factors`).

    Raises ValueError for a negative numeric exponent (or one known to be negative) and
    TypeError for non-numeric, non-sympy input.
    """
    s = SYMBOLS
    aL, ae, aq, al = (_exponent(n, v) for n, v in
                      (("a_L", a_L), ("a_eps", a_eps), ("a_q", a_q), ("a_log", a_log)))
    xl = _to_sympy("extra_log", extra_log)
    if xl.has(s.d):
        raise ValueError("extra_log must not depend on the width symbol d")
    if xl.is_number and not xl.is_positive:
        raise ValueError(f"extra_log must be a positive factor, got {xl}")
    err = (s.L + 1) * s.eps if error is None else _to_sympy("error", error)
    width = (s.C * s.L**aL / s.eps**ae * (1 / (1 - s.p))**aq
             * sympy.log(s.L / s.delta)**al * xl)
    guess = (aL, ae, aq, al, xl) == (6, 4, 1, 1, 1)
    return WidthBound(
        name="Yang & Wang 2023 (family)" + (" [default guess]" if guess else ""),
        width=width,
        error=err,
        failure_prob=s.delta,
        assumptions="ReLU, ||x||, ||x'|| <= 1, random pruning with probability p "
                    "(keep q = 1-p), all hidden widths >= d",
        source=_YW_SOURCE,
        status=("Known (abstract): linear in 1/(1-p) asymptotically; equals Arora's bound "
                "up to log factors at p = 0.  Assumed: all exponents "
                f"(a_L={aL}, a_eps={ae}, a_q={aq}, a_log={al}, extra_log={xl}), "
                "the error form and the constant C."),
        parameters=(("a_L", aL), ("a_eps", ae), ("a_q", aq), ("a_log", al),
                    ("extra_log", xl)),
    )


# ----------------------------------------------------------------------------- limits

def _safe_limit(expr: sympy.Expr, var: sympy.Symbol, point: Any, direction: str = "+"
                ) -> sympy.Expr | None:
    """``sympy.limit`` or None when sympy cannot decide (raises or returns a Limit)."""
    try:
        res = sympy.limit(expr, var, point, direction)
    except Exception:  # sympy raises assorted errors on hard limits
        return None
    if res.has(sympy.Limit, sympy.AccumBounds, sympy.Piecewise, sympy.nan):
        return None
    return res


def _split(expr: sympy.Expr, var: sympy.Symbol) -> tuple[sympy.Expr, sympy.Expr]:
    """``expr = dep * rest`` with ``rest`` the product's factors free of ``var``.  On the
    bounds' domain ``rest`` is a positive constant for a limit in ``var``, so it can be
    pulled out (sympy cannot always tell that e.g. ``log(L/delta) > 0``)."""
    factors = sympy.Mul.make_args(expr)
    dep = sympy.Mul(*[f for f in factors if f.has(var)])
    rest = sympy.Mul(*[f for f in factors if not f.has(var)])
    # the product is positive, but sympy may have written e.g. log(1/eps) as -1 * log(eps):
    # move the sign so that both parts are positive (checked at a generic sample point)
    pt = {sym: _sample_value(sym, 0) for sym in rest.free_symbols}
    val = _num(rest.subs(pt))
    if val is not None and val[0] < 0:
        dep, rest = -dep, -rest
    return dep, rest


def _ratio_limit(expr: sympy.Expr, var: sympy.Symbol, point: Any, direction: str
                 ) -> sympy.Expr | None:
    """Limit of a positive product: the ``var``-free factors are carried along as constants
    (and dropped when the rest goes to 0 or oo)."""
    dep, rest = _split(expr, var)
    lim = _safe_limit(dep, var, point, direction)
    if lim is None or lim in (0, sympy.oo):
        return lim
    if lim == -sympy.oo:  # cannot happen for a positive dep; kept as a safeguard
        return None
    return lim * rest


def _growth(expr: sympy.Expr, var: sympy.Symbol, point: Any, direction: str,
            scale: sympy.Expr) -> sympy.Expr | None:
    """``lim log(expr)/log(scale)``: the polynomial growth exponent of a positive product
    (its ``var``-free factors contribute nothing)."""
    dep, _ = _split(expr, var)
    if dep == 1:
        return sympy.Integer(0)
    return _safe_limit(_log(dep) / _log(scale), var, point, direction)


def _log(expr: sympy.Expr) -> sympy.Expr:
    """``log(expr)`` expanded into a sum (all quantities here are positive)."""
    return sympy.expand_log(sympy.log(expr), force=True)


def _truth(cond: Any) -> bool | None:
    """A sympy Boolean as True / False / None (undecided)."""
    if cond is sympy.true or cond is True:
        return True
    if cond is sympy.false or cond is False:
        return False
    return None


# (label, variable, point, direction, scale) -- scale is the quantity that blows up
_DIRECTIONS = {
    "eps->0": (_S.eps, 0, "+", 1 / _S.eps),
    "delta->0": (_S.delta, 0, "+", 1 / _S.delta),
    "L->oo": (_S.L, sympy.oo, "-", _S.L),
}


@dataclass(frozen=True)
class DenseReduction:
    """Result of :func:`reduces_to_dense_up_to_logs`.

    ``ratio`` = bound/dense at ``p = 0``; ``exponents[dir]`` = ``lim log(ratio)/log(scale)``
    (``scale = 1/eps, 1/delta, L``) -- 0 means the two differ by at most polylog factors in
    that variable; ``ratio_limits[dir]`` = the limit of the ratio itself;
    ``log_ratio_over_log_dense`` = ``lim log(ratio)/log(dense)`` for ``eps->0`` and
    ``L->oo`` (zero iff the corresponding exponent is zero, since dense is polynomial in
    ``1/eps`` and ``L``).  ``holds`` is True/False, or None when it depends on unresolved
    symbols; then ``condition`` states when it holds."""

    ratio: sympy.Expr
    exponents: dict[str, sympy.Expr | None]
    ratio_limits: dict[str, sympy.Expr | None]
    log_ratio_over_log_dense: dict[str, sympy.Expr | None]
    exactly_equal: bool
    holds: bool | None
    condition: Boolean
    note: str = ""


def reduces_to_dense_up_to_logs(bound: WidthBound, dense: WidthBound | None = None
                                ) -> DenseReduction:
    """Check the abstract's claim (Yang & Wang 2023): at ``p = 0`` the width bound matches the
    dense bound (default: :func:`arora_bound`) up to logarithmic factors.

    Computed symbolically: ``R = B(p=0)/B_dense`` and, for each of ``eps -> 0``,
    ``delta -> 0``, ``L -> oo``, the exponent ``lim log R / log(scale)``; the claim holds iff
    every exponent is 0 (``R = scale^{o(1)}``, polylog factors allowed, a polynomial factor
    such as ``1/eps`` or ``L`` is not).  The ``delta`` direction is measured against
    ``log(1/delta)`` and not ``log(dense)``: the dense bound is itself only logarithmic in
    ``1/delta``, so a log-over-log-dense test would wrongly reject ``log(L/delta)^2``.
    """
    dense = arora_bound() if dense is None else dense
    s = bound.symbols
    raw = bound.width / dense.width
    ratio = sympy.simplify(raw.subs(s.p, 0))
    if ratio.has(sympy.nan, sympy.zoo, sympy.oo):  # e.g. 0 * oo at p = 0: take the limit
        lim = _safe_limit(raw, s.p, 0, "+")
        ratio = ratio if lim is None else lim
    if ratio.is_zero:
        return DenseReduction(ratio, {}, {}, {}, False, False, sympy.false,
                              note="the bound vanishes at p = 0 (e.g. a log(1/(1-p)) factor)")
    exps: dict[str, sympy.Expr | None] = {}
    lims: dict[str, sympy.Expr | None] = {}
    for label, (var, pt, dr, scale) in _DIRECTIONS.items():
        exps[label] = _growth(ratio, var, pt, dr, scale)
        lims[label] = _ratio_limit(ratio, var, pt, dr)
    over_dense = {}
    for lab in ("eps->0", "L->oo"):
        var, pt, dr, _ = _DIRECTIONS[lab]
        over_dense[lab] = _growth(ratio, var, pt, dr, _split(dense.width.subs(s.p, 0), var)[0])
    # the condition over the limits sympy could take; holds is None if any is undecided
    cond = sympy.And(*(sympy.Eq(e, 0) for e in exps.values() if e is not None))
    holds = _truth(cond)
    if holds and any(e is None for e in exps.values()):
        holds = None
    exact = sympy.simplify(ratio - 1) == 0
    note = "" if holds is not None else "undecided: see condition (symbolic exponents?)"
    return DenseReduction(ratio, exps, lims, over_dense, bool(exact), holds, cond, note)


@dataclass(frozen=True)
class SparsityDependence:
    """Result of :func:`sparsity_dependence`.

    ``degree`` = ``lim_{eps->0} lim_{r->oo} log B / log r`` with ``r = 1/(1-p)`` (the
    polynomial degree of the width in ``r``, log factors ignored); ``coefficient`` =
    ``lim_{r->oo} B / r^degree`` at symbolic eps (finite and nonzero: exactly ``~ c r^deg``;
    ``oo``/``0``: log corrections); ``leading_eps_degree`` = the degree in ``r`` of the
    leading term of ``B`` as ``eps -> 0`` (the other order of limits; None if sympy cannot
    take it); ``is_linear`` = ``degree == 1`` (None if undecided, then see ``condition``,
    itself None when sympy could not take the limit);
    ``exactly_linear`` = linear with no log correction."""

    degree: sympy.Expr | None
    coefficient: sympy.Expr | None
    leading_eps_degree: sympy.Expr | None
    is_linear: bool | None
    condition: Boolean | None
    exactly_linear: bool | None
    summary: str


def sparsity_dependence(bound: WidthBound) -> SparsityDependence:
    """The leading-order dependence of the required width on ``r = 1/(1-p)`` (Yang & Wang
    2023, abstract: "asymptotically linear, as the NTK's gap to its limit goes down to zero").

    With ``p = 1 - 1/r`` substituted, the degree is ``lim_{r->oo} log B / log r`` at fixed
    ``eps`` (then ``eps -> 0`` if it depends on ``eps``); linear means degree 1 (log factors
    in ``r`` allowed; ``exactly_linear`` tells whether there are any).
    """
    s = bound.symbols
    B = bound.width.subs(s.p, 1 - 1 / s.r)
    deg = _growth(B, s.r, sympy.oo, "-", s.r)
    if deg is not None and deg.has(s.eps):
        deg = _safe_limit(deg, s.eps, 0, "+")
    coef = None
    if deg is not None:
        coef = _ratio_limit(sympy.powsimp(B / s.r**deg, force=True), s.r, sympy.oo, "-")
    lead_deg = None
    try:
        lead_deg = _growth(B.as_leading_term(s.eps), s.r, sympy.oo, "-", s.r)
    except Exception:  # as_leading_term fails on some exotic expressions
        pass
    if deg is None:
        cond: Boolean | None = None
        lin = None
    else:
        cond = sympy.Eq(deg, 1)
        lin = _truth(cond)
    exact: bool | None = None
    if lin is False:
        exact = False
    elif lin and coef is not None:
        # finite nonzero leading coefficient <=> no log correction
        exact = not (coef == 0 or coef.has(sympy.oo, -sympy.oo, sympy.zoo))
    if deg is None:
        summary = "undecided: sympy could not take lim log B / log(1/(1-p))"
    else:
        kind = ("linear" if lin else "not linear" if lin is False
                else f"linear iff {cond}")
        logs = ("" if exact is None or not lin else
                " (exactly, no log corrections)" if exact else " (up to log factors)")
        summary = f"width ~ (1/(1-p))^{deg} as p -> 1: {kind}{logs}"
        if lead_deg is not None and sympy.simplify(lead_deg - deg) != 0:
            summary += (f"; NB the eps->0 leading term has degree {lead_deg} "
                        "(the two orders of limits differ)")
    return SparsityDependence(deg, coef, lead_deg, lin, cond, exact, summary)


# ----------------------------------------------------------------------------- operations

def _finish(expr: sympy.Expr) -> sympy.Expr:
    """Evaluate a closed expression that already contains floats (keep exact ones exact)."""
    return expr.evalf() if expr.is_number and expr.has(sympy.Float) else expr


def required_width(bound: WidthBound, **values: Any) -> sympy.Expr:
    """The width ``B`` with the given values plugged in (``L, eps, delta, p, C`` and any
    symbolic exponent by its name).  Numeric when every symbol is given (a sympy number:
    exact for exact inputs, a Float when a float was given), else symbolic.

    Raises ValueError for out-of-domain values (``eps, delta`` outside (0,1), ``p`` outside
    [0,1), ``L`` not a positive integer, ``C <= 0``) and TypeError for unknown names."""
    subs = _values_to_subs(bound, values, forbidden=(bound.symbols.d,))
    return _finish(bound.width.subs(subs))


@dataclass(frozen=True)
class Inversion:
    """A bound solved for one variable at a given width.

    ``value`` is the solution; ``guarantee`` is what the theorem then gives (the error
    ``bound.error`` at that eps, the failure probability at that delta, or the width at that
    C); ``in_range`` says whether the solution lies in the theorem's domain (e.g. eps in
    (0,1); False means the width is too small for a non-vacuous statement; None if symbolic);
    ``method`` is "symbolic" (sympy.solve) or "numeric" (bisection fallback)."""

    variable: sympy.Symbol
    value: sympy.Expr
    guarantee: sympy.Expr
    in_range: bool | None
    method: str


# exact sample points inside the domain, used to pick the right branch of a solution
_SAMPLES: dict[sympy.Symbol, tuple[sympy.Expr, ...]] = {
    _S.L: (sympy.Integer(2), sympy.Integer(5)),
    _S.eps: (sympy.Rational(3, 10), sympy.Rational(1, 20)),
    _S.delta: (sympy.Rational(1, 10), sympy.Rational(1, 100)),
    _S.p: (sympy.Rational(1, 4), sympy.Rational(4, 5)),
    _S.C: (sympy.Integer(1), sympy.Rational(37, 10)),
}
_RANGES: dict[sympy.Symbol, tuple[Any, Any]] = {
    _S.eps: (0, 1), _S.delta: (0, 1), _S.C: (0, sympy.oo),
}


def _sample_value(sym: sympy.Symbol, i: int) -> sympy.Expr:
    if sym in _SAMPLES:
        return _SAMPLES[sym][i]
    if sym.is_integer:
        return sympy.Integer((2, 3)[i])
    return (sympy.Rational(3, 2), sympy.Rational(5, 2))[i]  # exponents and other symbols


@functools.lru_cache(maxsize=512)
def _solve_candidates(width: sympy.Expr, target: sympy.Symbol, dsym: sympy.Symbol
                      ) -> tuple[sympy.Expr, ...] | None:
    """All sympy solutions of ``width = d`` for ``target`` (None if sympy cannot solve).

    The factors of a product that do not involve the target are moved to the right-hand side
    as one positive dummy ``k``, which lets sympy use positivity to discard roots."""
    p = SYMBOLS.p
    qpos = sympy.Dummy("q", positive=True)        # q = 1 - p > 0, which sympy cannot infer
    width = width.subs(p, 1 - qpos)
    factors = sympy.Mul.make_args(width)
    dep = sympy.Mul(*[f for f in factors if f.has(target)])
    rest = sympy.Mul(*[f for f in factors if not f.has(target)])
    k = sympy.Dummy("k", positive=True)
    try:
        sols = sympy.solve(sympy.Eq(dep, k), target)
    except (NotImplementedError, ValueError):
        return None
    if not sols:
        return None
    # force=True is legitimate here: every factor of a bound is positive on its domain
    return tuple(sympy.powdenest(sol.subs(k, dsym / rest), force=True).subs(qpos, 1 - p)
                 for sol in sols)


def _num(expr: sympy.Expr) -> tuple[float, float] | None:
    """(real, imag) of a closed numeric expression, or None if not evaluable."""
    try:
        v = sympy.N(expr, 30)
        re, im = v.as_real_imag()
        return float(re), float(im)
    except (TypeError, ValueError):
        return None


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def _in_range(target: sympy.Symbol, x: float) -> bool:
    lo, hi = _RANGES.get(target, (0, sympy.oo))
    return lo < x < hi


def _bisect_unit(f: Any, target: sympy.Symbol) -> sympy.Expr:
    """Root of a decreasing ``f(x) = width(x) - d`` on (0, 1), bisecting in ``log x``."""
    with mpmath.workdps(40):
        lo, hi = mpmath.mpf(-1000), mpmath.mpf(-1e-12)
        flo, fhi = f(mpmath.exp(lo)), f(mpmath.exp(hi))
        if not (flo > 0 > fhi):
            raise ValueError(f"no solution for {target} in (0, 1): the width is outside the "
                             "bound's range there (or the bound is not monotone)")
        for _ in range(200):
            mid = (lo + hi) / 2
            if f(mpmath.exp(mid)) > 0:
                lo = mid
            else:
                hi = mid
        return sympy.Float(mpmath.exp((lo + hi) / 2), 30)


def _invert(bound: WidthBound, target: sympy.Symbol, d: Any,
            values: Mapping[str, Any]) -> tuple[sympy.Expr, bool | None, str]:
    """Solve ``bound.width = d`` for ``target``; returns (value, in_range, method).

    Branch selection (``solve`` may return several roots, e.g. ``+-x^(1/4)``, or two
    LambertW branches): with ``d`` kept symbolic, each root is evaluated at two generic
    sample points inside the domain (target sampled in its range, ``d`` set to the width
    there, the other free symbols sampled) and kept iff it recovers the sampled target.
    So the chosen root is the inverse of the bound on its domain; it is then evaluated at
    the given ``d`` (``in_range`` False flags a width too small for a non-vacuous bound).
    If sympy cannot solve and everything is numeric, bisection is used (assuming the width
    is decreasing in the target on (0, 1), true for every bound of this module)."""
    s = bound.symbols
    dval = _domain_value("d", s.d, d)
    subs = _values_to_subs(bound, values, forbidden=(target, s.d))
    w = bound.width.subs(subs)
    raw = _solve_candidates(bound.width, target, s.d) or ()
    cands = [c.subs(subs) for c in raw]           # d still symbolic here
    free = set(w.free_symbols).union(*(c.free_symbols for c in cands)) - {target, s.d}

    def sample(i: int) -> tuple[dict, sympy.Expr]:
        pt = {sym: _sample_value(sym, i) for sym in free}
        t0 = _sample_value(target, i)
        pt[s.d] = w.subs(pt).subs(target, t0)
        return pt, t0

    passing = []
    for c in cands:
        ok = True
        for i in range(2):
            pt, t0 = sample(i)
            v = _num(c.subs(pt))
            if (v is None or abs(v[1]) > 1e-12 * max(1.0, abs(v[0]))
                    or not _close(v[0], float(t0))):
                ok = False
                break
        if ok:
            passing.append(c)

    if passing:
        chosen = passing[0]
        for other in passing[1:]:  # several surviving roots must agree
            for i in range(2):
                pt, _ = sample(i)
                a, b = _num(chosen.subs(pt)), _num(other.subs(pt))
                if a is None or b is None or not _close(a[0], b[0]):
                    raise ValueError(f"ambiguous solution for {target}: {passing}")
        chosen = _finish(chosen.subs(s.d, dval))
        if chosen.is_number:
            v = _num(chosen)
            inr = None if v is None else (abs(v[1]) <= 1e-12 * max(1.0, abs(v[0]))
                                          and _in_range(target, v[0]))
            return chosen, inr, "symbolic"
        return chosen, None, "symbolic"

    # numeric fallback (sympy could not solve, or no root recovers the samples)
    if free or dval.free_symbols or target not in (s.eps, s.delta):
        raise NotImplementedError(
            f"sympy cannot solve {bound.name!r} for {target}; give numeric values for "
            f"every other symbol ({sorted(str(x) for x in free)}) and d to use the "
            "numeric solver")
    fun = sympy.lambdify(target, w - dval, "mpmath")
    return _bisect_unit(fun, target), True, "numeric"


def error_at_width(bound: WidthBound, d: Any = SYMBOLS.d, **values: Any) -> Inversion:
    """Solve ``B = d`` for ``eps`` (with ``sympy.solve``); ``guarantee`` is then
    ``bound.error`` at that ``eps``, e.g. ``(L+1) eps`` for Arora et al. 2019 Thm 3.1.

    ``d`` may be a number or symbolic (default: the symbol ``d``); other symbols are fixed
    by keyword (``L, delta, p, C``, exponent names) or stay symbolic."""
    s = bound.symbols
    val, inr, how = _invert(bound, s.eps, d, values)
    subs = _values_to_subs(bound, values, forbidden=(s.eps, s.d))
    return Inversion(s.eps, val, _finish(bound.error.subs(subs).subs(s.eps, val)), inr, how)


def failure_prob_at_width(bound: WidthBound, d: Any = SYMBOLS.d, eps: Any = SYMBOLS.eps,
                          **values: Any) -> Inversion:
    """Solve ``B = d`` for ``delta`` at accuracy ``eps``: the failure probability the theorem
    guarantees at width ``d``.  ``in_range`` False means ``delta >= 1``: the width is too
    small for a non-vacuous statement at this ``eps``."""
    s = bound.symbols
    vals = dict(values, eps=eps)
    val, inr, how = _invert(bound, s.delta, d, vals)
    subs = _values_to_subs(bound, vals, forbidden=(s.delta, s.d))
    return Inversion(s.delta, val, _finish(bound.failure_prob.subs(subs).subs(s.delta, val)),
                     inr, how)


def constant_at_width(bound: WidthBound, d: Any, **values: Any) -> Inversion:
    """Solve ``B = d`` for the unspecified constant ``C``: the value of ``C`` for which the
    bound would be tight at an observed width ``d`` (e.g. the width that Monte Carlo needs
    to reach error ``eps`` with frequency ``1 - delta``) -- a measure of looseness."""
    s = bound.symbols
    val, inr, how = _invert(bound, s.C, d, values)
    subs = _values_to_subs(bound, values, forbidden=(s.C, s.d))
    return Inversion(s.C, val, _finish(bound.width.subs(subs).subs(s.C, val)), inr, how)


# ----------------------------------------------------------------------------- comparison

@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`: ``ratio = b1.width / b2.width`` (simplified), its limits
    and growth exponents (``lim log ratio / log scale``) in each direction, and a summary."""

    ratio: sympy.Expr
    limits: dict[str, sympy.Expr | None]
    exponents: dict[str, sympy.Expr | None]
    summary: str


def _describe(label: str, lim: sympy.Expr | None, k: sympy.Expr | None, scale: str) -> str:
    if lim is None and k is None:
        return f"{label}: undecided"
    if k is not None and k.is_number and k != 0:
        word = "larger" if k > 0 else "smaller"
        return f"{label}: b1/b2 ~ ({scale})^{k}, polynomially {word} (limit {lim})"
    if k is not None and not k.is_number:
        return f"{label}: b1/b2 ~ ({scale})^({k}) up to logs (limit {lim})"
    if lim in (sympy.oo, sympy.S.Infinity):
        return f"{label}: b1/b2 -> oo, but only by log factors"
    if lim == 0:
        return f"{label}: b1/b2 -> 0, but only by log factors"
    return f"{label}: same order, b1/b2 -> {lim}"


def compare(b1: WidthBound, b2: WidthBound) -> Comparison:
    """Compare two width bounds: the ratio ``b1/b2`` (simplified), its limits as
    ``eps -> 0``, ``delta -> 0``, ``L -> oo``, ``p -> 0`` and ``p -> 1`` (via ``r = 1/(1-p)``),
    the polynomial growth exponent in each scale, and a one-line-per-direction summary."""
    s = b1.symbols
    ratio = sympy.simplify(b1.width / b2.width)
    limits: dict[str, sympy.Expr | None] = {}
    exps: dict[str, sympy.Expr | None] = {}
    scales = {"eps->0": "1/eps", "delta->0": "1/delta", "L->oo": "L"}
    for label, (var, pt, dr, scale) in _DIRECTIONS.items():
        limits[label] = _ratio_limit(ratio, var, pt, dr)
        exps[label] = _growth(ratio, var, pt, dr, scale)
    limits["p->0"] = _ratio_limit(ratio, s.p, 0, "+")
    exps["p->0"] = None  # a fixed point, no scale
    ratio_r = sympy.simplify(ratio.subs(s.p, 1 - 1 / s.r))
    limits["p->1"] = _ratio_limit(ratio_r, s.r, sympy.oo, "-")
    exps["p->1"] = _growth(ratio_r, s.r, sympy.oo, "-", s.r)
    scales["p->1"] = "1/(1-p)"
    lines = [f"{b1.name} vs {b2.name}: ratio = {ratio}"]
    for label in ("eps->0", "delta->0", "L->oo", "p->1"):
        lines.append(_describe(label, limits[label], exps[label], scales[label]))
    lines.append(f"p->0: b1/b2 -> {limits['p->0']}")
    return Comparison(ratio, limits, exps, "\n".join(lines))


def to_latex(bound: WidthBound, with_guarantee: bool = False) -> str:
    """LaTeX for the width requirement, ``d \\ge ...`` (via ``sympy.latex``); with
    ``with_guarantee`` the error and probability are appended."""
    s = bound.symbols
    out = rf"{sympy.latex(s.d)} \ge {sympy.latex(bound.width)}"
    if with_guarantee:
        out += (rf" \;\Rightarrow\; |\Theta_d - \Theta| \le {sympy.latex(bound.error)}"
                rf" \text{{ w.p. }} \ge {sympy.latex(bound.success_prob)}")
    return out
