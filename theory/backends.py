"""Three interchangeable number systems for the one recursion (docs/design.md).

The recursion (``theory.recursion``) and the kernel maps (``theory.activations``) are
written once against the small namespace defined here:

* :data:`NUMPY`  – float64 arrays, vectorised over all input pairs;
* :func:`mpmath_backend` – ``mpmath.mpf`` at a chosen number of digits (numpy object arrays);
* :data:`SYMPY`  – exact sympy expressions (``p`` may be a Symbol).

Besides elementary functions, a backend supplies the arc-cosine angular functions
``J_n(θ)`` of Cho & Saul (2009) and their complements ``J_n(0) - J_n(θ)``. These are where
float64 loses accuracy by cancellation near ``ρ = ±1`` (e.g. ``J_1(π - φ) ≈ φ³/3``), so the
float64 backend evaluates them through series; the angle is always carried as the pair
``(θ, φ = π - θ)`` so that both ends keep full relative accuracy.
"""
from __future__ import annotations

import math
import threading
from typing import Any, Callable

import mpmath
import numpy as np
import sympy

# J_n(0) for the arc-cosine orders we implement (Cho & Saul 2009): π, π, 3π.
J_AT_ZERO = {0: 1, 1: 1, 2: 3}  # in units of π


# Taylor coefficients (in t = x²) of the two cancellation-prone combinations below
_G1_COEF = [(-1) ** (k + 1) * (2 * k) / math.factorial(2 * k + 1) for k in range(1, 14)]
_H2_COEF = [(-1) ** k * (k - 1) * 2.0 ** (2 * k + 1) / math.factorial(2 * k + 1)
            for k in range(2, 18)]


def _n_terms(coef: list[float], lead: float, t_max: float) -> int:
    """Fewest leading terms of ``Σ coef[k] t^k`` whose first omitted term is below
    ``2^-60`` of the leading one for every ``t <= t_max`` (the series alternate with
    decreasing terms there, so the omitted tail is smaller still)."""
    for K in range(1, len(coef)):
        if abs(coef[K]) * t_max ** K <= 2.0 ** -60 * abs(lead):
            return K
    return len(coef)


def _horner(coef: list[float], t: np.ndarray, K: int) -> np.ndarray:
    out = np.full_like(t, coef[K - 1])
    for c in reversed(coef[:K - 1]):
        out *= t
        out += c
    return out


def _series_g1(phi: np.ndarray) -> np.ndarray:
    """``sin φ − φ cos φ = Σ_{k≥1} (−1)^{k+1} 2k φ^{2k+1}/(2k+1)!`` (no cancellation),
    for ``0 <= φ < 1``; only as many terms as the largest ``φ`` needs (Horner in ``φ²``)."""
    phi = np.asarray(phi, dtype=np.float64)
    if phi.size == 0:
        return phi.copy()
    x2 = phi * phi
    K = _n_terms(_G1_COEF, _G1_COEF[0], float(np.max(x2)))
    return _horner(_G1_COEF, x2, K) * x2 * phi


def _series_h2(phi: np.ndarray) -> np.ndarray:
    """``φ(1+2cos²φ) − 3 sin φ cos φ = Σ_{k≥2} (−1)^k (k−1) t^{2k+1}/(2k+1)!``, ``t = 2φ``,
    for ``0 <= φ < 1`` (Horner in ``φ²``, terms as needed)."""
    phi = np.asarray(phi, dtype=np.float64)
    if phi.size == 0:
        return phi.copy()
    x2 = phi * phi
    K = _n_terms(_H2_COEF, _H2_COEF[0], float(np.max(x2)))
    return _horner(_H2_COEF, x2, K) * (x2 * x2 * phi)


def _select(out: np.ndarray, where: np.ndarray, f: Callable, x: np.ndarray) -> np.ndarray:
    """Like :func:`_patch` for a 1-argument series valid on ``where``: when many entries
    need it, evaluating ``f`` everywhere (with as many terms as the selected entries
    need) and selecting is cheaper than gathering and scattering."""
    k = np.count_nonzero(where)
    if k == 0:
        return out
    if k < out.size // 4:
        return _patch(out, where, f, x)
    xm = float(np.max(x, where=where, initial=0.0))
    np.copyto(out, f(np.minimum(x, xm)), where=where)
    return out


