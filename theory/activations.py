"""Activations: the finite-network function and its kernel maps, side by side (as in
neural-tangents' ``stax``).

An :class:`Activation` knows, for every backend (``theory.backends``):

* ``forward`` / ``derivative`` on float64 arrays (the finite network, ``theory.network``);
* ``c_sigma = 1 / E_{z~N(0,1)}[σ(z)²]`` (docs/math.md#network), computed, not assumed;
* ``variance_map(B, v)``: ``Σ(x,x) = c_σ E[σ(u)²]``, ``u ~ N(0, v)``;
* ``pair_map(B, va, vb, θ, φ)``: ``(Σ(x,x'), Σ̇(x,x'))`` for pre-activations with variances
  ``va, vb`` and correlation ``cos θ`` (``φ = π − θ``), docs/math.md#limit;
* ``output_angle(...)``: the correlation angle of the layer's output kernel.

Closed forms:

* ReLU and ReLU² are the arc-cosine kernels of order 1 and 2 (Cho & Saul 2009,
  docs/references.md): ``E[relu(u)^n relu(v)^n] = (ab)^{n/2} J_n(θ) / (2π)``, and
  ``σ' = n relu^{n-1}`` brings order ``n − 1``.
* erf (Williams 1997): ``E[erf(u) erf(v)] = (2/π) asin(2c / sqrt((1+2a)(1+2b)))`` and
  ``E[erf'(u) erf'(v)] = (4/π) / sqrt((1+2a)(1+2b) − 4c²)``, ``c = sqrt(ab) cos θ``; the
  determinant is written ``1 + 2a + 2b + 4ab sin²θ`` to avoid cancellation.
* tanh, GELU, sigmoid, softplus (by name) and any other callable: numerical bivariate
  Gaussian expectation (an adaptive-step trapezoid rule, in float64 and at mpmath
  precision); symbolically an undefined function. ``c_σ`` is computed by the same
  quadrature, never typed in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np
import sympy

from .backends import J_AT_ZERO, Backend, MpmathBackend, NumpyBackend, SympyBackend


class Activation:
    """Base class. ``degree`` is the positive-homogeneity degree ``k`` (``σ(λz) = λ^k σ(z)``,
    ``λ > 0``) when known, else ``None``."""

    name: str = "activation"
    degree: int | None = None

    def forward(self, z: np.ndarray) -> np.ndarray: raise NotImplementedError
    def derivative(self, z: np.ndarray) -> np.ndarray: raise NotImplementedError
    def c_sigma(self, B: Backend) -> Any: raise NotImplementedError
    def variance_map(self, B: Backend, v: Any) -> Any: raise NotImplementedError
    def pair_map(self, B: Backend, va: Any, vb: Any, theta: Any, phi: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def layer_map(self, B: Backend, va, vb, theta, phi):
        """One layer of the recursion: ``(Σ, Σ̇, Σ(x,x), Σ(x',x'), θ', φ')`` =
        ``pair_map``, ``variance_map`` of both variances and ``output_angle``. Subclasses
        may share work between the three (ReLU on float64 does)."""
        sig, sdot = self.pair_map(B, va, vb, theta, phi)
        nva, nvb = self.variance_map(B, va), self.variance_map(B, vb)
        th, ph = self.output_angle(B, va, vb, theta, phi, sig, nva, nvb)
        return sig, sdot, nva, nvb, th, ph

    def output_angle(self, B: Backend, va, vb, theta, phi, sigma, va_out, vb_out):
        """Angle of the output covariance: ``cos θ' = Σ(x,x') / sqrt(Σ(x,x) Σ(x',x'))``."""
        if isinstance(B, NumpyBackend):
            return self._output_angle_f64(B, va, vb, theta, sigma, va_out, vb_out)
        den = B.sqrt(va_out) * B.sqrt(vb_out)
        if isinstance(B, SympyBackend):
            return B.angle_from_cos(sigma / den)
        # Identical pre-activation laws (θ = 0, va = vb) give identical outputs: ρ' = 1
        # exactly. Rounding it to 1 − ulp would be amplified by a chaotic correlation map.
        same = (np.asarray(theta == 0)) & np.asarray(va == vb)
        cos = np.vectorize(lambda s, d: s / d if d > 0 else B.ctx.mpf(0), otypes=[object])(sigma, den)
        theta_out, phi_out = B.angle_from_cos(cos)
        theta_out = np.where(same, 0 * B.pi, theta_out)
        phi_out = np.where(same, B.pi, phi_out)
        return theta_out, phi_out

    @staticmethod
    def _output_angle_f64(B, va, vb, theta, sigma, va_out, vb_out):
        """float64 :meth:`output_angle` (same formula, fewer passes over the tile): the
        reciprocal norms are formed per input (zero variance: ``cos θ' = 0``), ``θ' = 0``
        exactly for identical pre-activation laws, and the next layer's ``cos θ'``,
        ``sin θ' = sqrt((1 − c)(1 + c))`` (as accurate as ``sin(acos(c))``: both are limited
        by the rounding of ``c``) and ``1 − cos θ'`` are remembered
        (:meth:`NumpyBackend.remember_trig`), so no layer evaluates ``sin``/``cos``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            ia = np.where(va_out > 0, 1 / np.sqrt(va_out), 0.0)
            ib = np.where(vb_out > 0, 1 / np.sqrt(vb_out), 0.0)
            c = np.asarray(sigma * ia * ib, dtype=np.float64)
        np.clip(c, -1.0, 1.0, out=c)
        # identical pre-activation laws (θ = 0, va = vb) give identical outputs: ρ' = 1
        # exactly; rounding it to 1 − ulp would be amplified by a chaotic correlation map
        same = np.asarray(theta == 0) & np.asarray(va == vb)
        if np.any(same):
            c = np.where(same, 1.0, c)
        theta_out = np.arccos(c)
        vers = np.subtract(1.0, c)
        sin = np.add(1.0, c)
        sin *= vers
        np.sqrt(sin, out=sin)
        B.remember_trig(theta_out, c, sin, vers)
        return theta_out, np.subtract(np.pi, theta_out)

    def __repr__(self) -> str:
        return f"Activation({self.name})"


