"""Unit tests for the compiled contraction's own pieces (theory.fastcontract).

* the compiled activation is ``ArcCosine.forward`` / ``.derivative`` (times the layer's
  normalisation) bit for bit, edge values included, and only the arc-cosine family is
  compiled;
* the one-call chunk (``contract_chunk``) equals the same kernels driven from Python with
  the numpy activation between them, bit for bit, with and without backprop;
* a masked matrix's term read through ``W ≠ 0`` equals the term with the mask itself.

That the compiled contraction equals the numpy/BLAS path to rounding, on both models
and several activations, is tested in tests/test_batched.py.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from theory import Architecture
from theory import batched as B
from theory import fastcontract as FC
from theory.activations import get_activation


def _edge_values() -> np.ndarray:
    rng = np.random.default_rng(0)
    edge = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-320, -1e-320, 1e300, -1e300,
            np.nextafter(0, 1), -np.nextafter(0, 1), 1.0, -1.0]
    return np.concatenate([edge, rng.standard_normal(997) * 3]).reshape(10, 1, 101)


@pytest.mark.parametrize("name, code", [("relu", 1), ("relu2", 2)])
def test_compiled_activation_is_the_numpy_one_bit_for_bit(name, code):
    act = get_activation(name)
    assert FC.activation_code(act) == code
    F = _edge_values()
    scale = np.sqrt(2.0 / 7.0)
    G, D = np.empty_like(F), np.empty_like(F)
    with np.errstate(invalid="ignore", over="ignore"):
        FC.activate(F, code, scale, G, D)
        ref = act.forward(F)
        ref *= scale
        dref = act.derivative(F)
    # equal bits, NaN where numpy has NaN (array_equal's equal_nan compares values, so
    # compare the bytes: the sign of a zero counts too)
    assert G.tobytes() == ref.tobytes()
    assert D.tobytes() == dref.tobytes()


@pytest.mark.parametrize("spec", ["erf", "tanh", "gelu", np.sin])
def test_other_activations_are_not_compiled(spec):
    assert FC.activation_code(get_activation(spec)) == 0


@pytest.mark.parametrize("arch, width, n", [
    (Architecture(depth=3, activation="relu", p=0.3, pruned="all"), 24, 3),
    (Architecture(depth=2, activation="relu2", p=0.5, pruned="hidden", rescale=True), 16, 5),
    (Architecture(depth=1, activation="relu", p=0.2, model="variance"), 40, 1),
    (Architecture(depth=0, activation="relu", p=0.4, pruned="all"), 1, 4),
])
@pytest.mark.parametrize("backward", [True, False])
def test_one_call_chunk_equals_the_kernels_driven_from_python(arch, width, n, backward):
    """``contract_chunk`` (ReLU, ReLU²: the whole chunk in one compiled call) against
    the same kernels called one by one from Python with the numpy activation between them
    (``code = 0``): the same operations in the same order, so the same bits."""
    X = np.random.default_rng(1).standard_normal((n, 6))
    widths = B._resolve_widths(arch, width)
    lay = B._layout(arch, 6, widths)
    nets = B.draw_networks(arch, 6, width, seed=5, draws=lay.group + 1)
    compiled = B._CompiledContraction.of(arch, lay)
    assert compiled.code >= 1
    stepwise = dataclasses.replace(compiled, code=0)
    C, L = nets.draws, arch.depth
    outs = []
    for contraction in (compiled, stepwise):
        o = (np.full((C, n, n), np.nan), np.full((C, n), np.nan),
             np.full((C, L + 1, n, n), np.nan))
        contraction(list(nets.weights), X, backward, o[0], o[1], o[2] if backward else None)
        outs.append(o)
    for a, b in zip(*outs):
        assert a.tobytes() == b.tobytes()
    assert np.all(np.isfinite(outs[0][0])) and np.all(np.isfinite(outs[0][1]))
    assert np.all(np.isfinite(outs[0][2])) == backward


def test_masked_term_reads_the_mask_as_nonzero_weights():
    """The masked term through ``W ≠ 0`` (as the compiled path calls it) equals the term
    computed with the drawn mask as an explicit 0/1 weight matrix, and differs from the
    unmasked term (the mask is not ignored)."""
    arch = Architecture(depth=1, activation="relu", p=0.5, pruned="all")
    nets = B.draw_networks(arch, 8, 12, seed=2, draws=4)
    W, M = nets.weights[0], nets.masks[0]
    rng = np.random.default_rng(3)
    G = rng.standard_normal((4, 3, 8))
    Bs = rng.standard_normal((4, 3, 12))
    via_w, via_m, dense = (np.empty((4, 1, 3, 3)) for _ in range(3))
    FC.masked_term(W, G, Bs, 1.5, via_w, 0)
    FC.masked_term(M, G, Bs, 1.5, via_m, 0)  # a 0/1 matrix is its own support
    FC.dense_term(G, Bs, 1.5, dense, 0)
    assert np.array_equal(via_w, via_m)
    ref = 1.5 * np.einsum("cik,cai,cbi,cak,cbk->cab", M, Bs, Bs, G, G)
    # deterministic: the same 96-term float64 sums in another order, so rounding only
    # (relative to the largest term, as the other compiled-path tests; an entry may be
    # small by cancellation)
    assert np.abs(via_w[:, 0] - ref).max() <= 1e-13 * np.abs(ref).max()
    assert not np.allclose(via_w, dense, rtol=1e-3)