def _patch(out: np.ndarray, where: np.ndarray, f: Callable, *args: np.ndarray) -> np.ndarray:
    """``out[where] = f(*(a[where] for a in args))`` — evaluates the second branch of a
    two-branch formula only on the entries that need it (instead of ``np.where`` on both)."""
    out = np.asarray(out)
    if np.any(where):
        out[where] = f(*(np.broadcast_to(a, where.shape)[where] for a in args))
    return out


class Backend:
    """Interface. Subclasses implement elementary functions on their number type."""

    name = "abstract"
    exact = False

    # --- numbers -------------------------------------------------------------------
    pi: Any
    def asarray(self, x: Any) -> Any: raise NotImplementedError
    def const(self, x: Any) -> Any: raise NotImplementedError

    # --- elementwise functions -------------------------------------------------------
    def sqrt(self, x): raise NotImplementedError
    def sin(self, x): raise NotImplementedError
    def cos(self, x): raise NotImplementedError
    def acos(self, x): raise NotImplementedError
    def asin(self, x): raise NotImplementedError
    def atan2(self, y, x): raise NotImplementedError
    def where(self, cond, a, b): return np.where(cond, a, b)

    def cos_angle(self, theta, phi):
        """``cos θ``, from ``φ = π − θ`` where that is the accurate one."""
        return self.where(theta < self.pi / 2, self.cos(theta), -self.cos(phi))

    def sin_angle(self, theta, phi):
        return self.where(theta < self.pi / 2, self.sin(theta), self.sin(phi))

    # --- arc-cosine angular functions ----------------------------------------------
    def J(self, n: int, theta, phi):
        """Cho & Saul's ``J_n(θ)`` for ``n ∈ {0,1,2}``, with ``φ = π − θ`` supplied."""
        raise NotImplementedError

    def Jc(self, n: int, theta, phi):
        """``J_n(0) − J_n(θ)``, accurate for small ``θ``."""
        raise NotImplementedError

    def angle_from_cos(self, cos, vers=None, covers=None):
        """``(θ, π − θ)`` from ``cos θ``; ``vers = 1 − cos θ`` and ``covers = 1 + cos θ``,
        when given, are used for accuracy near the ends."""
        raise NotImplementedError

    def bind(self, expr: Any, name: str) -> Any:
        """Name an intermediate (sympy: a fresh symbol recorded in ``definitions``)."""
        return expr

    def check_finite(self, x: Any, what: str) -> Any:
        return x


_TRIG = threading.local()   # NumpyBackend.remember_trig: the last angle's cos, sin, 1 − cos


