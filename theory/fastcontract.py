"""Compiled forward pass, backprop and NTK contraction of a chunk of small networks (numba).

Used by :mod:`theory.batched` for networks small enough that several share one drawing
group (``D ≥ 2``, at most ``2^16`` weights each) and for at most ``MAX_INPUTS`` inputs.
It computes exactly what :func:`theory.batched._batched_trace` and
:func:`theory.batched._batched_contributions` compute with numpy (the network and its
per-matrix NTK terms of docs/math.md#network and docs/math.md#pruning, as
``theory.network.forward_backward`` and ``theory.network._masked_term`` do for one
network), draw by draw in one compiled loop:

* forward: ``F[c, j, :] = s_h · W_h[c] g_j`` (signals are stored ``(C, n, d)``, one row
  per input), then the activation;
* backprop: ``b_{h-1, j} = s_h sqrt(c_σ/d_{h-1}) (W_hᵀ b_{h, j}) ⊙ φ'(F_{h-1, j})``;
* per-matrix terms: ``Θ_h[a, b] = f_h Σ_{ik} M_ik b_ai b_bi g_ka g_kb`` for a masked
  matrix, ``f_h (b_a·b_b)(g_a·g_b)`` for an unmasked one.

A masked matrix's mask is read as ``W ≠ 0`` (:func:`masked_term`): theory.fastdraw
redraws a zero normal, so a hard-masked weight is 0 exactly where it is pruned, and the
whole-chunk path draws no mask at all (8 bytes per entry neither written nor read).

Why compiled: at widths 32–128 with a few inputs the numpy version is dominated by the
overhead of ~100 small numpy calls per chunk, which hold the GIL, so two threads
contracting two chunks ran *slower* than one (measured: 0.8x at 42 draws per chunk,
1.5x at 336). These kernels release the GIL, so :mod:`theory.batched` draws and
contracts whole chunks on every core at once. For ReLU and ReLU²
(:func:`activation_code`) the activation is compiled as well (:func:`activate`, the
operations of ``theory.activations.ArcCosine``, tested equal bit for bit) and a whole
chunk is one call (:func:`contract_chunk`): with the numpy activation between the
kernels, each thread took the GIL back ~15 times per chunk, and two threads ran no
faster than one at width 32 (one call: 1.6–2x faster than one thread). Other
activations are applied by :mod:`theory.activations` in numpy between the kernels.

Rounding: the dot products are compiled with ``fastmath={"reassoc", "contract", "nsz"}``
so that LLVM vectorises their sums (without it a sum is one latency-bound chain; 2–3x
slower than BLAS); NaN and inf still propagate (no ``nnan``/``ninf``). A result therefore
agrees with the BLAS path to rounding, not bit for bit, and may round differently on
another CPU (as BLAS kernels do). On one machine it is a deterministic function of the
draw: each draw is computed alone, in a fixed order, whatever the chunk or the thread
(``tests/test_batched.py``). Entries that multiply an exact zero are skipped (a ReLU's
inactive units), which changes no finite result.
"""
from __future__ import annotations

import numpy as np

import numba

__all__ = ["forward", "backward", "masked_term", "dense_term", "gram", "activate",
           "activation_code", "contract_chunk", "MAX_INPUTS"]

#: Above this many inputs theory.batched keeps its pair-stacked BLAS GEMMs (which grow as
#: n² and use BLAS's threads). Measured on one thread, depth 3: the kernels here are 1.3x
#: (n = 3) to 2.2x (n = 16) faster than the numpy path at width 32, and 1.3x (n = 3) to
#: even (n = 8–32, within 5 %) at width 128.
MAX_INPUTS = 16
_FM = {"reassoc", "contract", "nsz"}


@numba.njit(cache=True, nogil=True, fastmath=_FM)
def _dot(x, y) -> float:
    s = 0.0
    for k in range(x.shape[0]):
        s += x[k] * y[k]
    return s


