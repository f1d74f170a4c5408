"""Claim 7 — the finite-width error shrinks like d^(-1/2).

In words: for fixed depth, the fluctuation of the empirical NTK of a pruned network around
its limit is of order one over the square root of the width:

    |Θ_d(x,x') − Θ̃(x,x')| = O_P(d^(-1/2)),   i.e.  sd(Θ_d) ∝ d^(-1/2)

Source: docs/math.md#finite-width ("Rate"); the paper's finite-width bound (abstract: "the NTK's gap to
its limit goes down to zero") and Arora et al. Thm 3.1 (ε ∝ d^(-1/4) up to logs in their
high-probability bound; the typical error is d^(-1/2)).

What is measured: the standard deviation of Θ_d across independent draws (weights and
masks) — the error around E Θ_d, which for depth 1 *is* the limit and for deeper nets
differs from it by O(1/d) (so sd captures the d^(-1/2) part without bias). Pooled over the
3 entries of 2 inputs (root mean square of the per-entry sds), at 9 log-spaced widths
(64 … 1024 for depth 1; 64 … 724 for depth 2, to keep the CI budget), N draws each.

Test: ``theory.stats.slope_fit`` of log sd against log d (least squares, Student-t
interval with 7 dof from the residual scatter) at level alpha = ALPHA["7"] / (configs);
the claim holds if the interval contains −1/2. Statistic: t = |slope + 1/2| / se against
the t critical value. Negative controls (same fit): the interval must exclude 0 (no
convergence) and −1 (a 1/d rate) — control statistic min(|slope|, |slope + 1|)/se.
Expected se ≈ 0.02–0.04, critical t ≈ 10–12, so the controls sit at t ≈ 12–25.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from theory import stats as tstats
from checks import _support as S
from checks._support import (claim, expect_holds, expect_rejects, fmt_arch, hyp, inputs,
                             make_arch, pruning)

C7 = claim("7", "finite-width rate d^(-1/2) (slope CI)", "t = |slope + 1/2|/se of log sd(Θ_d) "
           "vs log d", source="docs/math.md#finite-width")

WIDTHS = {1: np.unique(np.round(64 * 2 ** (np.arange(9) / 2)).astype(int)),
          2: np.unique(np.round(64 * 2 ** (np.arange(9) * 3.5 / 8)).astype(int))}


@hyp("mc")
@given(depth=st.integers(1, 2), act=st.sampled_from(["relu", "relu", "erf"]),
       rescale=st.booleans(), data=st.data(), seed=st.integers(0, 2 ** 31 - 1))
def test_rate(depth, act, rescale, data, seed):
    ps, pruned = data.draw(pruning(depth, p_lo=0.2, p_hi=0.7, min_pruned=1), label="p")
    d0 = 16
    X = data.draw(inputs(d0, n_min=2, n_max=2, special=False), label="X")
    arch = make_arch(depth, act, ps, pruned, rescale=rescale)
    widths = WIDTHS[depth]
    N = S.n_draws(200 if depth == 1 else 150)
    cfg = C7.config(f"{fmt_arch(arch)} d0={d0} widths={widths.tolist()} N={N} seed={seed}")
    iu = np.triu_indices(2)
    sds = []
    for k, w in enumerate(widths):
        Sd = S.draw_ntks(arch, X, int(w), N, S.mc_seed("7", seed, k))
        sds.append(float(np.sqrt(np.mean(Sd.std(axis=0, ddof=1)[iu] ** 2))))
    alpha = S.claim_alpha("7") / S.RUN.profile.mc
    fit = tstats.slope_fit(np.log(widths), np.log(sds), alpha=alpha)
    tcrit = (fit.ci_high - fit.slope) / fit.stderr
    t_main = abs(fit.slope + 0.5) / fit.stderr
    expect_holds(C7, t_main, tcrit, not fit.contains(-0.5), f"slope {fit.slope:.3f} ± "
                 f"{fit.stderr:.3f}, CI [{fit.ci_low:.3f}, {fit.ci_high:.3f}]", cfg)
    t_ctl = min(abs(fit.slope), abs(fit.slope + 1.0)) / fit.stderr
    expect_rejects(C7, t_ctl, tcrit, not fit.contains(0.0) and not fit.contains(-1.0),
                   f"slopes 0 and −1 must be outside CI [{fit.ci_low:.3f}, {fit.ci_high:.3f}]",
                   cfg)
    _FITS.append(fit.slope)
    C7.note(f"fitted slopes: {', '.join(f'{b:.3f}' for b in _FITS)}", key="slopes")


_FITS: list = []