class NumpyBackend(Backend):
    name = "numpy"
    pi = np.pi

    # --- trig memo: sin/cos cost ~9 ns per float64 entry (not vectorised in numpy),
    # ~25× an add, and every layer's accurate cos θ, sin θ, 1 − cos θ are known
    # algebraically where the angle is made (the Gram matrix, ArcCosine.layer_map)
    @staticmethod
    def remember_trig(theta: np.ndarray, cos: np.ndarray, sin: np.ndarray,
                      vers: np.ndarray) -> None:
        """Record accurate ``(cos θ, sin θ, 1 − cos θ)`` of the angle array ``theta``
        (this thread only; one angle at a time). Maps that receive that same array
        object (:meth:`cos_angle`, :meth:`sin_angle`, :meth:`arccos_triplet` via
        :meth:`trig_of`) use them instead of evaluating ``sin``/``cos``; the arrays must
        not be modified afterwards."""
        _TRIG.last = (theta, cos, sin, vers)

    @staticmethod
    def trig_of(theta: Any) -> tuple | None:
        """``(cos θ, sin θ, 1 − cos θ)`` if ``theta`` is the array last remembered."""
        last = getattr(_TRIG, "last", None)
        return last[1:] if last is not None and last[0] is theta else None

    @staticmethod
    def forget_trig() -> None:
        """Drop the remembered values (and the references to their arrays)."""
        _TRIG.last = None

    def asarray(self, x):
        return np.asarray(x, dtype=np.float64)

    def const(self, x):
        return float(x)

    sqrt = staticmethod(np.sqrt)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    atan2 = staticmethod(np.arctan2)

    @staticmethod
    def acos(x):
        return np.arccos(np.clip(x, -1.0, 1.0))

    @staticmethod
    def asin(x):
        return np.arcsin(np.clip(x, -1.0, 1.0))

    def J(self, n, theta, phi):
        theta = np.asarray(theta, dtype=np.float64)
        phi = np.asarray(phi, dtype=np.float64)
        if n == 0:
            return phi.copy()
        if n not in (1, 2):
            raise ValueError(f"arc-cosine order n must be 0, 1 or 2, got {n}")
        # direct formula; for θ >= π/2 the supplement form in φ is the accurate one
        s, c = np.sin(theta), np.cos(theta)
        if n == 1:
            out = s + phi * c
            return _patch(out, theta >= np.pi / 2, self._g1, phi)
        out = 3 * s * c + phi * (1 + 2 * c * c)
        return _patch(out, theta >= np.pi / 2, self._h2, phi)

    @staticmethod
    def _g1(x):
        """``sin x − x cos x`` for ``x >= 0``: series below 1, direct above."""
        out = np.sin(x) - x * np.cos(x)
        return _patch(out, x < 1.0, _series_g1, x)

    @staticmethod
    def _h2(x):
        """``x(1+2cos²x) − 3 sin x cos x`` for ``x >= 0``: series below 1, direct above."""
        c = np.cos(x)
        out = x * (1 + 2 * c * c) - 3 * np.sin(x) * c
        return _patch(out, x < 1.0, _series_h2, x)

    def Jc(self, n, theta, phi):
        theta = np.asarray(theta, dtype=np.float64)
        if n == 0:
            return theta.copy()
        if n == 1:  # π − J_1 = 2π sin²(θ/2) − (sin θ − θ cos θ)
            return 2 * np.pi * np.sin(theta / 2) ** 2 - self._g1(theta)
        if n == 2:  # 3π − J_2 = 2π sin²θ + (θ(1+2cos²θ) − 3 sin θ cos θ)
            s = np.sin(theta)
            return 2 * np.pi * s * s + self._h2(theta)
        raise ValueError(f"arc-cosine order n must be 0, 1 or 2, got {n}")

    def arccos_triplet(self, n, theta, phi, trig=None):
        """``(J_n, J_{n−1}, J_n(0) − J_n)`` from one ``sin``/``cos`` per entry (same
        formulas as :meth:`J` and :meth:`Jc`). ``1 − cos θ`` is formed as
        ``sin²θ/(1 + cos θ)`` for ``θ < π/2`` (no cancellation). The direct forms
        ``sin θ + φ cos θ`` etc. are exact rearrangements of the supplement forms used by
        :meth:`J` for ``θ >= π/2`` and lose accuracy only for ``φ < 1``, where the series
        in ``φ`` replace them; ``sin θ − θ cos θ`` in ``Jc`` uses the series only for
        ``θ < 1/4`` — above, the direct form loses at most ``3ε/θ²`` of a term that is
        itself ``2θ/(3π)`` of ``Jc``, i.e. ``< 3ε`` relative. ``trig = (cos θ, sin θ,
        1 − cos θ)``, when the caller has them accurately, saves the ``sin``/``cos``
        evaluations; by default they come from :meth:`trig_of` when ``theta`` is the
        remembered angle."""
        if trig is None:
            trig = self.trig_of(theta)
        if trig is not None:
            shape = np.shape(theta)
            theta = np.asarray(theta, dtype=np.float64).reshape(-1)
            phi = np.asarray(phi, dtype=np.float64).reshape(-1)
            c, s, onec = (np.broadcast_to(t, shape).reshape(-1) for t in trig)
            out = self._triplet(n, theta, phi, (s, c, onec))
            return tuple(o.reshape(shape) for o in out)
        theta, phi = np.broadcast_arrays(np.asarray(theta, dtype=np.float64),
                                         np.asarray(phi, dtype=np.float64))
        shape = theta.shape
        theta, phi = theta.reshape(-1), phi.reshape(-1)
        out = self._triplet(n, theta, phi)
        return tuple(o.reshape(shape) for o in out)

    def _triplet(self, n, theta, phi, trig=None):
        # flat float64 arrays; in-place ufuncs keep the temporaries few (cache-sized tiles)
        if trig is not None:
            s, c, onec = trig
        else:
            near = theta >= np.pi / 2
            s, c = np.sin(theta), np.cos(theta)
            if np.any(near):   # the supplement is the accurate one there
                s[near] = np.sin(phi[near])
                c[near] = -np.cos(phi[near])
            with np.errstate(divide="ignore", invalid="ignore"):  # θ = π: replaced below
                onec = s * s / (1 + c)
            _patch(onec, near, lambda cc: 1 - cc, c)
        small_phi = phi < 1.0
        if n == 1:
            Jn = np.multiply(phi, c)
            Jn += s                                  # sin θ + φ cos θ
            _select(Jn, small_phi, _series_g1, phi)  # = sin φ − φ cos φ, by series
            Jm = phi.copy()
            g = np.multiply(theta, c)
            np.subtract(s, g, out=g)                 # sin θ − θ cos θ
            _select(g, theta < 0.25, _series_g1, theta)
            Jc = np.multiply(onec, np.pi)
            Jc -= g
            return Jn, Jm, Jc
        if n == 2:
            sc = np.multiply(s, c)
            c2 = np.multiply(c, c)
            c2 *= 2
            c2 += 1                                  # 1 + 2cos²θ
            Jn = np.multiply(phi, c2)
            Jn += 3 * sc
            _select(Jn, small_phi, _series_h2, phi)
            Jm = np.multiply(phi, c)
            Jm += s
            _select(Jm, small_phi, _series_g1, phi)
            h = np.multiply(theta, c2)
            h -= 3 * sc
            _select(h, theta < 1.0, _series_h2, theta)
            Jc = np.multiply(s, s)
            Jc *= 2 * np.pi
            Jc += h
            return Jn, Jm, Jc
        raise ValueError(f"arc-cosine order n must be 1 or 2, got {n}")

    def cos_angle(self, theta, phi):
        t = self.trig_of(theta)
        if t is not None:
            return t[0]
        theta = np.asarray(theta, dtype=np.float64)
        out = np.cos(theta)
        return _patch(out, theta >= np.pi / 2, lambda f: -np.cos(f), phi)

    def sin_angle(self, theta, phi):
        t = self.trig_of(theta)
        if t is not None:
            return t[1]
        theta = np.asarray(theta, dtype=np.float64)
        out = np.sin(theta)
        return _patch(out, theta >= np.pi / 2, np.sin, phi)

    def angle_from_cos(self, cos, vers=None, covers=None):
        cos = np.clip(np.asarray(cos, dtype=np.float64), -1.0, 1.0)
        # θ = 2 asin(sqrt(vers/2)) is accurate for small θ (cos > 0), φ likewise from
        # covers for cos < 0; acos only on the entries not covered by either
        pos = (cos > 0) if vers is not None else np.zeros(cos.shape, bool)
        neg = (cos < 0) if covers is not None else np.zeros(cos.shape, bool)
        if vers is not None and np.all(pos):
            v = np.clip(np.asarray(vers, dtype=np.float64), 0.0, 2.0)
            theta = 2 * np.arcsin(np.sqrt(v / 2))
            return theta, np.pi - theta
        theta = np.arccos(cos)
        if vers is not None:
            _patch(theta, pos, lambda v: 2 * np.arcsin(np.sqrt(np.clip(v, 0.0, 2.0) / 2)), vers)
        phi = np.pi - theta
        if covers is not None and np.any(neg):
            _patch(phi, neg, lambda v: 2 * np.arcsin(np.sqrt(np.clip(v, 0.0, 2.0) / 2)), covers)
            theta[neg] = np.pi - phi[neg]
        return theta, phi

    def check_finite(self, x, what):
        x = np.asarray(x)
        if not np.all(np.isfinite(x)):
            raise FloatingPointError(
                f"{what} left the float64 range (overflow or NaN); evaluate with the mpmath "
                f"backend (theory.limit_ntk(..., backend='mpmath')) for this configuration")
        return x


