"""Claim 2 — rescaling the kept weights removes the factor, for every activation.

In words: if every kept weight of a masked matrix is multiplied by 1/sqrt(1 - p_h), the
infinite-width NTK of the pruned network equals the dense NTK exactly — for ReLU, erf,
tanh and an arbitrary smooth user activation (here the callable ``σ(z) = sin z + z/2``
with its derivative), any masked matrices, any per-layer p:

    rescaled:   Θ̃_pruned(x, x') = Θ_dense(x, x')          (s_h = α_h q_h = 1 for all h)

Source: Yang & Wang (AISTATS 2023) abstract ("rescaling the weights after pruning removes
it"; v1: "with appropriate scaling after pruning it converges to the exact NTK of the
original network"); docs/math.md#pruning ("With rescaling it is the dense kernel for every
activation").

2a  symbolic — ``theory.scaling_factor`` of the rescaled architecture is exactly 1 (p free
    symbols or rationals). Control: the unrescaled architecture's factor is not 1 (ReLU)
    or does not exist (smooth activations); its float64 limit differs from the dense one
    by ≥ 1e-6 relative (the control statistic).
2b  numeric — the float64 limit (wide input layer, docs/math.md#pruning) of the rescaled pruned
    net equals the dense limit to 1e-12, and mpmath (50 digits, ReLU and erf) to 1e-40;
    the engine's dense limit itself agrees with an independent reference written in
    ``checks/_reference.py`` (arc-cosine closed form / Gauss–Hermite) to 1e-8. Control:
    the unrescaled limit misses the dense one by ≥ 1e-6.
2c  Monte Carlo — the mean empirical NTK of rescaled finite masked networks (weights and
    masks redrawn each draw) against the dense limit. Entries compared: where the dense
    limit is the exact limit: for ReLU the diagonal always (the finite-d0 input mixture
    has the exact diagonal, docs/math.md#input-layer) and the off-diagonal when the input matrix is
    unmasked; for the smooth activations the input matrix is kept unmasked (their mask
    mixture differs even on the diagonal; that is claim 5's subject). Depth 1 at width 256;
    depth 2: the exact ReLU diagonal at width 32, otherwise the a + b/d fit at widths
    64/256 (draws sized by a pilot for a detectable effect of 1.7 % (``checks/_support.py::Sizing``)) for every
    entry that is not exact (all entries of the smooth activations: finding 1 of the
    calibration review). Acceptance as in claim 1c: per-entry t, Bonferroni over m = (MC
    configurations) × 6 within ALPHA["2c"].
    Configurations: a stratified design drawn from ``--seed`` (``checks/_support.py::
    Design``). Entries whose finite-width mean is exact (depth 1; the ReLU diagonal) are
    compared at one width; the others through the intercept ``a`` of ``a + b/d`` fitted at
    two widths (``mean_check``), the bias term's uncertainty carried. Student t (Welch df),
    detectable effect at 80 % power in the table, and a NEAR control (the prediction
    shifted by the effect detected with probability 1 − 5e-7) besides the gross one.
    Gross control (same draws and test): the prediction *without* rescaling (the engine's
    unrescaled limit), must reject; p ≥ 0.3 makes the expected control |t| several times
    the critical value.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import theory
from checks import _reference as R
from checks import _support as S
from checks._support import (claim, expect_holds, expect_rejects, fmt_arch, hyp, inputs,
                             make_arch, pruning)

C2a = claim("2a", "rescaling removes the factor, symbolic", "|factor − 1| (0 = exactly 1)",
            source="paper abstract; docs/math.md#pruning", stochastic=False)
C2b = claim("2b", "rescaling removes the factor, float64/mpmath", "max relative "
            "difference rescaled vs dense limit (tol 1e-12 float64, 1e-40 mpmath)",
            source="docs/math.md#pruning", stochastic=False)
C2c = claim("2c", "rescaling removes the factor, Monte Carlo", "max |z| of the mean "
            "empirical NTK (rescaled) vs Θ_dense", source="paper abstract; docs/math.md#pruning")

ACTS = ("relu", "erf", "tanh", "callable")


def _symbolic_p(ps, pruned):
    use, subs = list(ps), {}
    for h in pruned:
        sym = sympy.Symbol(f"p{h}")
        subs[sym] = ps[h]
        use[h] = sym
    return use, subs


@hyp("sym", frac=0.5)
@given(act=st.sampled_from(ACTS), depth=st.integers(0, 3), data=st.data())
def test_symbolic_factor_is_one(act, depth, data):
    ps, pruned = data.draw(pruning(depth, p_lo=0.1, p_hi=0.9, min_pruned=1), label="p")
    symbolic = data.draw(st.booleans(), label="symbolic p")
    use, subs = _symbolic_p(ps, pruned) if symbolic else (list(ps), {})
    arch = make_arch(depth, act, use, pruned, rescale=True)
    cfg = C2a.config(f"{fmt_arch(arch)} symbolic={symbolic}")
    f = theory.scaling_factor(arch)
    bad = f is None or sympy.simplify(f - 1) != 0
    stat = 0.0 if not bad else (1.0 if f is None else float(abs((f - 1).xreplace(subs))))
    expect_holds(C2a, stat, 0.0, bad, f"rescaled factor {f}", cfg)
    # control: the same architecture unrescaled
    un = make_arch(depth, act, ps, pruned, rescale=False)
    fu = theory.scaling_factor(un)
    X = np.random.default_rng(S.crc(cfg)).standard_normal((3, 4))
    diff = S.rel_err(theory.limit_ntk(un, X, "wide"), theory.limit_ntk(un.dense(), X))
    not_one = fu is None or sympy.simplify(fu - 1) != 0
    expect_rejects(C2a, diff, 1e-6, not_one and diff > 1e-6,
                   f"unrescaled factor {fu} must not be 1", cfg)


@hyp("num")
@given(act=st.sampled_from(ACTS), depth=st.integers(0, 3), d0=st.integers(1, 6), data=st.data())
def test_numeric_rescaled_equals_dense(act, depth, d0, data):
    ps, pruned = data.draw(pruning(depth, p_lo=0.1, p_hi=0.9, min_pruned=1), label="p")
    X = data.draw(inputs(d0, n_min=2, n_max=3), label="X")
    arch = make_arch(depth, act, ps, pruned, rescale=True)
    cfg = C2b.config(f"{fmt_arch(arch)} d0={d0}")
    dense = theory.limit_ntk(arch.dense(), X, "wide")
    e64 = S.rel_err(theory.limit_ntk(arch, X, "wide"), dense)
    expect_holds(C2b, e64, 1e-12, e64 > 1e-12, "float64 rescaled vs dense", cfg)
    # independent reference for the dense limit itself
    L = depth
    ref = R.ntk_variance_recursion(R.activation_pair(act), X, L, [1.0] * (L + 1), [1.0] * (L + 1))
    eref = S.rel_err(dense, ref)
    assert eref < 1e-8, f"engine dense limit vs independent reference: {eref:.3g} ({cfg})"
    if act == "tanh":
        C2b.note("tanh: " + R.ENGINE_TANH_NOTE)
    if act in ("relu", "erf"):
        import mpmath
        a = theory.limit_ntk(arch, X, "wide", backend="mpmath", dps=50)
        b = theory.limit_ntk(arch.dense(), X, "wide", backend="mpmath", dps=50)
        scale = max(abs(v) for v in b.ravel())
        if scale > 0:
            emp = float(max(abs(u - v) for u, v in zip(a.ravel(), b.ravel())) / scale)
            expect_holds(C2b, emp, 1e-40, emp > 1e-40, "mpmath rescaled vs dense", cfg)
    un = make_arch(depth, act, ps, pruned, rescale=False)
    ctl = S.rel_err(theory.limit_ntk(un, X, "wide"), dense)
    expect_rejects(C2b, ctl, 1e-6, ctl > 1e-6, "unrescaled limit vs dense", cfg)


MC_ENTRIES = 6
# draws sized by a pilot for a detectable effect of 1.7 % (S.Sizing): depth 1 at width 256;
# depth 2: the exact ReLU diagonal at width 32, the a + b/d fit at widths 64/256
def sizing(depth: int) -> "S.Sizing":
    return S.Sizing(exact_width=256 if depth == 1 else 32, fit_widths=(64, 256))


@pytest.mark.parametrize("k", S.designs("2c"))
def test_monte_carlo_rescaled(k):
    D = S.Design("2c", k, S.n_mc())
    act = D.choice("act", list(ACTS))
    depth = D.choice("depth", [1, 2])
    d0 = D.choice("d0", [8, 32])
    # smooth activations: the input matrix stays unmasked (their mask mixture differs
    # from the dense kernel even on the diagonal: claim 5's subject)
    allow = list(range(depth + 1)) if act == "relu" else list(range(1, depth + 1))
    pruned = D.subset("pruned", allow)
    ps = [D.uniform(f"p{h}", 0.3, 0.8) if h in pruned else 0.0 for h in range(depth + 1)]
    X = D.inputs("X", d0, 3)
    arch = make_arch(depth, act, ps, pruned, rescale=True)
    cfg = C2c.config(f"{fmt_arch(arch)} d0={d0} {D!r}")
    pred = theory.limit_ntk(arch.dense(), X)
    entries = S.upper_entries(3, off=0 not in arch.pruned_matrices())
    wrong = theory.limit_ntk(arch.with_(rescale=False), X)
    S.mean_check(C2c, arch, X, widths=(), n=0, seed=S.mc_seed("2c", k), sizing=sizing(depth),
                 predicted=pred, entries=entries, cfg=cfg, what="rescaled mean NTK vs Θ_dense",
                 controls=[("no-rescale prediction", wrong)],
                 alpha=S.claim_alpha("2c"), m=S.n_mc() * MC_ENTRIES)


def test_engine_tanh_float64_kernel_accuracy():
    """Regression guard (not a claim): the engine's float64 tanh kernel maps against this
    module's independent trapezoid reference at pre-activation scale 3 (ENGINE_TANH_NOTE)."""
    X = np.array([[3.0, 0.0], [0.3, 0.9]])
    eng = theory.limit_ntk(theory.Architecture(depth=1, activation="tanh"), X)
    ref = R.ntk_variance_recursion(R.activation_pair("tanh"), X, 1, [1.0, 1.0], [1.0, 1.0])
    assert S.rel_err(eng, ref) < 1e-8
