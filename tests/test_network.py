"""Unit tests for theory.network: the finite masked network and its empirical NTK.

The reference NTK is built parameter by parameter: for every trainable weight the
directional derivative of f is propagated *forward* (a JVP, written out independently of
the library's reverse-mode, pair-stacked GEMM contraction) and Θ = Σ_θ J_θ(x) J_θ(x').
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theory import Architecture
from theory.backends import NUMPY
from theory.network import (
    Network, _Bernoulli, _normals, draw_network, empirical_nngp, empirical_ntk,
    forward_backward, network_kernels, ntk_contributions, sample_kernels,
)


# ----------------------------------------------------------------------------- reference
def _effective(net: Network, h: int) -> np.ndarray:
    """Forward matrix of layer h, rebuilt from the architecture (not from net.scales)."""
    arch = net.arch
    W = net.weights[h]
    if arch.model == "mask":
        M = net.masks[h] if net.masks[h] is not None else np.ones_like(W)
        return np.sqrt(float(arch.alpha_of(h))) * (M * W)
    return np.sqrt(float(arch.s_of(h))) * W


def _ref_forward(net: Network, x: np.ndarray):
    """Explicit docs/math.md#network forward pass for one input: pre-activations and g's."""
    act, cs = net.arch.act, float(net.arch.act.c_sigma(NUMPY))
    gs, fs = [np.asarray(x, float)], []
    for h in range(net.depth):
        f = _effective(net, h) @ gs[-1]
        fs.append(f)
        gs.append(np.sqrt(cs / net.widths[h]) * act.forward(f))
    out = float((_effective(net, net.depth) @ gs[-1])[0])
    return fs, gs, out


def _ref_jacobian(net: Network, x: np.ndarray) -> list[np.ndarray]:
    """Per matrix h: ∂f(x)/∂θ for every trainable θ of matrix h, by forward-mode JVPs.

    Mask model: θ = the N(0,1) weight W_ij at a kept entry, f^(h+1) = sqrt(α)(M⊙W)g.
    Variance model: θ = W'_ij = sqrt(s) Z_ij (all entries), f^(h+1) = W' g.
    """
    arch, act = net.arch, net.arch.act
    cs = float(act.c_sigma(NUMPY))
    fs, gs, _ = _ref_forward(net, x)
    L = net.depth
    out = []
    for h in range(L + 1):
        rows, cols = net.weights[h].shape
        if arch.model == "mask":
            M = net.masks[h] if net.masks[h] is not None else np.ones((rows, cols))
            coef = np.sqrt(float(arch.alpha_of(h)))
        else:
            M, coef = np.ones((rows, cols)), 1.0
        grads = []
        for i in range(rows):
            for j in range(cols):
                if M[i, j] == 0:
                    continue  # pruned weights are frozen: not parameters
                t = np.zeros(rows)
                t[i] = coef * gs[h][j]  # tangent of f^(h+1)
                for k in range(h + 1, L + 1):
                    dg = np.sqrt(cs / net.widths[k - 1]) * act.derivative(fs[k - 1]) * t
                    t = _effective(net, k) @ dg
                grads.append(float(t[0]))
        out.append(np.array(grads))
    return out


def _ref_ntk(net: Network, X: np.ndarray) -> np.ndarray:
    """(L+1, n, n) per-matrix reference NTK from the per-parameter Jacobian."""
    J = [_ref_jacobian(net, x) for x in X]
    n = len(X)
    per = np.zeros((net.depth + 1, n, n))
    for h in range(net.depth + 1):
        Jh = np.stack([J[a][h] for a in range(n)])  # (n, params_h)
        per[h] = Jh @ Jh.T
    return per


def _inputs(n=3, d0=3, seed=11):
    return np.random.default_rng(seed).standard_normal((n, d0))


def _rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


ACTS = ["relu", "erf", "relu2", np.tanh]