class MpmathBackend(Backend):
    """mpmath numbers in numpy object arrays; precision ``dps`` decimal digits.

    Cancellation in ``J_n`` near the ends is absorbed by evaluating the direct formulas
    with extra guard digits (adaptive to the size of θ or φ).
    """

    name = "mpmath"

    def __init__(self, dps: int = 50):
        if not isinstance(dps, int) or dps < 15:
            raise ValueError(f"dps must be an integer >= 15, got {dps!r}")
        self.dps = dps
        self.ctx = mpmath.MPContext()
        self.ctx.dps = dps
        self.pi = self.ctx.pi
        ctx = self.ctx
        self._v = {
            "sqrt": np.vectorize(lambda x: ctx.sqrt(x) if x > 0 else ctx.mpf(0), otypes=[object]),
            "sin": np.vectorize(ctx.sin, otypes=[object]),
            "cos": np.vectorize(ctx.cos, otypes=[object]),
            "acos": np.vectorize(lambda x: ctx.acos(min(max(x, -1), 1)), otypes=[object]),
            "asin": np.vectorize(lambda x: ctx.asin(min(max(x, -1), 1)), otypes=[object]),
            "atan2": np.vectorize(ctx.atan2, otypes=[object]),
        }

    def asarray(self, x):
        a = np.asarray(x)
        if a.dtype == object:
            return np.vectorize(self.ctx.mpf, otypes=[object])(a) if a.ndim else self.ctx.mpf(a.item())
        return np.vectorize(lambda t: self.ctx.mpf(float(t)), otypes=[object])(a) if a.ndim \
            else self.ctx.mpf(float(a))

    def const(self, x):
        if isinstance(x, sympy.Basic):
            return self.ctx.mpf(sympy.N(x, self.dps + 10))
        if isinstance(x, int):
            return self.ctx.mpf(x)
        return self.ctx.mpf(x)

    def sqrt(self, x): return self._v["sqrt"](x)
    def sin(self, x): return self._v["sin"](x)
    def cos(self, x): return self._v["cos"](x)
    def acos(self, x): return self._v["acos"](x)
    def asin(self, x): return self._v["asin"](x)
    def atan2(self, y, x): return self._v["atan2"](y, x)

    def _guarded(self, f: Callable, *args):
        """Evaluate ``f`` with guard digits growing with ``log10(1/min(args))``."""
        ctx = self.ctx
        small = min((abs(a) for a in args if a != 0), default=ctx.mpf(1))
        extra = 10 + int(5 * max(0.0, -float(ctx.log10(small)))) if small < 1 else 10
        with ctx.extradps(extra):
            r = f(*args)
        return +r

    def J(self, n, theta, phi):
        ctx = self.ctx
        def j(t, f):
            if n == 0:
                return f
            if n == 1:
                return self._guarded(lambda t, f: ctx.sin(t) + f * ctx.cos(t), t, f) \
                    if t < ctx.pi / 2 else self._guarded(lambda f: ctx.sin(f) - f * ctx.cos(f), f)
            if n == 2:
                if t < ctx.pi / 2:
                    return self._guarded(lambda t, f: 3 * ctx.sin(t) * ctx.cos(t)
                                         + f * (1 + 2 * ctx.cos(t) ** 2), t, f)
                return self._guarded(lambda f: f * (1 + 2 * ctx.cos(f) ** 2)
                                     - 3 * ctx.sin(f) * ctx.cos(f), f)
            raise ValueError(f"arc-cosine order n must be 0, 1 or 2, got {n}")
        return np.vectorize(j, otypes=[object])(theta, phi)

    def Jc(self, n, theta, phi):
        ctx = self.ctx
        def jc(t):
            if n == 0:
                return t
            if n == 1:
                return self._guarded(lambda t: 2 * ctx.pi * ctx.sin(t / 2) ** 2
                                     - (ctx.sin(t) - t * ctx.cos(t)), t)
            if n == 2:
                return self._guarded(lambda t: 2 * ctx.pi * ctx.sin(t) ** 2
                                     + t * (1 + 2 * ctx.cos(t) ** 2)
                                     - 3 * ctx.sin(t) * ctx.cos(t), t)
            raise ValueError(f"arc-cosine order n must be 0, 1 or 2, got {n}")
        return np.vectorize(jc, otypes=[object])(theta)

    def angle_from_cos(self, cos, vers=None, covers=None):
        ctx = self.ctx
        def ang(c, v, cv):
            c = min(max(c, -1), 1)
            if v is not None and c > 0:
                t = 2 * ctx.asin(ctx.sqrt(max(v, 0) / 2))
                return t, ctx.pi - t
            if cv is not None and c < 0:
                f = 2 * ctx.asin(ctx.sqrt(max(cv, 0) / 2))
                return ctx.pi - f, f
            t = ctx.acos(c)
            return t, ctx.pi - t
        vv = vers if vers is not None else np.full(np.shape(cos), None, dtype=object)
        cc = covers if covers is not None else np.full(np.shape(cos), None, dtype=object)
        f = np.vectorize(ang, otypes=[object, object])
        return f(cos, vv, cc)


