"""The fast per-layer scaling factor (theory.scaling.factor_structure) against the slow
sympy-ratio derivation (derive_scaling_factor), and its behaviour at large depth."""
from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import sympy

import theory
from theory.scaling import MIXTURE_NOTE, derive_scaling_factor, factor_structure

P = sympy.Symbol("p")
P0, P1, P2 = sympy.symbols("p0:3")

# (activation, depth, p, pruned, model, rescale): every pattern at depths 0..2 (ReLU also 3),
# symbolic and numeric p, uniform and per-matrix; the slow derivation sets the budget
_PATTERNS = ("all", "hidden", "all_but_input", "all_but_output", "none")
CASES = []
for act, depth in itertools.product(("relu", "relu2", "erf"), (0, 1, 2)):
    for pruned, model, rescale in itertools.product(_PATTERNS, ("mask", "variance"), (False, True)):
        if act != "relu" and (model, rescale) == ("variance", True):
            continue
        if depth == 0 and pruned != "all":
            continue
        CASES.append((act, depth, P, pruned, model, rescale))
CASES += [("relu", 3, P, pruned, model, False)
          for pruned in ("all", "hidden") for model in ("mask", "variance")]
CASES += [("tanh", 2, P, "all", "mask", False), ("tanh", 2, P, "all_but_output", "mask", False),
          ("tanh", 2, P, "all", "mask", True)]
for act in ("relu", "relu2", "erf"):
    CASES += [(act, 2, [0.1, 0.2, 0.3], "all", m, False) for m in ("mask", "variance")]
    CASES += [(act, 2, [0.3, 0.3, 0.7], "all", "variance", False),
              (act, 2, [P0, P1, P2], "all", "mask", False),
              (act, 2, 0.5, [2], "mask", False), (act, 2, 0.5, [2], "variance", False)]


@pytest.mark.parametrize("act,depth,p,pruned,model,rescale", CASES)
def test_fast_factor_agrees_with_sympy_ratio(act, depth, p, pruned, model, rescale):
    """The per-layer rule and the cancelled sympy ratio of the two recursions agree:
    both say 'no scalar', or both give the same expression."""
    arch = theory.Architecture(depth=depth, activation=act, p=p, pruned=pruned, model=model,
                               rescale=rescale)
    fast, slow = factor_structure(arch).factor, derive_scaling_factor(arch).factor
    assert (fast is None) == (slow is None), (fast, slow)
    if fast is not None:
        assert sympy.simplify(fast - slow) == 0


def test_fast_factor_numeric_matches_kernels_at_depth_40():
    """Beyond the reach of the slow derivation: the factor is the ratio of the float64
    wide-input kernels (per-matrix p, both models)."""
    X = np.random.default_rng(1).standard_normal((4, 5))
    ps = list(np.linspace(0.05, 0.4, 41))
    for model, expect_scalar in (("mask", True), ("variance", False)):
        a = theory.Architecture(depth=40, p=ps, model=model)
        f = theory.scaling_factor(a)
        R = theory.limit_ntk(a, X, "wide") / theory.limit_ntk(a.dense(), X, "wide")
        if expect_scalar:
            np.testing.assert_allclose(R, float(f), rtol=1e-12)
        else:
            assert f is None and np.ptp(R) / np.mean(R) > 1e-3


def test_depth_300_factor():
    assert theory.scaling_factor(theory.Architecture(depth=300, p=P)) == (1 - P) ** 301
    assert theory.scaling_factor(theory.Architecture(depth=300, p=P, model="variance")) == (1 - P) ** 300
    f = theory.scaling_factor(theory.Architecture(depth=300, activation="relu2", p=P))
    assert f == (1 - P) ** (2 ** 301 - 1)
    assert theory.scaling_factor(theory.Architecture(depth=300, activation="erf", p=0.5)) is None
    f = theory.scaling_factor(theory.Architecture(depth=300, p=0.5))
    assert f == sympy.Rational(1, 2 ** 301)
    # a numeric power too large to evaluate stays an unevaluated power with the right exponent
    f = theory.scaling_factor(theory.Architecture(depth=300, activation="relu2", p=0.5))
    assert isinstance(f, sympy.Pow) and f.args == (sympy.Rational(1, 2), 2 ** 301 - 1)


def test_reason_has_no_internal_symbols():
    for d in (factor_structure(theory.Architecture(depth=12, activation="erf", p=P)),
              derive_scaling_factor(theory.Architecture(depth=2, activation="erf", p=P))):
        assert d.factor is None and "no scalar factor" in d.reason
        assert not re.search(r"\b(theta|v|r)_\d+", d.reason), d.reason


def test_factor_is_labelled_with_its_recursion():
    a = theory.Architecture(depth=3, p=0.5, rescale=True)
    fs = factor_structure(a)
    assert fs.recursion == "wide-input" and fs.factor == 1
    assert fs.mixture_note == MIXTURE_NOTE and "off-diagonal" in fs.mixture_note
    assert factor_structure(a.with_(pruned="all_but_input")).mixture_note is None
    assert factor_structure(a.with_(model="variance")).mixture_note is None