# ----------------------------------------------------------------------------- correctness
@pytest.mark.parametrize("act", ACTS, ids=["relu", "erf", "relu2", "tanh_callable"])
@pytest.mark.parametrize("model", ["mask", "variance"])
@pytest.mark.parametrize("rescale", [False, True])
@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_ntk_matches_per_parameter_jacobian(act, model, rescale, depth):
    arch = Architecture(depth=depth, activation=act, p=0.4, rescale=rescale, model=model)
    X = _inputs()
    widths = [4, 5, 4][:depth]
    net = draw_network(arch, 3, widths, seed=depth + 7)
    k = network_kernels(net, X)
    ref = _ref_ntk(net, X)
    assert k["per_layer"].shape == (depth + 1, 3, 3)
    assert _rel_err(k["per_layer"], ref) < 1e-10
    assert _rel_err(k["ntk"], ref.sum(axis=0)) < 1e-10
    np.testing.assert_allclose(k["per_layer"].sum(axis=0), k["ntk"], rtol=1e-14, atol=0)
    assert np.array_equal(k["ntk"], k["ntk"].T)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    depth=st.integers(0, 3),
    act=st.sampled_from(ACTS),
    model=st.sampled_from(["mask", "variance"]),
    rescale=st.booleans(),
    spec=st.sampled_from(["all", "hidden", "all_but_input", "all_but_output", "none",
                          "custom"]),
    ps=st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.75, 0.9375, 0.99]),
                min_size=4, max_size=4),
    widths=st.lists(st.integers(4, 5), min_size=3, max_size=3),
    seed=st.integers(0, 2 ** 32),
)
def test_ntk_matches_jacobian_mixed_layers(depth, act, model, rescale, spec, ps, widths, seed):
    """Per-layer p, every `pruned` spec (including an explicit index set)."""
    n_mat = depth + 1
    if spec == "custom":
        pruned = [h for h in range(n_mat) if ps[h] > 0][:2]
    else:
        pruned = spec
    masked = Architecture(depth=depth, p=0.5, pruned=pruned).pruned_matrices()
    p = [ps[h] if h in masked else 0.0 for h in range(n_mat)]
    arch = Architecture(depth=depth, activation=act, p=p, pruned=pruned, rescale=rescale,
                        model=model)
    X = _inputs(seed=seed % 1000)
    net = draw_network(arch, 3, widths[:depth], seed=seed)
    per = ntk_contributions(net, forward_backward(net, X))
    ref = _ref_ntk(net, X)
    assert _rel_err(per, ref) < 1e-10


def test_ntk_matches_central_differences():
    """Independent check of the reference itself: Θ from central finite differences on
    each kept weight of a smooth (erf) network, mask model with rescaling."""
    arch = Architecture(depth=2, activation="erf", p=[0.3, 0.5, 0.2], rescale=True)
    X = _inputs()
    net = draw_network(arch, 3, [4, 5], seed=3)
    eps = 1e-5
    rows = []
    for h in range(3):
        for idx in zip(*np.nonzero(net.masks[h])):
            col = []
            for x in X:
                vals = []
                for sgn in (1, -1):
                    w = list(net.weights)
                    w[h] = w[h].copy()
                    w[h][idx] += sgn * eps
                    pert = Network(net.arch, net.d0, net.widths, tuple(w), net.masks,
                                   net.scales, net.ntk_factors, net.c_sigma)
                    vals.append(_ref_forward(pert, x)[2])
                col.append((vals[0] - vals[1]) / (2 * eps))
            rows.append(col)
    J = np.array(rows)  # (params, n)
    fd = J.T @ J
    assert _rel_err(empirical_ntk(arch, X, [4, 5], seed=3), fd) < 1e-7


@pytest.mark.parametrize("act", ACTS, ids=["relu", "erf", "relu2", "tanh_callable"])
@pytest.mark.parametrize("depth", [0, 1, 3])
@pytest.mark.parametrize("model", ["mask", "variance"])
def test_nngp_and_output_match_explicit_forward(act, depth, model):
    arch = Architecture(depth=depth, activation=act, p=0.5, model=model)
    X = _inputs(n=4, d0=3)
    net = draw_network(arch, 3, 5, seed=1)
    k = network_kernels(net, X)
    G = np.stack([_ref_forward(net, x)[1][-1] for x in X])  # (n, d_L)
    out = np.array([_ref_forward(net, x)[2] for x in X])
    assert _rel_err(k["nngp"], G @ G.T) < 1e-12
    assert _rel_err(k["output"], out) < 1e-12
    assert np.array_equal(empirical_nngp(arch, X, 5, seed=1), k["nngp"])
    if depth == 0:
        np.testing.assert_array_equal(k["nngp"], X @ X.T)


