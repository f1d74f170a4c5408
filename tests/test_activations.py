"""Named activations: case-insensitive names; GELU, sigmoid and softplus kernel maps
(float64 trapezoid rule of ``theory.activations.Quadrature``) against an independent
high-precision reference.

Reference (mpmath, 20 digits): Gauss–Legendre with 192 nodes on ``[−14, 14]`` (the
Gaussian tail beyond is < 1e-43; the integrands are analytic in a strip of half-width
≥ π around the real axis, so the rule's error is far below 1e-20), and for the pair
expectation Mehler's formula ``E[f(u) g(v)] = Σ_n ρⁿ/n! E[f(√a z) He_n(z)] E[g(√b z) He_n(z)]``
(40 terms at ρ = cos 1.35 ≈ 0.22: truncation < 0.22⁴⁰ ≈ 1e-26 relative). This shares no
code with the float64 tensor trapezoid rule. Tolerance 1e-12 relative: the float64 rule's
own discretisation error is ~exp(−2π²/h²) with h ≤ 0.1 (negligible) and its rounding,
summing ~4·10⁶ terms, stays ~1e-14.
"""
from __future__ import annotations

import mpmath
import numpy as np
import pytest
from mpmath.calculus.quadrature import GaussLegendre

import theory
from theory.activations import get_activation
from theory.backends import NUMPY

_CTX = mpmath.MPContext()
_CTX.dps = 20
_NODES: list = []


def _nodes():
    if not _NODES:
        _NODES.extend(GaussLegendre(_CTX).get_nodes(_CTX.mpf(-14), _CTX.mpf(14), 7, _CTX.prec))
    return _NODES


def _hermite_coeffs(h, v, nterms=40):
    """``E[h(√v z) He_n(z)]``, n < nterms, z ~ N(0, 1) (probabilists' Hermite)."""
    sv = _CTX.sqrt(v)
    out = [_CTX.mpf(0)] * nterms
    for x, w in _nodes():
        base = w * _CTX.npdf(x) * h(sv * x)
        prev, he = _CTX.mpf(0), _CTX.mpf(1)
        for n in range(nterms):
            out[n] += base * he
            prev, he = he, x * he - n * prev
    return out


def _pair_reference(h, va, vb, rho, nterms=40):
    a, b = _hermite_coeffs(h, va, nterms), _hermite_coeffs(h, vb, nterms)
    return _CTX.fsum(rho ** n / _CTX.factorial(n) * a[n] * b[n] for n in range(nterms))


@pytest.mark.parametrize("name", ["gelu", "sigmoid", "softplus"])
def test_smooth_named_activation_matches_high_precision(name):
    act = get_activation(name)
    cs_ref = 1 / _CTX.fsum(w * _CTX.npdf(x) * act.mp_fn(x) ** 2 for x, w in _nodes())
    assert act.c_sigma(NUMPY) == pytest.approx(float(cs_ref), rel=1e-12)
    va, vb, th = 1.7, 0.4, 1.35
    rho = _CTX.cos(th)
    sig_ref = cs_ref * _pair_reference(act.mp_fn, va, vb, rho)
    sd_ref = cs_ref * _pair_reference(act.mp_dfn, va, vb, rho)
    sig, sd = act.pair_map(NUMPY, np.array(va), np.array(vb), np.array(th), np.array(np.pi - th))
    assert float(sig) == pytest.approx(float(sig_ref), rel=1e-12)
    assert float(sd) == pytest.approx(float(sd_ref), rel=1e-12)
    # the diagonal map: E[σ(u)²], u ~ N(0, va)
    var_ref = cs_ref * _hermite_coeffs(lambda x: act.mp_fn(x) ** 2, va, 1)[0]
    assert float(act.variance_map(NUMPY, np.array(va))) == pytest.approx(float(var_ref), rel=1e-12)
    # and the finite-network functions are the same σ, σ'
    z = np.linspace(-4, 4, 9)
    np.testing.assert_allclose(act.forward(z), [float(act.mp_fn(_CTX.mpf(t))) for t in z], rtol=1e-14)
    with mpmath.workdps(30):
        dref = [float(mpmath.diff(act.mp_fn, mpmath.mpf(t))) for t in z]
    np.testing.assert_allclose(act.derivative(z), dref, rtol=1e-12, atol=1e-15)


def test_names_are_case_insensitive():
    assert theory.Architecture(depth=1, activation="ReLU").act is get_activation("relu")
    assert theory.Architecture(depth=1, activation=" GELU ").act.name == "gelu"
    assert get_activation("Tanh") is get_activation("tanh")
    with pytest.raises(ValueError, match="softplus"):
        get_activation("relu3")


def test_named_smooth_activations_have_no_scalar_factor():
    for name in ("gelu", "sigmoid", "softplus"):
        a = theory.Architecture(depth=2, activation=name, p=0.5)
        assert theory.scaling_factor(a) is None
        assert theory.scaling_factor(a.with_(rescale=True)) == 1
        K = theory.limit_ntk(a, np.array([[1.0, 0.0], [0.6, 0.8]]), "wide")
        assert np.all(np.isfinite(K)) and K[0, 0] > 0