class ArcCosine(Activation):
    """``σ(z) = max(z, 0)^n``; ``n = 1`` ReLU, ``n = 2`` ReLU². Cho & Saul (2009)."""

    def __init__(self, n: int):
        if n not in (1, 2):
            raise ValueError(f"arc-cosine order must be 1 or 2, got {n}")
        self.n = n
        self.degree = n
        self.name = "relu" if n == 1 else "relu2"

    def forward(self, z):
        r = np.maximum(z, 0.0)
        return r if self.n == 1 else r * r

    def derivative(self, z):
        return (z > 0).astype(np.float64) if self.n == 1 else 2.0 * np.maximum(z, 0.0)

    def c_sigma(self, B):
        # E[relu(z)^{2n}] = J_n(0)/(2π) = J_AT_ZERO[n]/2  ⇒  c_σ = 2/J_AT_ZERO[n]
        return B.const(sympy.Rational(2, J_AT_ZERO[self.n]))

    def variance_map(self, B, v):
        # c_σ v^n J_n(0)/(2π) = v^n exactly
        return v if self.n == 1 else v * v

    def pair_map(self, B, va, vb, theta, phi):
        n, cs = self.n, self.c_sigma(B)
        ra, rb = B.sqrt(va), B.sqrt(vb)
        two_pi = 2 * B.pi
        sigma = cs * (ra * rb) ** n * B.J(n, theta, phi) / two_pi
        sdot = cs * n * n * (ra * rb) ** (n - 1) * B.J(n - 1, theta, phi) / two_pi
        return sigma, sdot

    def layer_map(self, B, va, vb, theta, phi):
        if not isinstance(B, NumpyBackend):
            return super().layer_map(B, va, vb, theta, phi)
        # float64: no sin/cos at all when the input angle's trig values are remembered
        # (NumpyBackend.remember_trig: the Gram-matrix angles, and every layer here).
        # The output angle's cos, sin and versine are algebraic in J_n and J_n(0) − J_n
        # (accurate, see NumpyBackend.arccos_triplet) and are remembered for the next
        # layer, keyed by the identity of the angle array returned here.
        n, cs = self.n, self.c_sigma(B)
        theta = np.asarray(theta, dtype=np.float64)
        phi = np.asarray(phi, dtype=np.float64)
        Jn, Jm, Jc = B.arccos_triplet(n, theta, phi, trig=B.trig_of(theta))
        rr = np.sqrt(va) * np.sqrt(vb)
        j0 = J_AT_ZERO[n] * np.pi
        # c_σ J_n(0)/(2π) = 1, so Σ = (ab)^{n/2} J_n/J_n(0) = (ab)^{n/2} cos θ'
        cos_out = Jn
        cos_out *= 1 / j0
        sigma = rr * cos_out if n == 1 else (rr * rr) * cos_out
        if n == 1:
            sdot = Jm
            sdot *= 1 / np.pi
        else:
            sdot = rr * Jm
            sdot *= cs * n * n / (2 * np.pi)
        # θ' = 2 asin(sqrt(vers/2)), vers = 1 − cos θ' = Jc/J_n(0): accurate as θ' → 0
        vers = Jc
        vers *= 1 / j0
        np.clip(vers, 0.0, 2.0, out=vers)
        half = np.multiply(vers, 0.5)
        th = np.sqrt(half)
        np.arcsin(th, out=th)
        th *= 2
        # sin θ' = 2 sqrt((vers/2)(1 − vers/2)), no cancellation
        sin_out = np.subtract(1.0, half)
        sin_out *= half
        np.sqrt(sin_out, out=sin_out)
        sin_out *= 2
        B.remember_trig(th, cos_out, sin_out, vers)
        nva, nvb = self.variance_map(B, va), self.variance_map(B, vb)
        return sigma, sdot, nva, nvb, th, np.subtract(np.pi, th)

    def output_angle(self, B, va, vb, theta, phi, sigma, va_out, vb_out):
        # cos θ' = J_n(θ)/J_n(0) ≥ 0, independent of the variances (homogeneity)
        j0 = J_AT_ZERO[self.n] * B.pi
        return B.angle_from_cos(B.J(self.n, theta, phi) / j0, vers=B.Jc(self.n, theta, phi) / j0)


