"""The finite randomly pruned network and its exact empirical NTK (docs/math.md#network, docs/math.md#pruning, docs/math.md#input-layer).

Convention (docs/math.md#network, Arora et al. 2019), ``L = arch.depth`` hidden layers, weight
matrices indexed ``h = 0 … L`` (0-based, as in :mod:`theory.architecture`)::

    g^(0) = x
    f^(h+1) = sqrt(a_h) · (M_h ⊙ W_h) g^(h)          matrix h, shape (d_{h+1}, d_h), d_{L+1} = 1
    g^(h)   = sqrt(c_σ / d_h) · σ(f^(h))              h = 1 … L
    f       = f^(L+1)                                 scalar, no biases

Two pruning models (docs/math.md#pruning, ``arch.model``):

``"mask"``
    ``M_h`` iid Bernoulli(``q_h``) for the pruned matrices (all ones otherwise),
    ``a_h = alpha_h`` (``1/q_h`` rescaled, else 1), ``W_h`` iid N(0,1). Pruned weights are
    frozen, so matrix ``h`` contributes
    ``Θ_h(x,x') = alpha_h Σ_ij M_ij b_i(x) b_i(x') g_j(x) g_j(x')`` with
    ``b = ∂f/∂f^(h+1)`` and ``g = g^(h)``.
``"variance"``
    no masks; a pruned matrix is ``W'_h = sqrt(s_h) Z_h``, ``Z_h`` iid N(0,1), and every
    entry of ``W'_h`` is trainable, so ``Θ_h = (BᵀB) ⊙ (GᵀG)`` (no ``s_h`` in front: the
    gradient factor ``G_h = 1`` of docs/math.md#pruning).

The empirical NTK is ``Θ_d = Σ_h Θ_h``; the empirical NNGP is the Gram matrix of the last
hidden layer ``g^(L)`` (``X Xᵀ`` when ``L = 0``). The input matrix's finite fan-in
(docs/math.md#input-layer) needs no special treatment here: its mask is drawn like any other, and this
finite network is what the §4 mask mixture is to be compared against.

A dense matrix (unpruned, or any matrix of the variance model) is drawn by the same code
from the same stream whatever the architecture, so for one seed the variance model with
rescaling *is* the dense network, draw for draw, and without rescaling its matrices are
the dense ones times ``sqrt(s_h)`` (``tests/test_network.py`` checks both).

Speed (docs/design.md, "The finite network, fast"). With all input pairs ``(a, b)``, ``a ≤ b``,
stacked as columns, a masked matrix's contribution is the column-wise dot product of
``B_a ⊙ B_b`` with ``M @ (G_a ⊙ G_b)``: one dense float64 GEMM per matrix, ``O(n² d²)``
flops, and only the mask enters. An unmasked matrix reduces to ``(BᵀB) ⊙ (GᵀG)``.

Random numbers (:func:`draw_network`) — these dominate the cost, so only what is needed is
drawn, in blocks of rows that stay in cache (optionally on several threads):

* every matrix, and every block of ``_BLOCK_ENTRIES`` entries of it, has its own PCG64
  stream (the bit generator of ``numpy.random.Generator(PCG64)``), seeded by
  ``SeedSequence(entropy=seed.entropy, spawn_key=seed.spawn_key + (_TAG, h, block))``.
  The block layout depends on the shape only, so a draw is a pure function of
  ``(seed, arch, d0, width)``: bit-identical for any number of threads, and never
  dependent on (or changing) a ``SeedSequence``'s spawn counter;
* mask entries use ``k ∈ {1, 2, 4, 8}`` random bits each: ``k`` bits when ``q·2^k`` is an
  integer (``p = 0.5`` costs one bit per entry), else 8 bits compared with
  ``t = ⌊256 q⌋`` plus, for the ``1/256`` of entries that tie (byte ``= t``), a 64-bit
  word compared with ``frac(256 q)·2^64``. The keep probability is then *exactly* the
  float64 value of ``q`` for ``q ≥ 2⁻²⁰`` (smaller ``q`` is quantised to ``2⁻⁷²``);
* normal weights are drawn only where the mask keeps them, by Box–Muller from one 64-bit
  word per pair: ``u = (k + ½) 2⁻³²`` from the low 32 bits, ``ln u`` in float64, the angle
  ``2π (k' + ½) 2⁻³²`` from the high 32 bits rounded to float32, and ``sqrt``, ``cos``,
  ``sin`` and the product in float32, then stored as float64 (numpy's own float64
  ziggurat costs 2-3x more here). Departures from N(0,1): truncation at
  ``|z| ≤ sqrt(66 ln 2) ≈ 6.76`` (lost mass ``2⁻³³ ≈ 1.2e-10``) and float32 rounding
  (relative ``6e-8``) — statistically negligible. No draw is ever exactly 0.
  Everything computed from the draws is float64.
"""
from __future__ import annotations

