"""Generated blocks of notes/input_layer_expansion.md (about 30 s).

The 1/d0 expansion of the input-layer mask mixture (theory.mixture_expansion) against
exact mixtures: sign-pattern inputs (theory.mixture_expansion.sign_pattern_mixture, mpmath,
every one of the 2^d0 masks accounted for in O(d0²) terms) and grouped inputs
(theory.mixture_expansion.grouped_mixture, float64, masks collapsed to group counts).
"""
from __future__ import annotations

import numpy as np
import sympy as sp

import theory
from theory import mixture_expansion as me
from theory.input_layer import MixturePlan
from theory.recursion import pair_angles, unit_rows

D0S = [32, 64, 128, 256, 512]
FRACTION_SAME = 0.625          # cos θ = 2·0.625 − 1 = 0.25
QS = [0.5, 0.8]
VALIDATION_D0S = [64, 256, 784]
VALIDATION_PAIRS = 16
VALIDATION_SEED = 11


def derivatives_block() -> str:
    """First derivatives of the ReLU per-mask kernels (α = 1), as the engine forms them."""
    F, H, aux, _ = me._spec_arccos(1, sp.Integer(1))
    lines = ["```text", f"F = {sp.sstr(F)}", f"H = {sp.sstr(H)}"]
    for i, v in enumerate("ABC"):
        lines.append(f"dF/d{v} = {sp.sstr(sp.simplify(me._d(F, i, aux)))}")
    for i, v in enumerate("ABC"):
        lines.append(f"dH/d{v} = {sp.sstr(sp.simplify(me._d(H, i, aux)))}")
    lines.append("```")
    return "\n".join(lines)


def _terms(X: np.ndarray, q: float) -> dict:
    """``T_0..T_4`` and majorants for the pair of rows of X (unit rows, ReLU, α = 1)."""
    _, U, _ = unit_rows(X)
    top = 2 * me.MAX_ORDER + 2
    P = {r: np.sum(U ** r, axis=1) for r in range(1, top + 1)}
    G = {(r, s): (U[:1] ** r) @ (U[1:] ** s).T for r in range(1, top) for s in range(1, top + 1 - r)}
    th, ph = pair_angles(U[:1], U[1:], cos=G[(1, 1)])
    P1 = {r: p[:1] for r, p in P.items()}
    P2 = {r: p[1:] for r, p in P.items()}
    o = me.expansion_tile3(theory.get_activation("relu"), 1.0, q, P1, P2, G, th, ph)
    return {k: float(np.asarray(val)[0, 0]) for k, val in o.items()}


def _plan_pair(X: np.ndarray, q: float):
    """The engine's layer-1 tile for the pair, as ``"auto"`` routes it (tol = 0.999: every
    entry the expansion certifies keeps its estimate; the others are sampled, estimate 0)."""
    plan = MixturePlan(theory.Architecture(depth=1, p=1 - q), X, None, method="auto",
                       tol=0.999, n_masks=64)
    first, st = plan.tile(0, 2, 0, 2)
    return first, st


def convergence_rows():
    rows = []
    for q in QS:
        for d0 in D0S:
            ns = int(FRACTION_SAME * d0)
            X = me.sign_pattern_inputs(d0, ns)
            S, Gr = me.sign_pattern_mixture(d0, ns, q, dps=25)
            t = _terms(X, q)
            first, st = _plan_pair(X, q)
            scale = q  # diagonal Σ̃^(1)(x,x) = q|x|² = q for both kernels (ReLU)
            errs = []
            for k in range(me.MAX_ORDER + 1):
                f = sum(t[f"F{i}"] for i in range(k + 1))
                h = sum(t[f"H{i}"] for i in range(k + 1))
                errs.append(max(abs(f - S), abs(h - Gr)) / scale)
            e_plan = max(abs(first.sigma[0, 1] - S), abs(first.grad[0, 1] - Gr)) / scale
            est = max(st["err_s"][0, 1], st["err_g"][0, 1])
            rows.append((q, d0, errs, e_plan, est))
    return rows


def slope(d0s, errs):
    return float(np.polyfit(np.log(d0s), np.log(errs), 1)[0])


def validation_pairs(rng):
    """Deterministic grouped pairs: random, near-parallel, antiparallel, localised."""
    out = []
    for t in range(VALIDATION_PAIRS):
        g = int(rng.integers(2, 4))
        u = rng.standard_normal(g)
        kind = ("random", "near-parallel", "antiparallel", "localised")[t % 4]
        if kind == "near-parallel":
            v = u + 0.2 * rng.standard_normal(g)
        elif kind == "antiparallel":
            v = -u + 0.3 * rng.standard_normal(g)
        else:
            v = rng.standard_normal(g)
        fr = rng.dirichlet([1.0] * g)
        if kind == "localised":    # one group of a few large coordinates
            u[0] *= 6.0
            v[0] *= 6.0
        out.append((kind, u, v, fr, float(rng.choice([0.3, 0.5, 0.8]))))
    return out


