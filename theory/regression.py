"""Kernel regression with limit kernels: the infinite-width network trained by gradient flow.

For the squared loss ``ℒ = ½ Σ_i |f(x_i) − y_i|²`` and gradient flow ``dθ/dt = −η ∇ℒ``,
an infinitely wide network moves in its NTK's function space (Jacot et al. 2018; Lee et
al., "Wide Neural Networks of Any Depth Evolve as Linear Models Under Gradient Descent",
NeurIPS 2019, arXiv:1902.06720, eq. (9) with the initial output's contribution removed,
i.e. its mean prediction over initialisations for ``f_0 = 0``):

    f_t(X*) = Θ(X*, X) Θ⁻¹ (I − e^{−η Θ t}) Y,        f_∞(X*) = Θ(X*, X) Θ⁻¹ Y,

with ``Θ = Θ(X, X)`` the training Gram matrix. Any positive-definite kernel can be used in
place of ``Θ`` (e.g. the NNGP for Bayesian regression).

**Jitter policy.** ``jitter = λ >= 0`` (default 0) adds ``λ · mean(diag Θ)`` to the
diagonal, i.e. kernel ridge regression with a scale-free ridge. The infinite-time
predictor solves by Cholesky; if the factorisation fails, or LAPACK's reciprocal condition
estimate (``dpocon``) puts ``κ(Θ + λ mean(diag) I)`` above ``max_condition`` (default
1e12: at most ~4 of float64's 16 digits left), a :class:`IllConditionedKernelError` names
the condition number and the jitter to try; nothing is regularised silently. The finite
time predictor uses the eigendecomposition; it is well defined for singular ``Θ``
(``(1 − e^{−ηλt})/λ → ηt`` as ``λ → 0``) and needs no jitter, but eigenvalues below
``−1e-10 · max eigenvalue`` (a kernel that is not positive semi-definite) are an error.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

#: default largest acceptable condition number of the (jittered) training Gram matrix
MAX_CONDITION = 1e12
#: bytes of float64 workspace of one solve, in units of n² (Θ, its factor, a copy)
WORK_COPIES = 3


class IllConditionedKernelError(ValueError):
    """The training Gram matrix is singular or too ill-conditioned to solve reliably."""


def _as_matrix(K: Any, name: str) -> np.ndarray:
    if isinstance(K, (str, bytes)) or K is None:
        raise TypeError(f"{name} must be a 2-D float array, got {type(K).__name__}")
    try:
        A = np.asarray(K, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real numeric 2-D array") from None
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or inf")
    return A


def _check_labels(Y: Any, n: int) -> tuple[np.ndarray, bool]:
    try:
        Ya = np.asarray(Y, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("Y must be a real numeric array of shape (n,) or (n, k)") from None
    vec = Ya.ndim == 1
    if vec:
        Ya = Ya[:, None]
    if Ya.ndim != 2:
        raise ValueError(f"Y must have shape (n,) or (n, k), got {np.shape(Y)}")
    if Ya.shape[0] != n:
        raise ValueError(f"Y has {Ya.shape[0]} rows but the training Gram matrix is {n} x {n}")
    bad = ~np.isfinite(Ya)
    if np.any(bad):
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(f"Y contains NaN or inf in {len(rows)} row(s), first {rows[:5].tolist()}; "
                         "drop or impute those training points")
    return Ya, vec


def check_memory(n: int, m: int = 0, *, max_bytes: int | None = None) -> int:
    """Bytes a solve with ``n`` training and ``m`` test points needs (``WORK_COPIES``
    n×n float64 matrices plus the m×n cross kernel); ``MemoryError`` if above
    ``max_bytes`` (default: the available RAM)."""
    need = 8 * (WORK_COPIES * n * n + m * n)
    if max_bytes is None:
        try:
            max_bytes = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # pragma: no cover
            return need
    if need > max_bytes:
        raise MemoryError(
            f"kernel regression with n = {n} training points needs about {need / 2**30:.1f} GiB "
            f"({WORK_COPIES} n x n float64 matrices + the test cross kernel) but "
            f"{max_bytes / 2**30:.1f} GiB are available; use a subset of the training data, "
            f"or an iterative solver (scipy.sparse.linalg.cg) on Θ streamed to disk with "
            f"theory.limits.stream_gram, and predict the test points in blocks of rows")
    return need


@dataclass
class Fit:
    """A factorised training Gram matrix, reusable for many test sets and times."""
    K: np.ndarray
    Y: np.ndarray
    vector: bool
    jitter: float
    condition: float | None = None
    chol: Any = None
    eig: tuple | None = None


def _condition(c: np.ndarray, anorm: float) -> float:
    rcond, info = scipy.linalg.lapack.dpocon(c, anorm)
    return float("inf") if rcond <= 0 else 1.0 / float(rcond)


def fit(K_train: Any, Y: Any, *, jitter: float = 0.0, max_condition: float = MAX_CONDITION,
        eig: bool = False, max_bytes: int | None = None) -> Fit:
    """Validate and factorise ``Θ(X, X) + jitter · mean(diag) I`` (Cholesky; and the
    eigendecomposition when ``eig``, for finite-time predictions)."""
    K = _as_matrix(K_train, "K_train")
    n = K.shape[0]
    if K.shape != (n, n):
        raise ValueError(f"K_train must be square (n, n), got shape {K.shape}")
    if not np.allclose(K, K.T, rtol=1e-12, atol=0):
        raise ValueError("K_train must be symmetric (a Gram matrix Θ(X, X))")
    if not (isinstance(jitter, (int, float)) and np.isfinite(jitter) and jitter >= 0):
        raise ValueError(f"jitter must be a finite number >= 0, got {jitter!r}")
    if not (isinstance(max_condition, (int, float)) and max_condition > 1):
        raise ValueError(f"max_condition must be a number > 1, got {max_condition!r}")
    check_memory(n, 0, max_bytes=max_bytes)
    Ya, vec = _check_labels(Y, n)
    Kj = K.copy()
    lam = float(jitter) * float(np.mean(np.diag(K)))
    Kj[np.diag_indices(n)] += lam
    f = Fit(Kj, Ya, vec, lam)
    if eig:
        w, V = np.linalg.eigh(Kj)
        if w[0] < -1e-10 * max(abs(w[-1]), 1e-300):
            raise ValueError(f"K_train is not positive semi-definite: smallest eigenvalue "
                             f"{w[0]:.3g} vs largest {w[-1]:.3g}")
        f.eig = (np.clip(w, 0.0, None), V)
        f.condition = float(w[-1] / w[0]) if w[0] > 0 else float("inf")
        return f
    try:
        c, low = scipy.linalg.cho_factor(Kj, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        w = np.linalg.eigvalsh(Kj)
        cond = float(w[-1] / w[0]) if w[0] > 0 else float("inf")
        raise IllConditionedKernelError(
            f"the training Gram matrix is not numerically positive definite (Cholesky failed; "
            f"eigenvalues from {w[0]:.3g} to {w[-1]:.3g}, condition number {cond:.3g}); "
            f"duplicate or collinear training inputs make it singular. Pass jitter=λ "
            f"(adds λ·mean(diag) to the diagonal; try λ = {_suggest(w):.0e}) or use a finite "
            f"training time") from None
    cond = _condition(c, float(np.max(np.sum(np.abs(Kj), axis=0))))
    if cond > max_condition:
        w = np.linalg.eigvalsh(Kj)
        raise IllConditionedKernelError(
            f"the training Gram matrix has condition number ≈ {cond:.3g} > max_condition = "
            f"{max_condition:.3g}: the infinite-time predictor would keep only about "
            f"{max(0.0, 16 - np.log10(cond)):.0f} digits. Pass jitter=λ (adds λ·mean(diag) "
            f"to the diagonal; try λ = {_suggest(w):.0e}), raise max_condition, or use a "
            f"finite training time")
    f.chol, f.condition = (c, low), cond
    return f


def _suggest(w: np.ndarray) -> float:
    """A jitter that brings the condition number to about 1e8."""
    return max(1e-12, float(w[-1]) * 1e-8 / max(float(np.mean(w)), 1e-300))


def predict(f: Fit, K_test: Any, *, time: float | None = None,
            learning_rate: float = 1.0) -> np.ndarray:
    """``f_t(X*)`` for the cross kernel ``K_test = Θ(X*, X)`` (m, n); ``time=None`` (or
    ``inf``) is the infinite-time predictor. Returns (m,) or (m, k) like ``Y``."""
    Ks = _as_matrix(K_test, "K_test")
    n = f.K.shape[0]
    if Ks.shape[1] != n:
        raise ValueError(f"K_test must have shape (m, {n}) (test × training), got {Ks.shape}")
    if not (isinstance(learning_rate, (int, float)) and np.isfinite(learning_rate)
            and learning_rate > 0):
        raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}")
    if time is not None and not (isinstance(time, (int, float)) and time >= 0
                                 and not np.isnan(time)):
        raise ValueError(f"time must be a number >= 0 or None (infinite), got {time!r}")
    if time is None or np.isinf(time):
        if f.chol is None:
            w, V = f.eig
            if w[0] <= 0:
                raise IllConditionedKernelError("the training Gram matrix is singular: the "
                                                "infinite-time predictor does not exist; pass "
                                                "jitter > 0 or a finite time")
            alpha = V @ ((V.T @ f.Y) / w[:, None])
        else:
            alpha = scipy.linalg.cho_solve(f.chol, f.Y, check_finite=False)
    else:
        if f.eig is None:
            w, V = np.linalg.eigh(f.K)
            f.eig = (np.clip(w, 0.0, None), V)
        w, V = f.eig
        et = learning_rate * float(time)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(w * et > 1e-300, -np.expm1(-w * et) / np.where(w > 0, w, 1.0), et)
        alpha = V @ (g[:, None] * (V.T @ f.Y))
    out = Ks @ alpha
    return out[:, 0] if f.vector else out


def kernel_regression(K_train: Any, Y: Any, K_test: Any, *, time: float | None = None,
                      learning_rate: float = 1.0, jitter: float = 0.0,
                      max_condition: float = MAX_CONDITION) -> np.ndarray:
    """One-shot ``Θ(X*, X) Θ⁻¹ (I − e^{−ηΘt}) Y`` (``time=None``: ``Θ(X*, X) Θ⁻¹ Y``).

    ``K_train = Θ(X, X)`` (n, n), ``Y`` (n,) or (n, k), ``K_test = Θ(X*, X)`` (m, n).
    See the module docstring for the jitter policy and errors."""
    finite = time is not None and not (isinstance(time, float) and np.isinf(time))
    f = fit(K_train, Y, jitter=jitter, max_condition=max_condition, eig=finite)
    return predict(f, K_test, time=time, learning_rate=learning_rate)


def ntk_regression(arch: Any, X_train: Any, Y: Any, X_test: Any, *, kernel: str = "ntk",
                   input_layer: str = "exact", time: float | None = None,
                   learning_rate: float = 1.0, jitter: float = 0.0,
                   max_condition: float = MAX_CONDITION, **kw: Any) -> np.ndarray:
    """Predictions of the infinite-width ``arch`` trained on ``(X_train, Y)`` at
    ``X_test``: the limit kernels (``theory.limit_kernels``, keywords ``kw``) fed to
    :func:`kernel_regression`."""
    from .limits import limit_kernels, validate_inputs
    Xa = validate_inputs(X_train, "X_train")
    Xs = validate_inputs(X_test, "X_test")
    if Xs.shape[1] != Xa.shape[1]:
        raise ValueError(f"X_test must have d0 = {Xa.shape[1]} columns like X_train, "
                         f"got shape {Xs.shape}")
    if kernel not in ("ntk", "nngp"):
        raise ValueError(f"kernel must be 'ntk' or 'nngp', got {kernel!r}")
    check_memory(Xa.shape[0], Xs.shape[0])
    Ktr = getattr(limit_kernels(arch, Xa, input_layer=input_layer, kernels=(kernel,), **kw), kernel)
    Kte = getattr(limit_kernels(arch, Xs, X2=Xa, input_layer=input_layer, kernels=(kernel,),
                                **kw), kernel)
    return kernel_regression(Ktr, Y, Kte, time=time, learning_rate=learning_rate, jitter=jitter,
                             max_condition=max_condition)