import numbers
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence, Union

import numpy as np

from .architecture import Architecture
from .backends import NUMPY

__all__ = [
    "Network", "Trace", "draw_network", "forward_backward", "ntk_contributions",
    "nngp_from_trace", "network_kernels", "matrix_scales", "empirical_ntk", "empirical_nngp",
    "sample_kernels",
]

SeedLike = Union[int, np.integer, np.random.SeedSequence]
WidthLike = Union[int, np.integer, Sequence[int]]

_TAG = 0x4E544B  # "NTK": separates our spawn keys from a caller's own children of the seed
_BLOCK_ENTRIES = 1 << 16  # entries per independently seeded block (fits in L2 with temporaries)
_PARALLEL_MIN_ENTRIES = 1 << 19  # below this a thread pool costs more than it saves
_PAIR_CHUNK_BYTES = 1 << 25  # cap on the (d, pairs) work arrays of the contraction


# ----------------------------------------------------------------------------- validation
def _check_arch(arch: Any) -> Architecture:
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be a theory.Architecture, got {type(arch).__name__}")
    if arch.is_symbolic:
        raise ValueError("arch has a symbolic p; a finite network needs numeric pruning "
                         "probabilities")
    return arch


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def _resolve_widths(arch: Architecture, width: Any) -> tuple[int, ...]:
    """``width`` (int, or one int per hidden layer) → ``(d_1, …, d_L)``."""
    L = arch.depth
    if isinstance(width, (bool, str, bytes)):
        raise TypeError(f"width must be a positive integer or a sequence of {L}, got {width!r}")
    if isinstance(width, numbers.Number):
        return (_check_int(width, "width", 1),) * L
    try:
        ws = list(width)
    except TypeError:
        raise TypeError(f"width must be a positive integer or a sequence of {L} positive "
                        f"integers, got {type(width).__name__}") from None
    if len(ws) != L:
        raise ValueError(f"width must have depth = {L} entries (one per hidden layer), "
                         f"got {len(ws)}")
    return tuple(_check_int(w, f"width[{i}]", 1) for i, w in enumerate(ws))


def _check_seed(seed: Any) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative int or a numpy.random.SeedSequence, "
                        f"got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    return np.random.SeedSequence(int(seed))


def _check_X(X: Any, d0: int | None = None) -> np.ndarray:
    """Inputs as a C-contiguous float64 ``(n, d0)`` array, validated."""
    try:
        arr = np.asarray(X)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"X must be a real 2-D array, got {type(X).__name__}") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                   or arr.dtype == np.bool_) \
            or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"X must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (n inputs × d0 features), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"X must have at least one row and one column, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("X must be finite (it contains NaN or inf)")
    if d0 is not None and arr.shape[1] != d0:
        raise ValueError(f"X has {arr.shape[1]} features (X.shape[1]) but the network's "
                         f"input dimension d0 is {d0}")
    return arr


def _check_workers(workers: Any) -> int:
    # Default 1: several drawing steps (flatnonzero, bool -> float64 copies, unpackbits)
    # hold numpy's GIL, so on the 2-CPU machine measured 2 threads gave at most 1.1x and
    # were slower whenever another process shared the CPUs.
    if workers is None:
        return 1
    return _check_int(workers, "workers", 1)


