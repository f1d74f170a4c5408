"""Generated blocks of notes/bound_comparison.md: Arora et al. 2019 Thm 3.1 vs the
Yang–Wang family, via theory.bounds (docs/math.md#bounds)."""
from __future__ import annotations

import functools

import sympy

import theory
from theory import bounds as tb
from theory import latex as TL
from theory import variance as V

from .findings import Finding, render

S = tb.SYMBOLS


def _members() -> list[tuple[str, tb.WidthBound]]:
    return [
        ("Arora 2019", tb.arora_bound()),
        ("YW default guess", tb.yang_wang_bound()),
        ("YW, a_q = 2", tb.yang_wang_bound(a_q=2)),
        ("YW, a_q = 1/2", tb.yang_wang_bound(a_q=sympy.Rational(1, 2))),
        ("YW, extra log(e/(1-p))", tb.yang_wang_bound(extra_log=tb.log_factors(sparsity_power=1))),
        ("YW, extra log(1/eps)^2", tb.yang_wang_bound(extra_log=tb.log_factors(eps_power=2))),
        ("YW, a_eps = 5", tb.yang_wang_bound(a_eps=5)),
        ("YW, a_L = 7", tb.yang_wang_bound(a_L=7)),
    ]


def _formulas() -> str:
    return "\n".join(["```latex", *[ln for ln in TL.bounds_fragment().splitlines()
                                    if not ln.startswith("%")], "```"])


def _table() -> str:
    rows = ["| bound | width requirement | at p = 0: Arora up to logs? | degree in 1/(1-p) | "
            "linear in 1/(1-p)? |", "|---|---|---|---|---|"]
    for label, b in _members():
        red = tb.reduces_to_dense_up_to_logs(b)
        sp = tb.sparsity_dependence(b)
        lin = {True: "yes" + (" (exactly)" if sp.exactly_linear else " (up to logs)"),
               False: "no", None: "undecided"}[sp.is_linear]
        red_s = {True: "yes" + (" (equal)" if red.exactly_equal else ""), False: "no",
                 None: "undecided"}[red.holds]
        if red.holds is False:
            bad = [k for k, e in red.exponents.items() if e is not None and e != 0]
            red_s += " (" + ", ".join(f"{k}: exponent {red.exponents[k]}" for k in bad) + ")"
        rows.append(f"| {label} | ${tb.to_latex(b)}$ | {red_s} | {sp.degree} | {lin} |")
    return "\n".join(rows)


def _compare() -> str:
    c = tb.compare(tb.yang_wang_bound(), tb.arora_bound())
    lines = ["```", c.summary, "```"]
    return "\n".join(lines)


def _numbers() -> str:
    ar, yw = tb.arora_bound(), tb.yang_wang_bound()
    vals = dict(L=3, eps=sympy.Rational(1, 10), delta=sympy.Rational(1, 20), C=1)
    rows = ["| p | Arora width (C = 1) | Yang-Wang default width (C = 1) | ratio |",
            "|---|---|---|---|"]
    for p in (0, sympy.Rational(1, 2), sympy.Rational(9, 10), sympy.Rational(99, 100)):
        a = tb.required_width(ar, **vals)
        y = tb.required_width(yw, p=p, **vals)
        rows.append(f"| {p} | {float(a):.3e} | {float(y):.3e} | {float(y / a):.4g} |")
    rows.append("")
    rows.append("L = 3, eps = 1/10, delta = 1/20. The constant C is unknown in both "
                "theorems, so only ratios and shapes are meaningful.")
    return "\n".join(rows)


def _limits() -> str:
    yw = tb.yang_wang_bound()
    lines = []
    for label, var, pt in (("eps -> 0", S.eps, 0), ("p -> 0", S.p, 0)):
        lim = sympy.limit(yw.width / tb.arora_bound().width, var, pt, "+")
        lines.append(f"- {label}: Yang–Wang / Arora → ${sympy.latex(lim)}$")
    sp = tb.sparsity_dependence(yw)
    lines.append(f"- p → 1 (r = 1/(1-p) → ∞): {sp.summary}; leading coefficient "
                 f"${sympy.latex(sp.coefficient)}$")
    inv = tb.error_at_width(yw)
    lines.append(f"- inverted (error at width d): $\\epsilon = {sympy.latex(inv.value)}$, "
                 f"guarantee $|\\Theta_d - \\Theta| \\le {sympy.latex(inv.guarantee)}$")
    return "\n".join(lines)


@functools.lru_cache(maxsize=1)
def findings() -> list[Finding]:
    """Exact (symbolic) findings: the degree in r = 1/(1−p) of the Yang–Wang default and
    of the exact one-hidden-layer width with a masked input layer at fixed d0."""
    yw = tb.sparsity_dependence(tb.yang_wang_bound())
    arch = theory.Architecture(depth=1, p=V.P, rescale=True)
    wide = V.symbolic_moments(arch).variance.subs({V.THETA: sympy.pi / 3, V.NORM_X: 1,
                                                   V.NORM_Y: 1})
    k_wide, _ = V.width_growth_in_r(V.required_width(wide))
    diag = V.diagonal_moments(arch).variance.subs(V.NORM_X, 1)
    k_exact, _ = V.width_growth_in_r(V.required_width(diag))
    reg = "one hidden layer, ReLU, rescaled masks; symbolic in p (theory.variance)"
    return [
        Finding("yw_degree", "degree in 1/(1−p) of the Yang–Wang default guess", "exact",
                float(yw.degree), 0.0, "the assumed bound family (theory.bounds)", fmt="g"),
        Finding("wide_input_degree", "degree in 1/(1−p) of the CLT width of the exact "
                "one-layer variance, wide-input form (ρ = 1/2)", "exact", float(k_wide), 0.0,
                reg, fmt="g"),
        Finding("masked_input_degree", "the same with the input layer masked, exact at fixed "
                "d0 (diagonal, x4 = Σx_j⁴ > 0)", "exact", float(k_exact), 0.0, reg, fmt="g"),
    ]


def generate() -> dict[str, str]:
    return {
        "findings": render(findings()),
        "formulas": _formulas(),
        "table": _table(),
        "compare": _compare(),
        "limits": _limits(),
        "numbers": _numbers(),
    }


if __name__ == "__main__":  # pragma: no cover
    for k, v in generate().items():
        print(f"--- {k}\n{v}")
