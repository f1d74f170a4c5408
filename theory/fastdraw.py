"""Fused compiled drawing of masked Gaussian weights for batched Monte Carlo (numba).

Used by :mod:`theory.batched` only; the single-draw path of :mod:`theory.network` keeps
its pure-numpy sampler (and its bits).

Why a compiler: drawing the random masks and weights is the cost of Monte Carlo over
finite networks (docs/design.md): the contraction of a batch runs at GEMM speed, while a
vectorised numpy sampler makes ~15 passes over its arrays per kept weight (raw words,
Box–Muller's ``log``/``sqrt``/``cos``/``sin`` and their temporaries, a ``flatnonzero`` and
an index scatter). :func:`fill_piece` does it in one pass per entry, compiled by numba
(``cache=True``: compiled once per machine and then loaded from ``__pycache__``).

What it draws (bit for bit a function of the stream, testable against numpy itself):

* the stream is numpy's SFC64 (Doty-Humphrey's Small Fast Chaotic generator, one of
  numpy's four bit generators; ``numpy.random.SFC64``), re-implemented inline here from
  the state numpy's own ``SFC64(seed_sequence)`` initialises, so that
  ``next_uint64`` here equals ``SFC64(ss).random_raw()`` word for word
  (``tests/test_fastdraw.py``). It is faster per word than PCG64 (measured here ~1.4 ns
  inline against ~2.2 ns for numpy's PCG64 ``random_raw``) and passes PractRand (numpy's
  documentation of SFC64);
* a masked entry takes one byte ``v`` (eight entries per 64-bit word, low byte first)
  and is kept iff ``v < t = ⌊256 q⌋``; a tie ``v = t`` (probability 1/256) draws a word
  ``r`` and is kept iff ``r < T``, or ``r = T`` and a further word is ``< F``, where
  ``T + F/2^64 = (256 q − t)·2^64`` (:func:`keep_thresholds`). The keep probability is
  then *exactly* the float64 ``q`` for every ``q ≥ 2⁻⁸⁴`` (no ``⌊256 q⌋/256``-type
  quantisation). A piece's mask bytes come first, then the normals of its kept entries;
* a kept (or unmasked) entry is a standard normal drawn by numpy's own float64 ziggurat
  (Marsaglia & Tsang, "The Ziggurat Method for Generating Random Variables", J. Stat.
  Softw. 5(8), 2000; 256 layers, the tables numpy uses, taken from numba's copy of them):
  on the same words it returns exactly ``numpy.random.Generator(SFC64(ss))
  .standard_normal()`` (tested), i.e. N(0, 1) up to float64 rounding, with no truncation
  and no float32 step (unlike the single-draw Box–Muller). The ziggurat returns ``±0.0``
  with probability about ``2⁻⁵²``; such a value is redrawn, so that "weight ≠ 0 ⇔ kept"
  holds without exception.

Speed (this machine, one thread, a piece of ``2^17`` entries in cache, ``q = 0.7``):
~3.0 ns per entry for the whole masked piece (mask pass ~0.9 ns, ~1.7 ns for the normals
of the kept 70 %), ~2.4 ns per entry of an unmasked piece; per SFC64 word ~1.4 ns. What
made the difference over a first version (4.6 ns per normal, 4.5 ns per masked entry):
the generator state lives in local variables inside the loops (through the state array
every store into ``W`` may alias it, so it was reloaded and stored per word); the
ziggurat's fast path has its own call-free inner loop (:func:`_normals_at`); and a mask
word's eight bytes are compared with ``t`` at once (SWAR) with table look-ups for the
mask values and kept positions, byte by byte only for a word holding a tie. Whole
batches run slower per entry (4–7 ns on one thread, varying with the machine's other
load); :mod:`theory.batched` draws the segments on several threads.
:func:`fill_groups` draws every stream of a chunk of groups in one call, so a thread
drawing a chunk holds no GIL between its pieces; with ``M = None`` it writes no masks
(a hard mask is then ``W ≠ 0``; the same words, the same weights; tested).
The compile happens once per machine (a few seconds; ``cache=True``), later processes
load it from the cache in well under a second.
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

try:  # numba is a dependency (pyproject.toml); the import error names it if missing
    import numba
    from numba.np.random import _constants as _zc
except ImportError as exc:  # pragma: no cover - exercised only without numba
    raise ImportError("theory.batched needs numba (pip install numba): batched draws are "
                      "drawn by a compiled kernel, see theory/fastdraw.py") from exc

__all__ = ["keep_thresholds", "sfc64_state", "fill_piece", "fill_groups", "GroupPlan", "normals",
           "raw_words"]

_KI = np.ascontiguousarray(_zc.ki_double, dtype=np.uint64)
_WI = np.ascontiguousarray(_zc.wi_double, dtype=np.float64)
_FI = np.ascontiguousarray(_zc.fi_double, dtype=np.float64)
_R = float(_zc.ziggurat_nor_r)
_INV_R = float(_zc.ziggurat_nor_inv_r)

MODE_DENSE, MODE_MASKED, MODE_ALL_KEPT = 0, 1, 2


@functools.lru_cache(maxsize=256)
def keep_thresholds(q: float) -> tuple[int, int, int, int]:
    """``(mode, t, T, F)`` for keep probability ``q`` (module docstring): an entry's byte
    ``v`` keeps it iff ``v < t = ⌊256 q⌋``; a tie ``v = t`` keeps it iff a word ``r < T``
    or (``r = T`` and a second word ``< F``), with ``T + F/2^64 = (256 q − t)·2^64``.
    Then ``P(kept) = t/256 + (T + F/2^64)/2^72 = q`` exactly whenever ``q·2^136`` is an
    integer (every float64 ``q ≥ 2⁻⁸⁴``). ``q = 1``: every entry kept, no bits drawn."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"keep probability must be in [0, 1], got {q}")
    if q == 1.0:
        return MODE_ALL_KEPT, 0, 0, 0
    x = Fraction(q) * 256
    t = int(x)  # floor (x >= 0)
    frac = (x - t) * 2 ** 64
    T = int(frac)
    F = int((frac - T) * 2 ** 64)  # floor; exact for q >= 2^-84
    return MODE_MASKED, t, T, F


