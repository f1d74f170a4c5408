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
Expected se ≈ 0.01–0.03, critical t ≈ 9 (7 dof at alpha/configs), so the controls sit at
t ≈ 20–45. Power: the exponent error detected with 80 % power (noncentral t) is reported
(±0.12 in the default profile: the 7 residual dof cost most of it); a near control, the
exponent −1/2 ± the error detected with probability 1 − 5e-7, must be outside the CI.
Configurations: stratified design from ``--seed``; N = 400 (depth 1) / 250 (depth 2).
"""
from __future__ import annotations

import numpy as np
import pytest
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


@pytest.mark.parametrize("k", S.designs("7"))
def test_rate(k):
    D = S.Design("7", k, S.n_mc())
    depth = D.choice("depth", [1, 2])
    act = D.choice("act", ["relu", "erf"])
    rescale = D.choice("rescale", [False, True])
    pruned = D.subset("pruned", list(range(depth + 1)))
    ps = [D.uniform(f"p{h}", 0.2, 0.7) if h in pruned else 0.0 for h in range(depth + 1)]
    d0 = 16
    X = D.inputs("X", d0, 2, special=False)
    seed = k
    arch = make_arch(depth, act, ps, pruned, rescale=rescale)
    widths = WIDTHS[depth]
    N = S.n_draws(400 if depth == 1 else 250)
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
    from scipy import stats as sst
    S.record_pvalues("7", [2 * sst.t.sf(t_main, fit.dof)], alpha, "slope t")
    det = tstats.detectable_effect(fit.stderr, alpha=alpha, df=fit.dof)
    expect_holds(C7, t_main, tcrit, not fit.contains(-0.5), f"slope {fit.slope:.3f} ± "
                 f"{fit.stderr:.3f}, CI [{fit.ci_low:.3f}, {fit.ci_high:.3f}], detects an "
                 f"exponent error of ±{det:.3f} at 80 % power", cfg, detectable=det / 0.5)
    near = tstats.detectable_effect(fit.stderr, alpha=alpha, df=fit.dof, power=S.NEAR_POWER)
    sign = 1.0 if S.crc(cfg) % 2 else -1.0
    t_near = abs(fit.slope - (-0.5 + sign * near)) / fit.stderr
    expect_rejects(C7, t_near, tcrit, t_near > tcrit, f"near control: exponent "
                   f"{-0.5 + sign * near:.3f} (−1/2 {'+' if sign > 0 else '−'} {near:.3f})",
                   cfg, near=True)
    _DET.append(det)
    C7.note(f"detectable exponent error (80 % power): ±{max(_DET):.3f} (relative to 1/2 in "
            f"the detect column)", key="det")
    t_ctl = min(abs(fit.slope), abs(fit.slope + 1.0)) / fit.stderr
    expect_rejects(C7, t_ctl, tcrit, not fit.contains(0.0) and not fit.contains(-1.0),
                   f"slopes 0 and −1 must be outside CI [{fit.ci_low:.3f}, {fit.ci_high:.3f}]",
                   cfg)
    _FITS.append(fit.slope)
    C7.note(f"fitted slopes: {', '.join(f'{b:.3f}' for b in _FITS)}", key="slopes")


_FITS: list = []
_DET: list = []