class Erf(Activation):
    """``σ = erf``; closed forms of Williams (1997)."""

    name = "erf"
    degree = None

    def forward(self, z):
        from scipy.special import erf as _erf  # scipy is optional; fall back below
        return _erf(z)

    def derivative(self, z):
        return (2.0 / math.sqrt(math.pi)) * np.exp(-z * z)

    def c_sigma(self, B):
        # E[erf(z)²] = (2/π) asin(2/3)
        if isinstance(B, NumpyBackend):   # float64: no sympy evaluation per call
            return math.pi / (2 * math.asin(2 / 3))
        return B.const(sympy.pi / (2 * sympy.asin(sympy.Rational(2, 3))))

    def variance_map(self, B, v):
        return self.c_sigma(B) * (2 / B.pi) * B.asin(2 * v / (1 + 2 * v))

    def pair_map(self, B, va, vb, theta, phi):
        cs = self.c_sigma(B)
        ra, rb = B.sqrt(va), B.sqrt(vb)
        c = ra * rb * B.cos_angle(theta, phi)
        s = B.sin_angle(theta, phi)
        sigma = cs * (2 / B.pi) * B.asin(2 * c / (B.sqrt(1 + 2 * va) * B.sqrt(1 + 2 * vb)))
        rs = ra * rb * s  # grouped so that huge variances with s = 0 give 0, not inf·0
        det = 1 + 2 * va + 2 * vb + 4 * rs * rs
        sdot = cs * (4 / B.pi) / B.sqrt(det)
        return sigma, sdot


