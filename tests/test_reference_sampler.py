"""The plain reference sampler of checks/_reference.py and the two-sample tests of claim
10: each injected sampler fault (shared mask rows, quantised keep probability, backward
pass normalised by d + 1) is rejected, the correct sampler is not."""
from __future__ import annotations

import math

import numpy as np
import pytest

import theory
from checks import _reference as R
from checks.test_10_sampler_equivalence import keep_rate_pvalue, two_sample_pvalues

ALPHA_EACH = 1e-6  # about claim 10's per-comparison level


def _arch():
    q = (150 + 0.5) / 256  # 256 q half-way between integers: quantisation visible
    return theory.Architecture(depth=2, activation="relu", p=[1 - q] * 3, pruned="all")


def _pmin(res):
    return min(float(res["mean"][3].min()), float(res["moment"].min()), float(res["ks"].min()))


@pytest.fixture(scope="module")
def engine():
    X = np.random.default_rng(3).standard_normal((3, 4))
    return X, theory.empirical_ntk(_arch(), X, 8, np.random.SeedSequence(7), per_layer=True,
                                   draws=6000)


def test_reference_agrees_with_engine(engine):
    X, E = engine
    Rf = R.reference_draws(_arch(), X, 8, 6000, 11)
    # ~40 comparisons at 1e-6 each: a false failure has probability ~4e-5
    assert _pmin(two_sample_pvalues(E, Rf, 5)) > ALPHA_EACH


@pytest.mark.parametrize("fault", ["shared_mask_row", "backward_d_plus_1"])
def test_faulty_reference_is_rejected(engine, fault):
    X, E = engine
    Fr = R.reference_draws(_arch(), X, 8, 6000, 12, fault=fault)
    assert _pmin(two_sample_pvalues(E, Fr, 5)) < ALPHA_EACH


def test_quantised_keep_probability_is_rejected():
    arch = _arch()
    ss = np.random.SeedSequence(9)
    assert min(r[-1] for r in keep_rate_pvalue(arch, 4, ss)) > ALPHA_EACH
    qq = lambda h: math.floor(256 * float(arch.q_of(h))) / 256  # noqa: E731
    assert min(r[-1] for r in keep_rate_pvalue(arch, 4, ss, q_test=qq)) < ALPHA_EACH


def test_unknown_fault_raises():
    with pytest.raises(ValueError, match="fault"):
        R.reference_ntk(_arch(), np.ones((2, 3)), 4, np.random.default_rng(0), fault="nope")
