"""Claim 1 — infinite-width scaling of the pruned ReLU NTK (hard masks, no rescaling).

In words: if the weight matrices in a set ``P`` carry iid Bernoulli(1 - p_h) masks and the
kept weights are not rescaled, the infinite-width NTK of the pruned ReLU network is the
dense (Arora et al.) NTK times a constant, the product of the keep probabilities of the
masked matrices — for any per-layer p, any choice of masked matrices, any depth:

    Θ̃_pruned(x, x') = Π_{h ∈ P} (1 - p_h) · Θ_dense(x, x')     (= (1-p)^K, K = |P|, for one p)

Source: Yang & Wang (AISTATS 2023) abstract ("converges to the limiting NTK of the original
network with some extra scaling"); the exponent is not printed in the abstract and is
derived in docs/math.md#pruning ("Homogeneous activations") / docs/references.md ([derived]).

Three independent verifications:

1a  symbolic — ``theory.scaling_factor`` (the engine's sympy derivation of Θ̃/Θ, which
    never types the answer in) equals Π_{h∈P}(1 - p_h) exactly, with p either exact
    rationals or free symbols. Negative control: the same exact comparison against the
    exponent off by one (one extra factor, and one missing factor) must come out unequal.
1b  numeric — the mpmath limit (50 digits) of the pruned net divided by the mpmath dense
    limit equals the claimed factor to 1e-40 relative, on drawn inputs on and off the
    sphere (including ρ = ±1 and orthogonal pairs); and the float64 limit agrees with the
    mpmath one to 1e-11. Control: the off-by-one factor misses by ≥ 1e-3 relative.
1c  Monte Carlo — the mean of the exact empirical NTK of finite masked networks, weights
    *and* masks redrawn for each of N draws, at width 128–256, against Π(1-p_h)·Θ_dense.
    Which limit? With the input matrix masked and finite d0 the exact limit is the mask
    mixture of docs/math.md#input-layer (claim 5), which equals the scaled dense kernel *on the diagonal*
    but not off it. So entries compared: the diagonal always, the off-diagonal entries
    only when the input matrix is not masked (then the scaled dense limit is exact).
    Finite-width bias: the diagonal mean is exact at every width (claim 6); off the
    diagonal E Θ_d - Θ̃ = O(L/d) (measured -3 % for one pair at depth 3, width 128), so
    off-diagonal entries at depth 2 are compared through the a + b/d fit at widths 64/256;
    depth 3 on the diagonal only (exact at every width; a fit at affordable widths would
    leave an O(1/d²) residual), at width 32; depth 1 at width 256; draws sized by a pilot for a detectable effect of 1.7 % (``checks/_support.py::Sizing``).
    Configurations: a stratified design drawn from ``--seed`` (``checks/_support.py::
    Design``). Entries whose finite-width mean is exact (depth 1; the ReLU diagonal) are
    compared at one width; the others through the intercept ``a`` of ``a + b/d`` fitted at
    two widths (``mean_check``), the bias term's uncertainty carried. Student t (Welch df),
    detectable effect at 80 % power in the table, and a NEAR control (the prediction
    shifted by the effect detected with probability 1 − 5e-7) besides the gross one.
    Acceptance: t per entry; Bonferroni over m = (MC configurations) × 6 entries within
    this claim's alpha (conftest.ALPHA["1c"]).
    Control (same draws, same test): the exponent off by one (prediction × q_min and
    prediction / q_min, q_min the keep probability of the most pruned matrix); p ∈ [0.3,
    0.7] (continuous, non-dyadic) so that each control's expected |t| is many times the
    critical value.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import theory
from checks import _support as S
from checks._support import (claim, expect_holds, expect_rejects, fmt_arch, hyp, inputs,
                             pruning)

C1a = claim("1a", "ReLU scaling Π(1-p_h), symbolic (sympy)", "|derived − claimed| (0 = "
            "identical expressions)", source="docs/math.md#pruning; paper abstract", stochastic=False,
            control_higher_is_stronger=True)
C1b = claim("1b", "ReLU scaling Π(1-p_h), mpmath 50 digits", "max relative error of "
            "Θ̃_pruned/Θ_dense vs the factor (tolerance 1e-40)", source="docs/math.md#pruning",
            stochastic=False)
C1c = claim("1c", "ReLU scaling Π(1-p_h), Monte Carlo finite nets", "max |z| of the mean "
            "empirical NTK vs Π(1-p_h)·Θ_dense", source="docs/math.md#pruning, docs/math.md#finite-width")


def _claimed(ps, pruned):
    f = sympy.Integer(1)
    for h in pruned:
        f *= 1 - ps[h]
    return f


# --------------------------------------------------------------------------- 1a symbolic
def test_symbolic_uniform_p_all_layers():
    """One shared symbol p, all L+1 matrices masked: (1-p)^(L+1), L = 0..5 (a note for
    the table) — and the off-by-one exponents must differ."""
    p = sympy.Symbol("p")
    derived = {}
    for L in range(6):
        arch = theory.Architecture(depth=L, activation="relu", p=p, pruned="all")
        f = theory.scaling_factor(arch)
        derived[L] = f
        cfg = C1a.config(f"L={L} all masked, symbolic p")
        diff = sympy.simplify(f - (1 - p) ** (L + 1))
        stat = 0.0 if diff == 0 else float(abs(diff.subs(p, sympy.Rational(1, 3))))
        expect_holds(C1a, stat, 0.0, diff != 0, f"derived {f} vs (1-p)^{L + 1}", cfg)
        for wrong in ((1 - p) ** (L + 2), (1 - p) ** L):
            d2 = sympy.simplify(f - wrong)
            st_ = float(abs(d2.subs(p, sympy.Rational(1, 3))))
            expect_rejects(C1a, st_, 0.0, d2 != 0, f"off-by-one {wrong}", cfg)
    C1a.note("derived by theory.scaling_factor, all L+1 matrices masked with one p: " +
             "; ".join(f"L={L}: {f}" for L, f in derived.items()))


@hyp("sym")
@given(depth=st.integers(0, 4), data=st.data())
def test_symbolic_any_layers(depth, data):
    ps, pruned = data.draw(pruning(depth, p_lo=1 / 256, p_hi=0.99, min_pruned=0), label="p")
    symbolic = data.draw(st.booleans(), label="symbolic p")
    use = list(ps)
    subs = {}
    if symbolic:
        for h in pruned:
            sym = sympy.Symbol(f"p{h}")
            subs[sym] = ps[h]
            use[h] = sym
    arch = theory.Architecture(depth=depth, activation="relu", p=use, pruned=pruned,
                               rescale=False)
    cfg = C1a.config(f"{fmt_arch(arch)} symbolic={symbolic}")
    f = theory.scaling_factor(arch)
    assert f is not None, f"engine found no scalar factor for ReLU: {cfg}"
    claimed = _claimed(use, pruned)
    diff = sympy.simplify(f - claimed)
    stat = 0.0 if diff == 0 else float(abs(diff.xreplace(subs)))
    expect_holds(C1a, stat, 0.0, diff != 0, f"derived {f} vs claimed {claimed}", cfg)
    if pruned:
        hmax = max(pruned, key=lambda h: float(ps[h]))
        for wrong in (claimed * (1 - use[hmax]), claimed / (1 - use[hmax])):
            d2 = sympy.simplify(f - wrong)
            st_ = float(abs(d2.xreplace(subs)))
            expect_rejects(C1a, st_, 0.0, d2 != 0, f"off-by-one {wrong}", cfg)


# --------------------------------------------------------------------------- 1b numeric
@hyp("num")
@given(depth=st.integers(0, 4), d0=st.integers(1, 6), data=st.data())
def test_mpmath_ratio(depth, d0, data):
    ps, pruned = data.draw(pruning(depth, p_lo=0.05, p_hi=0.95, min_pruned=1), label="p")
    X = data.draw(inputs(d0, n_min=2, n_max=3), label="X")
    arch = theory.Architecture(depth=depth, activation="relu", p=ps, pruned=pruned)
    cfg = C1b.config(f"{fmt_arch(arch)} d0={d0} n={X.shape[0]}")
    factor = theory.scaling_factor(arch)
    # "wide" input layer: the limit of docs/math.md#pruning (layer 1 treated like the others);
    # the exact finite-d0 input layer is claim 5.
    pr = theory.limit_ntk(arch, X, "wide", backend="mpmath", dps=50)
    de = theory.limit_ntk(arch.dense(), X, "wide", backend="mpmath", dps=50)
    import mpmath
    with mpmath.workdps(60):
        fac = mpmath.mpf(sympy.Rational(factor).p) / mpmath.mpf(sympy.Rational(factor).q)
        scale = max(abs(v) for v in de.ravel())
        if scale == 0:  # all inputs zero-length: nothing to compare
            return
        err = max(abs(a - fac * b) for a, b in zip(pr.ravel(), de.ravel())) / (abs(fac) * scale)
        hmax = max(pruned, key=lambda h: float(ps[h]))
        qm = 1 - mpmath.mpf(float(ps[hmax]))
        err_wrong = min(
            max(abs(a - w * b) for a, b in zip(pr.ravel(), de.ravel())) / (abs(fac) * scale)
            for w in (fac * qm, fac / qm))
    expect_holds(C1b, float(err), 1e-40, err > mpmath.mpf(10) ** -40,
                 f"mpmath ratio vs derived factor {factor}", cfg)
    expect_rejects(C1b, float(err_wrong), 1e-3, err_wrong > mpmath.mpf(10) ** -3,
                   "off-by-one factor (× and ÷ q of the most pruned matrix)", cfg)
    # float64 agrees with mpmath (numerics of the fast path used by the Monte Carlo checks)
    f64 = theory.limit_ntk(arch, X, "wide")
    ref = np.array([[float(v) for v in row] for row in pr])
    e64 = S.rel_err(f64, ref, scale=float(fac) * float(scale))
    assert e64 < 1e-11, f"float64 limit differs from mpmath by {e64:.3g} relative: {cfg}"


# --------------------------------------------------------------------------- 1c Monte Carlo
MC_ENTRIES = 6  # n = 3 inputs → 6 upper-triangular entries
# draws sized by a pilot for a detectable effect of 1.7 % (S.Sizing): exact entry sets at
# width 256 (depth 1) or 32 (the ReLU diagonal at depth 2-3); the a + b/d fit at 64/256
SIZING = {d: S.Sizing(exact_width=256 if d == 1 else 32, fit_widths=(64, 256)) for d in (1, 2, 3)}


@pytest.mark.parametrize("k", S.designs("1c"))
def test_monte_carlo_scaling(k):
    D = S.Design("1c", k, S.n_mc())
    depth = D.choice("depth", [1, 2, 3])
    d0 = D.choice("d0", [4, 16, 64])
    pruned = D.subset("pruned", list(range(depth + 1)))
    ps = [D.uniform(f"p{h}", 0.3, 0.7) if h in pruned else 0.0 for h in range(depth + 1)]
    X = D.inputs("X", d0, 3)
    arch = theory.Architecture(depth=depth, activation="relu", p=ps, pruned=pruned)
    N = 0  # sized by a pilot (S.sized_estimates): the draws are in the comparison's text
    cfg = C1c.config(f"{fmt_arch(arch)} d0={d0} {D!r}")
    factor = float(theory.scaling_factor(arch))
    pred = factor * theory.limit_ntk(arch.dense(), X)
    # off-diagonal: only where the scaled dense limit is exact (input unmasked); their
    # O(L/d) finite-width bias is removed by the a + b/d fit at two widths (depth >= 2)
    # depth 3: the a + b/d fit at widths 32/64 leaves an O(1/d²) residual comparable to
    # the standard error, so depth-3 configurations are tested on the (exact) diagonal
    entries = S.upper_entries(3, off=(0 not in arch.pruned_matrices()) and depth <= 2)
    if 0 in arch.pruned_matrices():
        C1c.note("off-diagonal entries are compared only when the input matrix is unmasked "
                 "(else the exact limit is the mask mixture: claim 5)")
    hmax = max(pruned, key=lambda h: ps[h])
    q = 1 - ps[hmax]
    S.mean_check(C1c, arch, X, widths=(), n=N, seed=S.mc_seed("1c", k), sizing=SIZING[depth],
                 predicted=pred, entries=entries, cfg=cfg,
                 what=f"mean NTK vs {factor:.4g}·Θ_dense",
                 controls=[(f"exponent off by one (×q, q={q:.3g})", q * pred),
                           (f"exponent off by one (÷q, q={q:.3g})", pred / q)],
                 alpha=S.claim_alpha("1c"), m=S.n_mc() * MC_ENTRIES)
