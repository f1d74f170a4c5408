"""Generated blocks of notes/depth_law.md (theory/finite_width.py)."""
from __future__ import annotations

import math

import numpy as np

import theory
import theory.finite_width as F
from theory import variance as V

D0, DRAWS = 64, 300
DEPTHS, WIDTHS, PS = (1, 2, 4, 8), (32, 64, 128), (0.0, 0.5, 0.8)


def records() -> list[F.LogRatio]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(D0)
    x /= np.linalg.norm(x)
    out = []
    for p in PS:
        for L in DEPTHS:
            for d in WIDTHS:
                a = theory.Architecture(depth=L, p=p, rescale=True,
                                        pruned="all" if p > 0 else "none")
                out.append(F.diagonal_log_ratio(a, x, d, n_draws=DRAWS,
                                                seed=100_000 * L + d + int(10 * p)))
    return out


def generate() -> dict[str, str]:
    recs = records()
    t = ["| p | L | d | β = L/d | β_eff = L/(qd) | log(E Θ²/(E Θ)²) | stderr |",
         "|---|---|---|---|---|---|---|"]
    for r in recs:
        t.append(f"| {r.p:g} | {r.depth} | {r.width} | {F.beta(r.depth, r.width, r.p, False):.4f} "
                 f"| {F.beta(r.depth, r.width, r.p, True):.4f} | {r.value:.4f} | {r.stderr:.4f} |")
    f = ["| β definition | p | slope c | 95% CI | intercept | z vs dense | p-value |",
         "|---|---|---|---|---|---|---|"]
    for fit in F.depth_law(recs, alpha=0.05):
        z = "—" if fit.z_vs_dense is None else f"{fit.z_vs_dense:+.2f}"
        pv = "—" if fit.p_value_vs_dense is None else f"{fit.p_value_vs_dense:.1e}"
        f.append(f"| {'Σ 1/(q d_l)' if fit.effective else 'Σ 1/d_l'} | {fit.p:g} | "
                 f"{fit.fit.slope:.2f} | [{fit.fit.ci_low:.2f}, {fit.fit.ci_high:.2f}] | "
                 f"{fit.fit.intercept:+.3f} | {z} | {pv} |")
    # L = 1 exact: relative variance V/(E T)² on the diagonal, per unit of 1/d and 1/(qd)
    x = np.zeros((1, D0)); x[0, 0] = 1.0
    e = ["| p | V/(E T)² (exact, diagonal, wide input) | per unit β = 1/d | per unit β_eff = 1/(qd) |",
         "|---|---|---|---|"]
    for p in PS:
        a = theory.Architecture(depth=1, p=p, rescale=True, pruned="all" if p > 0 else "none")
        m = V.neuron_moments(a, np.full((1, D0), 1 / math.sqrt(D0)), method="wide")
        rv = m.variance[0, 0] / m.mean[0, 0] ** 2
        e.append(f"| {p:g} | {rv:.3f} | {rv:.3f} | {rv * (1 - p):.3f} |")
    note = (f"Unit input x in R^{D0} (seed 0), ReLU, no biases, all matrices pruned (mask model) "
            f"and rescaled, {DRAWS} networks per row; stderr by the delta method; fits weighted "
            f"by 1/stderr² with a Student-t interval from the residuals (theory.stats.slope_fit).")
    return {"records": "\n".join(t) + "\n\n" + note, "fits": "\n".join(f),
            "one_layer_exact": "\n".join(e)}


if __name__ == "__main__":
    for k, v in generate().items():
        print(f"--- {k}\n{v}\n")