def test_public_functions_agree_on_one_draw():
    arch = Architecture(depth=2, activation="relu", p=0.5)
    X = _inputs(n=5, d0=6)
    k = sample_kernels(arch, X, 16, 4)
    assert set(k) >= {"ntk", "nngp", "per_layer"}
    assert k["ntk"].dtype == np.float64 and k["ntk"].shape == (5, 5)
    assert np.array_equal(empirical_ntk(arch, X, 16, 4), k["ntk"])
    assert np.array_equal(empirical_ntk(arch, X, 16, 4, per_layer=True), k["per_layer"])
    assert np.array_equal(empirical_nngp(arch, X, 16, 4), k["nngp"])
    assert np.array_equal(k["per_layer"].sum(axis=0), k["ntk"])


def test_draw_structure_and_widths():
    arch = Architecture(depth=3, activation="relu", p=[0.5, 0.3, 0.0, 0.75],
                        pruned=[0, 1, 3], rescale=True)
    net = draw_network(arch, 7, [3, 6, 2], seed=0)
    assert net.dims == (7, 3, 6, 2, 1)
    assert [w.shape for w in net.weights] == [(3, 7), (6, 3), (2, 6), (1, 2)]
    assert net.masks[2] is None and all(net.masks[h] is not None for h in (0, 1, 3))
    for W, M in zip(net.weights, net.masks):
        assert W.dtype == np.float64
        if M is not None:
            assert M.dtype == np.float64 and set(np.unique(M)) <= {0.0, 1.0}
            assert np.array_equal(W != 0, M == 1)  # weights only where kept, never 0 there
    assert net.scales == tuple(np.sqrt([2.0, 1 / 0.7, 1.0, 4.0]))
    assert net.ntk_factors == (2.0, 1 / 0.7, 1.0, 4.0)


# ----------------------------------------------------------------------------- the model identities
@pytest.mark.parametrize("act", ["relu", "erf", np.tanh], ids=["relu", "erf", "tanh"])
def test_variance_model_rescaled_is_the_dense_network(act):
    """Decision (documented in theory.network): a dense matrix is drawn the same way in
    both models and whether or not it is pruned under the variance model, so with
    rescaling (s_h = 1) the variance model IS the dense network, draw for draw."""
    X = _inputs(n=4, d0=5)
    var = Architecture(depth=3, activation=act, p=[0.2, 0.5, 0.7, 0.1], rescale=True,
                       model="variance")
    dense = Architecture(depth=3, activation=act)
    a = empirical_ntk(var, X, 8, seed=5, per_layer=True)
    b = empirical_ntk(dense, X, 8, seed=5, per_layer=True)
    assert np.array_equal(a, b)


def test_variance_model_relu_is_scaled_dense_network():
    """ReLU is 1-homogeneous: with W'_h = sqrt(s_h) Z_h and the same Z, matrix h's term is
    Π_{k≠h} s_k times the dense term (the gradient factor is 1 in the variance model)."""
    X = _inputs(n=4, d0=5)
    p = [0.2, 0.5, 0.0, 0.75]
    var = Architecture(depth=3, activation="relu", p=p, pruned=[0, 1, 3], model="variance")
    dense = Architecture(depth=3, activation="relu")
    a = empirical_ntk(var, X, 9, seed=2, per_layer=True)
    b = empirical_ntk(dense, X, 9, seed=2, per_layer=True)
    s = np.array([1 - v for v in p])
    for h in range(4):
        assert _rel_err(a[h], np.prod(np.delete(s, h)) * b[h]) < 1e-12


def test_mask_model_unpruned_is_the_dense_network():
    X = _inputs(n=3, d0=4)
    a = empirical_ntk(Architecture(depth=2, activation="erf", p=0.0), X, 6, seed=9)
    b = empirical_ntk(Architecture(depth=2, activation="erf", pruned="none"), X, 6, seed=9)
    assert np.array_equal(a, b)


# ----------------------------------------------------------------------------- reproducibility
def test_same_seed_is_bit_identical_and_seeds_differ():
    arch = Architecture(depth=2, activation="relu", p=0.3)
    X = _inputs(n=4, d0=8)
    a = empirical_ntk(arch, X, 32, seed=123)
    b = empirical_ntk(arch, X, 32, seed=123)
    c = empirical_ntk(arch, X, 32, seed=124)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    ss = np.random.SeedSequence(77)
    d = empirical_ntk(arch, X, 32, seed=ss)
    e = empirical_ntk(arch, X, 32, seed=ss)
    assert np.array_equal(d, e)
    assert ss.n_children_spawned == 0  # the caller's SeedSequence is not consumed
    assert np.array_equal(empirical_ntk(arch, X, 32, seed=np.int64(123)), a)


