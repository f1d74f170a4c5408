"""Unit tests for batched Monte Carlo (theory.batched, ``draws=K`` of the public API).

What theory.batched documents, tested here:

* draw ``k`` of a batch is the network ``draw_networks(...).network(k)``, whose kernels
  (by the single-draw code of theory.network, itself tested against a per-parameter
  Jacobian in tests/test_network.py) equal the batched ones to rounding;
* a batch is a pure function of (seed, arch, d0, width, K): independent of the memory
  budget (chunking), a prefix of any larger batch, and not equal to a single draw;
* masks and weights are redrawn per draw, with the right distribution.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.stats

from theory import Architecture, empirical_nngp, empirical_ntk, sample_kernels
from theory.batched import (
    _SEGMENT_ENTRIES, _layout, bytes_per_draw, draw_networks,
)
from theory.network import draw_network, network_kernels


def _inputs(n=3, d0=5, seed=11):
    return np.random.default_rng(seed).standard_normal((n, d0))


def _rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


ACTS = ["relu", "erf", "relu2", np.tanh]


# ----------------------------------------------------------------------------- correctness
@pytest.mark.parametrize("act", ACTS, ids=["relu", "erf", "relu2", "tanh_callable"])
@pytest.mark.parametrize("model, rescale, p, pruned", [
    ("mask", False, 0.3, "all"),
    ("mask", True, [0.5, 0.3, 0.0, 0.75], [0, 1, 3]),
    ("variance", False, [0.2, 0.5, 0.7, 0.1], "all"),
    ("variance", True, 0.4, "hidden"),
])
@pytest.mark.parametrize("depth", [0, 1, 3])
def test_batch_equals_its_single_networks(act, model, rescale, p, pruned, depth):
    """Every draw of the batched contraction equals the single-draw code on that draw's
    network (rel. 1e-12); NNGP and output too; per-matrix terms sum to the NTK."""
    if isinstance(p, list):
        p = p[:depth + 1]
        pruned = [h for h in pruned if h <= depth] if isinstance(pruned, list) else pruned
    arch = Architecture(depth=depth, activation=act, p=p, pruned=pruned, rescale=rescale,
                        model=model)
    X = _inputs()
    K = 7
    widths = [6, 5, 7][:depth]
    k = sample_kernels(arch, X, widths, seed=3, draws=K)
    assert k["ntk"].shape == (K, 3, 3) and k["nngp"].shape == (K, 3, 3)
    assert k["per_layer"].shape == (K, depth + 1, 3, 3) and k["output"].shape == (K, 3)
    assert all(v.dtype == np.float64 for v in k.values())
    nets = draw_networks(arch, 5, widths, seed=3, draws=K)
    for j in range(K):
        ref = network_kernels(nets.network(j), X)
        for key in ("per_layer", "ntk", "nngp", "output"):
            assert _rel_err(k[key][j], ref[key]) < 1e-12, (key, j)
    np.testing.assert_allclose(k["per_layer"].sum(axis=1), k["ntk"], rtol=1e-14, atol=0)
    assert np.array_equal(k["ntk"], np.swapaxes(k["ntk"], 1, 2))
    # the three public functions see the same networks
    assert np.array_equal(empirical_ntk(arch, X, widths, 3, draws=K), k["ntk"])
    assert np.array_equal(empirical_ntk(arch, X, widths, 3, per_layer=True, draws=K),
                          k["per_layer"])
    assert np.array_equal(empirical_nngp(arch, X, widths, 3, draws=K), k["nngp"])


def test_batch_structure_masks_and_weights_redrawn():
    arch = Architecture(depth=2, activation="relu", p=[0.5, 0.0, 0.75], pruned=[0, 2],
                        rescale=True)
    nets = draw_networks(arch, 4, [6, 3], seed=0, draws=40)
    assert [w.shape for w in nets.weights] == [(40, 6, 4), (40, 3, 6), (40, 1, 3)]
    assert nets.masks[1] is None
    for W, M in zip(nets.weights, nets.masks):
        if M is not None:
            assert set(np.unique(M)) <= {0.0, 1.0}
            assert np.array_equal(W != 0, M == 1)  # weights only where kept, never 0 there
            # masks differ between draws (a shared mask would make these all equal); the
            # 1x3 output mask has only 8 patterns, the 6x4 input mask 2^24
            distinct = len({M[k].tobytes() for k in range(40)})
            assert distinct == 40 if M[0].size >= 20 else distinct > 1
        if W[0].size >= 18:
            assert len({W[k].tobytes() for k in range(40)}) == 40
    assert nets.scales == tuple(np.sqrt([2.0, 1.0, 4.0]))
    assert nets.ntk_factors == (2.0, 1.0, 4.0)


def test_groups_and_segments_draw_different_numbers():
    """Every group and every segment has its own stream: the first draw of each group (and
    the two segments of a large draw) do not repeat each other's numbers position by
    position (a shared stream would repeat them all; chance coincidences of float32-valued
    normals are ~1e-7 per position)."""
    arch = Architecture(depth=1, activation="relu", p=0.3)
    lay = _layout(arch, 30, (100,))
    assert lay.group > 1
    nets = draw_networks(arch, 30, 100, seed=4, draws=3 * lay.group)
    W = nets.weights[0]
    for a, b in ((0, lay.group), (lay.group, 2 * lay.group)):
        assert np.mean((W[a] == W[b]) & (W[a] != 0)) < 1e-3
    big = draw_networks(Architecture(depth=1, activation="relu", pruned="none"), 700, 400,
                        seed=4, draws=1)
    flat = big.weights[0].reshape(-1)
    S = _SEGMENT_ENTRIES
    assert np.mean(flat[:S] == flat[S:2 * S]) < 1e-3


# ----------------------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("d0, width", [(5, 8), (16, 180), (7, 420)])
def test_independent_of_memory_budget_and_prefix(d0, width):
    """Same seed, budgets forcing one group per chunk vs the default: identical arrays.
    (5, 8): many draws per group; (16, 180): one draw per group, one segment;
    (7, 420): segments that cut through matrices."""
    arch = Architecture(depth=2, activation="erf", p=0.3)
    X = _inputs(n=4, d0=d0)
    lay = _layout(arch, d0, (width, width))
    K = 2 * lay.group + 3  # ends inside a group
    if width == 420:
        assert len(lay.segments) > 1 and any(len(s) > 1 for s in lay.segments)
    a = sample_kernels(arch, X, width, seed=9, draws=K)
    b = sample_kernels(arch, X, width, seed=9, draws=K, memory_budget=1)
    per = bytes_per_draw(lay.dims, 4, (True, True, True), lay.group)
    c = sample_kernels(arch, X, width, seed=9, draws=K,
                       memory_budget=per * lay.group * 2 + 1)  # two groups per chunk
    for key in a:
        assert np.array_equal(a[key], b[key]) and np.array_equal(a[key], c[key]), key
    # a batch is a prefix of every larger batch
    big = sample_kernels(arch, X, width, seed=9, draws=K + lay.group + 1, memory_budget=1)
    short = sample_kernels(arch, X, width, seed=9, draws=1)
    for key in a:
        assert np.array_equal(big[key][:K], a[key]), key
        assert np.array_equal(short[key], a[key][:1]), key


def test_seed_handling_and_not_a_single_draw():
    arch = Architecture(depth=2, activation="relu", p=0.3)
    X = _inputs(n=4, d0=8)
    a = empirical_ntk(arch, X, 32, seed=123, draws=6)
    assert np.array_equal(a, empirical_ntk(arch, X, 32, seed=123, draws=6))
    assert np.array_equal(a, empirical_ntk(arch, X, 32, seed=np.int64(123), draws=6))
    ss = np.random.SeedSequence(123)
    assert np.array_equal(a, empirical_ntk(arch, X, 32, seed=ss, draws=6))
    assert ss.n_children_spawned == 0  # neither read nor advanced
    child = np.random.SeedSequence(123).spawn(1)[0]
    assert not np.allclose(empirical_ntk(arch, X, 32, seed=child, draws=6), a)
    assert not np.allclose(empirical_ntk(arch, X, 32, seed=124, draws=6), a)
    # documented: draw k is not the single draw of the same seed (nor of small seeds)
    singles = [empirical_ntk(arch, X, 32, seed=s) for s in range(6)] + \
        [empirical_ntk(arch, X, 32, seed=123)]
    assert not any(np.allclose(a[k], s) for k in range(6) for s in singles)
    # ... and adding draws=... leaves the single-draw path untouched
    net = draw_network(arch, 8, 32, seed=123)
    assert np.array_equal(empirical_ntk(arch, X, 32, seed=123), network_kernels(net, X)["ntk"])


def test_pair_chunks(monkeypatch):
    """Input pairs contracted a few at a time (as for large n) give the same kernels."""
    import theory.batched as tb
    arch = Architecture(depth=2, activation="relu2", p=0.4, rescale=True)
    X = _inputs(n=6, d0=5)
    whole = sample_kernels(arch, X, 9, seed=8, draws=5)
    lay = _layout(arch, 5, (9, 9))
    monkeypatch.setattr(tb, "_PAIR_CHUNK_BYTES", 8 * 9 * lay.group * 4)  # 4 of 21 pairs
    assert tb._pair_chunk(21, 9, lay.group) == 4
    parts = sample_kernels(arch, X, 9, seed=8, draws=5)
    for key in whole:
        np.testing.assert_allclose(parts[key], whole[key], rtol=1e-13, atol=0)
    nets = draw_networks(arch, 5, 9, seed=8, draws=5)
    for j in range(5):
        ref = network_kernels(nets.network(j), X)
        assert _rel_err(parts["per_layer"][j], ref["per_layer"]) < 1e-12


def test_large_network_single_draw_matches_its_network():
    """One draw of a network bigger than a segment (several streams per matrix)."""
    arch = Architecture(depth=1, activation="relu", p=0.5, rescale=True)
    X = _inputs(n=3, d0=700)
    lay = _layout(arch, 700, (400,))
    assert lay.group == 1 and len(lay.segments) > 2
    k = sample_kernels(arch, X, 400, seed=1, draws=2)
    nets = draw_networks(arch, 700, 400, seed=1, draws=2)
    for j in range(2):
        ref = network_kernels(nets.network(j), X)
        assert _rel_err(k["per_layer"][j], ref["per_layer"]) < 1e-12
    assert 2 * _SEGMENT_ENTRIES < 700 * 400


# ----------------------------------------------------------------------------- statistics
def test_batched_weights_and_masks_distribution():
    """Mask keep frequency (binomial z) and weight normality (KS, moments) over a batch,
    each at false-alarm rate 1e-4."""
    arch = Architecture(depth=1, activation="relu", p=0.3)
    nets = draw_networks(arch, 40, 50, seed=5, draws=100)
    zc = scipy.stats.norm.isf(0.5e-4)
    M = nets.masks[0]
    N, q = M.size, 0.7
    assert abs((M.sum() - N * q) / np.sqrt(N * q * (1 - q))) < zc
    z = nets.weights[0][M == 1]
    assert scipy.stats.kstest(z, "norm").pvalue > 1e-4
    assert abs(z.mean() * np.sqrt(z.size)) < zc
    assert abs((np.mean(z ** 2) - 1) / np.sqrt(2 / z.size)) < zc


def _diag_z(q_exponent_offset: int, K: int = 3000):
    L, p, width, d0 = 2, 0.5, 64, 64
    q = 1 - p
    arch = Architecture(depth=L, activation="relu", p=p, pruned="all", rescale=False)
    x = np.random.default_rng(0).standard_normal((1, d0))
    x /= np.linalg.norm(x)
    vals = empirical_ntk(arch, x, width, seed=2024, draws=K)[:, 0, 0]
    predicted = q ** (L + 1 + q_exponent_offset) * (L + 1) * 1.0
    return (vals.mean() - predicted) / (vals.std(ddof=1) / np.sqrt(K))


def test_relu_diagonal_mean_is_exact_over_a_batch():
    """E[Θ_d(x,x)] = q^(L+1) (L+1) ||x||² at every finite width (ReLU, hard masks, no
    rescaling, all L+1 matrices pruned; docs/math.md#pruning; the events a neuron loses
    its whole fan-in are negligible, see tests/test_network.py). 3000 independent draws of
    one batch, width 64, L = 2, p = 0.5; accept |z| < norm.isf(0.5e-4) ≈ 3.89, two-sided
    false-alarm rate 1e-4. Negative control: the wrong exponent q^L (L+1) must reject."""
    z_crit = scipy.stats.norm.isf(0.5e-4)
    assert abs(_diag_z(0)) < z_crit
    assert abs(_diag_z(-1)) > z_crit


# ----------------------------------------------------------------------------- bad inputs
ARCH = Architecture(depth=2, activation="relu", p=0.5)
GOOD_X = np.ones((2, 3))


@pytest.mark.parametrize("draws", [0, -1, 2.5, 3.0, "3", True, [2]])
def test_bad_draws(draws):
    with pytest.raises(ValueError, match="draws"):
        empirical_ntk(ARCH, GOOD_X, 8, 0, draws=draws)
    with pytest.raises(ValueError, match="draws"):
        empirical_nngp(ARCH, GOOD_X, 8, 0, draws=draws)
    with pytest.raises(ValueError, match="draws"):
        sample_kernels(ARCH, GOOD_X, 8, 0, draws=draws)
    with pytest.raises(ValueError, match="draws"):
        draw_networks(ARCH, 3, 8, 0, draws)


@pytest.mark.parametrize("budget, exc", [(0, ValueError), (-5, ValueError), (1.5, TypeError),
                                         ("1e8", TypeError)])
def test_bad_memory_budget(budget, exc):
    with pytest.raises(exc, match="memory_budget"):
        empirical_ntk(ARCH, GOOD_X, 8, 0, draws=2, memory_budget=budget)


def test_memory_budget_needs_draws_and_other_checks_still_apply():
    with pytest.raises(ValueError, match="memory_budget"):
        empirical_ntk(ARCH, GOOD_X, 8, 0, memory_budget=10 ** 6)
    with pytest.raises(ValueError, match="memory_budget"):
        empirical_nngp(ARCH, GOOD_X, 8, 0, memory_budget=10 ** 6)
    with pytest.raises(ValueError, match="X"):
        empirical_ntk(ARCH, np.ones(3), 8, 0, draws=2)
    with pytest.raises(ValueError, match="width"):
        empirical_ntk(ARCH, GOOD_X, 0, 0, draws=2)
    with pytest.raises(TypeError, match="seed"):
        empirical_ntk(ARCH, GOOD_X, 8, 1.5, draws=2)
    with pytest.raises(TypeError, match="arch"):
        empirical_ntk("relu", GOOD_X, 8, 0, draws=2)
    nets = draw_networks(ARCH, 3, 8, 0, 2)
    with pytest.raises(ValueError, match="k must be"):
        nets.network(2)


def test_kept_buffers_do_not_change_results():
    """batched_kernels reuses the last chunk's weight/mask buffers across calls: repeated,
    interleaved (other shape, other seed) and released calls give identical arrays."""
    from theory.batched import release_buffers
    arch = Architecture(depth=2, activation="relu", p=0.4)
    X = _inputs(n=3, d0=6)
    a = empirical_ntk(arch, X, 9, 5, draws=30)
    assert np.array_equal(empirical_ntk(arch, X, 9, 5, draws=30), a)
    empirical_ntk(arch, X, 9, 6, draws=30)  # same shapes, other draws into the buffers
    empirical_ntk(arch, X, 13, 5, draws=7)  # other shapes replace them
    assert np.array_equal(empirical_ntk(arch, X, 9, 5, draws=30), a)
    release_buffers()
    assert np.array_equal(empirical_ntk(arch, X, 9, 5, draws=30), a)


# ----------------------------------------------------------------------------- drawing threads
@pytest.mark.parametrize("d0, width, K", [
    (32, 512, 3),    # one network of 3 segments per draw, drawn one group at a time
    (16, 48, 400),   # many small groups (one segment each) per chunk
])
def test_draw_threads_do_not_change_bits(monkeypatch, d0, width, K):
    """Segments are drawn concurrently on ``draw_threads()`` threads; each has its own
    stream and its own entries, so 1, 2 and 5 threads give the same bits (also through
    the public API, where THEORY_DRAW_THREADS picks the count)."""
    import theory.batched as B
    arch = Architecture(depth=2, activation="relu", p=0.3, pruned="all")
    lay = B._layout(arch, d0, (width, width))
    n_groups = -(-K // lay.group)
    assert n_groups * lay.group * sum(lay.sizes) >= B._PARALLEL_DRAW_ENTRIES  # threads used
    ss = np.random.SeedSequence(21)
    ref = B._draw_groups(ss, lay, 0, n_groups, threads=1)
    for threads in (2, 5):
        W, M = B._draw_groups(ss, lay, 0, n_groups, threads=threads)
        assert all(np.array_equal(a, b) for a, b in zip(W, ref[0]))
        assert all(np.array_equal(a, b) for a, b in zip(M, ref[1]))
    X = _inputs(n=3, d0=d0)
    out = {}
    for env in ("1", "2"):
        monkeypatch.setenv("THEORY_DRAW_THREADS", env)
        out[env] = empirical_ntk(arch, X, width, 21, draws=K)
    assert np.array_equal(out["1"], out["2"])


def test_draw_threads_setting(monkeypatch):
    import theory.batched as B
    monkeypatch.delenv("THEORY_DRAW_THREADS", raising=False)
    import os
    assert B.draw_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("THEORY_DRAW_THREADS", "3")
    assert B.draw_threads() == 3
    monkeypatch.setattr(B, "DRAW_THREADS", 1)  # the module setting wins over the variable
    assert B.draw_threads() == 1
    monkeypatch.setattr(B, "DRAW_THREADS", None)
    for bad in ("0", "two", "1.5"):
        monkeypatch.setenv("THEORY_DRAW_THREADS", bad)
        with pytest.raises(ValueError, match="THEORY_DRAW_THREADS"):
            B.draw_threads()
    monkeypatch.setattr(B, "DRAW_THREADS", 0)
    with pytest.raises(ValueError, match="DRAW_THREADS"):
        B.draw_threads()


def _draw_in_child(conn) -> None:
    import theory.batched as B
    arch = Architecture(depth=2, activation="relu", p=0.3, pruned="all")
    lay = B._layout(arch, 32, (512, 512))
    W, _ = B._draw_groups(np.random.SeedSequence(3), lay, 0, 1, threads=2)
    conn.send(float(W[1].sum()))
    conn.close()


def test_forked_child_draws_on_its_own_pool():
    """A forked process (sweep workers) inherits the drawing pool object but not its
    threads; it must start its own instead of waiting forever on the parent's."""
    import multiprocessing as mp
    import theory.batched as B
    arch = Architecture(depth=2, activation="relu", p=0.3, pruned="all")
    lay = B._layout(arch, 32, (512, 512))
    W, _ = B._draw_groups(np.random.SeedSequence(3), lay, 0, 1, threads=2)  # pool is up
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_draw_in_child, args=(child,))
    proc.start()
    assert parent.poll(60), "the forked child did not finish drawing within 60 s"
    assert parent.recv() == float(W[1].sum())
    proc.join(10)


