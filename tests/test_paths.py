"""theory.paths: the path-kernel decomposition, one-pass traces, SynFlow and the laws."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy

import theory
from theory.network import draw_network, network_kernels
from theory.paths import (expected_path_traces, masked_network, path_decomposition,
                          path_trace_variance, path_traces, synflow_prune, synflow_scores)


def _net(depth=2, p=0.3, model="mask", rescale=False, d0=3, width=4, seed=1, act="relu"):
    arch = theory.Architecture(depth=depth, activation=act, p=p, rescale=rescale, model=model)
    return draw_network(arch, d0, width, seed)


@pytest.mark.parametrize("model", ["mask", "variance"])
@pytest.mark.parametrize("rescale", [False, True])
def test_decomposition_reproduces_the_empirical_ntk(model, rescale):
    net = _net(depth=2, p=[0.3, 0.5, 0.2], model=model, rescale=rescale)
    X = np.random.default_rng(0).standard_normal((4, 3))
    dec = path_decomposition(net, X)
    K = network_kernels(net, X)["ntk"]
    assert np.max(np.abs(dec.ntk - K)) <= 1e-12 * np.max(np.abs(K))
    # pruned weights carry no path value and no parameter
    if model == "mask":
        n_kept = sum(int(M.sum()) if M is not None else W.size
                     for M, W in zip(net.masks, net.weights))
        assert dec.dv.shape[1] == n_kept


def test_one_pass_traces_at_width_4096():
    net = _net(depth=2, p=0.5, d0=8, width=4096, seed=3)
    t = path_traces(net)
    law = expected_path_traces(net.arch, 8, 4096)
    sd = float(sympy.sqrt(path_trace_variance(net.arch, 8, 4096)))
    # one draw against the exact mean and sd (relative sd 3.7 % here): |z| < 5 fails with
    # probability 6e-7 for a normal statistic (≤ 4 % by Chebyshev whatever the law)
    assert abs(t.R2 - float(law["R2"])) / sd < 5
    assert np.isfinite(t.trace) and t.trace > 0 and sum(t.per_matrix) == pytest.approx(t.trace)


def _r_sf(net, norm):
    Wp = [net.effective_weight(h) for h in range(net.depth + 1)]
    mats = [np.abs(W) if norm == "l1" else W * W for W in Wp]
    u = np.ones(net.d0)
    for A in mats:
        u = A @ u
    return float(u[0])


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_synflow_scores_are_theta_times_gradient(norm):
    # S = θ ⊙ ∂R/∂θ by central finite differences of R on the effective weights
    net = _net(depth=2, p=0.0, d0=3, width=3, seed=5)
    S = synflow_scores(net, norm)
    eps = 1e-6
    for h in range(net.depth + 1):
        for i, j in itertools.product(range(net.weights[h].shape[0]), range(net.weights[h].shape[1])):
            W = list(net.weights)
            plus = [w.copy() for w in W]
            minus = [w.copy() for w in W]
            plus[h][i, j] += eps
            minus[h][i, j] -= eps
            np_ = masked_network(net, [None] * 3)
            fp = _r_sf(type(net)(**{**np_.__dict__, "weights": tuple(plus)}), norm)
            fm = _r_sf(type(net)(**{**np_.__dict__, "weights": tuple(minus)}), norm)
            grad = (fp - fm) / (2 * eps)  # scales are 1 here, so ∂/∂W = ∂/∂W'
            assert S[h][i, j] == pytest.approx(net.weights[h][i, j] * grad, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("norm,k", [("l1", 1.0), ("l2", 2.0)])
def test_synflow_conservation(norm, k):
    # Tanaka et al. 2020, Thm 2: each layer's scores sum to the same total (R, resp. 2R₂)
    net = _net(depth=3, p=0.0, d0=5, width=7, seed=2)
    S = synflow_scores(net, norm)
    R = _r_sf(net, norm)
    for s in S:
        assert s.sum() == pytest.approx(k * R, rel=1e-12)


def test_synflow_prune_density_and_one_shot():
    net = _net(depth=2, p=0.0, d0=6, width=8, seed=4)
    total = sum(W.size for W in net.weights)
    for dens in (0.5, 0.1):
        pr = synflow_prune(net, dens, iterations=20)
        kept = sum(int(M.sum()) for M in pr.masks)
        assert kept == round(total * dens)
        # pruned weights are frozen at zero and are no parameters
        for W, M in zip(pr.weights, pr.masks):
            assert np.all(W[M == 0] == 0)
    # one iteration = keep the top-k scores of the dense net
    one = synflow_prune(net, 0.3, iterations=1)
    flat = np.concatenate([s.ravel() for s in synflow_scores(net)])
    k = round(total * 0.3)
    thresh = np.sort(flat)[::-1][k - 1]
    got = np.concatenate([M.ravel() for M in one.masks])
    assert np.all(flat[got == 1] >= thresh)


def test_expected_traces_symbolic_forms():
    p, d = sympy.symbols("p d", positive=True)
    L = 3
    mask = expected_path_traces(theory.Architecture(depth=L, activation="relu", p=p), 5, d)
    var = expected_path_traces(theory.Architecture(depth=L, activation="relu", p=p,
                                                   model="variance"), 5, d)
    resc = expected_path_traces(theory.Architecture(depth=L, activation="relu", p=p,
                                                    rescale=True), 5, d)
    N = 5 * d ** L
    assert sympy.simplify(mask["R2"] - N * (1 - p) ** (L + 1)) == 0
    assert sympy.simplify(mask["trace"] - (L + 1) * N * (1 - p) ** (L + 1)) == 0
    assert sympy.simplify(var["trace"] - (L + 1) * N * (1 - p) ** L) == 0
    assert sympy.simplify(resc["trace"] - (L + 1) * N) == 0


def _var_by_path_pairs(arch, dims):
    """Var R₂ by enumerating pairs of paths: E[v_P² v_Q²] = Π_h (m₂ if P, Q share the
    edge of matrix h else m₁²) — independent of the layer recursion."""
    from theory.paths import _layer_moments
    mom = [_layer_moments(arch, h) for h in range(arch.depth + 1)]
    paths = list(itertools.product(*[range(d) for d in dims]))
    tot = 0
    for P in paths:
        for Q in paths:
            term = 1
            for h in range(arch.depth + 1):
                eP = (P[h + 1] if h + 1 < len(P) else 0, P[h])
                eQ = (Q[h + 1] if h + 1 < len(Q) else 0, Q[h])
                term *= mom[h][1] if eP == eQ else mom[h][0] ** 2
            tot += term
    mean = expected_path_traces(arch, dims[0], list(dims[1:]))["R2"]
    return sympy.simplify(tot - mean ** 2)


@pytest.mark.parametrize("model,rescale", [("mask", False), ("mask", True), ("variance", False)])
def test_variance_of_R2_against_path_pairs(model, rescale):
    p = sympy.Rational(3, 10)
    arch = theory.Architecture(depth=2, activation="relu", p=p, model=model, rescale=rescale)
    dims = (2, 3, 2)
    got = path_trace_variance(arch, 2, [3, 2])
    assert sympy.simplify(got - _var_by_path_pairs(arch, dims)) == 0


def test_bad_input():
    with pytest.raises(ValueError, match="homogeneous"):
        path_traces(_net(act="erf"))
    net = _net(p=0.0)
    for bad in (0, 1.5, -0.1, True):
        with pytest.raises(ValueError, match="density"):
            synflow_prune(net, bad)
    with pytest.raises(ValueError, match="norm"):
        synflow_scores(net, "l3")
    with pytest.raises(ValueError, match="X must have shape"):
        path_decomposition(net, np.ones((2, 5)))
    with pytest.raises(ValueError, match="masks\\[0\\] must have shape"):
        masked_network(net, [np.ones((2, 2)), None, None])
    with pytest.raises(ValueError, match="already masked"):
        synflow_prune(_net(p=0.5), 0.5)
    with pytest.raises(ValueError, match="paths"):
        path_decomposition(_net(d0=50, width=100), np.ones((1, 50)))
