"""Generated blocks of notes/bound_slack.md (theory/finite_width.py, theory/bounds.py)."""
from __future__ import annotations

import numpy as np

import theory
import theory.finite_width as F
from theory import variance as V

EPS, DELTA, D0, RHO = 0.1, 0.1, 8, 0.5
WIDTHS, DRAWS = (64, 256), 300


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x < 1e4 else f"{x:.2e}"


def generate() -> dict[str, str]:
    rows = F.slack_table(depths=(1, 2, 3, 4), ps=(0.0, 0.5, 0.9), d0=D0, rho=RHO, eps=EPS,
                         delta=DELTA, widths=WIDTHS, n_draws=DRAWS, seed=0)
    t = ["| L | p | d needed (from d=64) | d needed (from d=256) | 95% CI | bias at 64 / 256 "
         "| Arora width (C=1) | slack Arora | YW default (C=1) | slack YW |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        e = r["estimates"]
        t.append(f"| {r['L']} | {r['p']:g} | {_fmt(e[0][1])} | **{_fmt(e[1][1])}** | "
                 f"[{_fmt(r['ci'][0])}, {_fmt(r['ci'][1])}] | "
                 f"{r['bias'][0]:+.3f} / {r['bias'][1]:+.3f} | {_fmt(r['arora'])} | "
                 f"**{_fmt(r['slack_arora'])}** | {_fmt(r['yang_wang'])} | "
                 f"**{_fmt(r['slack_yang_wang'])}** |")
    t.append("")
    t.append(f"Unit inputs x, x' in R^{D0} with x·x' = {RHO} (seed 0), error "
             f"|Θ_d(x,x') − Θ̃(x,x')| ≤ (L+1)ε, ε = {EPS}, δ = {DELTA}; ReLU, all L+1 "
             f"matrices pruned (mask model) and rescaled; Θ̃ = limit_ntk with the exact input "
             f"layer; {DRAWS} networks per (L, p, d).")
    # L = 1 anchor: the exact variance gives the CLT width directly
    X = F.sphere_pair(D0, RHO, 0)
    a = ["| p | z² V / (2ε)² (exact V, CLT) | measured (d=256) |", "|---|---|---|"]
    for r in rows:
        if r["L"] != 1:
            continue
        arch = theory.Architecture(depth=1, p=r["p"], rescale=True,
                                   pruned="all" if r["p"] > 0 else "none")
        Vx = V.neuron_moments(arch, X).variance[0, 1]
        a.append(f"| {r['p']:g} | {_fmt(float(V.required_width(Vx, 2 * EPS, DELTA)))} | "
                 f"{_fmt(r['measured'])} |")
    return {"slack_table": "\n".join(t), "one_layer_anchor": "\n".join(a)}


if __name__ == "__main__":
    for k, v in generate().items():
        print(f"--- {k}\n{v}\n")