def test_interrupted_draw_leaves_no_thread_writing(monkeypatch):
    """An exception in the calling thread's share of a threaded draw (a KeyboardInterrupt,
    say) stops the other drawing threads and waits for them: the kept buffers are reused
    by the next call, which must give the uninterrupted bits."""
    import theory.batched as B
    import theory.fastdraw as FD
    arch = Architecture(depth=2, activation="relu", p=0.3, pruned="all")
    X = _inputs(n=3, d0=32)
    monkeypatch.setattr(B, "DRAW_THREADS", 2)
    ref = empirical_ntk(arch, X, 1024, 8, draws=1)  # 9 segments, drawn on 2 threads
    real = FD.fill_groups
    main = threading.get_ident()
    calls, active, lock = [], [0], threading.Lock()

    def interrupted(*args):
        if threading.get_ident() == main:
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real(*args)
        with lock:
            active[0] += 1
        try:
            return real(*args)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(FD, "fill_groups", interrupted)
    with pytest.raises(KeyboardInterrupt):
        empirical_ntk(arch, X, 1024, 8, draws=1)
    assert active[0] == 0  # no other thread is still writing into the buffers
    monkeypatch.setattr(FD, "fill_groups", real)
    assert np.array_equal(empirical_ntk(arch, X, 1024, 8, draws=1), ref)


