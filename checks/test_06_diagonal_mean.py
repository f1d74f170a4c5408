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
layer (every kept input inactive). We draw d0 ∈ {32, 64}, widths ∈ {32, 64, 128} and
p ≤ 1/2, so these are ≤ 2.3e-10 and ≤ (3/4)^32 ≈ 1e-4; a dead neuron changes one of d
terms, so the relative bias is ≲ 1e-4 · L — two orders below the ~1 % standard errors used.
The exact bound of each configuration is printed in its config string.

Test: N = 2000 independent draws (weights and masks) at small width, the three diagonal
entries of three inputs (on and off the unit sphere), z = (mean − prediction)/SE with SE
from the draws; Bonferroni m = (configurations) × 3 within ALPHA["6"]. The prediction is
the formula above, evaluated directly (not by the engine). Control (same draws): the
exponent off by one (× and ÷ the smallest keep probability; for rescaled nets: the
unrescaled factor) must be rejected — p ≥ 0.2 gives expected |z| ≥ 3× critical.
"""
from __future__ import annotations

import numpy as np
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
    return max(1, int(round(S.RUN.profile.mc * FRAC)))


@hyp("mc", frac=FRAC)
@given(depth=st.integers(1, 3), d0=st.sampled_from([32, 64]), width=st.sampled_from([32, 64, 128]),
       rescale=st.booleans(), data=st.data(), seed=st.integers(0, 2 ** 31 - 1))
def test_diagonal_mean_exact(depth, d0, width, rescale, data, seed):
    ps, pruned = data.draw(pruning(depth, p_lo=0.2, p_hi=0.5, min_pruned=1), label="p")
    X = data.draw(inputs(d0, n_min=N_DIAG, n_max=N_DIAG, special=False), label="X")
    arch = make_arch(depth, "relu", ps, pruned, rescale=rescale)
    q = [1 - float(arch.p_of(h)) for h in range(depth + 1)]
    s = [float(arch.s_of(h)) for h in range(depth + 1)]
    dead = max([(1 - q[0]) ** d0] + [(1 - q[h] / 2) ** width for h in range(1, depth + 1)])
    N = S.n_draws(2000)
    cfg = C6.config(f"{fmt_arch(arch)} d0={d0} width={width} N={N} seed={seed} "
                    f"dead-neuron prob ≤ {dead:.1e}")
    factor = float(np.prod(s))
    pred = np.diag(factor * (depth + 1) * np.sum(X * X, axis=1))
    Sd = S.draw_ntks(arch, X, width, N, S.mc_seed("6", seed))
    alpha, m = S.claim_alpha("6"), n_configs() * N_DIAG
    entries = S.upper_entries(N_DIAG, off=False)
    r = S.mean_test(Sd, pred, entries, alpha=alpha, m=m)
    expect_holds(C6, r.worst, r.crit, r.reject, f"diagonal mean vs {factor:.4g}·(L+1)|x|²: "
                 f"{r.describe()}", cfg)
    qmin = min(q[h] for h in arch.pruned_matrices())
    wrongs = [qmin, 1 / qmin] if not rescale else [float(np.prod([q[h] for h in arch.pruned_matrices()]))]
    weakest = min((S.mean_test(Sd, w * pred, entries, alpha=alpha, m=m) for w in wrongs),
                  key=lambda t: t.worst)
    expect_rejects(C6, weakest.worst, weakest.crit, weakest.reject,
                   ("unrescaled factor" if rescale else "exponent off by one") +
                   f": {weakest.describe()}", cfg)
