"""Float64 range checks of the limit kernels and a log-scale result for very deep nets.

A pruned ReLU network multiplies its NTK by ``(1-p)^(L+1)`` (docs/math.md#pruning): at
``p = 0.5`` and ``L ≈ 1070`` that is below the smallest float64 number, and the float64
recursion returns exact zeros. :func:`check_finite_and_representable` detects this —
a diagonal entry ``Θ̃(x, x)`` of a nonzero input below the smallest normal float64
(``2.2e-308``; it is positive in exact arithmetic), or any subnormal entry (which has
lost relative precision) — and warns with :class:`KernelUnderflowWarning`, naming the two
remedies: the mpmath backend (``backend="mpmath"``, unbounded exponent range) and
:func:`log_ntk` (``log |Θ̃|`` and its sign, computed with the mpmath backend).
Overflow (inf/NaN) is reported by the backend's own finiteness check as a
``FloatingPointError`` with the same remedy.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .architecture import Architecture

_TINY = np.finfo(np.float64).tiny


class KernelUnderflowWarning(RuntimeWarning):
    """A float64 limit kernel underflowed (zeros or subnormal numbers where the exact
    kernel is a positive normal number): use ``backend="mpmath"`` or ``theory.log_ntk``."""


def _row_blocks(a: np.ndarray, entries: int = 1 << 16):
    """Row blocks of a 2-D array of about ``entries`` entries each: the whole-matrix
    checks below then run on cache-sized pieces without matrix-sized temporaries."""
    if a.ndim != 2:
        yield a
        return
    step = max(1, entries // max(1, a.shape[1]))
    for i in range(0, a.shape[0], step):
        yield a[i:i + step]


def _all_finite(a: np.ndarray) -> bool:
    return all(bool(np.all(np.isfinite(b))) for b in _row_blocks(a))


def _underflow_message(what: str, K: np.ndarray, X: np.ndarray, diagonal: bool = True
                       ) -> str | None:
    K = np.asarray(K, dtype=np.float64)
    if K.ndim != 2:
        return None
    nonzero = np.any(X != 0, axis=1) if X is not None else np.ones(K.shape[0], dtype=bool)
    problems = []
    if diagonal and K.shape[0] == K.shape[1] and K.shape[0] == nonzero.shape[0]:
        d = np.diag(K)
        bad = nonzero & (np.abs(d) < _TINY)
        if np.any(bad):
            problems.append(f"{int(bad.sum())} of {K.shape[0]} diagonal entries of nonzero inputs "
                            f"are {'0' if np.all(d[bad] == 0) else 'below 2.2e-308'}")
    n_sub = sum(int(np.count_nonzero((b != 0) & (np.abs(b) < _TINY))) for b in _row_blocks(K))
    if n_sub:
        problems.append(f"{n_sub} entries are subnormal (relative precision lost)")
    if not problems:
        return None
    return (f"{what} underflowed float64: " + "; ".join(problems) + ". The exact values are "
            "positive but below the smallest float64 number (e.g. the pruning factor "
            "(1-p)^(L+1) of a deep net). Remedy: backend='mpmath' "
            "(theory.limit_ntk(arch, X, backend='mpmath')) or theory.log_ntk(arch, X) for "
            "log-scale values.")


def check_finite_and_representable(K: Any, arch: Architecture | None = None, X: Any = None, *,
                                   what: str = "the limit NTK", diagonal: bool = True) -> Any:
    """Warn (:class:`KernelUnderflowWarning`) when float64 kernels underflowed; raise
    ``FloatingPointError`` when they are not finite. ``K`` is an ``(n, n)`` array or a
    result with ``ntk`` and ``nngp`` arrays (both are checked), or a list of ``(name,
    array)`` pairs; ``X`` are the inputs (a zero
    input legitimately has a zero diagonal; ``diagonal=False`` for a cross kernel, whose
    diagonal is not a kernel of an input with itself). Returns ``K`` unchanged."""
    if isinstance(K, list):  # [(name, array), ...]: one warning naming them all
        parts = K
    elif hasattr(K, "ntk"):
        parts = [("the limit NTK", K.ntk), ("the limit NNGP", K.nngp)]
    else:
        parts = [(what, K)]
    Xa = None if X is None else np.asarray(X, dtype=np.float64)
    msgs = []
    for name, arr in parts:
        a = np.asarray(arr)
        if a.dtype == object:  # mpmath: no fixed exponent range
            continue
        if not _all_finite(a):
            raise FloatingPointError(
                f"{name} left the float64 range (overflow or NaN); evaluate with the mpmath "
                f"backend (backend='mpmath') or theory.log_ntk(arch, X)")
        msg = _underflow_message(name, a, Xa, diagonal)
        if msg:
            msgs.append(msg)
    if msgs:  # one warning per call, naming every kernel that underflowed
        head = " ".join(m.split(". The exact values")[0] + "." for m in msgs)
        warnings.warn(head + " The exact values" + msgs[0].split(". The exact values", 1)[1],
                      KernelUnderflowWarning, stacklevel=3)
    return K


def log_ntk(arch: Architecture, X: Any, input_layer: str = "exact", *, dps: int = 30,
            **kw: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(sign, log|Θ̃|)`` of the limit NTK as two float64 ``(n, n)`` arrays, like
    ``numpy.linalg.slogdet``: the kernel is evaluated by the one recursion with the mpmath
    backend at ``dps`` digits (its exponent range is unbounded, so nothing underflows)
    and only the logarithm is brought back to float64. ``log|Θ̃|`` is ``-inf`` where
    ``Θ̃ = 0`` exactly. Cost: that of ``limit_ntk(..., backend="mpmath")``; the sampled
    input-layer mixture (``d0 > 16`` with a hard-masked input matrix) is float64 only, so
    pass ``input_layer="wide"`` there or reduce ``d0``."""
    import mpmath

    from .limits import limit_ntk
    K = limit_ntk(arch, X, input_layer, backend="mpmath", dps=dps, **kw)
    sign = np.vectorize(lambda v: float(mpmath.sign(v)), otypes=[np.float64])(K)
    logabs = np.vectorize(lambda v: float(mpmath.log(abs(v))) if v != 0 else -np.inf,
                          otypes=[np.float64])(K)
    return sign, logabs