def sfc64_state(seed_sequence: np.random.SeedSequence) -> np.ndarray:
    """The ``(a, b, c, counter)`` state numpy's ``SFC64(seed_sequence)`` starts from."""
    st = np.random.SFC64(seed_sequence).state["state"]["state"]
    return np.array(st, dtype=np.uint64)


_U11 = np.uint64(11)
_U3 = np.uint64(3)
_U24 = np.uint64(24)
_U40 = np.uint64(40)
_U1 = np.uint64(1)
_U8 = np.uint64(8)
_U9 = np.uint64(9)
_MASK52 = np.uint64(0x000FFFFFFFFFFFFF)
_MASK8 = np.uint64(0xFF)
_TWO53_INV = 1.0 / 9007199254740992.0
_U7 = np.uint64(7)
_U56 = np.uint64(56)
_BYTES_LOW = np.uint64(0x0101010101010101)
_BYTES_HIGH = np.uint64(0x8080808080808080)
_BYTES_7BIT = np.uint64(0x7F7F7F7F7F7F7F7F)
_GATHER = np.uint64(0x0102040810204080)  # bit 8e -> bit 56 + e, no carries


def _keep_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each 8-entry keep pattern ``m`` (bit ``e`` = entry ``e`` kept): the float64
    mask values, the positions of the kept entries (padded) and their count."""
    mv = np.zeros((256, 8))
    pos = np.zeros((256, 8), dtype=np.intp)
    cnt = np.zeros(256, dtype=np.intp)
    for m in range(256):
        kept = [e for e in range(8) if m >> e & 1]
        mv[m] = [m >> e & 1 for e in range(8)]
        pos[m, :len(kept)] = kept
        cnt[m] = len(kept)
    return mv, pos, cnt


_MV, _POS, _CNT = _keep_tables()


@numba.njit(cache=True, nogil=True)
def _next(s):
    """SFC64 step (numpy/random/src/sfc64: ``tmp = a + b + counter++`` …)."""
    a, b, c, d = s[0], s[1], s[2], s[3]
    tmp = a + b + d
    s[3] = d + _U1
    s[0] = b ^ (b >> _U11)
    s[1] = c + (c << _U3)
    s[2] = ((c << _U24) | (c >> _U40)) + tmp
    return tmp


@numba.njit(cache=True, nogil=True)
def _next_double(s):
    return np.float64(_next(s) >> _U11) * _TWO53_INV


@numba.njit(cache=True, nogil=True)
def _normal_slow(s, r, ki, wi, fi):
    """The rest of numpy's ziggurat after its first word ``r`` missed the fast path
    (probability ~0.7 %): wedge or tail test, then fresh words until accepted."""
    while True:
        idx = np.intp(r & _MASK8)
        r >>= _U8
        rabs = (r >> _U1) & _MASK52
        x = np.float64(rabs) * wi[idx]
        if r & _U1:
            x = -x
        if rabs < ki[idx]:
            return x
        if idx == 0:
            while True:
                xx = -_INV_R * np.log1p(-_next_double(s))
                yy = -np.log1p(-_next_double(s))
                if yy + yy > xx * xx:
                    if (rabs >> _U8) & _U1:
                        return -(_R + xx)
                    return _R + xx
        else:
            if (fi[idx - 1] - fi[idx]) * _next_double(s) + fi[idx] < np.exp(-0.5 * x * x):
                return x
        r = _next(s)


@numba.njit(cache=True, nogil=True)
def _normals_at(s, W, idx, k, ki, wi, fi):
    """``W[idx[j]]`` for ``j < k`` (all of ``W`` if ``idx`` is ``None``, a separately
    compiled case) := numpy's ziggurat normal, redrawn while 0.

    The SFC64 step and the ziggurat's one-word fast path are written out with the
    generator state in local variables (hence registers): through ``s`` every store into
    ``W`` may alias the state, so it was reloaded and stored for every word (measured
    4.6 against 2.9 ns per normal), and a call to a jitted helper per entry was measured
    10-40x slower still. The inner loop holds the fast path only and leaves for the rest
    (wedge, tail: :func:`_normal_slow`, on ``s``, ~1 % of words), so no call constrains
    its registers; its sign is applied to the integer ``rabs`` before the (exact, since
    ``rabs < 2^52``) conversion, and ``z = 0`` is tested as ``rabs = 0`` (``wi > 0``):
    2.5 instead of 2.9 ns per normal, same values and signs."""
    a, b, c, d = s[0], s[1], s[2], s[3]
    n = W.size if idx is None else k
    j = 0
    while j < n:
        r = np.uint64(0)
        while j < n:  # the one-word fast path only
            r = a + b + d
            d += _U1
            a = b ^ (b >> _U11)
            b = c + (c << _U3)
            c = ((c << _U24) | (c >> _U40)) + r
            i8 = np.intp(r & _MASK8)
            rabs = (r >> _U9) & _MASK52
            if rabs >= ki[i8]:
                break  # to the slow path with this word
            if rabs != 0:  # else z = ±0: redrawn (probability ~2^-52)
                neg = -np.int64((r >> _U8) & _U1)  # 0 or -1
                z = np.float64((np.int64(rabs) ^ neg) - neg) * wi[i8]
                if idx is None:
                    W[j] = z
                else:
                    W[np.uintp(idx[j])] = z
                j += 1
        else:
            break
        s[0], s[1], s[2], s[3] = a, b, c, d
        z = _normal_slow(s, r, ki, wi, fi)
        a, b, c, d = s[0], s[1], s[2], s[3]
        if z != 0.0:
            if idx is None:
                W[j] = z
            else:
                W[np.uintp(idx[j])] = z
            j += 1
    s[0], s[1], s[2], s[3] = a, b, c, d


@numba.njit(cache=True, nogil=True)
def _fill(s, W, M, mode, t, T, F, idx, ki, wi, fi, mv, pos, cnt):
    """A piece: for ``mode = 1`` first every entry's mask (one byte each, eight entries per
    word, low byte first; a tie with ``t`` draws one or two more words), collecting the
    kept positions in ``idx`` without a branch, then the normals of the kept entries in
    order; otherwise a normal for every entry (and ``M = 1`` for ``mode = 2``). The state
    is kept in locals as in :func:`_normals_at`. ``M = None`` (a separately compiled case)
    writes no mask, which then is ``W ≠ 0``: the same words, the same ``W``."""
    if mode != 1:
        if mode == 2 and M is not None:
            M[:] = 1.0
        _normals_at(s, W, None, 0, ki, wi, fi)
        return
    n = W.size
    tie = T != 0 or F != 0
    tb = t * _BYTES_LOW  # t in every byte
    a, b, c, d = s[0], s[1], s[2], s[3]
    k = 0
    i = 0
    while i < n:
        r = a + b + d  # the SFC64 step of _next, inline
        d += _U1
        a = b ^ (b >> _U11)
        b = c + (c << _U3)
        c = ((c << _U24) | (c >> _U40)) + r
        m = min(8, n - i)
        has_tie = False
        if tie:  # some byte == t: (z - 0x01..) & ~z & 0x80.. != 0 iff z has a zero byte
            z = r ^ tb
            has_tie = ((z - _BYTES_LOW) & ~z & _BYTES_HIGH) != 0
        if m == 8 and not has_tie:
            # all eight bytes at once (SWAR): bit 7 of byte e of `lt` is [v_e < t], from
            # the high bits where they differ, else from the low 7 bits compared without
            # borrows between bytes ((v | 0x80) - (t & 0x7F) keeps bit 7 iff v_7 >= t_7)
            lt = ((~r & tb) | (~(r ^ tb) & ~((r | _BYTES_HIGH) - (tb & _BYTES_7BIT)))) \
                & _BYTES_HIGH
            km = np.intp(((lt >> _U7) * _GATHER) >> _U56)  # bit e = entry i + e kept
            for e in range(8):
                if M is not None:
                    M[i + e] = mv[km, e]
                idx[k + e] = i + pos[km, e]  # idx has 8 spare entries for the padding
            k += cnt[km]
            i += 8
            continue
        for _ in range(m):  # one byte at a time: a tie (probability 1/256) or the tail
            v = r & _MASK8
            r >>= _U8
            keep = v < t
            if tie and v == t:
                s[0], s[1], s[2], s[3] = a, b, c, d
                w = _next(s)
                keep = w < T or (w == T and _next(s) < F)
                a, b, c, d = s[0], s[1], s[2], s[3]
            if M is not None:
                M[i] = np.float64(keep)
            idx[k] = i
            k += np.intp(keep)
            i += 1
    s[0], s[1], s[2], s[3] = a, b, c, d
    W[:] = 0.0
    _normals_at(s, W, idx, k, ki, wi, fi)


@numba.njit(cache=True, nogil=True)
def _raw(s, out):
    for i in range(out.size):
        out[i] = _next(s)


_LOCAL = threading.local()


def _index_buffer(n: int) -> np.ndarray:
    """A per-thread ``intp`` scratch vector of at least ``n`` entries, reused."""
    buf = getattr(_LOCAL, "idx", None)
    if buf is None or buf.size < n:
        buf = _LOCAL.idx = np.empty(max(n, 1 << 17), dtype=np.intp)
    return buf


def fill_piece(state: np.ndarray, W: np.ndarray, M: np.ndarray | None, mode: int, t: int,
               T: int, F: int) -> None:
    """Fill the contiguous float64 vectors ``W`` (normal weights, 0 where pruned) and
    ``M`` (0/1 mask; ``None`` for ``mode = MODE_DENSE``, or to write no mask: it is
    ``W ≠ 0``) from the SFC64 ``state``
    (advanced in place): for a masked piece first every entry's mask byte (eight per word,
    plus the tie words), then the normals of the kept entries in order; otherwise one
    normal per entry. ``(mode, t, T, F)`` come from :func:`keep_thresholds`."""
    idx = _index_buffer(W.size + 8 if mode == MODE_MASKED else 0)
    _fill(state, W, M, mode, np.uint64(t), np.uint64(T), np.uint64(F), idx, _KI, _WI, _FI,
          _MV, _POS, _CNT)


@numba.njit(cache=True, nogil=True)
def _fill_groups(states, j0, seg_first, piece_h, piece_a, piece_b, group_entries, W, M,
                 mode, t, T, F, idx, ki, wi, fi, mv, pos, cnt):
    S = seg_first.size - 1
    for jj in range(states.shape[0]):
        j = j0 + jj
        gl = j // S  # stream j of a chunk is segment s of its group gl
        s = j - gl * S
        st = states[jj]
        for p in range(seg_first[s], seg_first[s + 1]):
            h = piece_h[p]
            lo = gl * group_entries[h] + piece_a[p]
            hi = gl * group_entries[h] + piece_b[p]
            if M is None:  # compiled separately: no mask written
                _fill(st, W[h][lo:hi], None, mode[h], t[h], T[h], F[h], idx, ki, wi, fi,
                      mv, pos, cnt)
            else:
                _fill(st, W[h][lo:hi], M[h][lo:hi], mode[h], t[h], T[h], F[h], idx, ki, wi,
                      fi, mv, pos, cnt)


@dataclass(frozen=True, eq=False)
class GroupPlan:
    """The pieces of one drawing group, as arrays for :func:`fill_groups`: segment ``s``
    holds pieces ``seg_first[s] … seg_first[s+1] - 1``, piece ``p`` being entries
    ``piece_a[p] … piece_b[p] - 1`` of matrix ``piece_h[p]``'s part of the group, which
    has ``group_entries[h]`` entries; ``(mode, t, T, F)`` per matrix
    (:func:`keep_thresholds`)."""

    seg_first: np.ndarray
    piece_h: np.ndarray
    piece_a: np.ndarray
    piece_b: np.ndarray
    group_entries: np.ndarray
    mode: np.ndarray
    t: np.ndarray
    T: np.ndarray
    F: np.ndarray

    @functools.cached_property
    def longest(self) -> int:
        return int((self.piece_b - self.piece_a).max())

    @classmethod
    def of(cls, segments, group_entries, keep) -> "GroupPlan":
        """From ``segments`` (per segment, its pieces ``(h, a, b)``), the entries of each
        matrix in a group and each matrix's keep probability (``None``: unmasked)."""
        pieces = [p for seg in segments for p in seg]
        first = np.cumsum([0] + [len(seg) for seg in segments])
        th = [keep_thresholds(q) if q is not None else (MODE_DENSE, 0, 0, 0) for q in keep]
        return cls(seg_first=first.astype(np.intp),
                   piece_h=np.array([p[0] for p in pieces], dtype=np.intp),
                   piece_a=np.array([p[1] for p in pieces], dtype=np.intp),
                   piece_b=np.array([p[2] for p in pieces], dtype=np.intp),
                   group_entries=np.array(group_entries, dtype=np.intp),
                   mode=np.array([x[0] for x in th], dtype=np.intp),
                   t=np.array([x[1] for x in th], dtype=np.uint64),
                   T=np.array([x[2] for x in th], dtype=np.uint64),
                   F=np.array([x[3] for x in th], dtype=np.uint64))


