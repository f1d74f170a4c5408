"""The infinite-width kernels of a (pruned) architecture on concrete inputs.

``limit_ntk`` / ``limit_nngp`` evaluate the one recursion (``theory.recursion``) on all
pairs of rows of ``X`` (or the cross pairs ``X × X2``), with the input layer either the
mask mixture of docs/math.md#input-layer (``theory.input_layer``) or "wide"
(docs/math.md#pruning: layer 1 treated like the others).

float64 evaluation at data-set scale (docs/guide/dataset_scale.md): the input angles come
from one Gram matrix (``theory.recursion.pair_angles``) and the recursion runs on square
tiles of the output (bounded memory, cache-sized arrays, only the upper triangle when
``X2`` is ``None``), optionally on several threads (numpy releases the GIL inside its
ufuncs). The recursion is the same function for every backend; only the driver tiles.

Which route computed the input-layer mixture, and with what error, is reported by
:func:`limit_result` (a :class:`LimitResult`), or by passing a dict as ``info=`` to
:func:`limit_kernels` / :func:`limit_ntk` / :func:`limit_nngp`.
"""
from __future__ import annotations

import os
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from .architecture import Architecture
from .blas_threads import one_blas_thread
from .backends import NumpyBackend, get_backend
from .input_layer import (DEFAULT_N_MASKS, DEFAULT_TOL, MixturePlan, MixtureSampledWarning,
                          layer1_mixture, needs_mixture)
from .numerics import check_finite_and_representable
from .recursion import FirstLayer, RecursionResult, input_state, pair_angles, run_recursion, unit_rows

INPUT_LAYER_MODES = ("exact", "wide")
KERNELS = ("ntk", "nngp")
#: default tile edge of the float64 driver (entries per tile = TILE²)
TILE = 256
#: bytes of working memory per tile entry (≈ 30 live float64 temporaries, measured
#: with tracemalloc on ReLU L = 3; see benchmarks/bench_limit.py)
BYTES_PER_TILE_ENTRY = 240


def validate_inputs(X: Any, name: str = "X") -> np.ndarray:
    """``X`` must be a finite real (n, d0) array with n >= 1, d0 >= 1."""
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be a 2-D array of shape (n, d0), got {type(X).__name__}")
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real numeric array of shape (n, d0)") from None
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D of shape (n, d0) (a pair of inputs is n = 2), "
                         f"got shape {A.shape}")
    if A.shape[0] < 1 or A.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or inf")
    return A


