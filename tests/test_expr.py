"""theory.expr: the whitelist parser (every forbidden construct is rejected with the
offending token), sympy conversion, float64/mpmath evaluation and its errors."""
import math

import mpmath
import numpy as np
import pytest
import sympy

from theory.expr import ExpressionError, parse_expression, parse_number_list

NAMES = ["p", "L", "dense", "x"]


@pytest.mark.parametrize("text, token", [
    ("__import__('os')", "__import__"),
    ("p.real", "p.real"),
    ("dense.__class__", "dense.__class__"),
    ("x[0]", "x[0]"),
    ("(lambda: 1)()", "lambda"),
    ("[i for i in x]", "[i for i in x]"),
    ("sum(i for i in x)", "sum"),
    ("'abc'", "'abc'"),
    ("y + 1", "'y'"),
    ("open('f')", "open"),
    ("eval('1')", "eval"),
    ("max(p, key=1)", "key=1"),
    ("max(*x)", "*x"),
    ("p if x else L", "p if x else L"),
    ("p < 1", "p < 1"),
    ("p and L", "p and L"),
    ("(p, L)", "(p, L)"),
    ("p // 2", "p // 2"),
    ("p % 2", "p % 2"),
    ("~p", "~p"),
    ("True", "True"),
    ("1j", "1j"),
    ("sqrt", "sqrt"),
    ("sqrt(1, 2)", "sqrt(1, 2)"),
    ("(y := 1)", "y := 1"),
    ("f'{p}'", "f'{p}'"),
    ("p; L", "syntax"),
    ("import os", "syntax"),
])
def test_rejections_name_the_token(text, token):
    with pytest.raises(ExpressionError) as e:
        parse_expression(text, NAMES, context="claim 'c', key 'predict'")
    msg = str(e.value)
    assert msg.startswith("claim 'c', key 'predict':")
    assert token in msg


def test_sympy_and_numbers_agree():
    e = parse_expression("(1 - p)**(L + 1) * dense + sqrt(x) - erf(x)/2 + max(p, x, 0.1) + pi",
                         NAMES)
    assert e.used == {"p", "L", "dense", "x", "pi"}
    s = e.to_sympy({"L": sympy.Integer(3)})
    env = {"p": 0.25, "L": 3, "dense": 2.0, "x": 0.7}
    want = (0.75 ** 4) * 2 + math.sqrt(0.7) - math.erf(0.7) / 2 + 0.7 + math.pi
    assert float(e.evaluate(env)) == pytest.approx(want, rel=1e-15)
    got_s = float(s.subs({sympy.Symbol(k, real=True): v for k, v in env.items() if k != "L"}))
    assert got_s == pytest.approx(want, rel=1e-14)
    mp = e.evaluate(env, backend="mpmath", dps=50)
    assert abs(float(mp) - want) < 1e-14
    # decimal literals are exact in sympy and mpmath
    assert parse_expression("0.1", []).to_sympy() == sympy.Rational(1, 10)
    with mpmath.workdps(50):
        assert parse_expression("0.1", []).evaluate({}, backend="mpmath") == mpmath.mpf(1) / 10


def test_vectorised():
    e = parse_expression("x**2 + p", ["x", "p"])
    out = e.evaluate({"x": np.array([1.0, 2.0, 3.0]), "p": 0.5})
    np.testing.assert_allclose(out, [1.5, 4.5, 9.5])
    out = e.evaluate({"x": np.array([1.0, 2.0]), "p": 0.5}, backend="mpmath")
    assert out.dtype == object and float(out[1]) == 4.5


@pytest.mark.parametrize("text", ["1/(p - 0.5)", "p**-1", "log(p - 0.5)"])
@pytest.mark.parametrize("backend", ["numpy", "mpmath"])
def test_division_by_zero_is_an_error(text, backend):
    e = parse_expression(text, ["p"], context="claim 'z', key 'predict'")
    with pytest.raises(ExpressionError, match="claim 'z', key 'predict'"):
        e.evaluate({"p": np.array([0.0, 0.5]) if text == "p**-1" else 0.5}, backend=backend)


def test_domain_errors_and_missing_names():
    with pytest.raises(ExpressionError, match="non-finite"):
        parse_expression("sqrt(p)", ["p"]).evaluate({"p": -1.0})
    with pytest.raises(ExpressionError, match="no value for p"):
        parse_expression("p", ["p"]).evaluate({})
    with pytest.raises(ExpressionError, match="exponent too large"):
        parse_expression("9**9**9", []).to_sympy()


def test_number_list():
    assert parse_number_list("0.5") == [0.5]
    assert parse_number_list("0.1, 1/4, pi/pi") == [0.1, 0.25, 1.0]
    for bad in ("", "0.1,,0.2", "p", "__import__('os')", "0.1; 0.2"):
        with pytest.raises(ExpressionError):
            parse_number_list(bad, context="--p")