def validation_rows():
    """(kind, d0, q, error/estimate, estimate) for every certified layer-1 entry."""
    act = theory.get_activation("relu")
    res, n_all = [], 0
    for kind, u, v, fr, q in validation_pairs(np.random.default_rng(VALIDATION_SEED)):
        for d0 in VALIDATION_D0S:
            cnt = np.maximum(1, np.round(fr * d0).astype(int))
            if kind == "localised":
                cnt[0] = max(1, d0 // 150)
            cnt[-1] = d0 - cnt[:-1].sum()
            if cnt[-1] < 1:
                continue
            X = me.grouped_inputs(u, v, cnt)
            first, st = _plan_pair(X, q)
            S, Gr, dropped = me.grouped_mixture(u, v, cnt, q, act, width=11.0)
            assert dropped < 1e-15, dropped
            for val, ref, est, dg in ((first.sigma[0, 1], S, st["err_s"][0, 1], first.sigma),
                                      (first.grad[0, 1], Gr, st["err_g"][0, 1], first.grad)):
                n_all += 1
                if np.isfinite(est) and est > 0:    # certified by the expansion
                    err = abs(val - ref) / np.sqrt(dg[0, 0] * dg[1, 1])
                    res.append((kind, d0, q, err / est, est))
    return res, n_all


def generate() -> dict[str, str]:
    rows = convergence_rows()
    K = me.MAX_ORDER
    head = "| q | d0 | " + " | ".join(["wide (order 0)"] + [f"+ … + T_{k}" for k in range(1, K + 1)]) \
        + " | estimate | error / estimate |"
    lines = [head, "|" + "---|" * (K + 5)]
    for q, d0, errs, e_plan, est in rows:
        lines.append(f"| {q} | {d0} | " + " | ".join(f"{e:.2e}" for e in errs)
                     + f" | {est:.2e} | {e_plan / est:.3f} |")
    sl = ["| q | " + " | ".join(f"slope order {k}" for k in range(K + 1)) + " |",
          "|---|" + "---|" * (K + 1)]
    for q in QS:
        r = [x for x in rows if x[0] == q and x[1] >= 64]
        d0s = [x[1] for x in r]
        sl.append(f"| {q} | " + " | ".join(f"{slope(d0s, [x[2][k] for x in r]):.2f}"
                                            for k in range(K + 1)) + " |")
    worst = max(x[3] / x[4] for x in rows)
    val, n_all = validation_rows()
    vl = ["| pairs | d0 | entries certified / all | estimate ≤ 1e-8 | worst error/estimate | "
          "worst error/estimate (estimate ≤ 1e-6) |", "|---|---|---|---|---|---|"]
    for d0 in VALIDATION_D0S:
        r = [x for x in val if x[1] == d0]
        small = [x[3] for x in r if x[4] <= 1e-6]
        per_d0 = 2 * sum(1 for p in validation_pairs(np.random.default_rng(VALIDATION_SEED)))
        vl.append(f"| {VALIDATION_PAIRS} | {d0} | {len(r)} / {per_d0} | "
                  f"{sum(1 for x in r if x[4] <= 1e-8)} | {max(x[3] for x in r):.2f} | "
                  + (f"{max(small):.2f}" if small else "–") + " |")
    wv = max(x[3] for x in val)
    wv_small = max((x[3] for x in val if x[4] <= 1e-6), default=0.0)
    by_kind = {}
    for x in val:
        by_kind[x[0]] = max(by_kind.get(x[0], 0.0), x[3])
    vl.append("")
    vl.append("Worst error/estimate by kind of pair: " + ", ".join(
        f"{k} {v:.2f}" for k, v in sorted(by_kind.items())) + ".")
    return {"derivatives": derivatives_block(), "convergence": "\n".join(lines),
            "slopes": "\n".join(sl),
            "estimate": f"Largest ratio (true error)/(estimate) over the table: **{worst:.3f}** "
                        + ("(≤ 1: the estimate bounded the error in every row)." if worst <= 1 else
                           "(> 1: the estimate did NOT bound the error in every row)."),
            "validation": "\n".join(vl),
            "validation_summary": (
                f"Over {len(val)} certified entries: largest error/estimate **{wv:.2f}**"
                + (" (the estimate bounded every error)" if wv <= 1 else
                   " (**the estimate was exceeded**)")
                + f"; among entries with estimate ≤ 1e-6 (the regime in which an entry can be "
                  f"certified at tol ≤ 1e-6): **{wv_small:.2f}**.")}
