"""Unit tests for the compiled batched sampler (theory.fastdraw) and for what
theory.batched documents about its streams.

* the inline SFC64 is numpy's SFC64, word for word, and the normals are numpy's own
  float64 ziggurat ``Generator(SFC64(ss)).standard_normal()``, value for value;
* the keep probability is exactly the float64 ``q`` (exact rational check of the
  thresholds, and an exact binomial test on 2^24 draws whose negative control, the
  quantised ``⌊256 q⌋/256``, must reject);
* a kept weight is never 0 and a pruned one always is; ``q = 1`` and unmasked pieces;
* a batch's flat weights are those normals of its segment's stream.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.stats

from theory import Architecture
from theory import fastdraw as FD
from theory.batched import _TAG_BATCH, _layout, draw_networks


def _ss(*key):
    return np.random.SeedSequence(entropy=1234, spawn_key=key)


def test_sfc64_words_are_numpys():
    ss = _ss(1)
    st = FD.sfc64_state(ss)
    a = FD.raw_words(st, 10_000)
    b = FD.raw_words(st, 7)  # the state advances in place
    ref = np.random.SFC64(ss).random_raw(10_007)
    assert np.array_equal(np.concatenate([a, b]), ref)


def test_normals_are_numpys_ziggurat():
    """2·10^6 normals (about 14 000 of them through the wedge/tail slow path)."""
    ss = _ss(2)
    z = FD.normals(FD.sfc64_state(ss), 2_000_000)
    ref = np.random.Generator(np.random.SFC64(ss)).standard_normal(2_000_000)
    assert np.array_equal(z, ref)
    assert z.dtype == np.float64 and np.abs(z).max() > 4.5  # the tail is reached


@pytest.mark.parametrize("q", [0.7, 0.5, 0.3, 1 / 3, 2.0 ** -30, 1 - 2.0 ** -40,
                               (179 + 0.37) / 256])
def test_keep_thresholds_are_exact(q):
    mode, t, T, F = FD.keep_thresholds(q)
    assert mode == FD.MODE_MASKED
    assert 0 <= t < 256 and 0 <= T < 2 ** 64 and 0 <= F < 2 ** 64
    # P(kept) = t/256 + (1/256) (T/2^64 + F/2^128), exactly
    assert Fraction(t, 256) + Fraction(T, 2 ** 72) + Fraction(F, 2 ** 136) == Fraction(q)


def test_keep_thresholds_edges():
    assert FD.keep_thresholds(1.0)[0] == FD.MODE_ALL_KEPT
    assert FD.keep_thresholds(0.0) == (FD.MODE_MASKED, 0, 0, 0)
    with pytest.raises(ValueError, match="keep probability"):
        FD.keep_thresholds(1.5)


def test_keep_rate_exact_binomial_and_quantised_control():
    """2^24 mask entries at q with 256 q = 179.37 (a tie, byte = 179, happens 65 000
    times and is resolved by the extra words): the exact binomial test against q holds
    at alpha = 1e-6, the same test against the quantised ⌊256 q⌋/256 (and against the
    ties-always-kept ⌈256 q⌉/256) rejects."""
    q = (179 + 0.37) / 256
    E = 1 << 24
    W = np.empty(E)
    M = np.empty(E)
    FD.fill_piece(FD.sfc64_state(_ss(3)), W, M, *FD.keep_thresholds(q))
    k = int(M.sum())
    assert scipy.stats.binomtest(k, E, q).pvalue > 1e-6
    assert scipy.stats.binomtest(k, E, 179 / 256).pvalue < 1e-6
    assert scipy.stats.binomtest(k, E, 180 / 256).pvalue < 1e-6
    assert set(np.unique(M)) == {0.0, 1.0}
    assert np.array_equal(W != 0, M == 1)  # kept weights are never 0, pruned ones are
    z = W[M == 1]
    assert abs(z.mean()) < 5.3 * np.sqrt(1 / z.size)  # N(0, 1) mean, alpha ~1e-7
    assert abs(z.var() - 1) < 5.3 * np.sqrt(2 / z.size)


def test_masked_piece_stream_layout():
    """A masked piece: its mask bytes come first (8 entries per word, low byte first),
    then the kept entries' ziggurat normals in order (q = 0.5: no tie words)."""
    ss = _ss(4)
    n = 1000
    W = np.empty(n)
    M = np.empty(n)
    FD.fill_piece(FD.sfc64_state(ss), W, M, *FD.keep_thresholds(0.5))
    words = np.random.SFC64(ss).random_raw(n // 8)
    bytes_ = words.view(np.uint8)  # little-endian: low byte first
    assert np.array_equal(M, (bytes_ < 128).astype(float))
    bg = np.random.SFC64(ss)
    bg.random_raw(n // 8)
    z = np.random.Generator(bg).standard_normal(int(M.sum()))
    assert np.array_equal(W[M == 1], z)
    assert np.all(W[M == 0] == 0)


def test_all_kept_and_dense_pieces():
    ss = _ss(5)
    W = np.empty(300)
    M = np.zeros(300)
    FD.fill_piece(FD.sfc64_state(ss), W, M, *FD.keep_thresholds(1.0))
    assert np.all(M == 1)
    ref = np.random.Generator(np.random.SFC64(ss)).standard_normal(300)
    assert np.array_equal(W, ref)
    W2 = np.empty(300)
    FD.fill_piece(FD.sfc64_state(ss), W2, None, FD.MODE_DENSE, 0, 0, 0)
    assert np.array_equal(W2, ref)


def test_batch_weights_are_the_segment_streams_normals():
    """An unmasked batch: the flat weights of group g, segment s are exactly
    ``Generator(SFC64(SeedSequence(seed, spawn_key=(TAG, g, s)))).standard_normal``."""
    arch = Architecture(depth=1, activation="relu", pruned="none")
    lay = _layout(arch, 30, (100,))
    assert len(lay.segments) == 1 and lay.group > 1
    nets = draw_networks(arch, 30, 100, seed=9, draws=2 * lay.group)
    ss = np.random.SeedSequence(9)
    for g in range(2):
        sl = slice(g * lay.group, (g + 1) * lay.group)
        flat = np.concatenate([w[sl].reshape(-1) for w in nets.weights])
        kid = np.random.SeedSequence(entropy=ss.entropy, spawn_key=(_TAG_BATCH, g, 0))
        ref = np.random.Generator(np.random.SFC64(kid)).standard_normal(flat.size)
        assert np.array_equal(flat, ref)


@pytest.mark.parametrize("width, depth", [(24, 2), (300, 2)])  # one segment; several
def test_fill_groups_without_masks_draws_the_same_weights(width, depth):
    """``fill_groups`` over all streams of a chunk equals the per-stream calls of the
    threaded draw, and with ``M = None`` (the compiled path) it writes the same weights
    and no mask; the masks written otherwise are exactly ``W ≠ 0``."""
    import theory.batched as B
    arch = Architecture(depth=depth, activation="relu", p=0.4, pruned="all")
    lay = _layout(arch, 20, (width,) * depth)
    n_groups = 3
    ss = np.random.SeedSequence(11)
    W1, M1 = B._draw_groups(ss, lay, 1, n_groups, threads=1)
    W2, M2 = B._draw_groups(ss, lay, 1, n_groups, threads=2)
    W3, M3 = B._draw_groups(ss, lay, 1, n_groups, threads=1, masks=False)
    assert all(m is None for m in M3)
    for h in range(len(W1)):
        assert np.array_equal(W1[h], W2[h]) and np.array_equal(W1[h], W3[h])
        assert np.array_equal(M1[h], M2[h])
        assert np.array_equal(M1[h], (W1[h] != 0).astype(float))
    kept = np.mean([np.mean(m) for m in M1])
    assert 0.5 < kept < 0.7  # q = 0.6: the masks were really drawn
