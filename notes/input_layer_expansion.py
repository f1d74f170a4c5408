"""Generated blocks of notes/input_layer_expansion.md (about 15 s).

The 1/d0 expansion of the input-layer mask mixture (theory.mixture_expansion) against
the exact mixture of sign-pattern inputs (theory.mixture_expansion.sign_pattern_mixture,
mpmath, every one of the 2^d0 masks accounted for in O(d0²) terms).
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


def derivatives_block() -> str:
    """First derivatives of the ReLU per-mask kernels (α = 1), as the engine forms them."""
    act = theory.get_activation("relu")
    F, H, aux, _ = me._spec_arccos(1, sp.Integer(1))
    lines = ["```text", f"F = {sp.sstr(F)}", f"H = {sp.sstr(H)}"]
    for i, v in enumerate("ABC"):
        lines.append(f"dF/d{v} = {sp.sstr(sp.simplify(me._d(F, i, aux)))}")
    for i, v in enumerate("ABC"):
        lines.append(f"dH/d{v} = {sp.sstr(sp.simplify(me._d(H, i, aux)))}")
    lines.append("```")
    return "\n".join(lines)


def _terms(X: np.ndarray, q: float) -> dict:
    v, U, _ = unit_rows(X)
    P = {r: np.sum(U ** r, axis=1) for r in range(1, 7)}
    G = {(r, s): (U[:1] ** r) @ (U[1:] ** s).T for r in range(1, 6) for s in range(1, 7 - r)}
    th, ph = pair_angles(U[:1], U[1:], cos=G[(1, 1)])
    P1 = {r: p[:1] for r, p in P.items()}
    P2 = {r: p[1:] for r, p in P.items()}
    o = me.expansion_tile(act := theory.get_activation("relu"), 1.0, q, P1, P2, G, th, ph)
    return {k: float(np.asarray(val)[0, 0]) for k, val in o.items()}


def convergence_rows():
    rows = []
    for q in QS:
        for d0 in D0S:
            ns = int(FRACTION_SAME * d0)
            X = me.sign_pattern_inputs(d0, ns)
            S, Gr = me.sign_pattern_mixture(d0, ns, q, dps=25)
            t = _terms(X, q)
            plan = MixturePlan(theory.Architecture(depth=1, p=1 - q), X, None,
                               method="expansion", tol=1e-10)
            first, st = plan.tile(0, 2, 0, 2)
            scale = q  # diagonal Σ̃^(1)(x,x) = q|x|² = q for both kernels (ReLU)
            e0 = max(abs(t["F0"] - S), abs(t["H0"] - Gr)) / scale
            e1 = max(abs(t["F0"] + t["F1"] - S), abs(t["H0"] + t["H1"] - Gr)) / scale
            e2 = max(abs(first.sigma[0, 1] - S), abs(first.grad[0, 1] - Gr)) / scale
            est = max(st["err_s"][0, 1], st["err_g"][0, 1])
            rows.append((q, d0, e0, e1, e2, est))
    return rows


def slope(d0s, errs):
    return float(np.polyfit(np.log(d0s), np.log(errs), 1)[0])


def generate() -> dict[str, str]:
    rows = convergence_rows()
    lines = ["| q | d0 | wide (order 0) | + T_1 | + T_1 + T_2 | estimate | error / estimate |",
             "|---|---|---|---|---|---|---|"]
    for q, d0, e0, e1, e2, est in rows:
        lines.append(f"| {q} | {d0} | {e0:.2e} | {e1:.2e} | {e2:.2e} | {est:.2e} | {e2 / est:.2f} |")
    sl = ["| q | slope wide | slope + T_1 | slope + T_1 + T_2 |", "|---|---|---|---|"]
    for q in QS:
        r = [x for x in rows if x[0] == q and x[1] >= 64]
        d0s = [x[1] for x in r]
        sl.append(f"| {q} | {slope(d0s, [x[2] for x in r]):.2f} | {slope(d0s, [x[3] for x in r]):.2f} "
                  f"| {slope(d0s, [x[4] for x in r]):.2f} |")
    worst = max(x[4] / x[5] for x in rows)
    return {"derivatives": derivatives_block(), "convergence": "\n".join(lines),
            "slopes": "\n".join(sl),
            "estimate": f"Largest ratio (true error)/(estimate) over the table: **{worst:.2f}** "
                        + ("(≤ 1: the estimate bounded the error in every row)." if worst <= 1 else
                           "(> 1: the estimate did NOT bound the error in every row).")}
