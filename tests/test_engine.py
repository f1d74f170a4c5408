"""The infinite-width engine: three evaluators agree, the factor is derived, edge cases."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings, strategies as st

import theory
from theory.backends import SympyBackend
from theory.input_layer import EXACT_MAX_D0, layer1_mixture
from theory.limits import limit_kernels
from theory.scaling import NORM_X, NORM_Y, THETA, derive_scaling_factor, symbolic_ntk
from theory.stats import z_critical

P = sympy.Symbol("p")


def pair_with_cos(c: float, n1: float = 1.0, n2: float = 1.0, d0: int = 3) -> np.ndarray:
    """Two inputs of norms n1, n2 whose cosine is c (the float64 nearest)."""
    s = math.sqrt(max(0.0, 1 - c * c))
    X = np.zeros((2, d0))
    X[0, 0] = n1
    X[1, 0], X[1, 1] = n2 * c, n2 * s
    return X


def rel_err(a, b, scale=None):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    den = np.abs(b) if scale is None else scale
    return float(np.max(np.abs(a - b) / den))


# ----------------------------------------------------------------- float64 vs mpmath
COS_EDGES = [1.0, -1.0, 1 - 1e-12, -1 + 1e-12, 1 - 3e-13, -1 + 5e-13, 0.0, 0.5, -0.7]


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(cos=st.one_of(st.sampled_from(COS_EDGES), st.floats(-1, 1)),
       depth=st.one_of(st.sampled_from([1, 2, 200]), st.integers(1, 200)),
       p=st.sampled_from([0.0, 0.1, 0.5, 0.9]),
       rescale=st.booleans(), model=st.sampled_from(["mask", "variance"]),
       n2=st.sampled_from([1.0, 0.3, 7.0]))
def test_relu_float64_matches_mpmath_elementwise(cos, depth, p, rescale, model, n2):
    """ReLU: float64 vs 50-digit mpmath ≤ 1e-13 relative, entry by entry, including
    ρ = ±1 and ρ within 1e-12 of ±1 (the angle is carried as (θ, π−θ))."""
    arch = theory.Architecture(depth=depth, p=p, rescale=rescale, model=model)
    X = pair_with_cos(cos, 1.0, n2)
    K = theory.limit_ntk(arch, X, "wide")
    Km = theory.limit_ntk(arch, X, "wide", backend="mpmath", dps=50)
    nz = np.abs(Km.astype(float)) > 0
    assert rel_err(K[nz], Km.astype(float)[nz]) <= 1e-13
    assert np.all(K[~nz] == 0)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(cos=st.one_of(st.sampled_from(COS_EDGES), st.floats(-1, 1)),
       depth=st.integers(1, 200), activation=st.sampled_from(["erf", "relu2"]),
       p=st.sampled_from([0.0, 0.3]), n2=st.sampled_from([1.0, 0.5, 2.0]))
def test_smooth_activations_float64_matches_mpmath_normwise(cos, depth, activation, p, n2):
    """erf and ReLU²: float64 vs mpmath ≤ 1e-13 relative to sqrt(Θ(x,x)Θ(x',x')).

    Entry-wise relative accuracy is not attainable for these: in erf's chaotic phase the
    off-diagonal kernel decays like χ^L while rounding errors do not (measured: 5e-9
    entry-wise at L = 200 for an entry of size 1e-6 of the diagonal)."""
    rescale = activation == "relu2"
    if activation == "relu2":
        depth = min(depth, 12)  # ReLU² kernels grow like |x|^(2^L): float64 range
        n2 = 1.0
    arch = theory.Architecture(depth=depth, activation=activation, p=p, rescale=rescale)
    X = pair_with_cos(cos, 1.0, n2)
    K = theory.limit_ntk(arch, X, "wide")
    Km = theory.limit_ntk(arch, X, "wide", backend="mpmath", dps=50).astype(float)
    scale = np.sqrt(np.outer(np.diag(Km), np.diag(Km)))
    # ReLU² squares the kernel at every layer (Σ^(L) ∝ |x|^(2^L)), so its condition number
    # is 2^L: a relative rounding error ε becomes 2^L ε after L layers whatever the
    # algorithm (measured: 3e-15 at L=3, 2e-13 at L=9, 1.8e-12 at L=12).
    tol = 1e-13 if activation == "erf" else max(1e-13, 4 * 2.0 ** depth * np.finfo(float).eps)
    assert rel_err(K, Km, scale) <= tol


@pytest.mark.parametrize("norm", [0.5, 1.0, 3.0])
def test_quadrature_rule_against_fine_independent_grid(norm):
    """tanh at pre-activation scale up to 3: the engine's adaptive trapezoid rule vs a
    much finer grid on a wider range (6001² nodes on [-12, 12]²), ≤ 1e-12 relative.
    (A fixed 64-node Gauss–Hermite rule was off by 4e-2 at scale 3.)"""
    act = theory.get_activation("tanh")
    a, t = norm ** 2, 0.7
    args = (np.array(a), np.array(a), np.array(t), np.array(np.pi - t))
    got = act._np_pair(act.forward, act.forward, *args)
    got_d = act._np_pair(act.derivative, act.derivative, *args)
    z = np.linspace(-12, 12, 6001)
    w = np.exp(-z * z / 2)
    w /= w.sum()
    u = norm * z[:, None]
    v = norm * (np.cos(t) * z[:, None] + np.sin(t) * z[None, :])
    ref = np.einsum("ij,i,j->", np.tanh(u) * np.tanh(v), w, w)
    ref_d = np.einsum("ij,i,j->", 1 / (np.cosh(u) * np.cosh(v)) ** 2, w, w)
    assert abs(got - ref) <= 1e-12 * abs(ref)
    assert abs(got_d - ref_d) <= 1e-12 * abs(ref_d)


def test_callable_quadrature_float64_matches_mpmath():
    """A user callable: the quadrature in float64 vs the same rule at mpmath precision
    (checks rounding and the float64 kernel maps end to end)."""
    f = lambda z: np.sin(z) + 0.5 * z
    arch = theory.Architecture(depth=1, activation=f, activation_derivative=lambda z: np.cos(z) + 0.5,
                               p=0.3, rescale=False)
    mp_arch = theory.Architecture(depth=1, p=0.3, activation=theory.activations.Quadrature(
        f, lambda z: np.cos(z) + 0.5, name="sinlin",
        mp_fn=lambda z: mpmath.sin(z) + z / 2, mp_derivative=lambda z: mpmath.cos(z) + mpmath.mpf(1) / 2))
    X = pair_with_cos(0.3, 1.0, 0.8, d0=2)
    K = theory.limit_ntk(arch, X, "wide")
    Km = theory.limit_ntk(mp_arch, X, "wide", backend="mpmath", dps=15).astype(float)
    assert rel_err(K, Km) <= 1e-10


def test_sympy_numeric_matches_mpmath():
    """The sympy expression (intermediates expanded) evaluated at 50 digits agrees with
    the mpmath evaluator to the working precision."""
    for act in ["relu", "erf", "relu2"]:
        arch = theory.Architecture(depth=3, activation=act, p=[sympy.Rational(1, 3), 0, 0.25, 0.5],
                                   pruned=[0, 2, 3]) if act == "relu" else \
            theory.Architecture(depth=2, activation=act, p=[sympy.Rational(1, 3), 0, 0.5], pruned=[0, 2])
        expr, B = symbolic_ntk(arch)
        full = B.expand(expr)
        nx, ny, c = sympy.Rational(3, 2), sympy.Rational(1, 2), sympy.Rational(1, 5)
        val = full.subs({NORM_X: nx, NORM_Y: ny, THETA: sympy.acos(c)}).evalf(50)
        X = np.array([[1.5, 0.0], [0.5 * 0.2, 0.5 * math.sqrt(1 - 0.04)]])
        arch_num = arch.with_(p=[float(v) for v in arch.p])
        Km = theory.limit_ntk(arch_num, X, "wide", backend="mpmath", dps=50)
        # X is the float64 image of the exact inputs, so agreement is to float64 input rounding
        assert abs(float(val) - float(Km[0, 1])) <= 1e-14 * abs(float(val))
        # and with exactly representable inputs, to 40 digits
    X = np.array([[1.0, 0.0], [0.5, 0.75]])
    arch = theory.Architecture(depth=4, activation="relu", p=0.5)
    expr, B = symbolic_ntk(arch)
    n2 = sympy.sqrt(sympy.Rational(1, 4) + sympy.Rational(9, 16))
    val = B.expand(expr).subs({NORM_X: 1, NORM_Y: n2, THETA: sympy.acos(sympy.Rational(1, 2) / n2)})
    Km = theory.limit_ntk(arch, X, "wide", backend="mpmath", dps=50)
    with mpmath.workdps(50):
        assert abs(mpmath.mpf(str(sympy.N(val, 60))) - Km[0, 1]) < mpmath.mpf(10) ** -45


# ------------------------------------------------------------------ the derived factor
@pytest.mark.parametrize("depth", range(0, 7))
def test_relu_factor_all_matrices(depth):
    arch = theory.Architecture(depth=depth, p=P)
    assert sympy.simplify(theory.scaling_factor(arch) - (1 - P) ** (depth + 1)) == 0
    assert theory.scaling_factor(arch.with_(rescale=True)) == 1
    # variance model: one power fewer (the gradient step carries no factor)
    assert sympy.simplify(theory.scaling_factor(arch.with_(model="variance")) - (1 - P) ** depth) == 0


def test_factor_per_layer_and_subsets():
    p0, p1, p2, p3 = sympy.symbols("p0:4")
    f = theory.scaling_factor(theory.Architecture(depth=3, p=[p0, p1, p2, p3]))
    assert sympy.simplify(f - (1 - p0) * (1 - p1) * (1 - p2) * (1 - p3)) == 0
    f = theory.scaling_factor(theory.Architecture(depth=3, p=P, pruned="hidden"))
    assert sympy.simplify(f - (1 - P) ** 2) == 0
    assert theory.scaling_factor(theory.Architecture(depth=2, p=0.5)) == sympy.Rational(1, 8)


def test_no_scalar_factor_for_erf_and_callable():
    d = derive_scaling_factor(theory.Architecture(depth=2, activation="erf", p=P))
    assert d.factor is None and "no scalar factor" in d.reason
    assert theory.scaling_factor(theory.Architecture(depth=2, activation="tanh", p=P)) is None
    assert theory.scaling_factor(theory.Architecture(depth=2, activation="erf", p=P, rescale=True)) == 1
    # numerically: the erf ratio varies across input pairs
    X = np.random.default_rng(3).standard_normal((5, 4))
    a = theory.Architecture(depth=2, activation="erf", p=0.5)
    R = theory.limit_ntk(a, X, "wide") / theory.limit_ntk(a.dense(), X, "wide")
    assert np.ptp(R) > 1e-2


@pytest.mark.parametrize("activation", ["relu", "erf", "relu2", "tanh", "callable"])
def test_rescaled_equals_dense(activation):
    act = (lambda z: np.sin(z) + 0.5 * z) if activation == "callable" else activation
    X = np.random.default_rng(4).standard_normal((4, 6)) * 0.7
    a = theory.Architecture(depth=3, activation=act, p=[0.2, 0.5, 0.7, 0.9], rescale=True)
    K, Kd = theory.limit_ntk(a, X, "wide"), theory.limit_ntk(a.dense(), X, "wide")
    np.testing.assert_allclose(K, Kd, rtol=1e-14, atol=0)


def test_factor_numerically_matches_derived():
    X = np.random.default_rng(5).standard_normal((6, 5))
    a = theory.Architecture(depth=4, p=[0.1, 0.2, 0.3, 0.4, 0.5], model="mask")
    f = float(theory.scaling_factor(a))
    np.testing.assert_allclose(theory.limit_ntk(a, X, "wide"), f * theory.limit_ntk(a.dense(), X, "wide"),
                               rtol=1e-13)


# ------------------------------------------------------------------- input layer
def test_mixture_differs_off_diagonal_agrees_on_diagonal():
    X = np.random.default_rng(6).standard_normal((5, 5))
    for rescale in (False, True):
        a = theory.Architecture(depth=3, p=0.5, rescale=rescale)
        Ke, Kw = theory.limit_ntk(a, X, "exact"), theory.limit_ntk(a, X, "wide")
        np.testing.assert_allclose(np.diag(Ke), np.diag(Kw), rtol=1e-13)
        off = ~np.eye(5, dtype=bool)
        gap = np.abs(Ke[off] / Kw[off] - 1)
        assert np.max(gap) > 0.05 and np.median(gap) > 1e-3


def test_mixture_float64_matches_mpmath_and_sympy():
    X = np.array([[1.0, -0.5, 0.25], [0.5, 1.0, -1.0], [0.0, 0.0, 0.0]])
    for act in ["relu", "erf"]:
        a = theory.Architecture(depth=2, activation=act, p=0.4, rescale=True)
        K = theory.limit_ntk(a, X, "exact")
        Km = theory.limit_ntk(a, X, "exact", backend="mpmath", dps=40).astype(float)
        np.testing.assert_allclose(K, Km, rtol=1e-13, atol=1e-300)
    # symbolic p: the mixture is a polynomial in q with exact kernel coefficients
    a = theory.Architecture(depth=1, p=P)
    B = SympyBackend()
    m = layer1_mixture(B, a, np.array([[1, 0], [1, 1]]))
    val = sympy.N(m.first.sigma[0, 1].subs(P, sympy.Rational(1, 2)), 30)
    m_num = layer1_mixture(theory.NUMPY, theory.Architecture(depth=1, p=0.5), np.array([[1.0, 0], [1, 1]]))
    assert abs(float(val) - m_num.first.sigma[0, 1]) < 1e-15


def test_sampled_mixture_agrees_with_exact_within_its_stated_error():
    """d0 = 10: the Monte Carlo mixture (2^15 masks) vs exact enumeration. Two-sided
    z-test per entry, family-wise false-alarm 1e-6 (Bonferroni over the entries)."""
    X = np.random.default_rng(7).standard_normal((3, 10))
    a = theory.Architecture(depth=2, p=0.6)
    ex = layer1_mixture(theory.NUMPY, a, X, method="exact")
    sa = layer1_mixture(theory.NUMPY, a, X, method="sampled", seed=11)
    iu = np.triu_indices(3)
    z = ((sa.first.sigma - ex.first.sigma) / sa.stderr_sigma)[iu]
    zg = ((sa.first.grad - ex.first.grad) / sa.stderr_grad)[iu]
    crit = z_critical(1e-6, m=2 * len(z))
    assert np.all(np.abs(z) < crit) and np.all(np.abs(zg) < crit)
    # control: the wide (unmixed) layer-1 kernel is rejected by the same test
    w = theory.limit_kernels(a.with_(depth=1), X, input_layer="wide").nngp
    assert np.any(np.abs(((sa.first.sigma - w) / sa.stderr_sigma)[iu]) > crit)
    assert EXACT_MAX_D0 >= 16


def test_variance_model_has_no_mixture():
    X = np.random.default_rng(8).standard_normal((4, 3))
    a = theory.Architecture(depth=2, p=0.5, model="variance")
    np.testing.assert_array_equal(theory.limit_ntk(a, X, "exact"), theory.limit_ntk(a, X, "wide"))


# ------------------------------------------------------------------------ edge cases
def test_diagonal_exact_and_unit_inputs():
    X = np.random.default_rng(9).standard_normal((6, 7))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    for L in (1, 5, 60):
        K = theory.limit_ntk(theory.Architecture(depth=L), X, "wide")
        np.testing.assert_allclose(np.diag(K), L + 1, rtol=4e-16 * (L + 1))
        assert np.allclose(K, K.T, rtol=0, atol=0)


def test_antipodal_and_parallel():
    X = np.array([[1.0, 2.0], [-1.0, -2.0], [2.0, 4.0]])
    K = theory.limit_ntk(theory.Architecture(depth=1), X, "wide")
    # ReLU, rho = -1: Θ^(1) = ρ κ0(−1) + κ1(−1) = 0 exactly; rho = +1: 2·|x||x'|
    assert K[0, 1] == 0.0
    np.testing.assert_allclose(K[0, 2], 2 * 5 * 2, rtol=1e-15)


def test_zero_input_convention_is_the_limit():
    x = np.array([0.3, -1.2, 0.5])
    y = np.array([1.0, 0.1, -0.4])
    for act in ["relu", "erf", "relu2"]:
        a = theory.Architecture(depth=3, activation=act, p=0.3)
        K0 = theory.limit_ntk(a, np.stack([np.zeros(3), y]), "exact")
        Keps = theory.limit_ntk(a, np.stack([1e-9 * x, y]), "exact")
        assert np.all(np.isfinite(K0))
        np.testing.assert_allclose(K0, Keps, rtol=0, atol=1e-8 * np.max(np.abs(Keps)))


@pytest.mark.parametrize("norm", [1e-150, 1e-100, 1.0, 1e100, 1e150])
def test_huge_tiny_norms_and_depth_500(norm):
    X = np.random.default_rng(10).standard_normal((3, 4))
    X = X / np.linalg.norm(X, axis=1, keepdims=True) * norm
    for p, rescale in [(0.0, False), (0.5, True), (0.5, False)]:
        a = theory.Architecture(depth=500, p=p, rescale=rescale)
        K = theory.limit_ntk(a, X, "wide")
        assert np.all(np.isfinite(K))
        if rescale or p == 0:
            np.testing.assert_allclose(np.diag(K), 501 * norm ** 2, rtol=1e-12)
    # erf saturates: finite for any norm
    assert np.all(np.isfinite(theory.limit_ntk(theory.Architecture(depth=500, activation="erf"), X)))


def test_relu2_overflow_is_an_error_not_inf():
    X = np.array([[3.0, 0.0], [0.0, 2.0]])
    with pytest.raises(FloatingPointError, match="mpmath"):
        theory.limit_ntk(theory.Architecture(depth=12, activation="relu2"), X, "wide")


def test_nngp_depth0_and_per_layer_sum():
    X = np.random.default_rng(11).standard_normal((3, 4))
    a = theory.Architecture(depth=0, p=0.5)
    nrm = np.linalg.norm(X, axis=1)
    scale = np.outer(nrm, nrm)  # Σ^(0) is formed as |x||x'|cos θ: accurate relative to |x||x'|
    assert np.max(np.abs(theory.limit_nngp(a, X) - X @ X.T) / scale) < 1e-14
    assert np.max(np.abs(theory.limit_ntk(a, X) - 0.5 * X @ X.T) / scale) < 1e-14
    a = theory.Architecture(depth=3, p=[0.1, 0.2, 0.3, 0.4], model="mask")
    r = limit_kernels(a, X, per_layer=True)
    scale = np.sqrt(np.outer(np.diag(r.ntk), np.diag(r.ntk)))
    assert np.max(np.abs(sum(r.per_layer) - r.ntk) / scale) < 1e-14


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(depth=2, p=1.0), ValueError, "p"),
    (dict(depth=2, p=-0.1), ValueError, "p"),
    (dict(depth=2, p=float("nan")), ValueError, "p"),
    (dict(depth=2, p=[0.1, 0.2]), ValueError, "p"),
    (dict(depth=2.5), TypeError, "depth"),
    (dict(depth=-1), ValueError, "depth"),
    (dict(depth=True), TypeError, "depth"),
    (dict(depth=2, activation="swish"), ValueError, "activation"),  # softplus is now named
    (dict(depth=2, activation=3), TypeError, "activation"),
    (dict(depth=2, pruned="some"), ValueError, "pruned"),
    (dict(depth=2, pruned=[0, 5]), ValueError, "pruned"),
    (dict(depth=2, model="dropout"), ValueError, "model"),
    (dict(depth=2, p=[0.5, 0.5, 0.5], pruned="hidden"), ValueError, "p\\[0\\]"),
])
def test_bad_architecture(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        theory.Architecture(**kwargs)


@pytest.mark.parametrize("X, exc", [
    (np.ones(3), ValueError), (np.ones((2, 2, 2)), ValueError), (np.array([[1.0, np.nan]]), ValueError),
    (np.array([[1.0, np.inf]]), ValueError), ("abc", TypeError), (np.ones((0, 3)), ValueError),
])
def test_bad_inputs(X, exc):
    with pytest.raises(exc, match="X"):
        theory.limit_ntk(theory.Architecture(depth=1), X)


def test_bad_options():
    a = theory.Architecture(depth=1)
    with pytest.raises(ValueError, match="input_layer"):
        theory.limit_ntk(a, np.eye(2), input_layer="narrow")
    with pytest.raises(ValueError, match="backend"):
        theory.limit_ntk(a, np.eye(2), backend="jax")
    with pytest.raises(ValueError, match="symbolic"):
        theory.limit_ntk(theory.Architecture(depth=1, p=P), np.eye(2))