def test_draw_independent_of_thread_count():
    """Large enough for the threaded path; every block has its own stream."""
    arch = Architecture(depth=2, activation="relu", p=[0.5, 0.3, 0.5])
    n1 = draw_network(arch, 16, 800, seed=1, workers=1)
    n2 = draw_network(arch, 16, 800, seed=1, workers=2)
    for h in range(3):
        assert np.array_equal(n1.weights[h], n2.weights[h])
        assert np.array_equal(n1.masks[h], n2.masks[h])


def test_matrices_and_blocks_use_different_streams():
    arch = Architecture(depth=2, activation="relu", pruned="none")
    net = draw_network(arch, 64, 64, seed=0)
    # equal shapes, different matrices (and different row blocks): no entry coincides
    assert not np.any(net.weights[1] == net.weights[0])
    assert not np.any(net.weights[1][:32] == net.weights[1][32:])


# ----------------------------------------------------------------------------- random numbers
@pytest.mark.parametrize("q", [0.5, 0.75, 0.25, 0.9375, 0.0625, 0.7, 0.3, 1 / 3, 0.01, 2e-6])
def test_bernoulli_threshold_is_exact(q):
    """P(keep) = t/2^k (+ the tie refinement) equals the float64 q exactly."""
    b = _Bernoulli(q)
    if b.thr is None:
        prob = Fraction(b.t, 2 ** b.k)
    else:
        prob = (Fraction(b.t) + Fraction(b.thr, 2 ** 64)) / 256
    assert prob == Fraction(q)


@pytest.mark.parametrize("q", [0.5, 0.75, 0.9375, 0.3, 0.01])
def test_bernoulli_frequency(q):
    """Binomial z-test on 2^20 entries; two-sided false-alarm rate 1e-4 per q."""
    rng = np.random.PCG64(np.random.SeedSequence(2024))
    N = 1 << 20
    keep = _Bernoulli(q).draw(rng, N)
    z = (keep.sum() - N * q) / np.sqrt(N * q * (1 - q))
    assert abs(z) < scipy.stats.norm.isf(0.5e-4)


def test_normals_distribution():
    """Box–Muller draws: KS test against N(0,1) and moment z-tests, each at false-alarm
    rate 1e-4; no exact zeros (zeros would be confused with pruned weights)."""
    z = _normals(np.random.PCG64(np.random.SeedSequence(7)), 400_001).astype(np.float64)
    assert z.shape == (400_001,)
    assert np.all(z != 0) and np.all(np.isfinite(z))
    assert scipy.stats.kstest(z, "norm").pvalue > 1e-4
    zc = scipy.stats.norm.isf(0.5e-4)
    N = z.size
    assert abs(z.mean() / np.sqrt(1 / N)) < zc
    assert abs((np.mean(z ** 2) - 1) / np.sqrt(2 / N)) < zc
    assert abs((np.mean(z ** 4) - 3) / np.sqrt(96 / N)) < zc


def test_mask_frequency_in_network():
    arch = Architecture(depth=1, activation="relu", p=0.7)
    net = draw_network(arch, 300, 1000, seed=3)
    M = net.masks[0]
    N, q = M.size, 0.3
    z = (M.sum() - N * q) / np.sqrt(N * q * (1 - q))
    assert abs(z) < scipy.stats.norm.isf(0.5e-4)


# ----------------------------------------------------------------------------- statistics
def _diag_z(q_exponent_offset: int):
    L, p, width, d0, N = 2, 0.5, 64, 64, 400
    q = 1 - p
    arch = Architecture(depth=L, activation="relu", p=p, pruned="all", rescale=False)
    x = np.random.default_rng(0).standard_normal((1, d0))
    x /= np.linalg.norm(x)
    vals = np.array([empirical_ntk(arch, x, width, seed=s)[0, 0] for s in range(N)])
    predicted = q ** (L + 1 + q_exponent_offset) * (L + 1) * 1.0
    return (vals.mean() - predicted) / (vals.std(ddof=1) / np.sqrt(N))