# ----------------------------------------------------------------------------- random numbers
class _Workspace:
    """Per-thread scratch buffers reused from block to block. Fresh temporaries of a few
    hundred kB per block make glibc hand memory back to the OS and page-fault it in again
    on the next block, which costs more than the arithmetic (measured: 3x slower)."""

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def get(self, name: str, size: int, dtype=np.float64) -> np.ndarray:
        buf = self._bufs.get(name)
        if buf is None or buf.size < size:
            buf = np.empty(max(size, _BLOCK_ENTRIES), dtype=dtype)
            self._bufs[name] = buf
        return buf[:size]


_LOCAL = threading.local()


def _workspace() -> _Workspace:
    ws = getattr(_LOCAL, "ws", None)
    if ws is None:
        ws = _LOCAL.ws = _Workspace()
    return ws


class _Bernoulli:
    """Exact Bernoulli(q) from as few random bits as possible (see the module docstring)."""

    def __init__(self, q: float):
        self.q = q
        for k in (1, 2, 4):
            if (q * (1 << k)).is_integer():
                self.k, self.t, self.thr = k, int(q * (1 << k)), None
                break
        else:
            self.k = 8
            self.t = int(q * 256)  # q*256 is exact (power of two); int() floors for q > 0
            frac = q * 256 - self.t  # exact
            self.thr = int(frac * 2.0 ** 64) if frac > 0 else None  # exact for q >= 2^-20
        self.shifts = np.arange(8 - self.k, -1, -self.k, dtype=np.uint8)[None, :]
        self.field = np.uint8((1 << self.k) - 1)

    def draw(self, bg: np.random.PCG64, E: int, out: np.ndarray | None = None) -> np.ndarray:
        """``E`` booleans (True = kept), written to ``out`` if given."""
        nbytes = -(-E * self.k // 8)
        raw = bg.random_raw(-(-nbytes // 8)).view(np.uint8)[:nbytes]
        if self.k == 1:
            v = np.unpackbits(raw, count=E)
        elif self.k == 8:
            v = raw[:E]
        else:
            v = ((raw[:, None] >> self.shifts) & self.field).reshape(-1)[:E]
        keep = np.less(v, np.uint8(self.t), out=out)
        if self.thr is not None:
            tie = np.flatnonzero(v == np.uint8(self.t))
            if tie.size:
                keep[tie] = bg.random_raw(tie.size) < np.uint64(self.thr)
        return keep


_ANGLE = 2.0 * np.pi / 2.0 ** 32
_NORMAL_CHUNK = 1 << 15  # normals per Box–Muller pass: temporaries stay in L2, the raw
# words are the only per-chunk allocation (8 bytes per 2 normals)


def _box_muller(bg: np.random.PCG64, out: np.ndarray, ws: _Workspace) -> None:
    """Fill ``out`` (float64, at most ``_NORMAL_CHUNK``) with standard normals by
    Box–Muller, one 64-bit word per pair; the values are float32-representable."""
    K = out.size
    h = (K + 1) // 2
    r32 = bg.random_raw(h).view(np.uint32)
    u = ws.get("u", h)
    np.multiply(r32[0::2], 2.0 ** -32, out=u)
    u += 2.0 ** -33  # u = (k + 1/2) 2^-32 ∈ (0, 1), exact in float64: never 0, never 1
    np.log(u, out=u)  # float64: keeps the resolution of -ln u near u = 1
    rad = ws.get("rad", h, np.float32)
    np.multiply(u, -2.0, out=rad, casting="same_kind")
    np.sqrt(rad, out=rad)
    th = ws.get("th", h)
    np.multiply(r32[1::2], _ANGLE, out=th)
    th += 0.5 * _ANGLE  # (k + 1/2) 2π/2^32; float32 keeps 24 bits of it
    ang = ws.get("ang", h, np.float32)
    np.copyto(ang, th, casting="same_kind")
    z = ws.get("z32", 2 * h, np.float32)
    np.cos(ang, out=z[:h])
    np.sin(ang, out=z[h:])
    z[:h] *= rad
    z[h:] *= rad
    out[:] = z[:K]  # float32 -> float64: exact


def _normals_into(bg: np.random.PCG64, out: np.ndarray, ws: _Workspace | None = None) -> None:
    """Fill the contiguous float64 vector ``out`` with standard normals, chunk by chunk."""
    ws = ws if ws is not None else _workspace()
    K = out.size
    for s in range(0, K, _NORMAL_CHUNK):
        _box_muller(bg, out[s:s + _NORMAL_CHUNK], ws)


def _normals(bg: np.random.PCG64, K: int) -> np.ndarray:
    """``K`` standard normals as a new float64 array (values are float32-representable)."""
    out = np.empty(K)
    _normals_into(bg, out)
    return out


def _fill_block(ss: np.random.SeedSequence, W: np.ndarray, M: np.ndarray | None,
                bern: _Bernoulli | None) -> None:
    """Fill one row block of a weight matrix (and its mask) from its own stream; a masked
    block's ``W`` must arrive zeroed."""
    bg = np.random.PCG64(ss)
    ws = _workspace()
    Wf = W.reshape(-1)  # row blocks of a C-contiguous matrix are contiguous
    if bern is None:
        _normals_into(bg, Wf, ws)
        return
    keep = bern.draw(bg, Wf.size, ws.get("keep", Wf.size, np.bool_))
    np.copyto(M.reshape(-1), keep)
    idx = np.flatnonzero(keep)
    z = ws.get("z", idx.size)
    _normals_into(bg, z, ws)
    Wf[idx] = z  # weights only where the mask keeps them (a float64 source: with float32
    # numpy would cast inside the scatter, 3x slower)


def _draw_matrix(ss: np.random.SeedSequence, h: int, rows: int, cols: int, q: float | None,
                 workers: int) -> tuple[np.ndarray, np.ndarray | None]:
    """``(W, M)`` for matrix ``h``: N(0,1) weights (zero where pruned) and the float64 0/1
    mask (``None`` if unmasked)."""
    # zeros for a masked W: fresh pages come zeroed from the OS, which saves a fill pass
    W = np.empty((rows, cols)) if q is None else np.zeros((rows, cols))
    M = np.empty((rows, cols)) if q is not None else None
    bern = _Bernoulli(q) if q is not None else None
    per = max(1, _BLOCK_ENTRIES // cols)
    starts = range(0, rows, per)

    def job(b: int) -> None:
        r0 = starts[b]
        r1 = min(rows, r0 + per)
        kid = np.random.SeedSequence(entropy=ss.entropy, spawn_key=ss.spawn_key + (_TAG, h, b),
                                     pool_size=ss.pool_size)
        _fill_block(kid, W[r0:r1], None if M is None else M[r0:r1], bern)

    if workers > 1 and rows * cols >= _PARALLEL_MIN_ENTRIES and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(starts))) as ex:
            list(ex.map(job, range(len(starts))))
    else:
        for b in range(len(starts)):
            job(b)
    return W, M


@dataclass(frozen=True, eq=False)
class Network:
    """One draw of the finite network (docs/math.md#network, docs/math.md#pruning).

    ``weights[h]`` (shape ``(d_{h+1}, d_h)``) holds the standard-normal draws: ``W_h`` with
    zeros at the pruned positions (model ``"mask"``) or ``Z_h`` (model ``"variance"``).
    ``masks[h]`` is the float64 0/1 mask of a masked matrix, else ``None``. The forward
    pass uses ``scales[h] · weights[h]`` (``sqrt(alpha_h)``, resp. ``sqrt(s_h)``), and
    matrix ``h``'s NTK term is ``ntk_factors[h] · Σ_ij M_ij b_i b'_i g_j g'_j``
    (``alpha_h``, resp. 1: the gradient is taken w.r.t. ``W_h`` at the kept entries,
    resp. w.r.t. ``W'_h = sqrt(s_h) Z_h``).
    """

    arch: Architecture
    d0: int
    widths: tuple[int, ...]
    weights: tuple[np.ndarray, ...]
    masks: tuple[np.ndarray | None, ...]
    scales: tuple[float, ...]
    ntk_factors: tuple[float, ...]
    c_sigma: float

    @property
    def depth(self) -> int:
        return self.arch.depth

    @property
    def dims(self) -> tuple[int, ...]:
        """``(d_0, d_1, …, d_L, 1)``."""
        return (self.d0,) + self.widths + (1,)

    def effective_weight(self, h: int) -> np.ndarray:
        """The matrix the forward pass multiplies by: ``sqrt(a_h) (M_h ⊙ W_h)``."""
        return self.scales[h] * self.weights[h]


def draw_network(arch: Architecture, d0: int, width: WidthLike, seed: SeedLike, *,
                 workers: int | None = None) -> Network:
    """Draw weights (and masks) of the finite network (docs/math.md#network, docs/math.md#pruning).

    ``width``: hidden width, an int or one int per hidden layer. ``seed``: non-negative int
    or ``numpy.random.SeedSequence``; same seed → bit-identical network, whatever
    ``workers`` (number of drawing threads, default 1: see ``_check_workers``). The
    random-number scheme and its (negligible) quantisations are described in the module
    docstring.
    """
    arch = _check_arch(arch)
    d0 = _check_int(d0, "d0", 1)
    widths = _resolve_widths(arch, width)
    ss = _check_seed(seed)
    workers = _check_workers(workers)
    dims = (d0,) + widths + (1,)
    pruned = set(arch.pruned_matrices())
    weights, masks = [], []
    for h in range(arch.n_matrices):
        masked = arch.model == "mask" and h in pruned
        q = float(arch.q_of(h)) if masked else None
        W, M = _draw_matrix(ss, h, dims[h + 1], dims[h], q, workers)
        weights.append(W)
        masks.append(M)
    scales, factors = matrix_scales(arch)
    return Network(arch=arch, d0=d0, widths=widths, weights=tuple(weights), masks=tuple(masks),
                   scales=scales, ntk_factors=factors, c_sigma=float(arch.act.c_sigma(NUMPY)))


def matrix_scales(arch: Architecture) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per matrix ``h``: the forward multiplier of the drawn weights and the factor of its
    NTK term (docs/math.md#pruning). Hard masks: ``sqrt(alpha_h)`` and ``alpha_h`` (the
    gradient is taken w.r.t. the kept ``W_h``); variance model: ``sqrt(s_h)`` and 1 (w.r.t.
    ``W'_h = sqrt(s_h) Z_h``)."""
    scales, factors = [], []
    for h in range(arch.n_matrices):
        if arch.model == "mask":
            alpha = float(arch.alpha_of(h))
            scales.append(float(np.sqrt(alpha)))
            factors.append(alpha)
        else:
            scales.append(float(np.sqrt(float(arch.s_of(h)))))
            factors.append(1.0)
    return tuple(scales), tuple(factors)


# ----------------------------------------------------------------------------- forward / backward
@dataclass(frozen=True, eq=False)
class Trace:
    """Forward and backward signals of a network on inputs ``X`` (n of them).

    ``G[h]`` ``(d_h, n)``: input of matrix ``h`` (``G[0] = Xᵀ``, ``G[h] = g^(h)``).
    ``B[h]`` ``(d_{h+1}, n)``: ``∂f/∂f^(h+1)``, the backprop signal at matrix ``h``'s output.
    ``output`` ``(n,)``: ``f(x)``.
    """

    G: tuple[np.ndarray, ...]
    B: tuple[np.ndarray, ...]
    output: np.ndarray


def forward_backward(net: Network, X: Any, *, backward: bool = True) -> Trace:
    """Forward pass and backprop signals for all inputs at once (docs/math.md#network); dense
    float64 matrix products with ``n`` columns. ``backward=False`` skips the backprop
    signals (``B`` is then empty), enough for the NNGP and the output."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be a theory.network.Network, got {type(net).__name__}")
    X = _check_X(X, net.d0)
    act = net.arch.act
    L = net.depth
    G = [np.ascontiguousarray(X.T)]
    pre = []
    for h in range(L):
        F = net.weights[h] @ G[h]
        if net.scales[h] != 1.0:
            F *= net.scales[h]
        pre.append(F)
        G.append(np.sqrt(net.c_sigma / net.widths[h]) * act.forward(F))
    out = net.weights[L] @ G[L]
    if net.scales[L] != 1.0:
        out *= net.scales[L]
    if not backward:
        return Trace(G=tuple(G), B=(), output=out[0].copy())
    # Backprop along rows, Bᵀ W (n × d_in): streams the C-ordered W the way the forward
    # pass does (measured 1.5x faster than Wᵀ B); B[h] is stored as the transposed view.
    Bt = [None] * (L + 1)
    Bt[L] = np.ones((X.shape[0], 1))  # ∂f/∂f^(L+1) = 1
    for h in range(L, 0, -1):
        back = Bt[h] @ net.weights[h]
        back *= net.scales[h] * np.sqrt(net.c_sigma / net.widths[h - 1])
        back *= act.derivative(pre[h - 1]).T
        Bt[h - 1] = back
    B = [bt.T for bt in Bt]
    return Trace(G=tuple(G), B=tuple(B), output=out[0].copy())


def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n)


def _masked_term(M: np.ndarray, B: np.ndarray, G: np.ndarray, ia: np.ndarray,
                 ib: np.ndarray) -> np.ndarray:
    """``Σ_ij M_ij B_ia B_ib G_ja G_jb`` for the pairs ``(ia, ib)``: one GEMM per chunk.

    Pairs run along rows here, ``(GG)ᵀ Mᵀ`` with ``(GG)ᵀ`` of shape ``(pairs, d_in)``: the
    pair products are then row gathers of contiguous vectors (column gathers of an
    ``(d, n)`` array cost more than the small GEMMs), and numpy hands OpenBLAS the
    C-ordered mask as a transposed operand without copying it."""
    P = ia.size
    d = max(M.shape)
    chunk = max(1, min(P, _PAIR_CHUNK_BYTES // (8 * d)))
    Gt = np.ascontiguousarray(G.T)  # (n, d_in)
    Bt = np.ascontiguousarray(B.T)  # (n, d_out)
    res = np.empty(P)
    for s in range(0, P, chunk):
        a, b = ia[s:s + chunk], ib[s:s + chunk]
        GG = Gt[a]
        GG *= Gt[b]  # (c, d_in)
        T = GG @ M.T  # (c, d_out): the O(c d_in d_out) product
        BB = Bt[a]
        BB *= Bt[b]
        res[s:s + chunk] = np.einsum("pi,pi->p", T, BB)
    return res


def ntk_contributions(net: Network, trace: Trace) -> np.ndarray:
    """Per-matrix NTK terms ``Θ_h`` as an ``(L+1, n, n)`` array (their sum is ``Θ_d``).

    Masked matrix: one GEMM over the ``n(n+1)/2`` input pairs (module docstring);
    unmasked: ``(BᵀB) ⊙ (GᵀG)``. Scaled by ``net.ntk_factors[h]``.
    """
    if not trace.B:
        raise ValueError("trace has no backprop signals; use forward_backward(..., "
                         "backward=True)")
    n = trace.output.shape[0]
    ia, ib = _pairs(n)
    out = np.empty((net.depth + 1, n, n))
    for h in range(net.depth + 1):
        B, G, M = trace.B[h], trace.G[h], net.masks[h]
        if M is None:
            K = (B.T @ B) * (G.T @ G)
        else:
            v = _masked_term(M, B, G, ia, ib)
            K = np.empty((n, n))
            K[ia, ib] = v
            K[ib, ia] = v
        if net.ntk_factors[h] != 1.0:
            K *= net.ntk_factors[h]
        out[h] = K
    return out


def nngp_from_trace(trace: Trace) -> np.ndarray:
    """Empirical NNGP: Gram matrix of the last hidden layer, ``g^(L)ᵀ g^(L)``."""
    g = trace.G[-1]
    return g.T @ g


def network_kernels(net: Network, X: Any) -> dict[str, np.ndarray]:
    """``{"ntk", "nngp", "per_layer", "output"}`` of a drawn network on ``X``."""
    tr = forward_backward(net, X)
    per = ntk_contributions(net, tr)
    return {"ntk": per.sum(axis=0), "nngp": nngp_from_trace(tr), "per_layer": per,
            "output": tr.output}


# ----------------------------------------------------------------------------- public API
def _check_single(memory_budget: Any) -> None:
    if memory_budget is not None:
        raise ValueError("memory_budget applies to batches only (give draws=K as well)")


def sample_kernels(arch: Architecture, X: Any, width: WidthLike, seed: SeedLike, *,
                   draws: int | None = None, memory_budget: int | None = None
                   ) -> dict[str, np.ndarray]:
    """Empirical NTK, NNGP and per-matrix NTK terms of ONE network draw on ``X``.

    Returns ``{"ntk": (n, n), "nngp": (n, n), "per_layer": (L+1, n, n), "output": (n,)}``,
    all float64. docs/math.md#network (network), §3 (pruning models).

    With ``draws=K`` (an integer ``>= 1``): ``K`` independent networks (masks and weights
    redrawn), drawn and contracted together by :mod:`theory.batched`; every entry then has
    a leading axis of length ``K``. The batch is computed in chunks within
    ``memory_budget`` bytes (default 256 MiB) and does not depend on it; draw ``k`` is not
    equal to a single draw (see :mod:`theory.batched` for what a batch is).
    """
    if draws is not None:
        from .batched import batched_kernels
        return batched_kernels(arch, X, width, seed, draws, memory_budget=memory_budget)
    _check_single(memory_budget)
    arch = _check_arch(arch)
    X = _check_X(X)
    net = draw_network(arch, X.shape[1], width, seed)
    return network_kernels(net, X)


def empirical_ntk(arch: Architecture, X: Any, width: WidthLike = 1024, seed: SeedLike = 0, *,
                  per_layer: bool = False, draws: int | None = None,
                  memory_budget: int | None = None) -> np.ndarray:
    """Exact NTK ``Θ_d(x, x')`` of one finite network draw (docs/math.md#network,
    docs/math.md#pruning): ``(n, n)``, or the ``(L+1, n, n)`` per-matrix terms when
    ``per_layer`` (they sum to ``Θ_d``).

    ``draws=K``: ``K`` independent draws at once, shape ``(K, n, n)`` (resp.
    ``(K, L+1, n, n)``); ``memory_budget`` bytes per chunk (see :func:`sample_kernels`).
    """
    if draws is not None:
        k = sample_kernels(arch, X, width, seed, draws=draws, memory_budget=memory_budget)
    else:
        _check_single(memory_budget)
        k = sample_kernels(arch, X, width, seed)
    return k["per_layer"] if per_layer else k["ntk"]


def empirical_nngp(arch: Architecture, X: Any, width: WidthLike = 1024, seed: SeedLike = 0, *,
                   draws: int | None = None, memory_budget: int | None = None) -> np.ndarray:
    """Gram matrix of the last hidden layer ``g^(L)`` of one draw (``X Xᵀ`` for ``L = 0``);
    the same draw as :func:`empirical_ntk` with the same arguments (also with ``draws=K``:
    ``(K, n, n)``, the same networks as ``empirical_ntk(..., draws=K)``)."""
    if draws is not None:
        from .batched import batched_kernels
        return batched_kernels(arch, X, width, seed, draws, memory_budget=memory_budget,
                               backward=False)["nngp"]
    _check_single(memory_budget)
    arch = _check_arch(arch)
    X = _check_X(X)
    net = draw_network(arch, X.shape[1], width, seed)
    return nngp_from_trace(forward_backward(net, X, backward=False))