class SympyBackend(Backend):
    """Exact sympy expressions. ``bind`` names intermediates (one symbol per distinct
    expression) so that depth-``L`` expressions stay linear in size; the definitions are
    kept in ``self.definitions`` in evaluation order."""

    name = "sympy"
    exact = True

    def __init__(self, prefix: str = "r"):
        self.pi = sympy.pi
        self.prefix = prefix
        self.definitions: list[tuple[sympy.Symbol, sympy.Expr]] = []
        self._memo: dict[sympy.Expr, sympy.Symbol] = {}

    def asarray(self, x):
        a = np.asarray(x, dtype=object)
        if a.ndim == 0:
            return sympy.sympify(a.item())
        return np.vectorize(lambda t: sympy.nsimplify(t) if isinstance(t, float) else sympy.sympify(t),
                            otypes=[object])(a)

    def const(self, x):
        return sympy.nsimplify(x) if isinstance(x, float) else sympy.sympify(x)

    def _map(self, f, *xs):
        if any(isinstance(x, np.ndarray) for x in xs):
            return np.vectorize(f, otypes=[object])(*xs)
        return f(*xs)

    def sqrt(self, x): return self._map(sympy.sqrt, x)
    def sin(self, x): return self._map(sympy.sin, x)
    def cos(self, x): return self._map(sympy.cos, x)
    def acos(self, x): return self._map(sympy.acos, x)
    def asin(self, x): return self._map(sympy.asin, x)
    def atan2(self, y, x): return self._map(sympy.atan2, y, x)

    def where(self, cond, a, b):
        raise NotImplementedError("the sympy backend evaluates no branches")

    def cos_angle(self, theta, phi):
        return self.cos(theta)

    def sin_angle(self, theta, phi):
        return self.sin(theta)

    def J(self, n, theta, phi):
        def j(t, f):
            if n == 0:
                return f
            if n == 1:
                return sympy.sin(t) + f * sympy.cos(t)
            if n == 2:
                return 3 * sympy.sin(t) * sympy.cos(t) + f * (1 + 2 * sympy.cos(t) ** 2)
            raise ValueError(f"arc-cosine order n must be 0, 1 or 2, got {n}")
        return self._map(j, theta, phi)

    def Jc(self, n, theta, phi):
        return self._map(lambda t, f: J_AT_ZERO[n] * sympy.pi - self.J(n, t, f), theta, phi)

    def angle_from_cos(self, cos, vers=None, covers=None):
        theta = self.acos(cos)
        return theta, self._map(lambda t: sympy.pi - t, theta)

    def bind(self, expr, name):
        if isinstance(expr, np.ndarray):
            return np.vectorize(lambda e: self.bind(e, name), otypes=[object])(expr)
        expr = sympy.sympify(expr)
        # only transcendental intermediates are named; products of norms and s_h stay
        # explicit so that the pruned/dense ratio can cancel them
        if not expr.atoms(sympy.Function):
            return expr
        if expr in self._memo:
            return self._memo[expr]
        sym = sympy.Symbol(f"{name}_{len(self.definitions) + 1}", real=True)
        self._memo[expr] = sym
        self.definitions.append((sym, expr))
        return sym

    def expand(self, expr):
        """Substitute every bound intermediate back (innermost last)."""
        for sym, definition in reversed(self.definitions):
            expr = expr.xreplace({sym: definition}) if isinstance(expr, sympy.Basic) else expr
        return expr


NUMPY = NumpyBackend()


def mpmath_backend(dps: int = 50) -> MpmathBackend:
    return MpmathBackend(dps)


def get_backend(backend: Any, dps: int = 50) -> Backend:
    if isinstance(backend, Backend):
        return backend
    if backend in ("numpy", "float64", None):
        return NUMPY
    if backend == "mpmath":
        return MpmathBackend(dps)
    if backend == "sympy":
        return SympyBackend()
    raise ValueError(f"backend must be 'numpy', 'mpmath' or 'sympy', got {backend!r}")
