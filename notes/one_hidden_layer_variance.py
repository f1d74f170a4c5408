"""Generated blocks of notes/one_hidden_layer_variance.md (see theory/variance.py)."""
from __future__ import annotations

import numpy as np
import sympy

import theory
import theory.finite_width  # noqa: F401  (submodule, not imported by theory/__init__)
from theory import variance as V
from theory.stats import bonferroni, variance_test

WIDTH, DRAWS, ALPHA = 64, 2000, 1e-3


def _s(e: sympy.Expr) -> str:
    return "`" + sympy.sstr(e) + "`"


def _formulas() -> str:
    rows = ["| model | rescale | E T | V = Var T |", "|---|---|---|---|"]
    for model in ("mask", "variance"):
        for resc in (True, False):
            m = V.symbolic_moments(theory.Architecture(depth=1, p=V.P, rescale=resc, model=model))
            rows.append(f"| {model} | {resc} | {_s(sympy.factor(m.mean))} | "
                        f"{_s(sympy.factor(m.variance))} |")
    return "\n".join(rows)


def _law() -> str:
    out = []
    for model, resc, what in (("mask", True, "V"), ("mask", False, "V/(E T)^2"),
                              ("variance", False, "V/(E T)^2")):
        m = V.symbolic_moments(theory.Architecture(depth=1, p=V.P, rescale=resc, model=model))
        e = m.variance if what == "V" else sympy.simplify(m.variance / m.mean ** 2)
        law = V.sparsity_law(e)
        out.append(f"- {model}, rescale={resc}: `{what}` in r = 1/(1-p) has powers "
                   f"{sorted(law.powers)}; affine in 1/(1-p): **{law.affine}**; "
                   f"A = {_s(law.A)}, B = {_s(law.B)}")
    d = V.symbolic_moments(theory.Architecture(depth=1, p=0.0, pruned="none"))
    e2 = sympy.simplify(d.second)
    out.append(f"- dense check: E[T_dense^2] = {_s(e2)}, so B = E[T_dense^2] "
               f"(mask, rescaled): {sympy.simplify(e2 - V.sparsity_law(V.symbolic_moments(theory.Architecture(depth=1, p=V.P, rescale=True)).variance).B) == 0}")
    return "\n".join(out)


def _diagonal() -> str:
    out = []
    for resc in (True, False):
        arch = theory.Architecture(depth=1, p=V.P, rescale=resc)
        dm = V.diagonal_moments(arch)
        law = V.sparsity_law(dm.variance if resc else sympy.simplify(dm.variance / dm.mean ** 2))
        what = "V" if resc else "V/(E T)^2"
        out.append(f"- mask, rescale={resc}: E T = {_s(dm.mean)}; {what} = "
                   f"{_s(sympy.expand(law.expr_r))} (r = 1/(1-p)), i.e. A = {_s(law.A)}, "
                   f"B = {_s(law.B)}, C = {_s(law.C)} in A + B p/(1-p) + C p/(1-p)^2")
    return "\n".join(out)


def _widths() -> str:
    arch = theory.Architecture(depth=1, p=V.P, rescale=True)
    at = {V.THETA: sympy.pi / 3, V.NORM_X: 1, V.NORM_Y: 1}
    out = []
    wide = V.symbolic_moments(arch).variance.subs(at)
    for rule in ("clt", "chebyshev"):
        k, lead = V.width_growth_in_r(V.required_width(wide, rule=rule))
        out.append(f"- wide input, rho = 1/2, unit norms, {rule}: width ~ r^{k} · {_s(lead)}")
    diag = V.diagonal_moments(arch).variance.subs(V.NORM_X, 1)
    k, lead = V.width_growth_in_r(V.required_width(diag, rule="clt"))
    out.append(f"- exact in d0, diagonal, unit norm, clt: width ~ r^{k} · {_s(lead)} "
               f"(x4 = sum_j x_j^4)")
    X = theory.finite_width.sphere_pair(4, 0.5, seed=3)
    pol = V.variance_polynomial(theory.Architecture(depth=1, p=0.5, rescale=True), X)
    law = V.sparsity_law(pol.variance)
    pw = ", ".join(f"r^{k}: {float(v):.4g}" for k, v in sorted(law.powers.items(), reverse=True))
    out.append(f"- exact in d0 = 4, off-diagonal pair with rho = 1/2 (seed 3): V = {pw}")
    return "\n".join(out)


