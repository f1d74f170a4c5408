"""The infinite-width kernels of a (pruned) architecture on concrete inputs.

``limit_ntk`` / ``limit_nngp`` evaluate the one recursion (``theory.recursion``) on all
pairs of rows of ``X``, with the input layer either exact (the mask mixture of docs/math.md#input-layer,
``theory.input_layer``) or "wide" (docs/math.md#pruning: layer 1 treated like the others).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .architecture import Architecture
from .backends import Backend, NumpyBackend, get_backend
from .input_layer import DEFAULT_N_MASKS, layer1_mixture, needs_mixture
from .recursion import RecursionResult, input_state, run_recursion
from .numerics import check_finite_and_representable

INPUT_LAYER_MODES = ("exact", "wide")


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


def limit_kernels(arch: Architecture, X: Any, *, input_layer: str = "exact",
                  backend: Any = "numpy", dps: int = 50, per_layer: bool = False,
                  mixture_method: str = "auto", n_masks: int = DEFAULT_N_MASKS,
                  mixture_seed: int = 0) -> RecursionResult:
    """All limit kernels from one pass of the recursion (see :func:`limit_ntk`)."""
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be a theory.Architecture, got {type(arch).__name__}")
    if input_layer not in INPUT_LAYER_MODES:
        raise ValueError(f"input_layer must be one of {INPUT_LAYER_MODES}, got {input_layer!r}")
    B = get_backend(backend, dps)
    if arch.is_symbolic and B.name != "sympy":
        raise ValueError("p is symbolic: substitute numbers for p (e.g. arch.with_(p=0.5)) or use "
                         "theory.symbolic_ntk for expressions")
    A = validate_inputs(X)
    v, theta, phi = input_state(B, A)
    first = None
    if input_layer == "exact" and needs_mixture(arch):
        first = layer1_mixture(B, arch, A, method=mixture_method, n_masks=n_masks,
                               seed=mixture_seed).first
    if isinstance(B, NumpyBackend):
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            res = run_recursion(B, arch, v[:, None], v[None, :], theta, phi, first=first,
                                per_layer=per_layer)
        res.ntk = B.check_finite(np.asarray(res.ntk, dtype=np.float64), "the limit NTK")
        res.nngp = B.check_finite(np.broadcast_to(res.nngp, theta.shape).astype(np.float64),
                                  "the limit NNGP")
        if per_layer:
            res.per_layer = [np.broadcast_to(c, theta.shape).astype(np.float64) for c in res.per_layer]
        check_finite_and_representable(res, arch, A)  # underflow: warn with the remedy
        return res
    res = run_recursion(B, arch, v[:, None], v[None, :], theta, phi, first=first,
                        per_layer=per_layer)
    res.ntk = np.broadcast_to(res.ntk, theta.shape)
    res.nngp = np.broadcast_to(res.nngp, theta.shape)
    return res


def limit_ntk(arch: Architecture, X: Any, input_layer: str = "exact", *,
              backend: Any = "numpy", dps: int = 50, **kw: Any) -> np.ndarray:
    """Infinite-width NTK ``Θ̃`` (docs/math.md#limit, docs/math.md#pruning, docs/math.md#input-layer) of all pairs of rows of ``X``.

    ``input_layer="exact"`` uses the input-layer mask mixture (docs/math.md#input-layer) whenever the
    input matrix is hard-masked; ``"wide"`` treats layer 1 like every other layer
    (docs/math.md#pruning). ``backend="numpy"`` returns float64; ``"mpmath"`` an object array of
    ``mpf`` at ``dps`` digits. Extra keywords (``per_layer`` excluded) go to
    :func:`limit_kernels`.
    """
    return limit_kernels(arch, X, input_layer=input_layer, backend=backend, dps=dps, **kw).ntk


def limit_nngp(arch: Architecture, X: Any, input_layer: str = "exact", *,
               backend: Any = "numpy", dps: int = 50, **kw: Any) -> np.ndarray:
    """Infinite-width NNGP ``Σ̃^(L)`` (last hidden layer; ``XXᵀ`` for depth 0)."""
    return limit_kernels(arch, X, input_layer=input_layer, backend=backend, dps=dps, **kw).nngp