# ----------------------------------------------------------------------------- compiled contraction
_COMPILED_CASES = [
    (Architecture(depth=3, activation="relu", p=0.3, pruned="all"), 24, 3),
    (Architecture(depth=2, activation="erf", p=0.6, model="variance"), 17, 5),
    (Architecture(depth=2, activation="tanh", p=0.5, pruned="hidden", rescale=True), 12, 1),
    (Architecture(depth=1, activation="relu2", p=[0.2, 0.7]), 30, 2),
    (Architecture(depth=2, activation="relu", p=0.4, pruned="all"), 9, 16),
]


@pytest.mark.parametrize("arch, width, n", _COMPILED_CASES)
def test_compiled_contraction_equals_the_numpy_path(arch, width, n):
    """Small networks are contracted by theory.fastcontract's kernels; on the same drawn
    networks they must give what the numpy/BLAS path (_batched_trace and
    _batched_contributions) gives, to rounding: masked and unmasked matrices, both
    models, rescaling, several activations, 1 to MAX_INPUTS inputs."""
    import theory.batched as B
    from theory.backends import NUMPY
    X = _inputs(n=n, d0=7)
    widths = B._resolve_widths(arch, width)
    lay = B._layout(arch, 7, widths)
    assert lay.group >= 2 and n <= B.FC.MAX_INPUTS  # the compiled path's domain
    nets = draw_networks(arch, 7, width, seed=3, draws=lay.group + 2)
    W, M = list(nets.weights), list(nets.masks)
    cs = float(arch.act.c_sigma(NUMPY))
    G, Bt, out = B._batched_trace(W, nets.scales, arch.act, cs, widths,
                                  np.ascontiguousarray(X.T), True)
    ref = B._batched_contributions(W, M, nets.ntk_factors, G, Bt, n, lay.group)
    C = nets.draws
    nngp, output, per = np.empty((C, n, n)), np.empty((C, n)), np.empty(ref.shape)
    B._CompiledContraction.of(arch, lay)(W, X, True, nngp, output, per)
    scale = np.abs(ref).max()
    assert np.abs(per - ref).max() <= 1e-13 * scale
    assert np.abs(output - out).max() <= 1e-13 * np.abs(out).max()
    gl = G[-1]
    nngp_ref = np.matmul(np.swapaxes(gl, -1, -2), gl)
    assert np.abs(nngp - nngp_ref).max() <= 1e-13 * np.abs(nngp_ref).max()
    # and the public API takes that path and returns the same arrays
    res = sample_kernels(arch, X, width, seed=3, draws=C)
    assert np.array_equal(res["per_layer"], per) and np.array_equal(res["nngp"], nngp)


