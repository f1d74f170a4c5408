"""Claim 6 — the finite-width mean on the diagonal is exact at every width (ReLU).

In words: for a ReLU network with hard masks, the expected empirical NTK of an input with
itself equals the infinite-width value at *every* width, not just in the limit:

    E[Θ_d(x, x)] = Π_{h masked} s_h · (L + 1) · ||x||²        (s_h = 1 - p_h unrescaled, 1 rescaled)

so it can be tested at small width with many draws. Source: docs/references.md (Arora et al.
[derived]: "E[Θ_d(x,x)] = (L+1)||x||² holds at every finite width for ReLU (by
symmetry) … with masks: q^{L+1}(L+1)||x||², up to the tiny event that a neuron loses its
whole fan-in"); Hanin & Nica 2020 (dense, weights with a density: E K(x,x) exact).

The exception. The symmetry argument needs every pre-activation to be a non-degenerate
Gaussian given the layer below. A neuron whose kept inputs are all zero has f = 0 exactly
and σ'(0) = 0 cuts its backward signal. Per neuron this happens with probability
p_1^{d0} in layer 1 (every input weight masked) and about (1 - q_h/2)^{d} in a hidden
layer (every kept input inactive). We draw d0 ∈ {32, 64}, widths ∈ {32, 64} and
p ≤ 1/2, so these are ≤ 2.3e-10 and ≤ (3/4)^32 ≈ 1e-4; a dead neuron changes one of d
terms, so the relative bias is ≲ 1e-4 · L — two orders below the ~1 % standard errors used.
The exact bound of each configuration is printed in its config string.

Test: independent draws (weights and masks, batched; their number sized by an independent
pilot for a detectable effect of 1.7 %, ``checks/_support.py::Sizing``) at width 32 or 64, the
three diagonal entries of three inputs (on and off the unit sphere), Student t with SE
from the draws; Bonferroni m = (configurations) × 3 within ALPHA["6"]; configurations
from a stratified design drawn from ``--seed``; near control as in claim 1c. The prediction is
the formula above, evaluated directly (not by the engine). Control (same draws): the
exponent off by one (× and ÷ the smallest keep probability; for rescaled nets: the
unrescaled factor) must be rejected — p ≥ 0.2 gives expected |z| ≥ 3× critical.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks import _support as S
from checks._support import (claim, expect_holds, expect_rejects, fmt_arch, hyp, inputs,
                             make_arch, pruning)

C6 = claim("6", "diagonal mean exact at every width (ReLU, masks)", "max |z| of the mean "
           "of Θ_d(x,x) vs Π s_h (L+1)|x|²", source="docs/references.md (Arora [derived]); "
           "Hanin & Nica 2020")

N_DIAG = 3
FRAC = 2.0  # this check is cheap: twice the profile's Monte Carlo configurations


def n_configs() -> int:
    return S.n_mc(FRAC)


@pytest.mark.parametrize("k", S.designs("6", FRAC))
def test_diagonal_mean_exact(k):
    D = S.Design("6", k, n_configs())
    depth = D.choice("depth", [1, 2, 3])
    d0 = D.choice("d0", [32, 64])
    width = D.choice("width", [32, 64])
    rescale = D.choice("rescale", [False, True])
    pruned = D.subset("pruned", list(range(depth + 1)))
    ps = [D.uniform(f"p{h}", 0.2, 0.5) if h in pruned else 0.0 for h in range(depth + 1)]
    X = D.inputs("X", d0, N_DIAG, special=False)
    arch = make_arch(depth, "relu", ps, pruned, rescale=rescale)
    q = [1 - float(arch.p_of(h)) for h in range(depth + 1)]
    s = [float(arch.s_of(h)) for h in range(depth + 1)]
    dead = max([(1 - q[0]) ** d0] + [(1 - q[h] / 2) ** width for h in range(1, depth + 1)])
    cfg = C6.config(f"{fmt_arch(arch)} d0={d0} width={width} {D!r} "
                    f"dead-neuron prob ≤ {dead:.1e}")
    factor = float(np.prod(s))
    pred = np.diag(factor * (depth + 1) * np.sum(X * X, axis=1))
    alpha, m = S.claim_alpha("6"), n_configs() * N_DIAG
    entries = S.upper_entries(N_DIAG, off=False)
    qmin = min(q[h] for h in arch.pruned_matrices())
    if rescale:
        wrongs = [("unrescaled factor", float(np.prod([q[h] for h in arch.pruned_matrices()])))]
    else:
        wrongs = [("exponent off by one (×q)", qmin), ("exponent off by one (÷q)", 1 / qmin)]
    S.mean_check(C6, arch, X, widths=(width,), n=0, seed=S.mc_seed("6", k), predicted=pred,
                 sizing=S.Sizing(exact_width=width, fit_widths=()),
                 entries=entries, cfg=cfg, what=f"diagonal mean vs {factor:.4g}·(L+1)|x|²",
                 controls=[(name, w * pred) for name, w in wrongs], alpha=alpha, m=m)