_TRAP_MAX = 2001  # trapezoid nodes per dimension at most (float64 quadrature)


def _trapezoid(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes/weights on [−10, 10] for a N(0,1) expectation; step 0.1/max(1, scale)."""
    n = int(min(_TRAP_MAX, 2 * math.ceil(100 * max(1.0, scale)) + 1))
    z = np.linspace(-10.0, 10.0, n)
    w = np.exp(-z * z / 2)
    return z, w / w.sum()


def _numeric_derivative(f: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Five-point central difference, step 1e-3 (truncation error ~ h⁴ f⁽⁵⁾/30)."""
    h = 1e-3
    def df(z):
        z = np.asarray(z, dtype=np.float64)
        return (-f(z + 2 * h) + 8 * f(z + h) - 8 * f(z - h) + f(z - 2 * h)) / (12 * h)
    return df


class Quadrature(Activation):
    """Any callable ``σ``: Gaussian expectations by quadrature.

    float64: a tensor trapezoid rule whose step adapts to the pre-activation scale
    (see ``_np_pair``).
    mpmath: the same trapezoid rule at the backend precision; ``σ`` must
    then accept mpmath numbers (give ``mp_fn``/``mp_derivative`` otherwise).
    sympy: undefined functions ``Σ_name(va, vb, c)``, ``Σ̇_name(va, vb, c)``.
    """

    def __init__(self, fn: Callable, derivative: Callable | None = None, name: str | None = None,
                 mp_fn: Callable | None = None, mp_derivative: Callable | None = None,
                 degree: int | None = None):
        if not callable(fn):
            raise TypeError(f"activation must be callable, got {type(fn).__name__}")
        if derivative is not None and not callable(derivative):
            raise TypeError("activation_derivative must be callable")
        self.fn = fn
        self.dfn = derivative if derivative is not None else _numeric_derivative(fn)
        self.mp_fn = mp_fn or fn
        self.mp_dfn = mp_derivative or derivative
        self.name = name or getattr(fn, "__name__", "callable")
        self.degree = degree
        z = np.linspace(-3, 3, 7)
        out = np.asarray(self.fn(z), dtype=np.float64)
        if out.shape != z.shape or not np.all(np.isfinite(out)):
            raise ValueError(f"activation {self.name!r} must map float64 arrays elementwise to "
                             f"finite values")
        self._cs_float = None

    def forward(self, z):
        return np.asarray(self.fn(z), dtype=np.float64)

    def derivative(self, z):
        return np.asarray(self.dfn(z), dtype=np.float64)

    # -- expectations ----------------------------------------------------------------
    def _np_pair(self, f, g, va, vb, theta, phi):
        """``E[f(u) g(v)]`` by a tensor trapezoid rule on ``z ∈ [−10, 10]²``.

        For smooth integrands against a Gaussian the trapezoid rule converges
        geometrically once the step resolves ``σ``'s own scale; since ``u = sqrt(a)·z``,
        the step in ``z`` is ``0.1/sqrt(max variance)`` (at most ``_TRAP_MAX`` nodes per
        dimension). A fixed Gauss–Hermite rule does not adapt: for tanh it lost 4e-2
        relative at ``|x| = 3`` (found by checks/)."""
        va, vb, theta, phi = np.broadcast_arrays(*(np.asarray(t, dtype=np.float64)
                                                   for t in (va, vb, theta, phi)))
        shape = va.shape
        ra, rb = np.sqrt(va).ravel(), np.sqrt(vb).ravel()
        c = np.where(theta < np.pi / 2, np.cos(theta), -np.cos(phi)).ravel()
        s = np.where(theta < np.pi / 2, np.sin(theta), np.sin(phi)).ravel()
        out = np.empty(ra.size)
        order = np.argsort(np.maximum(ra, rb))  # chunks of similar scale share one grid
        i = 0
        while i < ra.size:
            rmax = float(np.maximum(ra, rb)[order[min(i + 7, ra.size - 1)]])
            z, w = _trapezoid(rmax)
            chunk = max(1, 4_000_000 // (z.size * z.size))
            sl = order[i:i + min(chunk, 8)]
            rm = float(np.max(np.maximum(ra[sl], rb[sl])))
            if rm > rmax:
                z, w = _trapezoid(rm)
            u = ra[sl, None, None] * z[None, :, None]
            v = rb[sl, None, None] * (c[sl, None, None] * z[None, :, None] + s[sl, None, None] * z[None, None, :])
            vals = f(np.broadcast_to(u, v.shape)) * g(v)
            out[sl] = np.einsum("pij,i,j->p", vals, w, w)
            i += len(sl)
        return out.reshape(shape)

    def _mp_expect(self, B: MpmathBackend, f, g, va, vb, theta, phi):
        """The float64 trapezoid rule (step ``0.1/max(1, scale)`` in ``z``) evaluated at
        the backend precision, on ``|z| ≤ sqrt(2 ln(10) (dps+3))`` so that the Gaussian
        tail is below the working precision. This checks float64 rounding, not the rule:
        the rule's own error (≈ exp(−π²/0.1) for σ analytic in a strip of half-width π/2,
        e.g. tanh) is checked against an independent fine reference in tests."""
        ctx = B.ctx
        Z = math.sqrt(2 * math.log(10) * (ctx.dps + 3))
        def one(a, b, t, ph):
            ra, rb = ctx.sqrt(a), ctx.sqrt(b)
            scale = max(1.0, float(max(ra, rb)))
            h = ctx.mpf(0.1) / scale
            m = int(math.ceil(Z / float(h)))
            z = [h * k for k in range(-m, m + 1)]
            w = [ctx.exp(-x * x / 2) for x in z]
            tot = ctx.fsum(w)
            w = [wi / tot for wi in w]
            c = ctx.cos(t) if t < ctx.pi / 2 else -ctx.cos(ph)
            s = ctx.sin(t) if t < ctx.pi / 2 else ctx.sin(ph)
            sz = [s * x for x in z]
            return ctx.fsum(w[i] * f(ra * z[i]) * ctx.fsum(wj * g(rb * (c * z[i] + szj))
                                                        for szj, wj in zip(sz, w))
                            for i in range(len(z)))
        return np.vectorize(one, otypes=[object])(va, vb, theta, phi)

    def c_sigma(self, B):
        if isinstance(B, NumpyBackend):
            if self._cs_float is None:
                z, w = _trapezoid(10.0)
                self._cs_float = 1.0 / float(np.sum(w * self.forward(z) ** 2))
            return self._cs_float
        if isinstance(B, MpmathBackend):
            ctx = B.ctx
            e = ctx.quad(lambda x: ctx.exp(-x * x / 2) * self.mp_fn(x) ** 2, [-ctx.inf, 0, ctx.inf])
            return ctx.sqrt(2 * ctx.pi) / e
        return sympy.Symbol(f"c_{self.name}", positive=True)

    def variance_map(self, B, v):
        if isinstance(B, SympyBackend):
            return sympy.Function(f"Sigma_{self.name}")(v, v, v)
        return self._pair(B, v, v, 0 * v if not isinstance(v, np.ndarray) else np.zeros_like(v),
                          None)[0]

    def _pair(self, B, va, vb, theta, phi):
        cs = self.c_sigma(B)
        if phi is None:
            phi = B.pi - theta
        if isinstance(B, NumpyBackend):
            return (cs * self._np_pair(self.forward, self.forward, va, vb, theta, phi),
                    cs * self._np_pair(self.derivative, self.derivative, va, vb, theta, phi))
        if isinstance(B, MpmathBackend):
            if self.mp_dfn is None:
                dfn = lambda x: B.ctx.diff(self.mp_fn, x)
            else:
                dfn = self.mp_dfn
            return (cs * self._mp_expect(B, self.mp_fn, self.mp_fn, va, vb, theta, phi),
                    cs * self._mp_expect(B, dfn, dfn, va, vb, theta, phi))
        raise TypeError(f"unsupported backend {B!r}")

    def pair_map(self, B, va, vb, theta, phi):
        if isinstance(B, SympyBackend):
            c = B.sqrt(va) * B.sqrt(vb) * B.cos(theta)
            return (sympy.Function(f"Sigma_{self.name}")(va, vb, c),
                    sympy.Function(f"SigmaDot_{self.name}")(va, vb, c))
        return self._pair(B, va, vb, theta, phi)


def _np_special():
    from scipy import special  # scipy is a declared dependency
    return special


def _gelu() -> Quadrature:
    """GELU ``σ(z) = z Φ(z)`` (Hendrycks & Gimpel 2016), ``σ' = Φ(z) + z φ(z)``."""
    sp = _np_special()
    return Quadrature(lambda z: z * sp.ndtr(z),
                      lambda z: sp.ndtr(z) + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi),
                      name="gelu", mp_fn=lambda x: x * mpmath.ncdf(x),
                      mp_derivative=lambda x: mpmath.ncdf(x) + x * mpmath.npdf(x))


def _sigmoid() -> Quadrature:
    """Logistic ``σ(z) = 1/(1 + e^{−z})``, ``σ' = σ(1 − σ)``."""
    sp = _np_special()
    return Quadrature(sp.expit, lambda z: sp.expit(z) * sp.expit(-z), name="sigmoid",
                      mp_fn=lambda x: 1 / (1 + mpmath.exp(-x)),
                      mp_derivative=lambda x: 1 / ((1 + mpmath.exp(-x)) * (1 + mpmath.exp(x))))


def _softplus() -> Quadrature:
    """``σ(z) = log(1 + e^z)``, ``σ' = 1/(1 + e^{−z})``."""
    sp = _np_special()
    return Quadrature(lambda z: np.logaddexp(0.0, z), sp.expit, name="softplus",
                      mp_fn=lambda x: mpmath.log1p(mpmath.exp(x)),
                      mp_derivative=lambda x: 1 / (1 + mpmath.exp(-x)))


_NAMED: dict[str, Callable[[], Activation]] = {
    "relu": lambda: ArcCosine(1),
    "relu2": lambda: ArcCosine(2),
    "erf": Erf,
    "tanh": lambda: Quadrature(np.tanh, lambda z: 1.0 / np.cosh(z) ** 2, name="tanh",
                               mp_fn=mpmath.tanh, mp_derivative=lambda x: mpmath.sech(x) ** 2),
    # smooth activations by name: kernel maps by the quadrature of ``Quadrature``, c_σ
    # computed from σ (never typed in); not homogeneous, so no scalar pruning factor
    "gelu": _gelu,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
}
ACTIVATION_NAMES = tuple(_NAMED)
_CACHE: dict[str, Activation] = {}


def get_activation(spec: Any, derivative: Callable | None = None) -> Activation:
    """Resolve a name (case-insensitive: ``"relu" | "relu2" | "erf" | "tanh" | "gelu" |
    "sigmoid" | "softplus"``), an :class:`Activation`, or a callable."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key not in _NAMED:
            raise ValueError(f"activation must be one of {ACTIVATION_NAMES} (case-insensitive) "
                             f"or a callable, got {spec!r}")
        if key not in _CACHE:
            _CACHE[key] = _NAMED[key]()
        return _CACHE[key]
    if callable(spec):
        return Quadrature(spec, derivative)
    raise TypeError(f"activation must be one of {ACTIVATION_NAMES}, an Activation or a callable, "
                    f"got {type(spec).__name__}")
