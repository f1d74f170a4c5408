"""Underflow of the float64 limit kernels is reported (KernelUnderflowWarning) with the
remedy, and theory.log_ntk gives the log-scale kernel through the mpmath backend."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import theory
from theory.numerics import KernelUnderflowWarning, check_finite_and_representable

X = np.array([[1.0, 0.0], [0.6, 0.8], [-0.3, 0.2]])


def test_deep_pruned_relu_underflow_warns_with_remedy():
    a = theory.Architecture(depth=1100, p=0.5)
    with pytest.warns(KernelUnderflowWarning, match=r"backend='mpmath'.*log_ntk"):
        K = theory.limit_ntk(a, X)
    assert np.all(K == 0)  # the values themselves are what float64 can hold


def test_no_warning_when_representable_or_zero_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error", KernelUnderflowWarning)
        theory.limit_ntk(theory.Architecture(depth=300, p=0.5), X)       # ~1e-91: fine
        Z = np.vstack([X, np.zeros(2)])                                 # a zero input: K = 0 is exact
        theory.limit_ntk(theory.Architecture(depth=3, p=0.5), Z)


def test_tiny_inputs_subnormal_warns():
    with pytest.warns(KernelUnderflowWarning):
        theory.limit_ntk(theory.Architecture(depth=2, p=0.5), X * 1e-158)


def test_check_function_directly():
    K = np.array([[1e-320, 0.0], [0.0, 1.0]])
    with pytest.warns(KernelUnderflowWarning, match="subnormal"):
        check_finite_and_representable(K, None, np.eye(2))
    with pytest.raises(FloatingPointError, match="mpmath"):
        check_finite_and_representable(np.array([[np.inf]]), None, np.ones((1, 1)))


def test_log_ntk_tiny_inputs_by_homogeneity():
    """ReLU's NTK is homogeneous of degree 2 in the inputs: log Θ̃(λX) = 2 log λ + log Θ̃(X)."""
    a = theory.Architecture(depth=3, p=0.5)
    lam = 1e-170
    sign, logabs = theory.log_ntk(a, X * lam)
    K = theory.limit_ntk(a, X)
    np.testing.assert_array_equal(sign, np.sign(K))
    np.testing.assert_allclose(logabs, np.log(np.abs(K)) + 2 * np.log(lam), rtol=1e-13)


def test_log_ntk_deep_net_equals_log_factor_plus_dense():
    """At depth 320, p = 0.9 the kernel is ~1e-321 · dense: log Θ̃ = (L+1) log 0.1 + log Θ
    (wide input layer, where the derived factor holds)."""
    L = 320
    a = theory.Architecture(depth=L, p=0.9)
    with pytest.warns(KernelUnderflowWarning):
        theory.limit_ntk(a, X, "wide")
    sign, logabs = theory.log_ntk(a, X, "wide", dps=20)
    dense = theory.limit_ntk(a.dense(), X, "wide")
    assert np.all(sign == 1)
    np.testing.assert_allclose(logabs, (L + 1) * np.log(0.1) + np.log(dense), rtol=1e-12)
