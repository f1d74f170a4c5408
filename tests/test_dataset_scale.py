"""Data-set scale: tiled Gram matrices, cross kernels, the input-layer mixture routes and
their reports, streaming to .npy, kernel regression."""
from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest

import theory
from theory import mixture_expansion as me
from theory.input_layer import MixtureSampledWarning, layer1_mixture
from theory.limits import LimitResult, limit_kernels, limit_result, stream_gram
from theory.regression import (IllConditionedKernelError, check_memory, fit, kernel_regression,
                               ntk_regression, predict)
from theory.stats import z_critical


# ----------------------------------------------------------------- tiling and cross kernels
@pytest.mark.parametrize("act", ["relu", "erf", "relu2"])
def test_tiles_threads_and_cross_kernels_agree(act):
    """Tile size, thread count and the cross-kernel route give the same matrix to
    rounding (GEMM blocking may change the last bits of cos θ)."""
    X = np.random.default_rng(0).standard_normal((37, 5))
    a = theory.Architecture(depth=3, activation=act, p=0.3)
    K = theory.limit_ntk(a, X, "wide", tile=1000, workers=1)
    scale = np.sqrt(np.outer(np.diag(K), np.diag(K)))
    for tile, workers in [(7, 1), (16, 2), (5, 3)]:
        Kt = theory.limit_ntk(a, X, "wide", tile=tile, workers=workers)
        assert np.max(np.abs(Kt - K) / scale) < 1e-14
        assert np.array_equal(Kt, Kt.T)
    Kx = theory.limit_ntk(a, X[:10], "wide", X2=X[10:], tile=8)
    assert Kx.shape == (10, 27)
    assert np.max(np.abs(Kx - K[:10, 10:]) / scale[:10, 10:]) < 1e-14


def test_cross_kernel_mpmath_and_mixture():
    X = np.random.default_rng(1).standard_normal((4, 3))
    a = theory.Architecture(depth=2, p=0.5)
    K = theory.limit_ntk(a, X, "exact")
    Km = theory.limit_ntk(a, X[:1], "exact", X2=X[1:], backend="mpmath", dps=30).astype(float)
    np.testing.assert_allclose(Km, K[:1, 1:], rtol=1e-13)
    np.testing.assert_allclose(theory.limit_ntk(a, X[:1], "exact", X2=X[1:]), K[:1, 1:], rtol=1e-13)