def test_relu_diagonal_mean_is_exact_at_finite_width():
    """E[Θ_d(x,x)] = q^(L+1) (L+1) ||x||² at every finite width (ReLU, hard masks, no
    rescaling, all L+1 matrices pruned with p; docs/math.md#pruning), up to the event that a neuron
    loses its whole fan-in or all its active inputs (≤ 64·2^-64 for the input layer with
    d0 = 64, ≤ 64·(1 - q/2)^64 ≈ 6e-7 for layer 2: negligible against the standard error).

    400 independent draws, width 64, L = 2, p = 0.5; z = (mean - predicted)/(sd/sqrt(N)).
    Accept |z| < z_crit = norm.isf(0.5e-4) ≈ 3.89: stated two-sided false-alarm rate
    alpha = 1e-4. Negative control: the wrong exponent q^L (L+1) must be rejected."""
    z_crit = scipy.stats.norm.isf(0.5e-4)
    assert abs(_diag_z(0)) < z_crit
    assert abs(_diag_z(-1)) > z_crit  # negative control: q^L (L+1) is rejected


# ----------------------------------------------------------------------------- bad inputs
ARCH = Architecture(depth=2, activation="relu", p=0.5)
GOOD_X = np.ones((2, 3))


@pytest.mark.parametrize("X, exc, word", [
    (np.ones(3), ValueError, "X"),
    (np.ones((2, 3, 1)), ValueError, "X"),
    (np.array([[1.0, np.nan, 0.0]]), ValueError, "X"),
    (np.array([[1.0, np.inf, 0.0]]), ValueError, "X"),
    (np.ones((0, 3)), ValueError, "X"),
    (np.array([["a", "b"]]), TypeError, "X"),
    (np.ones((2, 3)) * 1j, TypeError, "X"),
])
def test_bad_X(X, exc, word):
    with pytest.raises(exc, match=word):
        empirical_ntk(ARCH, X, 8, 0)
    with pytest.raises(exc, match=word):
        empirical_nngp(ARCH, X, 8, 0)


def test_X_feature_mismatch():
    net = draw_network(ARCH, 3, 8, 0)
    with pytest.raises(ValueError, match=r"X\.shape\[1\]"):
        forward_backward(net, np.ones((2, 4)))


@pytest.mark.parametrize("width, exc", [
    (0, ValueError), (-3, ValueError), (2.5, TypeError), (4.0, TypeError), (True, TypeError),
    ("8", TypeError), ([8], ValueError), ([8, 8, 8], ValueError), ([8, 0], ValueError),
    ([8, 2.0], TypeError), (None, TypeError),
])
def test_bad_width(width, exc):
    with pytest.raises(exc, match="width"):
        empirical_ntk(ARCH, GOOD_X, width, 0)


@pytest.mark.parametrize("seed, exc", [
    (1.5, TypeError), ("0", TypeError), (None, TypeError), (True, TypeError),
    (-1, ValueError), (np.random.default_rng(0), TypeError),
])
def test_bad_seed(seed, exc):
    with pytest.raises(exc, match="seed"):
        empirical_ntk(ARCH, GOOD_X, 8, seed)


def test_bad_arch_d0_workers():
    with pytest.raises(TypeError, match="arch"):
        empirical_ntk("relu", GOOD_X, 8, 0)
    with pytest.raises(ValueError, match="d0"):
        draw_network(ARCH, 0, 8, 0)
    with pytest.raises(TypeError, match="d0"):
        draw_network(ARCH, 3.0, 8, 0)
    with pytest.raises(ValueError, match="workers"):
        draw_network(ARCH, 3, 8, 0, workers=0)
    import sympy
    with pytest.raises(ValueError, match="symbolic"):
        draw_network(Architecture(depth=1, p=sympy.Symbol("p")), 3, 8, 0)
    with pytest.raises(TypeError, match="net"):
        forward_backward("net", GOOD_X)
    net = draw_network(ARCH, 3, 8, 0)
    with pytest.raises(ValueError, match="backward"):
        ntk_contributions(net, forward_backward(net, GOOD_X, backward=False))


def test_depth_zero_accepts_any_width_form():
    arch = Architecture(depth=0, activation="relu", p=0.5)
    X = _inputs()
    a = empirical_ntk(arch, X, 7, 0)
    assert np.array_equal(a, empirical_ntk(arch, X, [], 0))
    with pytest.raises(ValueError, match="width"):
        empirical_ntk(arch, X, [7], 0)
