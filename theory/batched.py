"""Batched Monte Carlo: ``K`` independent finite networks drawn and contracted together.

The network, the two pruning models and the NTK contraction are those of
:mod:`theory.network` (docs/math.md#network, docs/math.md#pruning); this module evaluates
``K`` of them at once: the weights of matrix ``h`` of all draws of a chunk are one stacked
``(C, d_{h+1}, d_h)`` array, and every product is a batched ``numpy.matmul`` over that
stack (one BLAS call per draw issued from C, no Python loop over draws), or, for small
networks, a compiled loop over the draws (:mod:`theory.fastcontract`). The public entry
points are :func:`theory.empirical_ntk`, :func:`theory.empirical_nngp` and
:func:`theory.sample_kernels` with ``draws=K``; they return a leading axis of length ``K``.

Reproducibility (what a batch is)
    A batch is a pure function of ``(seed, arch, d0, width)`` and the draw index ``k``:
    draws are laid out in *groups* of ``D = max(1, ⌊2^17 / E⌋)`` consecutive draws for a
    network with ``E`` weight entries (so a group of small networks holds at most ``2^17``
    entries), and the flat entries of a group (matrix after matrix, each as
    ``(D, d_{h+1}, d_h)``) are cut into segments of ``2^17`` entries, segment ``s`` of group
    ``g`` drawn from its own SFC64 stream, numpy's ``SFC64(SeedSequence(entropy=
    seed.entropy, spawn_key=seed.spawn_key + (_TAG_BATCH, g, s)))``. Hence

    * ``draws=K`` returns the first ``K`` networks of that sequence: it is a prefix of
      ``draws=K'`` for every ``K' ≥ K`` (the last group is always drawn whole);
    * the result does not depend on ``memory_budget`` (chunks are whole groups and the
      contraction of one draw never mixes with another's), nor on the caller's
      ``SeedSequence`` spawn counter (it is neither read nor advanced);
    * draw ``k`` of a batch is **not** equal to any single draw
      ``empirical_ntk(arch, X, width, seed=…)``: several draws share one random stream,
      which is what makes drawing small networks fast, and the single-draw path keeps its
      own (PCG64, Box–Muller) sampler and bits. Draw ``k``'s network is
      ``draw_networks(arch, d0, width, seed, K).network(k)`` (:func:`draw_networks`), and
      ``theory.network.network_kernels`` of that network equals draw ``k`` to rounding
      (``tests/test_batched.py``).

    Within a segment, piece after piece (a piece = the part of one matrix's flat range in
    the segment), the compiled kernel :func:`theory.fastdraw.fill_piece` draws a masked
    piece's mask bytes (exact keep probability) and then numpy's float64 ziggurat normal
    for every kept entry in order, an unmasked piece's normals directly
    (:mod:`theory.fastdraw`: why a compiler, what exactly is drawn, and the tests that tie
    it to numpy's own SFC64 and ``standard_normal``).

Two ways to compute a batch (chosen from the layout and ``n`` only)
    *Small networks* (``D ≥ 2``, i.e. at most ``2^16`` weights, and at most
    ``theory.fastcontract.MAX_INPUTS`` inputs): whole chunks are drawn *and* contracted
    by one thread each, on :func:`draw_threads` threads at once: all the chunk's streams
    in one compiled call (:func:`theory.fastdraw.fill_groups`), without masks (a hard
    mask is ``W ≠ 0``: a kept weight is never 0), then the compiled kernels of
    :mod:`theory.fastcontract`, for ReLU and ReLU² in one call with the activation
    compiled too (:class:`_CompiledContraction`). Both release the GIL, so the threads
    run in parallel; each return to Python between kernels takes the GIL back, and with
    ~15 of them per chunk two threads were no faster than one at width 32 (measured).
    *Larger networks or more inputs*: one chunk at a time, its segments drawn on the
    threads at once, then contracted by batched BLAS GEMMs (:func:`_batched_trace`,
    :func:`_batched_contributions`). Either way each draw is computed on its own in a
    fixed order and each segment fills its own entries from its own stream, so the bits
    depend neither on ``draws``, ``memory_budget`` nor the thread count
    (``THEORY_DRAW_THREADS`` or ``theory.batched.DRAW_THREADS``; default every CPU the
    process may use; ``tests/test_batched.py``). The two contractions agree to rounding
    (tested), not bit for bit.

Memory
    A batch is computed in chunks of whole groups whose estimated peak working set
    (weights, masks — none for small networks —, forward/backward signals, contraction
    temporaries, see :func:`bytes_per_draw`) fits ``memory_budget`` bytes (default
    ``DEFAULT_MEMORY_BUDGET`` = 256 MiB; for small networks the budget is shared by the
    threads' chunks); within the budget a chunk is kept to about
    ``_FAST_CHUNK_BYTES`` = 4 MiB (per drawing thread for larger networks), which stays
    in cache and whose buffers are reused from chunk to chunk (measured faster than
    larger chunks). A chunk always holds at least one group, so a single network larger
    than the budget is still computed (one draw at a time). The returned arrays,
    ``K (L+3) n²`` floats, are not part of the budget. The weight and mask buffers of the
    last chunk shape stay allocated per thread after the call (at most one chunk per
    thread) and are reused by the next call with the same shapes;
    :func:`release_buffers` frees the calling thread's.
"""
from __future__ import annotations