def test_accurate_angles_near_rho_one_in_gram_route():
    """Pairs with ρ within 1e-12 of ±1 inside a larger Gram matrix: same as mpmath."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(6)
    e = rng.standard_normal(6)
    X = np.stack([x, x + 1e-7 * e, -x + 1e-7 * e, 3 * x, rng.standard_normal(6)])
    a = theory.Architecture(depth=4)
    K = theory.limit_ntk(a, X, "wide")
    Km = theory.limit_ntk(a, X, "wide", backend="mpmath", dps=40).astype(float)
    nz = Km != 0
    assert np.max(np.abs(K[nz] - Km[nz]) / np.abs(Km[nz])) < 1e-13


def test_stream_gram_matches_in_memory(tmp_path):
    X = np.random.default_rng(3).standard_normal((50, 4))
    a = theory.Architecture(depth=2, p=0.4)
    rep = stream_gram(a, X, str(tmp_path / "K.npy"), input_layer="wide", tile=16)
    K = np.load(tmp_path / "K.npy")
    np.testing.assert_allclose(K, theory.limit_ntk(a, X, "wide"), rtol=1e-14)
    assert rep["shape"] == [50, 50] and rep["route"] == "wide"
    with pytest.raises(ValueError, match="npy"):
        stream_gram(a, X, str(tmp_path / "K.txt"))


def test_memory_error_names_size_and_remedy():
    a = theory.Architecture(depth=1)
    with pytest.raises(MemoryError, match=r"GiB.*stream_gram"):
        theory.limit_ntk(a, np.ones((300, 2)), "wide", max_bytes=10_000)
    with pytest.raises(MemoryError, match="GiB"):
        check_memory(10**6, max_bytes=10**9)


def test_bad_cross_inputs_and_options():
    a = theory.Architecture(depth=1)
    with pytest.raises(ValueError, match="X2"):
        theory.limit_ntk(a, np.ones((2, 3)), X2=np.ones((2, 4)))
    with pytest.raises(ValueError, match="X2"):
        theory.limit_ntk(a, np.ones((2, 3)), X2=np.array([[np.nan, 1, 1]]))
    with pytest.raises(ValueError, match="tile"):
        theory.limit_ntk(a, np.ones((2, 3)), tile=0)
    with pytest.raises(ValueError, match="kernel"):
        limit_result(a, np.ones((2, 3)), kernel="cntk")
    with pytest.raises(ValueError, match="tol"):
        theory.limit_ntk(theory.Architecture(depth=1, p=0.5), np.ones((2, 3)), tol=2.0)


# ----------------------------------------------------------------- mixture routes
binomial_mixture = me.sign_pattern_mixture
sign_pair = me.sign_pattern_inputs


def test_binomial_reference_matches_mask_enumeration():
    """The O(d0²) reference equals the 2^{d0} enumeration of theory.input_layer."""
    X = sign_pair(12, 8)
    m = layer1_mixture(theory.NUMPY, theory.Architecture(depth=1, p=0.4), X, method="exact")
    s, g = binomial_mixture(12, 8, 0.6)
    assert abs(m.first.sigma[0, 1] - s) < 1e-15 and abs(m.first.grad[0, 1] - g) < 1e-15


def _expansion_pair(X, q):
    a = theory.Architecture(depth=1, p=1 - q)
    r = limit_kernels(a, X, mixture_method="expansion", info=(info := {}))
    from theory.input_layer import MixturePlan
    plan = MixturePlan(a, X, None, method="expansion", tol=1e-10)
    first, st = plan.tile(0, 2, 0, 2)
    return first.sigma[0, 1], first.grad[0, 1], st["err_s"][0, 1], st["err_g"][0, 1], info


@pytest.mark.parametrize("q", [0.5, 0.8])
def test_expansion_error_is_fifth_order_and_below_its_estimate(q):
    """Expansion (through T_4) vs the exact (mpmath, binomial) mixture for d0 = 64…512 at
    fixed cos θ = 0.25: the error falls like d0^-5 (log–log slope within [-5.6, -4.4]) and
    is below the reported estimate at every d0."""
    d0s = [64, 128, 256, 512]
    errs, ests = [], []
    for d0 in d0s:
        X = sign_pair(d0, int(0.625 * d0))          # cos θ = 2·0.625 − 1 = 0.25
        s, g, es, eg, _ = _expansion_pair(X, q)
        S, Gr = binomial_mixture(d0, int(0.625 * d0), q, dps=20)
        errs.append(max(abs(s - S), abs(g - Gr)))   # diagonal scale is q·|x|² = q
        ests.append(max(es, eg) * q)
    slope = np.polyfit(np.log(d0s), np.log(errs), 1)[0]
    assert -5.6 < slope < -4.4, (slope, errs)
    assert all(e <= est for e, est in zip(errs, ests)), (errs, ests)


def test_routes_auto_enumerate_expand_and_never_silently_sample():
    rng = np.random.default_rng(4)
    a = theory.Architecture(depth=2, p=0.5)
    # small d0: enumeration
    r = limit_result(a, rng.standard_normal((4, 6)))
    assert r.route == "enumerated" and r.error_estimate == 0.0 and r.n_masks == 64
    # large d0, delocalised: expansion, certified
    X = rng.standard_normal((6, 400))
    r = limit_result(a, X, tol=1e-6)
    assert r.route == "expansion" and r.error_estimate < 1e-6 and r.order == 4
    assert isinstance(r, LimitResult) and r.as_dict()["route"] == "expansion"
    # large d0, localised inputs (3 nonzero coordinates): the expansion cannot certify →
    # sampled, with a warning and the route in the report
    Xl = np.zeros((3, 40))
    Xl[:, :3] = rng.standard_normal((3, 3))
    with pytest.warns(MixtureSampledWarning, match="sampled"):
        r = limit_result(a, Xl, n_masks=512)
    assert r.route == "sampled" and r.stderr is not None and r.warnings
    # dense / variance / wide are labelled as such
    assert limit_result(a.with_(p=0.0), X).route == "dense"
    assert limit_result(a.with_(model="variance"), X).route == "dense"
    assert limit_result(a, X, input_layer="wide").route == "wide"
    info: dict = {}
    theory.limit_ntk(a, X, info=info, tol=1e-6)
    assert info["route"] == "expansion"
    # a tolerance the expansion cannot certify at this size, with a sampling fallback too
    # expensive to run: a clear error, not hours of Monte Carlo
    with pytest.raises(ValueError, match="cannot certify"):
        theory.limit_ntk(a, rng.standard_normal((40, 900)), tol=1e-14)


def test_expansion_agrees_with_enumeration_at_d0_16_within_its_estimate():
    """Gaussian inputs, d0 = 16: enumeration (exact) vs the expansion; where the
    expansion claims an error estimate, the true layer-1 error is below it."""
    X = np.random.default_rng(5).standard_normal((5, 16))
    from theory.input_layer import MixturePlan
    for act in ["relu", "erf"]:
        a = theory.Architecture(depth=1, p=0.3, activation=act)
        ex = layer1_mixture(theory.NUMPY, a, X, method="exact").first
        plan = MixturePlan(a, X, None, method="expansion", tol=1e-10)
        first, st = plan.tile(0, 5, 0, 5)
        scale = np.sqrt(np.outer(np.diag(ex.sigma), np.diag(ex.sigma)))
        scale_g = np.sqrt(np.abs(np.outer(np.diag(ex.grad), np.diag(ex.grad))))
        assert np.all(np.abs(first.sigma - ex.sigma) / scale <= st["err_s"] + 1e-14)
        assert np.all(np.abs(first.grad - ex.grad) / scale_g <= st["err_g"] + 1e-14)


def test_sampled_route_agrees_with_expansion_within_stderr():
    """d0 = 300, p = 0.9: Monte Carlo over 4096 masks vs the expansion (its estimate is far
    below the Monte Carlo error here);
    two-sided z-test per entry, family-wise false alarm 1e-6. Control: a prediction off by
    3 % is rejected by the same test (the mixture−wide gap itself, ~1e-3 here, is below
    this test's power)."""
    X = np.random.default_rng(6).standard_normal((3, 300))
    X[0, :150] *= 3.0                      # make the mixture differ visibly from wide
    a = theory.Architecture(depth=1, p=0.9)
    from theory.input_layer import MixturePlan
    ex = MixturePlan(a, X, None, method="expansion", tol=1e-8)
    fe, ste = ex.tile(0, 3, 0, 3)
    sa = layer1_mixture(theory.NUMPY, a, X, method="sampled", n_masks=4096, seed=3)
    iu = np.triu_indices(3, 1)
    z = ((sa.first.sigma - fe.sigma) / sa.stderr_sigma)[iu]
    zg = ((sa.first.grad - fe.grad) / sa.stderr_grad)[iu]
    crit = z_critical(1e-6, m=2 * len(z))
    assert np.all(np.abs(z) < crit) and np.all(np.abs(zg) < crit), (z, zg)
    # control: a prediction off by 3 % of the kernel scale sqrt(K(x,x)K(x',x')) is rejected
    scale = np.sqrt(np.outer(np.diag(fe.sigma), np.diag(fe.sigma)))
    wrong = fe.sigma + 0.03 * scale
    assert np.all(np.abs(((sa.first.sigma - wrong) / sa.stderr_sigma)[iu]) > crit)


@pytest.mark.parametrize("act", ["relu", "relu2"])
def test_order4_terms_extend_the_trivariate_order2_terms(act):
    """The univariate (homogeneous) derivation of T_0..T_4 reproduces T_0, T_1, T_2 of the
    independent trivariate sympy derivation (expansion_tile) to rounding."""
    from theory.recursion import pair_angles, unit_rows
    X = np.random.default_rng(8).standard_normal((2, 50))
    X[1] += 0.7 * X[0]
    _, U, _ = unit_rows(X)
    P = {r: np.sum(U ** r, axis=1) for r in range(1, 11)}
    G = {(r, s): (U[:1] ** r) @ (U[1:] ** s).T for r in range(1, 10) for s in range(1, 11 - r)}
    th, ph = pair_angles(U[:1], U[1:], cos=G[(1, 1)])
    P1, P2 = {r: p[:1] for r, p in P.items()}, {r: p[1:] for r, p in P.items()}
    a = theory.get_activation(act)
    o2 = me.expansion_tile(a, 1.3, 0.6, P1, P2, G, th, ph)
    o4 = me.expansion_tile3(a, 1.3, 0.6, P1, P2, G, th, ph)
    for k in ("F", "H"):
        for t in "012":
            ref = float(o2[k + t][0, 0])
            assert abs(float(o4[k + t][0, 0]) - ref) <= 1e-13 * abs(float(o2[k + "0"][0, 0])), (k, t)
        # the majorant bounds its term, and the orders shrink (d0 = 50, delocalised)
        for t in "1234":
            assert abs(float(o4[k + t][0, 0])) <= float(o4[k + "M" + t][0, 0]) * (1 + 1e-12)
        assert float(o4[k + "M4"][0, 0]) < float(o4[k + "M3"][0, 0]) < float(o4[k + "M2"][0, 0])


# worst cases at MNIST size: (u, v, counts) of grouped inputs (me.grouped_inputs)
WORST_PAIRS = {
    "near-parallel": ([1.0, 0.5, -0.8], [1.05, 0.45, -0.8], [300, 284, 200]),
    "antiparallel": ([1.0, 0.5, -0.8], [-0.9, -0.55, 0.8], [300, 284, 200]),
    "localised": ([8.0, 0.3, -0.2], [5.0, -0.3, 0.4], [4, 500, 280]),
    "heavy-tailed": ([10.0, 3.0, 1.0], [-4.0, 3.0, 1.5], [8, 76, 700]),
    "orthogonal": ([1.0, 1.0], [1.0, -1.0], [392, 392]),
}


@pytest.mark.parametrize("q", [0.3, 0.8])
def test_estimate_bounds_the_error_on_worst_case_pairs_at_d0_784(q):
    """Grouped inputs at d0 = 784 (exact mixture by group counts, float64): wherever the
    expansion certifies an entry (``"auto"`` with tol = 0.999, so every finite estimate
    counts; the rest are sampled), its true error is below the reported estimate. Teeth:
    the worst error/estimate ratio is above 0.01, so an estimate 100× too small fails."""
    from theory.input_layer import MixturePlan
    act = theory.get_activation("relu")
    a = theory.Architecture(depth=1, p=1 - q)
    ratios = []
    for name, (u, v, cnt) in WORST_PAIRS.items():
        X = me.grouped_inputs(u, v, cnt)
        plan = MixturePlan(a, X, None, method="auto", tol=0.999, n_masks=256)
        first, st = plan.tile(0, 2, 0, 2)
        S, Gr, dropped = me.grouped_mixture(u, v, cnt, q, act, width=10.0)
        scale_s = np.sqrt(first.sigma[0, 0] * first.sigma[1, 1])
        scale_g = np.sqrt(first.grad[0, 0] * first.grad[1, 1])
        assert dropped < 1e-15
        for val, ref, est, scale in ((first.sigma[0, 1], S, st["err_s"][0, 1], scale_s),
                                     (first.grad[0, 1], Gr, st["err_g"][0, 1], scale_g)):
            err = abs(val - ref) / scale
            if np.isfinite(est) and est > 0:   # est = 0: not certified, sampled instead
                assert err <= est + 1e-15, (name, err, est)
                ratios.append(err / est)
    assert len(ratios) >= 2 and max(ratios) > 0.01, ratios


def test_symbolic_expansion_terms_match_finite_differences():
    """T_1 of the compiled expansion = ½ Σ F_ij κ_ij with F_ij by central differences."""
    act = theory.get_activation("relu")
    f, _ = me._compiled("arccos", 1)
    A, B, C = 0.9, 0.6, 0.3
    k2 = dict(zip(me.IDX2, [0.01, 0.004, 0.003, 0.02, 0.002, 0.012]))

    def F(x):
        a, b, c = x
        th = math.acos(c / math.sqrt(a * b))
        return (math.sqrt(a * b - c * c) + (math.pi - th) * c) / math.pi
    h = 1e-4
    x0 = np.array([A, B, C])
    T1 = 0.0
    for i in range(3):
        for j in range(3):
            ei, ej = np.eye(3)[i] * h, np.eye(3)[j] * h
            d = (F(x0 + ei + ej) - F(x0 + ei - ej) - F(x0 - ei + ej) + F(x0 - ei - ej)) / (4 * h * h)
            T1 += 0.5 * d * k2[tuple(sorted((i, j)))]
    s = math.sqrt(A * B - C * C)
    out = f(1.0, A, B, C, s, math.acos(C / math.sqrt(A * B)), *[k2[c] for c in me.IDX2],
            *[0.0] * 10)
    assert abs(out[0] - F(x0)) < 1e-15
    assert abs(out[1] - T1) < 1e-7 * abs(T1)


# ----------------------------------------------------------------- kernel regression
def test_regression_interpolates_and_matches_solve():
    rng = np.random.default_rng(7)
    X, Xs = rng.standard_normal((30, 4)), rng.standard_normal((7, 4))
    Y = rng.standard_normal((30, 2))
    a = theory.Architecture(depth=2)
    K, Ks = theory.limit_ntk(a, X, "wide"), theory.limit_ntk(a, Xs, "wide", X2=X)
    P = kernel_regression(K, Y, Ks)
    np.testing.assert_allclose(P, Ks @ np.linalg.solve(K, Y), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(kernel_regression(K, Y, K), Y, atol=1e-8)   # interpolation
    np.testing.assert_allclose(ntk_regression(a, X, Y, Xs, input_layer="wide"), P, rtol=1e-12)
    # finite time: t → ∞ approaches the infinite-time predictor; t = 0 gives 0
    f = fit(K, Y, eig=True)
    np.testing.assert_allclose(predict(f, Ks, time=1e6), P, rtol=1e-6, atol=1e-9)
    assert np.all(predict(f, Ks, time=0.0) == 0)
    # a scalar factor c on Θ: infinite time unchanged, finite time = learning rate × c
    np.testing.assert_allclose(kernel_regression(0.125 * K, Y, 0.125 * Ks), P, rtol=1e-9)
    np.testing.assert_allclose(kernel_regression(0.125 * K, Y, 0.125 * Ks, time=3.0),
                               kernel_regression(K, Y, Ks, time=3.0, learning_rate=0.125),
                               rtol=1e-9, atol=1e-12)
    # small t: f_t ≈ η t Θ(X*, X) Y
    np.testing.assert_allclose(predict(f, Ks, time=1e-9), 1e-9 * Ks @ Y, rtol=1e-6)


def test_regression_bad_input():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((10, 3))
    K = theory.limit_ntk(theory.Architecture(depth=1), X, "wide")
    Y = rng.standard_normal(10)
    with pytest.raises(ValueError, match="NaN"):
        kernel_regression(K, np.where(np.arange(10) == 3, np.nan, Y), K)
    with pytest.raises(ValueError, match="rows"):
        kernel_regression(K, Y[:9], K)
    with pytest.raises(ValueError, match=r"K_test must have shape \(m, 10\)"):
        kernel_regression(K, Y, K[:, :9])
    with pytest.raises(ValueError, match="square"):
        kernel_regression(K[:9], Y, K)
    with pytest.raises(ValueError, match="jitter"):
        kernel_regression(K, Y, K, jitter=-1.0)
    with pytest.raises(ValueError, match="time"):
        kernel_regression(K, Y, K, time=-1.0)
    with pytest.raises(ValueError, match="X_test"):
        ntk_regression(theory.Architecture(depth=1), X, Y, np.ones((2, 4)))
    # duplicate training inputs: singular Gram → clear error with the condition number
    Xd = np.vstack([X, X[:1]])
    Kd = theory.limit_ntk(theory.Architecture(depth=1), Xd, "wide")
    with pytest.raises(IllConditionedKernelError, match="condition number"):
        kernel_regression(Kd, np.append(Y, 0.0), Kd)
    # … which jitter or a finite time resolves
    P = kernel_regression(Kd, np.append(Y, 0.0), Kd, jitter=1e-6)
    assert np.all(np.isfinite(P))
    assert np.all(np.isfinite(kernel_regression(Kd, np.append(Y, 0.0), Kd, time=10.0)))


@pytest.mark.parametrize("d0", [2, 8])
def test_mixture_exact_for_duplicated_inputs(d0):
    # duplicated rows have input angle 0 and so a layer-1 mixture angle of exactly 0; the
    # tiled route once took acos of a ratio of sums from two routes (1 - 1e-16) and lost
    # 8e-9 relative at d0 = 2. Against 30-digit mpmath: float64 rounding only.
    from theory.finite_width import sphere_pair
    X = sphere_pair(d0, 1.0, seed=0)          # two identical unit rows (the failing case)
    X = np.vstack([X, np.random.default_rng(d0).standard_normal(d0)])
    arch = theory.Architecture(depth=3, p=0.5)
    K = theory.limit_ntk(arch, X)
    M = np.array(theory.limit_ntk(arch, X, backend="mpmath", dps=30), dtype=float)
    assert np.max(np.abs(K - M)) <= 1e-13 * np.max(np.abs(M))


@pytest.mark.parametrize("n", [1, 2])
def test_shipped_generated_terms_match_the_derivation(n):
    """theory/_mixture_terms/relu{n}.py is generated code (python -m
    theory.mixture_expansion); its KEY must be the hash of the current derivation's source,
    else the engine silently rebuilds it with sympy (minutes)."""
    import os
    path = os.path.join(me.GENERATED_DIR, f"relu{n}.py")
    ns: dict = {}
    exec(compile(open(path, encoding="utf-8").read(), path, "exec"), ns)
    assert ns["KEY"] == me.derivation_key(), "run: python -m theory.mixture_expansion"
