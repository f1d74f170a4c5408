"""Tests of theory.bounds: finite-width bounds as symbolic objects (docs/math.md#bounds)."""
from __future__ import annotations

import math

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theory.bounds import (
    SYMBOLS, WidthBound, arora_bound, compare, constant_at_width, error_at_width,
    failure_prob_at_width, log_factors, reduces_to_dense_up_to_logs, required_width,
    sparsity_dependence, to_latex, yang_wang_bound,
)

S = SYMBOLS
HYP = settings(max_examples=40, deadline=None,
               suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------ encoding of the bounds

def test_arora_at_known_numbers():
    # C L^6 / eps^4 * log(L/delta) with L=2, eps=0.1, delta=0.05, C=1, by hand:
    # 2^6 = 64, 0.1^4 = 1e-4, L/delta = 40  ->  640000 * log(40)
    by_hand = 1 * 64 / 0.0001 * math.log(40)
    got = required_width(arora_bound(), L=2, eps=0.1, delta=0.05, C=1)
    assert float(got) == pytest.approx(by_hand, rel=1e-12)
    exact = required_width(arora_bound(), L=2, eps=sympy.Rational(1, 10),
                           delta=sympy.Rational(1, 20), C=1)
    assert sympy.simplify(exact - 640000 * sympy.log(40)) == 0


def test_arora_metadata():
    b = arora_bound()
    assert sympy.simplify(b.error - (S.L + 1) * S.eps) == 0
    assert b.failure_prob == S.delta
    assert sympy.simplify(b.success_prob - (1 - S.delta)) == 0
    assert "1904.11955" in b.source and "3.1" in b.source
    assert "ReLU" in b.assumptions
    assert b.width.has(S.C)


def test_partial_values_stay_symbolic():
    w = required_width(arora_bound(), L=3)
    assert w.free_symbols == {S.C, S.eps, S.delta}


def test_yang_wang_default_at_p0_is_arora_exactly():
    yw = yang_wang_bound()
    assert sympy.simplify(yw.width.subs(S.p, 0) - arora_bound().width) == 0
    assert "unknown" in yang_wang_bound.__doc__.lower() or "not available" in \
        yang_wang_bound.__doc__
    red = reduces_to_dense_up_to_logs(yw)
    assert red.holds is True and red.exactly_equal


# ------------------------------------------------------------------ reduces to dense

@pytest.mark.parametrize("kwargs", [
    dict(extra_log=sympy.log(1 / S.eps) ** 2),
    dict(a_log=2),
    dict(extra_log=log_factors(eps_power=2, sparsity_power=3, depth_power=1)),
    dict(a_q=2, extra_log=sympy.log(1 / S.eps)),  # p-dependence does not matter at p = 0
])
def test_reduces_up_to_logs_true(kwargs):
    red = reduces_to_dense_up_to_logs(yang_wang_bound(**kwargs))
    assert red.holds is True
    assert not red.exactly_equal
    assert all(e == 0 for e in red.exponents.values())
    assert all(e == 0 for e in red.log_ratio_over_log_dense.values())


@pytest.mark.parametrize("kwargs, direction, exponent, over_dense", [
    (dict(a_eps=5), "eps->0", 1, sympy.Rational(1, 4)),
    (dict(a_eps=3), "eps->0", -1, -sympy.Rational(1, 4)),
    (dict(a_L=7), "L->oo", 1, sympy.Rational(1, 6)),
])
def test_reduces_up_to_logs_false_for_polynomial_factor(kwargs, direction, exponent,
                                                        over_dense):
    red = reduces_to_dense_up_to_logs(yang_wang_bound(**kwargs))
    assert red.holds is False
    assert red.exponents[direction] == exponent
    assert red.log_ratio_over_log_dense[direction] == over_dense


def test_reduces_with_symbolic_exponent_gives_condition():
    a = sympy.Symbol("a", positive=True)
    red = reduces_to_dense_up_to_logs(yang_wang_bound(a_eps=a))
    assert red.holds is None
    assert sympy.simplify(red.exponents["eps->0"] - (a - 4)) == 0
    assert red.condition.subs(a, 4) is sympy.true
    assert red.condition.subs(a, 5) is sympy.false


def test_bound_vanishing_at_p0_does_not_reduce():
    red = reduces_to_dense_up_to_logs(yang_wang_bound(extra_log=sympy.log(1 / (1 - S.p))))
    assert red.holds is False and "vanishes" in red.note


# ------------------------------------------------------------------ sparsity dependence

def test_sparsity_linear_for_default():
    sd = sparsity_dependence(yang_wang_bound())
    assert sd.degree == 1 and sd.is_linear is True and sd.exactly_linear is True
    assert sd.leading_eps_degree == 1
    assert "linear" in sd.summary


def test_sparsity_quadratic_for_a_q_2():
    sd = sparsity_dependence(yang_wang_bound(a_q=2))
    assert sd.degree == 2 and sd.is_linear is False and sd.exactly_linear is False


def test_sparsity_linear_up_to_logs():
    sd = sparsity_dependence(yang_wang_bound(extra_log=log_factors(sparsity_power=3)))
    assert sd.degree == 1 and sd.is_linear is True and sd.exactly_linear is False
    assert sd.coefficient == sympy.oo


def test_sparsity_dense_is_degree_zero():
    sd = sparsity_dependence(arora_bound())
    assert sd.degree == 0 and sd.is_linear is False


def test_sparsity_symbolic_exponent():
    k = sympy.Symbol("k", positive=True)
    sd = sparsity_dependence(yang_wang_bound(a_q=k))
    assert sd.degree == k and sd.is_linear is None
    assert sd.condition.subs(k, 1) is sympy.true


def test_sparsity_orders_of_limits_for_a_sum():
    # a non-product bound: r^2 eps + r / eps^4  ->  at fixed eps degree 2 as r -> oo, but
    # the eps -> 0 leading term r / eps^4 is linear; both are reported
    r = 1 / (1 - S.p)
    b = WidthBound("sum", S.C * (r**2 * S.eps + r / S.eps**4), S.eps, S.delta, "", "")
    sd = sparsity_dependence(b)
    assert sd.degree == 2 and sd.leading_eps_degree == 1
    assert "differ" in sd.summary


# ------------------------------------------------------------------ inversions

def test_error_at_width_symbolic_arora():
    inv = error_at_width(arora_bound())
    expected = (S.C * S.L**6 * sympy.log(S.L / S.delta) / S.d) ** sympy.Rational(1, 4)
    pt = {S.C: 2, S.L: 3, S.delta: sympy.Rational(1, 7), S.d: 10**9}
    assert sympy.N(inv.value.subs(pt) - expected.subs(pt), 30) == pytest.approx(0, abs=1e-25)
    assert sympy.simplify(inv.guarantee - (S.L + 1) * inv.value) == 0


def test_failure_prob_at_width_symbolic_arora():
    inv = failure_prob_at_width(arora_bound())
    expected = S.L * sympy.exp(-S.d * S.eps**4 / (S.C * S.L**6))
    assert sympy.simplify(inv.value - expected) == 0


def test_small_width_flags_out_of_range():
    vals = dict(L=3, p=0.5, C=2)
    assert error_at_width(yang_wang_bound(), 10, delta=0.05, **vals).in_range is False
    assert failure_prob_at_width(yang_wang_bound(), 10, eps=0.1, **vals).in_range is False


BOUNDS = {
    "arora": arora_bound(),
    "yw": yang_wang_bound(),
    "yw_logs": yang_wang_bound(a_log=2, extra_log=log_factors(2, 1, 1)),
}


@HYP
@given(name=st.sampled_from(sorted(BOUNDS)),
       L=st.integers(1, 30), eps=st.floats(0.01, 0.95), delta=st.floats(0.001, 0.9),
       p=st.floats(0.0, 0.99), C=st.floats(0.1, 10.0))
def test_round_trip_eps(name, L, eps, delta, p, C):
    b = BOUNDS[name]
    vals = dict(L=L, delta=delta, C=C) | ({} if name == "arora" else dict(p=p))
    d = required_width(b, eps=eps, **vals)
    inv = error_at_width(b, d, **vals)
    assert float(inv.value) == pytest.approx(eps, rel=1e-8)
    assert inv.in_range is True
    assert float(inv.guarantee) == pytest.approx((L + 1) * eps, rel=1e-8)


@HYP
@given(name=st.sampled_from(sorted(BOUNDS)),
       L=st.integers(1, 30), eps=st.floats(0.01, 0.95), delta=st.floats(0.001, 0.9),
       p=st.floats(0.0, 0.99), C=st.floats(0.1, 10.0))
def test_round_trip_delta(name, L, eps, delta, p, C):
    b = BOUNDS[name]
    vals = dict(L=L, C=C) | ({} if name == "arora" else dict(p=p))
    d = required_width(b, eps=eps, delta=delta, **vals)
    inv = failure_prob_at_width(b, d, eps=eps, **vals)
    assert float(inv.value) == pytest.approx(delta, rel=1e-8)
    assert inv.in_range is True


@HYP
@given(L=st.integers(1, 20), eps=st.floats(0.01, 0.95), delta=st.floats(0.001, 0.9),
       p=st.floats(0.0, 0.99), C=st.floats(0.1, 10.0))
def test_round_trip_constant(L, eps, delta, p, C):
    b = yang_wang_bound()
    d = required_width(b, L=L, eps=eps, delta=delta, p=p, C=C)
    inv = constant_at_width(b, d, L=L, eps=eps, delta=delta, p=p)
    assert float(inv.value) == pytest.approx(C, rel=1e-8)


def test_numeric_fallback_when_sympy_cannot_solve():
    # a sum of powers and logs: sympy.solve raises, bisection takes over
    b = WidthBound("custom", S.C / S.eps**4 + S.C * S.L / S.eps**2 * sympy.log(1 / S.eps),
                   S.eps, S.delta, "", "")
    d = required_width(b, eps=0.2, L=3, C=1.5)
    inv = error_at_width(b, d, L=3, C=1.5)
    assert inv.method == "numeric" and float(inv.value) == pytest.approx(0.2, rel=1e-12)
    with pytest.raises(NotImplementedError):
        error_at_width(b)  # symbolic: nothing to bisect


# ------------------------------------------------------------------ symbolic exponents

def test_symbolic_exponents_accepted():
    aL, ae, aq, al = sympy.symbols("a_L a_eps a_q a_log", positive=True)
    b = yang_wang_bound(a_L=aL, a_eps=ae, a_q=aq, a_log=al)
    assert {aL, ae, aq, al} <= b.width.free_symbols
    # plugging the default exponents in gives the default family
    w = required_width(b, a_L=6, a_eps=4, a_q=1, a_log=1)
    assert sympy.simplify(w - yang_wang_bound().width) == 0
    # and the width can be solved for eps with the exponents left symbolic
    inv = error_at_width(yang_wang_bound(a_eps=ae))
    pt = {ae: 4, S.C: 1, S.L: 2, S.delta: sympy.Rational(1, 10), S.p: 0, S.d: 10**8}
    ref = error_at_width(arora_bound()).value.subs(pt)
    assert float(inv.value.subs(pt)) == pytest.approx(float(ref), rel=1e-12)


def test_symbolic_exponent_numeric_round_trip():
    a = sympy.Symbol("a", positive=True)
    b = yang_wang_bound(a_eps=a)
    d = required_width(b, a=3, L=4, eps=0.2, delta=0.1, p=0.3, C=2)
    assert float(error_at_width(b, d, a=3, L=4, delta=0.1, p=0.3, C=2).value) == \
        pytest.approx(0.2, rel=1e-10)


# ------------------------------------------------------------------ compare and LaTeX

def test_compare_default_vs_arora():
    c = compare(yang_wang_bound(), arora_bound())
    assert sympy.simplify(c.ratio - 1 / (1 - S.p)) == 0
    assert c.limits["p->0"] == 1
    assert c.limits["p->1"] == sympy.oo and c.exponents["p->1"] == 1
    assert c.exponents["eps->0"] == 0 and c.exponents["L->oo"] == 0
    assert "p->1" in c.summary and "polynomially larger" in c.summary


def test_compare_log_and_polynomial_factors():
    c = compare(yang_wang_bound(a_L=7, extra_log=sympy.log(1 / S.eps)), arora_bound())
    assert c.limits["eps->0"] == sympy.oo and c.exponents["eps->0"] == 0
    assert c.exponents["L->oo"] == 1
    assert "only by log factors" in c.summary


def test_to_latex():
    tex = to_latex(arora_bound())
    assert tex.startswith(r"d \ge")
    assert r"\log" in tex and "L^{6}" in tex and r"\epsilon^{4}" in tex
    full = to_latex(yang_wang_bound(), with_guarantee=True)
    assert r"\Theta" in full and r"1 - p" in full


# ------------------------------------------------------------------ validation

@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(a_eps=-1), ValueError, "a_eps"),
    (dict(a_L=-0.5), ValueError, "a_L"),
    (dict(a_q=sympy.Symbol("n", negative=True)), ValueError, "a_q"),
    (dict(a_log="2"), TypeError, "a_log"),
    (dict(a_eps=True), TypeError, "a_eps"),
    (dict(a_eps=sympy.I), ValueError, "a_eps"),
    (dict(extra_log=S.d), ValueError, "extra_log"),
    (dict(extra_log=0), ValueError, "extra_log"),
])
def test_bad_family_parameters(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        yang_wang_bound(**kwargs)


@pytest.mark.parametrize("values, exc, word", [
    (dict(eps=1.5), ValueError, "eps"),
    (dict(eps=0), ValueError, "eps"),
    (dict(delta=0), ValueError, "delta"),
    (dict(delta=1), ValueError, "delta"),
    (dict(p=1), ValueError, r"p \(pruning"),
    (dict(p=-0.1), ValueError, r"p \(pruning"),
    (dict(L=0), ValueError, r"L \(depth"),
    (dict(L=2.5), ValueError, r"L \(depth"),
    (dict(C=-1), ValueError, "C must"),
    (dict(eps="0.1"), TypeError, "eps"),
    (dict(width=3), TypeError, "width"),
    (dict(d=10), TypeError, "'d'"),
])
def test_bad_values(values, exc, word):
    with pytest.raises(exc, match=word):
        required_width(yang_wang_bound(), **values)


def test_bad_inversion_inputs():
    with pytest.raises(ValueError, match="d must be > 0"):
        error_at_width(arora_bound(), -5)
    with pytest.raises(TypeError, match="eps"):
        error_at_width(arora_bound(), 10**6, eps=0.1)
    with pytest.raises(ValueError, match="eps"):
        failure_prob_at_width(arora_bound(), 10**6, eps=2)


def test_widthbound_validation():
    with pytest.raises(ValueError, match="width symbol d"):
        WidthBound("bad", S.d * S.C, S.eps, S.delta, "", "")
    with pytest.raises(TypeError, match="width"):
        WidthBound("bad", "C/eps", S.eps, S.delta, "", "")
    with pytest.raises(ValueError, match="positive"):
        WidthBound("bad", sympy.Integer(0), S.eps, S.delta, "", "")


def test_float_exponent_is_made_exact():
    b = yang_wang_bound(a_q=1.5)
    assert b.params["a_q"] == sympy.Rational(3, 2)
    assert sparsity_dependence(b).degree == sympy.Rational(3, 2)