import functools
import itertools
import numbers
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .architecture import Architecture
from .backends import NUMPY
from . import fastcontract as FC
from . import fastdraw as FD
from .network import (
    Network, SeedLike, WidthLike, _check_arch, _check_int, _check_seed, _check_X, _pairs,
    _resolve_widths, matrix_scales,
)

__all__ = ["NetworkBatch", "draw_networks", "batched_kernels", "bytes_per_draw",
           "DEFAULT_MEMORY_BUDGET", "check_draws", "release_buffers", "draw_threads",
           "DRAW_THREADS"]

DEFAULT_MEMORY_BUDGET = 256 * 2 ** 20  # bytes per chunk (estimated peak working set)
_TAG_BATCH = 0x4E544B42  # "NTKB": batch streams never coincide with single-draw streams
_SEGMENT_ENTRIES = 1 << 17  # entries per independently seeded segment (measured: 2^16…2^18
# cost the same per entry at width 4096; fewer, larger segments amortise the per-call
# overhead at small widths)
_PAIR_CHUNK_BYTES = 1 << 23  # cap on one (pairs, d) contraction temporary per group
_FAST_CHUNK_BYTES = 4 << 20  # preferred chunk size (stays in L3, buffers reused)
DRAW_THREADS: int | None = None  # threads drawing a chunk's segments; None: draw_threads()
_PARALLEL_DRAW_ENTRIES = 1 << 17  # below this a chunk is drawn on the calling thread (a
# hand-off to the pool costs tens of microseconds, a segment ~0.4 ms)


# ----------------------------------------------------------------------------- validation
def check_draws(draws: Any) -> int:
    """``draws`` as a Python int ``>= 1`` (``ValueError`` naming ``draws`` otherwise)."""
    if isinstance(draws, bool) or not isinstance(draws, numbers.Integral):
        raise ValueError(f"draws must be an integer >= 1 (number of independent networks), "
                         f"got {draws!r}")
    if draws < 1:
        raise ValueError(f"draws must be an integer >= 1 (number of independent networks), "
                         f"got {draws}")
    return int(draws)


def _check_budget(memory_budget: Any) -> int:
    if memory_budget is None:
        return DEFAULT_MEMORY_BUDGET
    return _check_int(memory_budget, "memory_budget (bytes)", 1)


# ----------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class _Layout:
    """Shapes, keep probabilities and the group/segment structure of a batch; a function
    of ``(arch, d0, widths)`` only."""

    dims: tuple[int, ...]
    q: tuple[float | None, ...]  # keep probability of a masked matrix, None if unmasked
    group: int  # D: draws per group
    segments: tuple[tuple[tuple[int, int, int], ...], ...]  # per segment: (h, start, stop)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(self.dims[h] * self.dims[h + 1] for h in range(len(self.dims) - 1))

    @functools.cached_property
    def plan(self) -> FD.GroupPlan:
        """The group's pieces and keep thresholds as arrays for the compiled drawing."""
        return FD.GroupPlan.of(self.segments, [self.group * s for s in self.sizes], self.q)