@numba.njit(cache=True, nogil=True, fastmath=_FM)
def _row_dots(A, V, scale, out, support=False) -> None:
    """``out[j, i] = scale · A[i]·V[j]`` for ``A (r, d)``, ``V (m, d)``, ``out (m, r)``;
    with ``support``, ``A`` is read as its 0/1 support ``A ≠ 0`` (a pruned weight matrix
    as its mask: the same products as with the mask itself, ``1·v`` or ``0·v``). A row of
    ``A`` is read once for up to three rows of ``V`` (one loop per block size: a generic
    inner loop over the block vectorises worse, measured 2x slower)."""
    r, d = A.shape
    m = V.shape[0]
    for j in range(0, m, 3):
        nb = min(3, m - j)
        if nb == 3:
            x0 = V[j]
            x1 = V[j + 1]
            x2 = V[j + 2]
            for i in range(r):
                a = A[i]
                s0 = 0.0
                s1 = 0.0
                s2 = 0.0
                for k in range(d):
                    ak = a[k]
                    if support:
                        ak = 1.0 if ak != 0.0 else 0.0
                    s0 += ak * x0[k]
                    s1 += ak * x1[k]
                    s2 += ak * x2[k]
                out[j, i] = scale * s0
                out[j + 1, i] = scale * s1
                out[j + 2, i] = scale * s2
        elif nb == 2:
            x0 = V[j]
            x1 = V[j + 1]
            for i in range(r):
                a = A[i]
                s0 = 0.0
                s1 = 0.0
                for k in range(d):
                    ak = a[k]
                    if support:
                        ak = 1.0 if ak != 0.0 else 0.0
                    s0 += ak * x0[k]
                    s1 += ak * x1[k]
                out[j, i] = scale * s0
                out[j + 1, i] = scale * s1
        else:
            x0 = V[j]
            for i in range(r):
                if support:
                    a = A[i]
                    s0 = 0.0
                    for k in range(d):
                        s0 += (1.0 if a[k] != 0.0 else 0.0) * x0[k]
                    out[j, i] = scale * s0
                else:
                    out[j, i] = scale * _dot(A[i], x0)


@numba.njit(cache=True, nogil=True)
def forward(W, G, scale, F) -> None:
    """``F[c, j, i] = scale · Σ_k W[c, i, k] G[c, j, k]`` for ``W (C, d_out, d_in)``,
    ``G (C, n, d_in)`` (or ``(1, n, d_in)``: the inputs, shared by all draws) and
    ``F (C, n, d_out)``."""
    shared = G.shape[0] == 1
    for c in range(W.shape[0]):
        _row_dots(W[c], G[0] if shared else G[c], scale, F[c])


@numba.njit(cache=True, nogil=True)
def backward(W, B, scale, dphi, out) -> None:
    """``out[c, j, k] = scale · (Σ_i B[c, j, i] W[c, i, k]) · dphi[c, j, k]`` for
    ``W (C, d_out, d_in)``, ``B (C, n, d_out)``, ``dphi, out (C, n, d_in)``: rows of ``W``
    added in order (vectorised without reassociation), for up to three inputs per row
    read, skipped where all their signals are zero (a ReLU's inactive units)."""
    C, do, di = W.shape
    n = B.shape[1]
    acc = np.empty((n, di))
    for c in range(C):
        acc[:] = 0.0
        for j in range(0, n, 3):
            nb = min(3, n - j)
            for i in range(do):
                w = W[c, i]
                if nb == 3:
                    b0 = B[c, j, i]
                    b1 = B[c, j + 1, i]
                    b2 = B[c, j + 2, i]
                    if b0 != 0.0 or b1 != 0.0 or b2 != 0.0:
                        a0 = acc[j]
                        a1 = acc[j + 1]
                        a2 = acc[j + 2]
                        for k in range(di):
                            wk = w[k]
                            a0[k] += b0 * wk
                            a1[k] += b1 * wk
                            a2[k] += b2 * wk
                else:
                    for jj in range(j, j + nb):
                        b = B[c, jj, i]
                        if b != 0.0:
                            a = acc[jj]
                            for k in range(di):
                                a[k] += b * w[k]
        for j in range(n):
            for k in range(di):
                out[c, j, k] = scale * acc[j, k] * dphi[c, j, k]


@numba.njit(cache=True, nogil=True, fastmath=_FM)
def masked_term(W, G, B, factor, out, h) -> None:
    """``out[c, h, a, b] = factor · Σ_{ik} M[c, i, k] B[c, a, i] B[c, b, i] G[c, a, k]
    G[c, b, k]`` (symmetric) with the mask ``M = (W ≠ 0)`` of the drawn weights ``W``
    (a hard-masked weight is 0 exactly where pruned: theory.fastdraw redraws a zero
    normal), as ``Σ_i B_ai B_bi (M[i]·(G_a ⊙ G_b))``: the row products for all pairs
    ``a ≤ b`` at once, as in :func:`forward`."""
    C, do, di = W.shape
    n = B.shape[1]
    P = n * (n + 1) // 2
    ia = np.empty(P, np.int64)
    ib = np.empty(P, np.int64)
    p = 0
    for a in range(n):
        for b in range(a, n):
            ia[p] = a
            ib[p] = b
            p += 1
    V = np.empty((P, di))
    R = np.empty((P, do))
    shared = G.shape[0] == 1
    for c in range(C):
        g = G[0] if shared else G[c]
        for p in range(P):
            ga = g[ia[p]]
            gb = g[ib[p]]
            for k in range(di):
                V[p, k] = ga[k] * gb[k]
        _row_dots(W[c], V, 1.0, R, True)
        for p in range(P):
            a = ia[p]
            b = ib[p]
            t = 0.0
            for i in range(do):
                t += (B[c, a, i] * B[c, b, i]) * R[p, i]
            out[c, h, a, b] = factor * t
            out[c, h, b, a] = factor * t