def fill_groups(states: np.ndarray, j0: int, plan: GroupPlan, W: tuple[np.ndarray, ...],
                M: tuple[np.ndarray, ...] | None) -> None:
    """Streams ``j0, j0 + 1, …`` of a chunk of groups (stream ``j`` = segment
    ``j mod S`` of group ``⌊j / S⌋``), from the SFC64 states ``states`` (one row per
    stream, advanced in place), each piece as :func:`fill_piece`. ``W[h]``, ``M[h]``: the
    chunk's flat float64 weights and masks of matrix ``h`` (``M[h]`` of size 0 for an
    unmasked matrix; ``M = None``: no masks written, they are ``W ≠ 0``). One compiled
    call, the GIL released, for all the streams."""
    idx = _index_buffer(plan.longest + 8)
    _fill_groups(states, j0, plan.seg_first, plan.piece_h, plan.piece_a, plan.piece_b,
                 plan.group_entries, W, M, plan.mode, plan.t, plan.T, plan.F, idx,
                 _KI, _WI, _FI, _MV, _POS, _CNT)


def normals(state: np.ndarray, n: int) -> np.ndarray:
    """``n`` ziggurat normals from ``state`` (for tests: equals numpy's
    ``Generator(SFC64(ss)).standard_normal(n)``)."""
    out = np.empty(n)
    fill_piece(state, out, None, MODE_DENSE, 0, 0, 0)
    return out


def raw_words(state: np.ndarray, n: int) -> np.ndarray:
    """``n`` raw SFC64 words from ``state`` (for tests: equals ``SFC64(ss).random_raw(n)``)."""
    out = np.empty(n, dtype=np.uint64)
    _raw(state, out)
    return out
