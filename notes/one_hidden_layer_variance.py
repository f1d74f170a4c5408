"""Generated blocks of notes/one_hidden_layer_variance.md (see theory/variance.py)."""
from __future__ import annotations

import functools

import numpy as np
import sympy

import theory
import theory.finite_width  # noqa: F401  (submodule, not imported by theory/__init__)
from theory import variance as V
from theory.stats import bonferroni, variance_test

from .findings import Finding, combine, render

WIDTH, DRAWS, ALPHA = 64, 2000, 1e-3
SEEDS = (1, 2)    # replication: seed 1 = networks 50000·k + s, seed 2 = SeedSequence([2, k, s])


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


def _net_seed(seed: int, k: int, s: int):
    return 50_000 * k + s if seed == 1 else np.random.SeedSequence([seed, k, s])


@functools.lru_cache(maxsize=None)
def mc_results(seed: int, draws: int = DRAWS, width: int = WIDTH) -> list:
    """Per configuration and entry: (name, (i, j), test vs exact, control test, d·Var, V)."""
    cfgs = mc_configs()
    entries = [(0, 0), (0, 1), (1, 1)]
    m = 2 * len(cfgs) * len(entries)
    results = []
    for k, (name, arch, X) in enumerate(cfgs):
        ths = np.stack([theory.empirical_ntk(arch, X, width, _net_seed(seed, k, s))
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
            d4 = y - y.mean()
            kurt = float(np.mean(d4 ** 4) / np.mean(d4 ** 2) ** 2)
            results.append((name, (i, j), t, c, float(y.var(ddof=1)), float(ex[i, j]),
                            wname, float(wrong[i, j]), kurt))
    return results


def mc_table(draws: int = DRAWS, width: int = WIDTH) -> tuple[str, list]:
    m = 2 * len(mc_configs()) * 3
    rows = ["| configuration | entry | d·Var MC | V exact | z | V wide / dense (control) | "
            "z control | z, seed 2 | z control, seed 2 |",
            "|---|---|---|---|---|---|---|---|---|"]
    r1, r2 = mc_results(SEEDS[0], draws, width), mc_results(SEEDS[1], draws, width)
    for a, b in zip(r1, r2):
        name, (i, j), t, c, var, ex, wname, wrong, _ = a
        rows.append(f"| {name} | ({i},{j}) | {var:.4g} | {ex:.4g} | {t.statistic:+.2f} | "
                    f"{wname}: {wrong:.4g} | {c.statistic:+.1f} | {b[2].statistic:+.2f} | "
                    f"{b[3].statistic:+.1f} |")
    crit = r1[0][2].critical
    zs = [r[2].statistic for r in r1 + r2]
    rows.append("")
    rows.append(f"{draws} independent networks of width {width} per configuration and seed "
                f"(two seeds); family-wise alpha = {ALPHA:g} over {m} tests per seed "
                f"(Bonferroni, per-test {bonferroni(ALPHA, m):.1e}, |z| critical = "
                f"{crit:.2f}). Over both seeds, largest |z| against the exact V: "
                f"{max(abs(z) for z in zs):.2f}.")
    return "\n".join(rows), r1


def _ratio(r) -> tuple[float, float]:
    """``d·Var/V`` and its standard error ``sqrt((κ − 1)/n)`` (κ: kurtosis of the draws)."""
    var, ex, kurt = r[4], r[5], r[8]
    return var / ex, var / ex * np.sqrt((kurt - 1) / DRAWS)


@functools.lru_cache(maxsize=1)
def findings() -> list[Finding]:
    # exact: crossover of the linear and quadratic terms of the diagonal law
    dm = V.diagonal_moments(theory.Architecture(depth=1, p=V.P, rescale=True))
    law = V.sparsity_law(dm.variance)
    cross = sympy.simplify(law.C / law.B)        # 1 − p at which B p/(1−p) = C p/(1−p)²
    out = [Finding("crossover", f"mean number of kept inputs per neuron, (1−p)·d0, at which "
                   f"the p/(1−p)² term of the exact diagonal variance (rescaled) equals the "
                   f"p/(1−p) term: 1 − p = C/B = {cross} (x4 = Σ_j x_j⁴, n_x = |x|); value "
                   f"for d0 = 64 and x4 = 3/(d0 + 2), the mean over unit Gaussian directions",
                   "exact", float(64 * 3 / 66), 0.0,
                   "one hidden layer, ReLU, mask model, exact in d0", fmt=".3g")]
    reg = f"L = 1, width {WIDTH}, {DRAWS} networks per seed, d0 = 4"
    r1, r2 = mc_results(SEEDS[0]), mc_results(SEEDS[1])
    for idx, what in ((1, "mask rescaled p=0.5 d0=4, entry (0,1)"),
                      (7, "mask unrescaled p=0.7 d0=4, entry (0,1)")):
        per = {SEEDS[0]: _ratio(r1[idx]), SEEDS[1]: _ratio(r2[idx])}
        v, u = combine(per)
        out.append(Finding(f"var_ratio_{idx}", f"d·Var(Θ_d)/V_exact, {what} (1 = exact V "
                           f"right; the wide form predicts {r1[idx][7] / r1[idx][5]:.2f})",
                           "measured", v, u, reg, per, fmt=".3f"))
    return out


def generate() -> dict[str, str]:
    return {
        "formulas": _formulas(),
        "sparsity_law": _law(),
        "diagonal_exact": _diagonal(),
        "widths": _widths(),
        "limit_check": _limit_check(),
        "monte_carlo": mc_table()[0],
        "findings": render(findings()),
    }


if __name__ == "__main__":
    for k, v in generate().items():
        print(f"--- {k}\n{v}\n")