def test_compiled_path_bits_do_not_depend_on_threads_or_budget(monkeypatch):
    """Whole chunks of small networks are drawn and contracted on several threads at
    once; each draw is contracted on its own, so 1 or 3 threads and any budget give the
    same bits (and more inputs than MAX_INPUTS fall back to the numpy path)."""
    import theory.batched as B
    arch = Architecture(depth=2, activation="relu", p=0.3, pruned="all")
    X = _inputs(n=4, d0=20)
    lay = B._layout(arch, 20, (40, 40))
    K = 7 * lay.group + 5
    seen = []
    real = B._CompiledContraction.__call__

    def spy(*args):
        seen.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr(B._CompiledContraction, "__call__", spy)
    out = {}
    for threads, budget in ((1, None), (3, None), (3, 1), (2, 3 * 2 ** 20)):
        monkeypatch.setattr(B, "DRAW_THREADS", threads)
        out[(threads, budget)] = empirical_ntk(arch, X, 40, 4, draws=K, memory_budget=budget)
    ref = out[(1, None)]
    assert all(np.array_equal(v, ref) for v in out.values())
    assert len(set(seen)) >= 2  # chunks did run on more than one thread
    Xbig = _inputs(n=B.FC.MAX_INPUTS + 1, d0=20)
    seen.clear()
    empirical_ntk(arch, Xbig, 40, 4, draws=3)
    assert not seen  # too many inputs: the pair-stacked BLAS contraction