def _limit_check() -> str:
    rng = np.random.default_rng(11)
    X = rng.standard_normal((3, 5))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X[2] *= 1.7
    worst = 0.0
    for model in ("mask", "variance"):
        for resc in (True, False):
            for pr in ("all", "all_but_input", "all_but_output"):
                a = theory.Architecture(depth=1, p=0.6, rescale=resc, model=model, pruned=pr)
                worst = max(worst, float(np.abs(V.neuron_moments(a, X).mean
                                                - theory.limit_ntk(a, X)).max()))
    return (f"max |E T − limit_ntk(exact input layer)| over 12 architectures × 3×3 kernel "
            f"entries (d0 = 5, p = 0.6): {worst:.1e}")


def mc_configs() -> list[tuple[str, theory.Architecture, np.ndarray]]:
    out = []
    for d0 in (4, 64):
        X = theory.finite_width.sphere_pair(d0, 0.3, seed=d0)
        out.append((f"mask rescaled p=0.5 d0={d0}",
                    theory.Architecture(depth=1, p=0.5, rescale=True), X))
    X = theory.finite_width.sphere_pair(4, 0.3, seed=4)
    out.append(("mask unrescaled p=0.7 d0=4", theory.Architecture(depth=1, p=0.7), X))
    out.append(("variance unrescaled p=0.5 d0=4",
                theory.Architecture(depth=1, p=0.5, model="variance"), X))
    return out


def mc_table(draws: int = DRAWS, width: int = WIDTH) -> tuple[str, list]:
    cfgs = mc_configs()
    entries = [(0, 0), (0, 1), (1, 1)]
    m = 2 * len(cfgs) * len(entries)
    rows = ["| configuration | entry | d·Var MC | V exact | z | V wide / dense (control) | z control |",
            "|---|---|---|---|---|---|---|"]
    results = []
    for k, (name, arch, X) in enumerate(cfgs):
        ths = np.stack([theory.empirical_ntk(arch, X, width, 50_000 * k + s)
                        for s in range(draws)])
        ex = V.neuron_moments(arch, X).variance
        if 0 in arch.pruned_matrices() and arch.model == "mask":
            wrong, wname = V.neuron_moments(arch, X, method="wide").variance, "wide"
        else:
            wrong, wname = V.neuron_moments(arch.dense(), X).variance, "dense"
        for (i, j) in entries:
            y = ths[:, i, j] * np.sqrt(width)
            t = variance_test(y, ex[i, j], alpha=ALPHA, m=m)
            c = variance_test(y, wrong[i, j], alpha=ALPHA, m=m)
            results.append((name, (i, j), t, c))
            rows.append(f"| {name} | ({i},{j}) | {y.var(ddof=1):.4g} | {ex[i, j]:.4g} | "
                        f"{t.statistic:+.2f} | {wname}: {wrong[i, j]:.4g} | {c.statistic:+.1f} |")
    crit = results[0][2].critical
    rows.append("")
    rows.append(f"{draws} independent networks of width {width} per configuration; "
                f"family-wise alpha = {ALPHA:g} over {m} tests (Bonferroni, per-test "
                f"{bonferroni(ALPHA, m):.1e}, |z| critical = {crit:.2f}).")
    return "\n".join(rows), results


def generate() -> dict[str, str]:
    return {
        "formulas": _formulas(),
        "sparsity_law": _law(),
        "diagonal_exact": _diagonal(),
        "widths": _widths(),
        "limit_check": _limit_check(),
        "monte_carlo": mc_table()[0],
    }


if __name__ == "__main__":
    for k, v in generate().items():
        print(f"--- {k}\n{v}\n")