@numba.njit(cache=True, nogil=True, fastmath=_FM)
def dense_term(G, B, factor, out, h) -> None:
    """``out[c, h, a, b] = factor · (B[c, a]·B[c, b]) (G[c, a]·G[c, b])``: the term of an
    unmasked matrix (``G`` may be shared, as in :func:`forward`)."""
    C, n, _ = B.shape
    shared = G.shape[0] == 1
    for c in range(C):
        g = G[0] if shared else G[c]
        for a in range(n):
            for b in range(a, n):
                t = factor * _dot(B[c, a], B[c, b]) * _dot(g[a], g[b])
                out[c, h, a, b] = t
                out[c, h, b, a] = t


@numba.njit(cache=True, nogil=True, fastmath=_FM)
def gram(G, out) -> None:
    """``out[c, a, b] = G[c, a]·G[c, b]`` (the NNGP of the last layer's activations)."""
    C, n, _ = G.shape
    for c in range(C):
        for a in range(n):
            for b in range(a, n):
                t = _dot(G[c, a], G[c, b])
                out[c, a, b] = t
                out[c, b, a] = t


def activation_code(act) -> int:
    """``n ≥ 1`` if :func:`contract_chunk` computes ``act`` itself (the arc-cosine family
    ``max(z, 0)^n`` of :class:`theory.activations.ArcCosine`, ReLU and ReLU²), else 0
    (the activation is applied in numpy between the kernels: theory.batched)."""
    from .activations import ArcCosine  # activations imports nothing from here
    return act.n if type(act) is ArcCosine else 0


@numba.njit(cache=True, nogil=True)
def activate(F, code, scale, G, Dphi) -> None:
    """``G = scale · σ(F)`` and ``Dphi = σ'(F)`` for ``σ = max(z, 0)^code`` (``code`` 1:
    ReLU, 2: ReLU²), elementwise over arrays of one shape: the operations of
    ``ArcCosine.forward`` and ``.derivative`` (``np.maximum(z, 0)``, NaN kept) followed by
    theory.batched's ``g *= scale``, so the same bits (``tests/test_fastcontract.py``)."""
    f = F.reshape(-1)
    g = G.reshape(-1)
    dp = Dphi.reshape(-1)
    for i in range(f.size):
        z = f[i]
        r = z if z > 0.0 or z != z else 0.0
        if code == 1:
            g[i] = r * scale
            dp[i] = 1.0 if z > 0.0 else 0.0
        else:
            g[i] = (r * r) * scale
            dp[i] = 2.0 * r


@numba.njit(cache=True, nogil=True)
def contract_chunk(W, X, code, scales, act_scales, back_scales, factors, masked,
                   with_backward, nngp, output, per_layer) -> None:
    """A chunk's forward pass, backprop and per-matrix terms in one call (no GIL between
    layers), for an activation with :func:`activation_code` ``code ≥ 1``: what
    ``theory.batched._compiled_chunk`` does with a numpy activation, kernel for kernel.
    ``W``: tuple of ``(C, d_{h+1}, d_h)`` weights; ``X (n, d0)``; per matrix ``h``:
    ``scales[h]``, ``back_scales[h] = scales[h] sqrt(c_σ/d_{h-1})``, ``factors[h]``,
    ``masked[h]`` (mask ``W ≠ 0``); per hidden layer ``act_scales[h] = sqrt(c_σ/d_{h+1})``.
    Writes ``nngp (C, n, n)``, ``output (C, n)`` and, ``with_backward``,
    ``per_layer (C, L+1, n, n)``."""
    C = nngp.shape[0]
    L = len(W) - 1
    n, d0 = X.shape
    G = [X.reshape(1, n, d0)]
    dphi = [X.reshape(1, n, d0)]  # dphi[h + 1]: σ' at layer h's pre-activations
    for h in range(L):
        w = W[h].shape[1]
        F = np.empty((C, n, w))
        forward(W[h], G[h], scales[h], F)
        g = np.empty((C, n, w))
        dp = np.empty((C, n, w))
        activate(F, code, act_scales[h], g, dp)
        G.append(g)
        dphi.append(dp)
    out = np.empty((C, n, 1))
    forward(W[L], G[L], scales[L], out)
    output[:] = out[:, :, 0]
    if L == 0:  # the NNGP of depth 0 is the inputs' Gram matrix, the same for every draw
        gram(G[0], nngp[:1])
        for c in range(1, C):
            nngp[c] = nngp[0]
    else:
        gram(G[L], nngp)
    if not with_backward:
        return
    B = np.ones((C, n, 1))
    for h in range(L, -1, -1):
        if masked[h]:
            masked_term(W[h], G[h], B, factors[h], per_layer, h)
        else:
            dense_term(G[h], B, factors[h], per_layer, h)
        if h > 0:
            back = np.empty((C, n, W[h].shape[2]))
            backward(W[h], B, back_scales[h], dphi[h], back)
            B = back