def _layout(arch: Architecture, d0: int, widths: tuple[int, ...]) -> _Layout:
    dims = (d0,) + widths + (1,)
    pruned = set(arch.pruned_matrices())
    q = tuple(float(arch.q_of(h)) if arch.model == "mask" and h in pruned else None
              for h in range(arch.n_matrices))
    sizes = [dims[h] * dims[h + 1] for h in range(arch.n_matrices)]
    E = sum(sizes)
    D = max(1, _SEGMENT_ENTRIES // E)
    # the group's flat range: matrix after matrix, each D * E_h entries
    offsets = np.concatenate([[0], np.cumsum([D * s for s in sizes])]).tolist()
    total = offsets[-1]
    segments = []
    for a in range(0, total, _SEGMENT_ENTRIES):
        b = min(total, a + _SEGMENT_ENTRIES)
        subs = []
        for h in range(len(sizes)):
            lo, hi = max(a, offsets[h]), min(b, offsets[h + 1])
            if lo < hi:
                subs.append((h, lo - offsets[h], hi - offsets[h]))
        segments.append(tuple(subs))
    return _Layout(dims=dims, q=q, group=D, segments=tuple(segments))


# ----------------------------------------------------------------------------- drawing
def _alloc(lay: _Layout, C: int, masks: bool = True
           ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    dims = lay.dims
    shapes = [(C, dims[h + 1], dims[h]) for h in range(len(dims) - 1)]
    W = [np.empty(s) for s in shapes]
    M = [np.empty(s) if q is not None and masks else None for s, q in zip(shapes, lay.q)]
    return W, M


def draw_threads() -> int:
    """Threads that draw the segments of a chunk: ``DRAW_THREADS`` if set, else the
    environment variable ``THEORY_DRAW_THREADS``, else the CPUs this process may run on.
    Segments have their own streams and disjoint outputs, so the result is bit-identical
    for every thread count (``tests/test_batched.py``); the compiled sampler releases the
    GIL. Sweeps over several processes set it to 1 in their workers."""
    n = DRAW_THREADS
    where = "theory.batched.DRAW_THREADS"
    if n is None and os.environ.get("THEORY_DRAW_THREADS", "").strip():
        where = "THEORY_DRAW_THREADS"
        raw = os.environ["THEORY_DRAW_THREADS"].strip()
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"{where} must be an integer >= 1, got {raw!r}") from None
    if n is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not on Linux
            return max(1, os.cpu_count() or 1)
    return _check_int(n, where, 1)


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _draw_pool(n: int) -> ThreadPoolExecutor:
    """A kept pool of ``n`` drawing threads (a fresh pool per chunk costs ~0.1 ms); one
    per size, never shut down while another call might be using it."""
    pool = _POOLS.get(n)
    if pool is None:
        pool = _POOLS[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="theory-draw")
    return pool


def _forget_pool() -> None:  # a forked child has the pool objects but not their threads
    _POOLS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _stream_states(ss: np.random.SeedSequence, lay: _Layout, g0: int, n_groups: int,
                   j0: int = 0, j1: int | None = None) -> np.ndarray:
    """SFC64 states ``(j1 - j0, 4)`` of streams ``j0 … j1 - 1`` of groups ``g0 …
    g0 + n_groups - 1`` (stream ``j`` = segment ``j mod S`` of group ``g0 + ⌊j / S⌋``):
    ``SFC64(SeedSequence(entropy, spawn_key + (_TAG_BATCH, g, s)))`` (module docstring)."""
    S = len(lay.segments)
    j1 = n_groups * S if j1 is None else j1
    out = np.empty((j1 - j0, 4), dtype=np.uint64)
    for j in range(j0, j1):
        kid = np.random.SeedSequence(entropy=ss.entropy,
                                     spawn_key=ss.spawn_key + (_TAG_BATCH, g0 + j // S, j % S),
                                     pool_size=ss.pool_size)
        out[j - j0] = FD.sfc64_state(kid)
    return out


_NO_MASK = np.empty(0)


def _draw_groups(ss: np.random.SeedSequence, lay: _Layout, g0: int, n_groups: int,
                 out: tuple[list[np.ndarray], list[np.ndarray | None]] | None = None,
                 threads: int | None = None, masks: bool = True
                 ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Weights ``(n_groups·D, d_{h+1}, d_h)`` (zero where pruned) and float64 masks of
    groups ``g0 … g0 + n_groups - 1``, written into ``out`` (buffers of at least that
    many draws, reused from chunk to chunk: fresh pages cost more than the drawing).
    ``masks=False``: no masks written (every mask returned is ``None``; a hard mask is
    ``W ≠ 0``), the same weights.

    The ``(group, segment)`` streams are drawn by ``threads`` (default
    :func:`draw_threads`) threads at once (:func:`_run_tasks`); each stream fills its own
    entries, so the bits do not depend on the split."""
    D = lay.group
    C = n_groups * D
    W, M = out if out is not None else _alloc(lay, C, masks)
    W = [w[:C] for w in W]
    W_flat = tuple(w.reshape(-1) for w in W)  # a group's piece is contiguous, so are groups
    if masks:
        M = [m[:C] if q is not None else None for m, q in zip(M, lay.q)]
        M_flat = tuple(m.reshape(-1) if m is not None else _NO_MASK for m in M)
    else:
        M, M_flat = [None] * len(W), None

    def draw(j: int) -> None:
        FD.fill_groups(_stream_states(ss, lay, g0, n_groups, j, j + 1), j, lay.plan,
                       W_flat, M_flat)

    n_streams = n_groups * len(lay.segments)
    n_threads = draw_threads() if threads is None else threads
    if C * sum(lay.sizes) < _PARALLEL_DRAW_ENTRIES:
        n_threads = 1
    if n_threads == 1:  # one compiled call for all the streams
        FD.fill_groups(_stream_states(ss, lay, g0, n_groups), 0, lay.plan, W_flat, M_flat)
    else:
        _run_tasks(draw, n_streams, n_threads)
    return W, M


def _run_tasks(task, n_tasks: int, threads: int) -> None:
    """``task(j)`` for ``j = 0 … n_tasks - 1`` on ``threads`` threads (the calling thread
    and kept pool threads), each taking the next ``j`` when it is free: the Python part
    of a task holds the GIL, so fixed shares finish unevenly (``itertools.count`` is
    atomic under the GIL). Tasks must write disjoint outputs and must not submit to the
    pool themselves. If the calling thread is interrupted (e.g. ``KeyboardInterrupt``),
    the other threads stop after their current task and are waited for, so that none
    still writes into buffers the next call reuses."""
    threads = min(threads, n_tasks)
    if threads < 2:
        for j in range(n_tasks):
            task(j)
        return
    take = itertools.count()
    stop = threading.Event()

    def run() -> None:
        for j in take:
            if j >= n_tasks or stop.is_set():
                return
            task(j)

    futures = [_draw_pool(threads - 1).submit(run) for _ in range(1, threads)]
    try:
        run()  # the calling thread works too
    except BaseException:
        stop.set()
        for f in futures:
            f.exception()
        raise
    for f in futures:
        f.result()


_BUFFERS = threading.local()


def _buffers(lay: _Layout, C: int, masks: bool = True
             ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Weight and mask buffers for chunks of ``C`` draws, kept per thread for the next call
    with the same shapes: fresh pages cost more than drawing into them (measured at width
    4096: 0.5 GB of first-touch page faults took longer than the draw itself). Every entry
    is overwritten before it is read, so reuse cannot change a result. ``masks=False``:
    no mask buffers (the compiled contraction reads a mask as ``W ≠ 0``)."""
    key = (lay.dims, tuple(q is not None and masks for q in lay.q), C)
    cached = getattr(_BUFFERS, "last", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    _BUFFERS.last = None  # drop the old buffers before allocating the new ones
    bufs = _alloc(lay, C, masks)
    _BUFFERS.last = (key, bufs)
    return bufs


def release_buffers() -> None:
    """Free the calling thread's kept weight and mask buffers (see :func:`_buffers`)."""
    _BUFFERS.last = None


@dataclass(frozen=True, eq=False)
class NetworkBatch:
    """``K`` draws of the finite network, stacked: ``weights[h]`` has shape
    ``(K, d_{h+1}, d_h)``, ``masks[h]`` likewise (or ``None``); ``scales``,
    ``ntk_factors`` and ``c_sigma`` as in :class:`theory.network.Network`."""

    arch: Architecture
    d0: int
    widths: tuple[int, ...]
    weights: tuple[np.ndarray, ...]
    masks: tuple[np.ndarray | None, ...]
    scales: tuple[float, ...]
    ntk_factors: tuple[float, ...]
    c_sigma: float

    @property
    def draws(self) -> int:
        return self.weights[0].shape[0]

    def network(self, k: int) -> Network:
        """Draw ``k`` as a single :class:`theory.network.Network` (views, no copy)."""
        k = _check_int(k, "k", 0)
        if k >= self.draws:
            raise ValueError(f"k must be < draws = {self.draws}, got {k}")
        return Network(arch=self.arch, d0=self.d0, widths=self.widths,
                       weights=tuple(w[k] for w in self.weights),
                       masks=tuple(m[k] if m is not None else None for m in self.masks),
                       scales=self.scales, ntk_factors=self.ntk_factors, c_sigma=self.c_sigma)


def draw_networks(arch: Architecture, d0: int, width: WidthLike, seed: SeedLike, draws: int
                  ) -> NetworkBatch:
    """The first ``draws`` networks of the batch sequence of ``(seed, arch, d0, width)``
    (module docstring), all in memory at once (no chunking)."""
    arch = _check_arch(arch)
    d0 = _check_int(d0, "d0", 1)
    widths = _resolve_widths(arch, width)
    ss = _check_seed(seed)
    K = check_draws(draws)
    lay = _layout(arch, d0, widths)
    n_groups = -(-K // lay.group)
    W, M = _draw_groups(ss, lay, 0, n_groups)
    scales, factors = matrix_scales(arch)
    return NetworkBatch(arch=arch, d0=d0, widths=widths, weights=tuple(w[:K] for w in W),
                        masks=tuple(m[:K] if m is not None else None for m in M),
                        scales=scales, ntk_factors=factors,
                        c_sigma=float(arch.act.c_sigma(NUMPY)))


# ----------------------------------------------------------------------------- contraction
def _pair_chunk(n_pairs: int, dmax: int, group: int) -> int:
    """Input pairs per contraction pass: a group's ``(pairs, d)`` temporary stays under
    ``_PAIR_CHUNK_BYTES``. A function of the shapes only, never of the number of draws in
    a chunk, so the GEMM shapes (hence their rounding) do not depend on the budget."""
    return max(1, min(n_pairs, _PAIR_CHUNK_BYTES // (8 * dmax * group)))


def bytes_per_draw(dims: tuple[int, ...], n: int, masked: tuple[bool, ...], group: int = 1
                   ) -> int:
    """Estimated peak bytes per draw of a chunk: weights and masks, forward/backward
    signals (pre-activations, activations, backprop signals and one temporary per layer),
    the pair-stacked contraction temporaries, and the outputs."""
    sizes = [dims[h] * dims[h + 1] for h in range(len(dims) - 1)]
    E = sum(sizes) + sum(s for s, m in zip(sizes, masked) if m)
    hidden = sum(dims[1:-1])
    P = n * (n + 1) // 2
    dmax = max(dims)
    Pc = _pair_chunk(P, dmax, group)
    L1 = len(dims) - 1
    return 8 * (E + 4 * n * hidden + Pc * 3 * dmax + (L1 + 3) * n * n + n)


def _batched_trace(weights, scales, act, c_sigma: float, widths, XT: np.ndarray,
                   backward: bool):
    """Forward pass and backprop signals of a stack of networks (as
    ``theory.network.forward_backward``, one BLAS call per draw via ``matmul``).

    Returns ``G`` (``G[0] = Xᵀ`` of shape ``(d0, n)``, ``G[h]`` ``(C, d_h, n)``), ``Bt``
    (``Bt[h]`` ``(C, n, d_{h+1})``, empty if not ``backward``) and the output ``(C, n)``.
    """
    L = len(widths)
    G = [XT]
    pre = []
    for h in range(L):
        F = np.matmul(weights[h], G[h])
        if scales[h] != 1.0:
            F *= scales[h]
        pre.append(F)
        g = act.forward(F)
        g *= np.sqrt(c_sigma / widths[h])
        G.append(g)
    out = np.matmul(weights[L], G[L])[:, 0, :]
    if scales[L] != 1.0:
        out = out * scales[L]
    if not backward:
        return G, [], out
    C, n = out.shape
    Bt = [None] * (L + 1)
    Bt[L] = np.ones((C, n, 1))
    for h in range(L, 0, -1):
        back = np.matmul(Bt[h], weights[h])  # (C, n, d_h)
        back *= scales[h] * np.sqrt(c_sigma / widths[h - 1])
        back *= act.derivative(pre[h - 1]).transpose(0, 2, 1)
        Bt[h - 1] = back
    return G, Bt, out


@functools.lru_cache(maxsize=64)
def _pair_index(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs ``a ≤ b`` and the ``(n, n)`` map ``(i, j) -> index of {i, j}`` (cached:
    recomputing them per chunk was measurable at small widths)."""
    ia, ib = _pairs(n)
    P = ia.size
    pidx = np.empty((n, n), dtype=np.intp)
    pidx[ia, ib] = np.arange(P)
    pidx[ib, ia] = np.arange(P)
    for a in (ia, ib, pidx):
        a.flags.writeable = False
    return ia, ib, pidx


def _batched_contributions(weights, masks, factors, G, Bt, n: int, group: int) -> np.ndarray:
    """Per-matrix NTK terms ``(C, L+1, n, n)``; the pair-stacked masked GEMM of
    ``theory.network._masked_term`` as a batched ``matmul``."""
    C = Bt[0].shape[0]
    L1 = len(weights)
    ia, ib, pidx = _pair_index(n)
    P = ia.size
    dmax = max(max(w.shape[1:]) for w in weights)
    pc = _pair_chunk(P, dmax, group)
    out = np.empty((C, L1, n, n))
    for h in range(L1):
        Bh = Bt[h]  # (C, n, d_out), C-contiguous
        Gt = G[h].T if G[h].ndim == 2 else np.ascontiguousarray(G[h].transpose(0, 2, 1))
        M = masks[h]
        if M is None:
            K = np.matmul(Bh, Bh.transpose(0, 2, 1))
            K *= np.matmul(Gt, np.swapaxes(Gt, -1, -2))
        else:
            v = np.empty((C, P))
            Mt = M.transpose(0, 2, 1)  # (C, d_in, d_out): a transposed BLAS operand, no copy
            for s in range(0, P, pc):
                a, b = ia[s:s + pc], ib[s:s + pc]
                # np.take, not Gt[..., a, :]: fancy indexing of a middle axis is ~50x slower
                GG = np.take(Gt, a, axis=-2)
                GG *= np.take(Gt, b, axis=-2)  # (C, c, d_in), or (c, d_in) for h = 0
                T = np.matmul(GG, Mt)  # (C, c, d_out): the O(c d_in d_out) products
                T *= np.take(Bh, a, axis=1)
                T *= np.take(Bh, b, axis=1)
                v[:, s:s + pc] = T.sum(axis=-1)
            K = np.take(v, pidx, axis=1)  # (C, n, n), symmetric by construction
        if factors[h] != 1.0:
            K *= factors[h]
        out[:, h] = K
    return out


@dataclass(frozen=True, eq=False)
class _CompiledContraction:
    """:func:`_batched_trace` and :func:`_batched_contributions` of a chunk of small
    networks through the compiled kernels of :mod:`theory.fastcontract` (signals stored
    ``(C, n, d)``; each draw on its own; a masked matrix's mask read as ``W ≠ 0``), built
    once per batch. For ReLU and ReLU² (``code ≥ 1``, :func:`theory.fastcontract.
    activation_code`) the whole chunk is one compiled call that holds the GIL at no point,
    so chunks on several threads run fully in parallel (measured: with a numpy activation
    between the kernels, the GIL taken back ~15 times per chunk made two threads no faster
    than one at width 32); any other activation is applied by :mod:`theory.activations`
    in numpy between the kernels."""

    act: Any
    c_sigma: float
    widths: tuple[int, ...]
    code: int
    masked: np.ndarray  # per matrix: hard-masked (mask = W ≠ 0)
    scales: np.ndarray  # s_h of docs/math.md#network
    factors: np.ndarray  # NTK factor of matrix h
    act_scales: np.ndarray  # sqrt(c_σ / d_{h+1}): the activation's normalisation
    back_scales: np.ndarray  # s_h sqrt(c_σ / d_{h-1}) (entry 0 unused)

    @classmethod
    def of(cls, arch: Architecture, lay: _Layout) -> "_CompiledContraction":
        widths = lay.dims[1:-1]
        scales, factors = matrix_scales(arch)
        c_sigma = float(arch.act.c_sigma(NUMPY))
        return cls(act=arch.act, c_sigma=c_sigma, widths=widths,
                   code=FC.activation_code(arch.act),
                   masked=np.array([q is not None for q in lay.q]),
                   scales=np.array(scales, dtype=np.float64),
                   factors=np.array(factors, dtype=np.float64),
                   act_scales=np.array([np.sqrt(c_sigma / w) for w in widths]),
                   back_scales=np.array([0.0] + [scales[h] * np.sqrt(c_sigma / widths[h - 1])
                                                 for h in range(1, len(widths) + 1)]))

    def __call__(self, W, X: np.ndarray, backward: bool, nngp: np.ndarray,
                 output: np.ndarray, per_layer: np.ndarray | None) -> None:
        """Write ``nngp (C, n, n)``, ``output (C, n)`` and ``per_layer (C, L+1, n, n)``
        of the weights ``W[h] (C, d_{h+1}, d_h)``."""
        if self.code:
            FC.contract_chunk(tuple(W), X, self.code, self.scales, self.act_scales,
                              self.back_scales, self.factors, self.masked, backward, nngp,
                              output, per_layer if backward else _NO_TERMS)
            return
        act, widths = self.act, self.widths
        C = W[0].shape[0]
        n = X.shape[0]
        L = len(widths)
        G = [X[None]]
        pre = []
        for h in range(L):
            F = np.empty((C, n, widths[h]))
            FC.forward(W[h], G[h], self.scales[h], F)
            pre.append(F)
            g = act.forward(F)
            g *= self.act_scales[h]
            G.append(g)
        out = np.empty((C, n, 1))
        FC.forward(W[L], G[L], self.scales[L], out)
        output[:] = out[:, :, 0]
        if L == 0:  # the NNGP of depth 0 is the inputs' Gram matrix, the same for every draw
            FC.gram(G[0], nngp[:1])
            nngp[1:] = nngp[0]
        else:
            FC.gram(G[L], nngp)
        if not backward:
            return
        B = np.ones((C, n, 1))
        for h in range(L, -1, -1):
            if self.masked[h]:
                FC.masked_term(W[h], G[h], B, self.factors[h], per_layer, h)
            else:
                FC.dense_term(G[h], B, self.factors[h], per_layer, h)
            if h > 0:
                back = np.empty((C, n, widths[h - 1]))
                FC.backward(W[h], B, self.back_scales[h], act.derivative(pre[h - 1]), back)
                B = back


_NO_TERMS = np.empty((0, 0, 0, 0))


def _whole_chunks(lay: _Layout, n: int) -> bool:
    """Whether a batch is computed in whole chunks per thread with the compiled
    contraction (small networks, few inputs; module docstring)."""
    return lay.group >= 2 and n <= FC.MAX_INPUTS


def _chunk_plan(lay: _Layout, n: int, budget: int, threads: int) -> tuple[bool, int]:
    """``(whole_chunks, groups_per_chunk)``: whole chunks share the budget between the
    threads, each chunk ~4 MiB; otherwise one chunk of ~4 MiB per drawing thread."""
    if _whole_chunks(lay, n):
        return True, _groups_per_chunk(lay, n, max(1, budget // threads), threads=1,
                                       masks=False)
    return False, _groups_per_chunk(lay, n, budget, threads)


def _groups_per_chunk(lay: _Layout, n: int, budget: int, threads: int | None = None,
                      masks: bool = True) -> int:
    """Whole groups per chunk: within ``budget``, and preferably within a few MB per drawing
    thread (default :func:`draw_threads`), where the chunk stays in cache and its reused
    buffers avoid page faults (measured faster). The bits do not depend on it."""
    per_draw = bytes_per_draw(lay.dims, n, tuple(q is not None and masks for q in lay.q),
                              lay.group)
    fast = _FAST_CHUNK_BYTES * (draw_threads() if threads is None else threads)
    return max(1, min(budget, fast) // (per_draw * lay.group))


def batched_kernels(arch: Architecture, X: Any, width: WidthLike, seed: SeedLike, draws: Any,
                    *, memory_budget: int | None = None, backward: bool = True
                    ) -> dict[str, np.ndarray]:
    """``{"ntk": (K, n, n), "nngp": (K, n, n), "per_layer": (K, L+1, n, n), "output":
    (K, n)}`` of the first ``K = draws`` networks of the batch sequence (module docstring),
    computed chunk by chunk within ``memory_budget`` bytes. ``backward=False`` computes
    only ``"nngp"`` and ``"output"``."""
    arch = _check_arch(arch)
    X = _check_X(X)
    K = check_draws(draws)
    budget = _check_budget(memory_budget)
    n, d0 = X.shape
    widths = _resolve_widths(arch, width)
    ss = _check_seed(seed)
    lay = _layout(arch, d0, widths)
    scales, factors = matrix_scales(arch)
    act = arch.act
    c_sigma = float(act.c_sigma(NUMPY))
    L = arch.depth
    D = lay.group
    n_groups = -(-K // D)
    threads = draw_threads()
    # Small networks (several per group) and few inputs: whole chunks run on the drawing
    # threads at once, each drawn (without masks: the compiled contraction reads W ≠ 0)
    # and contracted by one thread with the compiled kernels (the numpy contraction's
    # ~100 small calls per chunk hold the GIL: two threads ran it slower than one).
    # Otherwise one chunk at a time: its segments drawn on the threads, its GEMMs on
    # BLAS's threads. The choice depends on the layout and n only, and each draw is
    # contracted on its own, so the bits do not depend on draws, memory_budget or the
    # number of threads.
    whole_chunks, groups_per_chunk = _chunk_plan(lay, n, budget, threads)
    n_chunks = -(-n_groups // groups_per_chunk)
    C_max = min(n_groups, groups_per_chunk) * D
    XT = None if whole_chunks else np.ascontiguousarray(X.T)
    contract = _CompiledContraction.of(arch, lay) if whole_chunks else None
    res = {"nngp": np.empty((K, n, n)), "output": np.empty((K, n))}
    if backward:
        res["per_layer"] = np.empty((K, L + 1, n, n))

    def chunk(ci: int) -> None:
        g0 = ci * groups_per_chunk
        ng = min(groups_per_chunk, n_groups - g0)
        k0 = g0 * D
        k1 = min(K, k0 + ng * D)
        W, M = _draw_groups(ss, lay, g0, ng, _buffers(lay, C_max, masks=not whole_chunks),
                            threads=1 if whole_chunks else threads, masks=not whole_chunks)
        if k1 - k0 < ng * D:  # the last group is drawn whole (prefix property), used in part
            W = [w[:k1 - k0] for w in W]
            M = [m[:k1 - k0] if m is not None else None for m in M]
        if whole_chunks:
            contract(W, X, backward, res["nngp"][k0:k1], res["output"][k0:k1],
                     res["per_layer"][k0:k1] if backward else None)
            return
        G, Bt, out = _batched_trace(W, scales, act, c_sigma, widths, XT, backward)
        res["output"][k0:k1] = out
        gL = G[L]
        res["nngp"][k0:k1] = np.matmul(np.swapaxes(gL, -1, -2), gL)
        if backward:
            res["per_layer"][k0:k1] = _batched_contributions(W, M, factors, G, Bt, n, D)

    if whole_chunks:
        _run_tasks(chunk, n_chunks, threads)
    else:
        for ci in range(n_chunks):
            chunk(ci)
    if backward:
        res["ntk"] = res["per_layer"].sum(axis=1)
    return res