def auto_tile(n1: int, n2: int) -> int:
    """Default tile edge without the input-layer mixture: ``TILE``, or for small matrices
    half the larger side (at least 32), so that both threads get work and a symmetric
    Gram's diagonal tiles (computed in full, then mirrored) waste less. With the mixture
    the default stays ``TILE`` (its error report is normalised per tile)."""
    m = max(int(n1), int(n2))
    return TILE if m > 2 * TILE else max(32, -(-m // 2))


def gram_memory_bytes(n1: int, n2: int | None = None, *, kernels: int = 1) -> int:
    """Bytes of the float64 output of ``kernels`` Gram matrices of shape (n1, n2)."""
    n2 = n1 if n2 is None else n2
    return 8 * int(n1) * int(n2) * int(kernels)


def _check_fits(n1: int, n2: int, kernels: int, max_bytes: int | None) -> None:
    """Refuse an in-memory result larger than ``max_bytes`` (default: the available RAM,
    when the OS reports it) with the size and the streaming alternative."""
    need = gram_memory_bytes(n1, n2, kernels=kernels)
    if max_bytes is None:
        try:
            max_bytes = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
            return
    if need > max_bytes:
        raise MemoryError(
            f"the requested {kernels} Gram matri{'x' if kernels == 1 else 'ces'} of shape "
            f"({n1}, {n2}) need {need / 2**30:.1f} GiB of float64 but only "
            f"{max_bytes / 2**30:.1f} GiB are available; stream it to disk with "
            f"theory.limits.stream_gram(arch, X, 'K.npy') (CLI: theory limit --inputs X.npy "
            f"--out K.npy), or pass X2 = a block of rows to compute K(X, X2) piece by piece")


@dataclass
class LimitResult:
    """A limit kernel together with how its input layer was computed.

    ``route`` is one of ``"dense"`` (the input matrix is not hard-masked, or the model is
    "variance": no mixture exists), ``"wide"`` (mixture replaced by the wide formula on
    request), ``"enumerated"`` (all ``2^{d0}`` masks; exact to rounding),
    ``"expansion"`` (the ``1/d0`` expansion of notes/input_layer_expansion.md, every entry
    within ``tol`` by its error estimate), ``"sampled"`` (Monte Carlo over masks for at
    least one entry), or ``"mixed"`` (expansion for most entries, enumeration for the
    rest). ``error_estimate`` is the largest estimated relative error of the kernel
    (``error_kind`` says what it is); ``stderr`` the largest Monte Carlo standard error
    relative to the entry (sampled only)."""

    value: np.ndarray
    kernel: str
    route: str
    error_estimate: float = 0.0
    error_kind: str = "rounding"
    stderr: float | None = None
    n_masks: int | None = None
    order: int | None = None
    tol: float | None = None
    routes: dict = field(default_factory=dict)   # entries per route
    warnings: list = field(default_factory=list)

    def as_dict(self, include_value: bool = False) -> dict:
        """JSON-friendly summary (the matrix itself only when ``include_value``)."""
        d = asdict(self)
        d.pop("value")
        if include_value:
            d["value"] = np.asarray(self.value, dtype=float).tolist()
        d["shape"] = list(np.shape(self.value))
        return d


def limit_kernels(arch: Architecture, X: Any, *, X2: Any = None, input_layer: str = "exact",
                  backend: Any = "numpy", dps: int = 50, per_layer: bool = False,
                  mixture_method: str = "auto", n_masks: int = DEFAULT_N_MASKS,
                  mixture_seed: int = 0, tol: float = DEFAULT_TOL, info: dict | None = None,
                  tile: int | None = None, workers: int | None = None,
                  max_bytes: int | None = None,
                  kernels: tuple = ("ntk", "nngp")) -> RecursionResult:
    """All limit kernels from one pass of the recursion (see :func:`limit_ntk`).

    ``X2`` (optional, same ``d0``) gives the cross kernels ``K(X, X2)`` of shape
    (n1, n2). ``info``, if a dict, is filled with the input-layer route report (keys of
    :class:`LimitResult` except ``value``). ``tile`` (default :func:`auto_tile`) and
    ``workers`` (default ``os.cpu_count()`` threads) tune the float64 driver; results are
    bit-identical for any ``workers``. ``kernels`` says which of ``"ntk"``, ``"nngp"``
    the float64 driver keeps in memory (the other is ``None``). ``max_bytes`` caps the
    in-memory output (default: the available RAM); above it a ``MemoryError`` says how
    much is needed and how to stream or block the computation."""
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be a theory.Architecture, got {type(arch).__name__}")
    if input_layer not in INPUT_LAYER_MODES:
        raise ValueError(f"input_layer must be one of {INPUT_LAYER_MODES}, got {input_layer!r}")
    B = get_backend(backend, dps)
    if arch.is_symbolic and B.name != "sympy":
        raise ValueError("p is symbolic: substitute numbers for p (e.g. arch.with_(p=0.5)) or use "
                         "theory.symbolic_ntk for expressions")
    A = validate_inputs(X)
    A2 = None
    if X2 is not None:
        A2 = validate_inputs(X2, "X2")
        if A2.shape[1] != A.shape[1]:
            raise ValueError(f"X2 must have the same number of columns d0 = {A.shape[1]} as X, "
                             f"got shape {A2.shape}")
    mix = input_layer == "exact" and needs_mixture(arch)
    if isinstance(B, NumpyBackend):
        n2 = A.shape[0] if A2 is None else A2.shape[0]
        kernels = tuple(kernels)
        if not kernels or any(k not in KERNELS for k in kernels):
            raise ValueError(f"kernels must be a non-empty subset of {KERNELS}, got {kernels!r}")
        _check_fits(A.shape[0], n2, len(kernels) + (arch.n_matrices if per_layer else 0),
                    max_bytes)
        res, rep = _numpy_kernels(arch, A, A2, mix=mix, per_layer=per_layer, method=mixture_method,
                                  n_masks=n_masks, seed=mixture_seed, tol=tol, tile=tile,
                                  workers=workers, want=kernels)
        # underflow: one warning with the remedy, naming every kernel (theory.numerics)
        check_finite_and_representable([(f"the limit {k.upper()}", getattr(res, k)) for k in kernels],
                                       arch, A, diagonal=A2 is None)
    else:
        res, rep = _object_kernels(B, arch, A, A2, mix=mix, per_layer=per_layer,
                                   method=mixture_method, n_masks=n_masks, seed=mixture_seed)
    if not mix:
        rep.update(route="wide" if needs_mixture(arch) else "dense")
    if info is not None:
        info.clear()
        info.update(rep)
    return res


def _route_report() -> dict:
    return {"route": "dense", "error_estimate": 0.0, "error_kind": "rounding", "stderr": None,
            "n_masks": None, "order": None, "tol": None, "routes": {}, "warnings": []}


def _object_kernels(B, arch, A, A2, *, mix, per_layer, method, n_masks, seed):
    """mpmath / sympy: every pair at once (small n); cross kernels by stacking."""
    Xall = A if A2 is None else np.vstack([A, A2])
    v, theta, phi = input_state(B, Xall)
    rep = _route_report()
    first = None
    if mix:
        m = layer1_mixture(B, arch, Xall, method=method, n_masks=n_masks, seed=seed)
        first = m.first
        rep.update(route="enumerated" if m.method == "exact" else "sampled", n_masks=m.n_masks)
    res = run_recursion(B, arch, v[:, None], v[None, :], theta, phi, first=first,
                        per_layer=per_layer)
    n1 = A.shape[0]
    sl = (slice(None), slice(None)) if A2 is None else (slice(0, n1), slice(n1, None))
    res.ntk = np.broadcast_to(res.ntk, theta.shape)[sl]
    res.nngp = np.broadcast_to(res.nngp, theta.shape)[sl]
    if per_layer:
        res.per_layer = [np.broadcast_to(c, theta.shape)[sl] for c in res.per_layer]
    return res, rep




#: glibc ``malloc`` settings applied once by the float64 driver (``TUNE_MALLOC = False``
#: before the first call leaves ``malloc`` alone). glibc's defaults serve a tile-sized
#: temporary (≥ 128 KiB) by ``mmap`` or return it to the OS when freed, so every numpy
#: temporary of every layer page-faults anew: measured 172 → 71 ns per Gram entry (ReLU,
#: L = 3, tile 256). With these, allocations below 16 MiB come from the heap and up to
#: 64 MiB of freed heap is kept for reuse instead of being trimmed.
TUNE_MALLOC = True
_MALLOC = {"M_TRIM_THRESHOLD": (-1, 64 << 20), "M_MMAP_THRESHOLD": (-3, 16 << 20)}
_malloc_tuned = False


def _tune_malloc() -> None:
    global _malloc_tuned
    if _malloc_tuned or not TUNE_MALLOC:
        return
    _malloc_tuned = True
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt   # glibc only; elsewhere nothing happens
    except (OSError, AttributeError):  # pragma: no cover - non-glibc platforms
        return
    for param, value in _MALLOC.values():
        mallopt(ctypes.c_int(param), ctypes.c_int(value))


def _tiles(n1: int, n2: int, t: int, sym: bool) -> list[tuple[int, int, int, int]]:
    out = []
    for i0 in range(0, n1, t):
        for j0 in range(i0 if sym else 0, n2, t):
            out.append((i0, min(i0 + t, n1), j0, min(j0 + t, n2)))
    return out


def _numpy_kernels(arch, A, A2, *, mix, per_layer, method, n_masks, seed, tol, tile, workers,
                   sink: Callable | None = None, progress: Callable | None = None,
                   want=("ntk", "nngp")):
    """The tiled float64 driver. Without ``sink`` the kernels are assembled in memory;
    with it, ``sink(i0, i1, j0, j1, {name: tile})`` receives every tile (upper triangle
    only when ``A2`` is ``None``)."""
    B = get_backend("numpy")
    if tile is None:   # the mixture's per-tile error report is normalised per tile: keep TILE
        tile = TILE if mix else auto_tile(A.shape[0], A.shape[0] if A2 is None else A2.shape[0])
    if not isinstance(tile, (int, np.integer)) or tile < 1:
        raise ValueError(f"tile must be a positive integer, got {tile!r}")
    if workers is None:
        workers = os.cpu_count() or 1
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    _tune_malloc()
    sym = A2 is None
    v1, U1, _ = unit_rows(A)
    v2, U2, _ = (v1, U1, None) if sym else unit_rows(A2)
    n1, n2 = U1.shape[0], U2.shape[0]
    plan = MixturePlan(arch, A, A2, method=method, n_masks=n_masks, seed=seed, tol=tol) \
        if mix else None
    L = arch.depth

    def one(t):
        i0, i1, j0, j1 = t
        diag = sym and i0 == j0
        theta, phi, trig = pair_angles(U1[i0:i1], U2[j0:j1], diagonal=diag, trig=True)
        B.remember_trig(theta, *trig)   # the first layer's maps then skip sin/cos
        first, stats = (None, None)
        if plan is not None:
            first, stats = plan.tile(i0, i1, j0, j1)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            r = run_recursion(B, arch, v1[i0:i1, None], v2[None, j0:j1], theta, phi,
                              first=first, per_layer=per_layer)
        B.forget_trig()
        shape = theta.shape
        out = {}
        if "ntk" in want or per_layer:
            out["ntk"] = B.check_finite(np.asarray(r.ntk, dtype=np.float64), "the limit NTK")
        if "nngp" in want:
            out["nngp"] = B.check_finite(np.broadcast_to(r.nngp, shape).astype(np.float64),
                                         "the limit NNGP")
        if per_layer:
            for h, c in enumerate(r.per_layer):
                out[f"layer{h}"] = np.broadcast_to(c, shape).astype(np.float64)
        if diag:  # the diagonal tile's two triangles from the same entries
            for k, blk in out.items():
                iu = np.triu_indices(blk.shape[0], 1)
                blk.T[iu] = blk[iu]
        if plan is not None and plan.propagate:
            out["ntk_err"], out["nngp_err"] = plan.propagate_error(
                arch, first, stats, v1[i0:i1, None], v2[None, j0:j1], theta, phi, r)
        return t, out, stats

    tiles = _tiles(n1, n2, int(tile), sym)
    store = None
    if sink is None:
        names = list(want) + ([f"layer{h}" for h in range(arch.n_matrices)] if per_layer else [])
        store = {k: np.empty((n1, n2)) for k in names}

    errs = {"ntk": 0.0, "nngp": 0.0}
    all_stats = []

    def consume(t, out):
        i0, i1, j0, j1 = t
        for k in ("ntk_err", "nngp_err"):
            if k in out:
                errs[k[:-4]] = max(errs[k[:-4]], float(out.pop(k)))
        for k in [k for k in out if k in KERNELS and k not in want]:
            del out[k]
        if sink is not None:
            sink(i0, i1, j0, j1, out)
        else:
            for k, blk in out.items():
                store[k][i0:i1, j0:j1] = blk
                if sym and i0 != j0:
                    store[k][j0:j1, i0:i1] = blk.T
        if progress is not None:
            progress((i1 - i0) * (j1 - j0) * (2 if sym and i0 != j0 else 1))

    # our tiles run in parallel threads: a multi-threaded BLAS inside each tile's small
    # GEMM would oversubscribe the cores (theory.blas_threads)
    with one_blas_thread():
        if workers == 1 or len(tiles) == 1:
            for t in tiles:
                t, out, st = one(t)
                all_stats.append(st)
                consume(t, out)
        else:
            # a bounded window of tiles in flight (consumed in order): finished tiles
            # never pile up in memory when the consumer falls behind
            window = 2 * int(workers)
            with ThreadPoolExecutor(max_workers=int(workers)) as ex:
                pending: deque = deque()
                for t in tiles:
                    pending.append(ex.submit(one, t))
                    if len(pending) >= window:
                        tt, out, st = pending.popleft().result()
                        all_stats.append(st)
                        consume(tt, out)
                while pending:
                    tt, out, st = pending.popleft().result()
                    all_stats.append(st)
                    consume(tt, out)

    rep = _route_report()
    if plan is not None:
        rep.update(plan.report(all_stats, errs))
        if rep["route"] == "sampled":
            msg = (f"input_layer='exact': the input-layer mixture of {rep['routes'].get('sampled', 0)} "
                   f"entries could only be sampled ({plan.n_masks} masks; largest relative "
                   f"standard error {rep['stderr']:.2g}); the expansion's error estimate "
                   f"exceeded tol = {tol:g} there and d0 = {plan.d0} is too large to enumerate")
            rep["warnings"].append(msg)
            warnings.warn(msg, MixtureSampledWarning, stacklevel=4)
    res = RecursionResult(ntk=None, nngp=None)
    if store is not None:
        res.ntk, res.nngp = store.get("ntk"), store.get("nngp")
        if per_layer:
            res.per_layer = [store[f"layer{h}"] for h in range(arch.n_matrices)]
    return res, rep


def limit_ntk(arch: Architecture, X: Any, input_layer: str = "exact", *,
              backend: Any = "numpy", dps: int = 50, **kw: Any) -> np.ndarray:
    """Infinite-width NTK ``Θ̃`` (docs/math.md#limit, docs/math.md#pruning,
    docs/math.md#input-layer) of all pairs of rows of ``X`` (or of ``X × X2`` with the
    keyword ``X2``).

    ``input_layer="exact"`` uses the input-layer mask mixture (docs/math.md#input-layer)
    whenever the input matrix is hard-masked, to within ``tol`` (default 1e-10 relative)
    by the cheapest route that certifies it: enumeration of the ``2^{d0}`` masks, or the
    ``1/d0`` expansion of notes/input_layer_expansion.md where its error estimate is below
    ``tol``; where neither applies the mixture is sampled and a
    :class:`theory.input_layer.MixtureSampledWarning` is issued (never silently).
    ``"wide"`` treats layer 1 like every other layer (docs/math.md#pruning).
    ``backend="numpy"`` returns float64; ``"mpmath"`` an object array of ``mpf`` at
    ``dps`` digits. Extra keywords (``per_layer`` excluded; ``X2``, ``info``, ``tol``,
    ``mixture_method``, ``tile``, ``workers`` …) go to :func:`limit_kernels`; pass
    ``info={}`` to receive the route report.
    """
    kw.setdefault("kernels", ("ntk",))
    return limit_kernels(arch, X, input_layer=input_layer, backend=backend, dps=dps, **kw).ntk


def limit_nngp(arch: Architecture, X: Any, input_layer: str = "exact", *,
               backend: Any = "numpy", dps: int = 50, **kw: Any) -> np.ndarray:
    """Infinite-width NNGP ``Σ̃^(L)`` (last hidden layer; ``XXᵀ`` for depth 0)."""
    kw.setdefault("kernels", ("nngp",))
    return limit_kernels(arch, X, input_layer=input_layer, backend=backend, dps=dps, **kw).nngp


def limit_result(arch: Architecture, X1: Any, X2: Any = None, *, kernel: str = "ntk",
                 input_layer: str = "exact", tol: float = DEFAULT_TOL, **kw: Any) -> LimitResult:
    """The limit ``kernel`` (``"ntk"`` or ``"nngp"``) of ``X1 × X2`` (``X2=None``: all
    pairs of ``X1``) with its input-layer route and error report (:class:`LimitResult`).

    A sampled route is reported (``route="sampled"``, ``stderr``) and warned about, never
    hidden. ``error_estimate`` is relative to the largest entry of the same row and
    column scale ``sqrt(K(x,x) K(x',x'))`` and is an estimate (the next term of the
    expansion, propagated through the recursion), not a rigorous bound; see
    docs/guide/dataset_scale.md."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    info: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MixtureSampledWarning)
        res = limit_kernels(arch, X1, X2=X2, input_layer=input_layer, tol=tol, info=info,
                            kernels=(kernel,), **kw)
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=2)
    value = res.ntk if kernel == "ntk" else res.nngp
    err = info.get("error_estimate_" + kernel, info["error_estimate"])
    return LimitResult(value=value, kernel=kernel, route=info["route"], error_estimate=err,
                       error_kind=info["error_kind"], stderr=info["stderr"],
                       n_masks=info["n_masks"], order=info["order"], tol=info["tol"],
                       routes=info["routes"], warnings=info["warnings"])


def stream_gram(arch: Architecture, X: Any, path: str, *, X2: Any = None, kernel: str = "ntk",
                input_layer: str = "exact", tol: float = DEFAULT_TOL,
                progress: bool | None = None, tile: int | None = None, workers: int | None = None,
                **kw: Any) -> dict:
    """Compute the float64 limit ``kernel`` of ``X × X2`` tile by tile straight into the
    ``.npy`` file ``path`` (``numpy.lib.format.open_memmap``): the RAM in use is the
    tiles' working set (about ``BYTES_PER_TILE_ENTRY · tile²`` per worker) whatever
    ``n``. ``progress=None`` shows a ``tqdm`` bar on stderr when more than 16 million
    entries are computed (``True``/``False`` force it). Returns the route report
    (:meth:`LimitResult.as_dict` without the value) plus ``path`` and ``shape``."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be a theory.Architecture, got {type(arch).__name__}")
    if input_layer not in INPUT_LAYER_MODES:
        raise ValueError(f"input_layer must be one of {INPUT_LAYER_MODES}, got {input_layer!r}")
    if arch.is_symbolic:
        raise ValueError("p is symbolic: substitute numbers for p (e.g. arch.with_(p=0.5))")
    if not isinstance(path, (str, os.PathLike)) or not str(path).endswith(".npy"):
        raise ValueError(f"path must be a file name ending in .npy, got {path!r}")
    A = validate_inputs(X)
    A2 = None if X2 is None else validate_inputs(X2, "X2")
    if A2 is not None and A2.shape[1] != A.shape[1]:
        raise ValueError(f"X2 must have the same number of columns d0 = {A.shape[1]} as X, "
                         f"got shape {A2.shape}")
    n1, n2 = A.shape[0], (A.shape[0] if A2 is None else A2.shape[0])
    out = np.lib.format.open_memmap(str(path), mode="w+", dtype=np.float64, shape=(n1, n2))
    sym = A2 is None
    total = n1 * n2
    bar = None
    if progress or (progress is None and total > 16_000_000):
        try:
            from tqdm import tqdm
            bar = tqdm(total=total, unit="entries", unit_scale=True, desc=f"{kernel} {n1}x{n2}")
        except ImportError:  # pragma: no cover - tqdm is optional
            bar = None

    def sink(i0, i1, j0, j1, tiles):
        blk = tiles[kernel]
        out[i0:i1, j0:j1] = blk
        if sym and i0 != j0:
            out[j0:j1, i0:i1] = blk.T

    mix = input_layer == "exact" and needs_mixture(arch)
    if tile is None and mix:
        tile = 1024   # the mixture's per-tile error report: the tile it was calibrated with
    try:
        _, rep = _numpy_kernels(arch, A, A2, mix=mix, per_layer=False,
                                method=kw.pop("mixture_method", "auto"),
                                n_masks=kw.pop("n_masks", DEFAULT_N_MASKS),
                                seed=kw.pop("mixture_seed", 0), tol=tol, tile=tile,
                                workers=workers, sink=sink,
                                progress=bar.update if bar is not None else None,
                                want=(kernel,))
    finally:
        if bar is not None:
            bar.close()
        out.flush()
    if kw:
        raise TypeError(f"unexpected keyword arguments {sorted(kw)}")
    if not mix:
        rep.update(route="wide" if needs_mixture(arch) else "dense")
    del out
    rep.update(path=str(path), shape=[n1, n2], kernel=kernel)
    return rep


def cli_limit_to_file(arch: Architecture, X: Any, out_path: str, *, kernel: str = "ntk",
                      input_layer: str = "exact", tol: float = DEFAULT_TOL,
                      progress: bool | None = None) -> dict:
    """What ``theory limit --inputs X.npy --out K.npy`` runs: :func:`stream_gram` and a
    JSON-friendly summary (architecture, route report, output file)."""
    rep = stream_gram(arch, X, out_path, kernel=kernel, input_layer=input_layer, tol=tol,
                      progress=progress)
    return {"arch": arch.describe(), "input_layer": input_layer, **rep}
