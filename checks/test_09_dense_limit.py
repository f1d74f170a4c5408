"""Claim 9 — at p = 0 everything reduces to the dense (Arora et al.) results.

In words: with pruning probability zero the pruned machinery must give back the dense
network exactly — the limits (wide or exact input layer, mask or variance model, with or
without the rescaling switch, float64 / mpmath / sympy) equal Arora et al.'s NTK, which for
ReLU and unit inputs has Θ(x, x) = L + 1; the finite networks are the dense networks draw
for draw; and their Monte Carlo mean matches the dense limit:

    p = 0:  Θ̃_pruned = Θ^(L) (Arora et al. 2019),   Θ^(L)(x,x) = (L+1)||x||² (ReLU)

Source: paper abstract ("at p = 0 … matches the fully-connected bound of earlier work");
docs/references.md (Arora et al. [read]/[derived]); docs/math.md#limit.

9a  symbolic — ``theory.scaling_factor`` is 1 at p = 0, and the derived factor with a
    symbol p substituted p → 0 is 1; ``theory.symbolic_ntk`` at θ = 0, |x| = 1 is exactly
    L + 1. Control: Θ(x,x) = L (the sum over h = 1..L+1 off by one) is unequal.
9b  numeric — float64 and mpmath limits at p = 0 (every masking pattern, model, rescale,
    input-layer mode; ReLU, erf, callable) equal the dense limit to 1e-15 (float64) /
    1e-45 (mpmath), and the dense ReLU limit equals an independent closed-form Arora
    recursion (``checks/_reference.py``) to 1e-12. Control: p = 1/256 already differs by
    > 1e-4. Also: at p = 0 the finite network is bit-identical to the dense one for the
    same seed (control: p = 1/256 is not).
9c  Monte Carlo — p = 0 networks (masking switched on, p = 0), mean empirical NTK vs
    Arora's limit on all entries at depth 1 (width 256) and depth 2 (a + b/d fit at
    widths 64/256), the diagonal at depth 3 (ReLU only; width 32, exact there); draws sized by a pilot for a detectable effect of 1.7 % (``checks/_support.py::Sizing``); per-entry
    t, Bonferroni m = (configurations) × 6 within ALPHA["9c"]; near control as in 1c. Control: the depth off by one (Arora's
    kernel of depth L - 1, e.g. Θ(x,x) = L instead of L+1) must be rejected.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import theory
from theory.backends import SympyBackend
from theory.recursion import run_recursion
from checks import _reference as R
from checks import _support as S
from checks._support import (claim, expect_holds, expect_rejects, fmt_arch, hyp, inputs,
                             make_arch)

C9a = claim("9a", "p=0 reduces to dense: symbolic", "|derived − expected| (0 = identical)",
            source="docs/math.md#limit; Arora et al. 2019", stochastic=False)
C9b = claim("9b", "p=0 reduces to dense: float64/mpmath, finite nets", "relative "
            "difference from the dense kernel (tol 1e-15 float64, 1e-45 mpmath)",
            source="docs/math.md#limit; Arora et al. 2019", stochastic=False)
C9c = claim("9c", "p=0 reduces to dense: Monte Carlo", "max |z| of mean empirical NTK vs "
            "Arora's Θ^(L)", source="Arora et al. 2019")

PATTERNS = ("all", "hidden", "all_but_input", "all_but_output", "none")


def test_symbolic_p_zero():
    p = sympy.Symbol("p")
    for L in range(5):
        for model in ("mask", "variance"):
            arch = theory.Architecture(depth=L, p=p, model=model)
            cfg = C9a.config(f"L={L} {model} symbolic p → 0")
            f = theory.scaling_factor(arch)
            v = sympy.simplify(f.subs(p, 0) - 1)
            expect_holds(C9a, float(abs(v)), 0.0, v != 0, f"factor {f} at p=0", cfg)
            f0 = theory.scaling_factor(theory.Architecture(depth=L, p=0, model=model))
            expect_holds(C9a, float(abs(f0 - 1)), 0.0, f0 != 1, f"factor at p=0 is {f0}", cfg)
        # the engine's sympy recursion at |x| = |x'| = 1, θ = 0 (an input with itself)
        B = SympyBackend()
        res = run_recursion(B, theory.Architecture(depth=L, p=0, pruned="all"), sympy.Integer(1),
                            sympy.Integer(1), sympy.Integer(0), sympy.pi)
        val = sympy.simplify(B.expand(res.ntk))
        cfg = C9a.config(f"L={L} symbolic Θ(x,x), |x|=1")
        d = sympy.simplify(val - (L + 1))
        expect_holds(C9a, float(abs(d)), 0.0, d != 0, f"Θ(x,x) = {val}, expected {L + 1}", cfg)
        dc = sympy.simplify(val - L)
        expect_rejects(C9a, float(abs(dc)), 0.0, dc != 0, f"Θ(x,x) = L = {L} must differ", cfg)


@hyp("num")
@given(act=st.sampled_from(["relu", "relu", "erf", "callable"]), depth=st.integers(0, 3),
       pattern=st.sampled_from(PATTERNS), model=st.sampled_from(["mask", "variance"]),
       rescale=st.booleans(), d0=st.integers(1, 6), data=st.data(),
       seed=st.integers(0, 2 ** 31 - 1))
def test_numeric_p_zero(act, depth, pattern, model, rescale, d0, data, seed):
    X = data.draw(inputs(d0, n_min=2, n_max=3), label="X")
    arch = make_arch(depth, act, 0.0, pattern, rescale, model=model)
    cfg = C9b.config(f"{fmt_arch(arch)} pattern={pattern} d0={d0}")
    dense = theory.limit_ntk(arch.dense(), X)
    for mode in ("exact", "wide"):
        e = S.rel_err(theory.limit_ntk(arch, X, mode), dense)
        expect_holds(C9b, e, 1e-15, e > 1e-15, f"p=0 limit ({mode}) vs dense", cfg)
    if act == "relu":
        e = S.rel_err(dense, R.arora_ntk_relu(X, depth))
        expect_holds(C9b, e, 1e-12, e > 1e-12, "dense limit vs independent Arora recursion", cfg)
        unit = X / np.linalg.norm(X, axis=1, keepdims=True)
        dg = np.diag(theory.limit_ntk(arch, unit))
        e = float(np.max(np.abs(dg - (depth + 1)))) / (depth + 1)
        expect_holds(C9b, e, 1e-15, e > 1e-15, "Θ(x,x) = L+1 on the sphere", cfg)
        mp = theory.limit_ntk(arch, X, "exact", backend="mpmath", dps=50)
        md = theory.limit_ntk(arch.dense(), X, backend="mpmath", dps=50)
        sc = max(abs(v) for v in md.ravel())
        em = float(max(abs(a - b) for a, b in zip(mp.ravel(), md.ravel())) / sc)
        expect_holds(C9b, em, 1e-45, em > 1e-45, "mpmath p=0 vs dense", cfg)
    # control: p slightly above 0, unrescaled hard masks, already differs
    tiny = make_arch(depth, act, 1 / 256, "all", False)
    e = S.rel_err(theory.limit_ntk(tiny, X, "wide"), dense)
    expect_rejects(C9b, e, 1e-4, e > 1e-4, "p = 1/256 (all masked, unrescaled) must differ", cfg)
    if depth >= 1:  # finite networks, draw for draw
        w = 8
        a = theory.empirical_ntk(arch, X, w, seed)
        b = theory.empirical_ntk(arch.dense(), X, w, seed)
        eq = bool(np.array_equal(a, b))
        expect_holds(C9b, 0.0 if eq else S.rel_err(a, b), 1e-15, not eq,
                     "p=0 network bit-identical to dense (same seed)", cfg)
        c = theory.empirical_ntk(make_arch(depth, act, 1 / 256, "all", False), X, 64, seed)
        d = theory.empirical_ntk(arch.dense(), X, 64, seed)
        diff = S.rel_err(c, d)
        expect_rejects(C9b, diff, 1e-15, diff > 1e-15, "p = 1/256 network differs from dense",
                       cfg)


MC_ENTRIES = 6
# draws sized by a pilot (S.Sizing): exact entry sets at width 256 (depth 1) / 32; the
# a + b/d fit at widths 64/256
def sizing(depth: int) -> "S.Sizing":
    return S.Sizing(exact_width=256 if depth == 1 else 32, fit_widths=(64, 256))


@pytest.mark.parametrize("k", S.designs("9c"))
def test_monte_carlo_p_zero(k):
    D = S.Design("9c", k, S.n_mc())
    depth = D.choice("depth", [1, 2, 3])
    act = D.choice("act", ["relu", "erf"])
    if depth == 3:   # erf at depth 3 has no exact entry; see the entries below
        act = "relu"
    rescale = D.choice("rescale", [False, True])
    d0 = 16
    X = D.inputs("X", d0, 3)
    arch = make_arch(depth, act, 0.0, "all", rescale)
    cfg = C9c.config(f"{fmt_arch(arch)} d0={d0} {D!r}")
    pred = theory.limit_ntk(arch.dense(), X)
    wrong = theory.limit_ntk(make_arch(depth - 1, act, 0.0, "none", False), X)
    S.mean_check(C9c, arch, X, widths=(), n=0, seed=S.mc_seed("9c", k), sizing=sizing(depth),
                 predicted=pred, entries=S.upper_entries(3, off=depth <= 2), cfg=cfg,
                 what="mean NTK vs Arora Θ^(L)", controls=[("depth off by one (Θ^(L-1))", wrong)],
                 alpha=S.claim_alpha("9c"), m=S.n_mc() * MC_ENTRIES)
