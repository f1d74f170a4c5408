"""Generated blocks of notes/pruning_factor.md: the factor Θ̃/Θ derived by
``theory.scaling_factor`` (docs/math.md#pruning), never typed in."""
from __future__ import annotations

import sympy

import theory
from theory import Architecture
from theory import latex as TL

P = sympy.Symbol("p")
PS = sympy.symbols("p1:8")
HALF = sympy.Rational(1, 2)

# columns of the main table: the architectures of theory.latex.SCALING_CASES, short headers
_HEADERS = ("all, mask", "all, variance model", "hidden, mask", "all_but_input, mask",
            "all_but_output, mask", "all, mask, rescaled")
COLUMNS = tuple(zip(_HEADERS, (kw for _, kw in TL.SCALING_CASES)))


def _cell(f: sympy.Expr | None) -> str:
    return "None" if f is None else f"${sympy.latex(f)}$"


def _main_table() -> str:
    head = "| L | " + " | ".join(h for h, _ in COLUMNS) + " |"
    rows = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    for L in range(0, 7):
        cells = [_cell(theory.scaling_factor(Architecture(depth=L, p=P, **kw)))
                 for _, kw in COLUMNS]
        rows.append(f"| {L} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _exponent_check() -> str:
    """The exponent K of (1-p)^K per pattern, compared with the count of pruned matrices."""
    lines = []
    ok_mask = ok_var = True
    for L in range(0, 7):
        fm = theory.scaling_factor(Architecture(depth=L, p=P))
        fv = theory.scaling_factor(Architecture(depth=L, p=P, model="variance"))
        ok_mask &= sympy.simplify(fm - (1 - P) ** (L + 1)) == 0
        ok_var &= sympy.simplify(fv - (1 - P) ** L) == 0
        if L >= 1:
            ok_var &= sympy.simplify(fm / fv - (1 - P)) == 0
    lines.append(f"- hard masks, all L+1 matrices: factor == (1-p)^(L+1) for L = 0..6: **{ok_mask}**")
    lines.append(f"- variance model, all L+1 matrices: factor == (1-p)^L (= c^L, c = 1-p) "
                 f"and mask/variance == 1-p for L = 0..6: **{ok_var}**")
    return "\n".join(lines)


def _explicit_table() -> str:
    """Explicit per-matrix p_h and index sets; other activations; the variance model with
    non-uniform pruning."""
    cases = [
        ("relu", dict(depth=2, p=list(PS[:3])), "per-matrix p_1, p_2, p_3, mask"),
        ("relu", dict(depth=3, p=list(PS[:4])), "per-matrix p_1..p_4, mask"),
        ("relu", dict(depth=3, p=P, pruned=(0, 2)), "pruned = {W1, W3}, mask"),
        ("relu", dict(depth=3, p=P, pruned=(3,)), "pruned = {W4} (output only), mask"),
        ("relu", dict(depth=2, p=list(PS[:3]), rescale=True), "per-matrix p_h, rescaled"),
        ("relu", dict(depth=2, p=list(PS[:3]), model="variance"), "per-matrix p_h, variance model"),
        ("relu", dict(depth=3, p=P, pruned="hidden", model="variance"), "hidden only, variance model"),
        ("relu", dict(depth=3, p=P, pruned="all_but_input", model="variance"),
         "all_but_input, variance model"),
        ("relu2", dict(depth=1, p=P), "all, mask"),
        ("relu2", dict(depth=2, p=P), "all, mask"),
        ("relu2", dict(depth=3, p=P), "all, mask"),
        ("relu2", dict(depth=2, p=P, model="variance"), "all, variance model"),
        ("relu2", dict(depth=3, p=P, rescale=True), "all, rescaled"),
        ("erf", dict(depth=1, p=HALF), "all, mask, p = 1/2"),
        ("erf", dict(depth=2, p=HALF), "all, mask, p = 1/2"),
        ("erf", dict(depth=3, p=P, rescale=True), "all, rescaled"),
        ("tanh", dict(depth=2, p=HALF), "all, mask, p = 1/2"),
        ("tanh", dict(depth=2, p=P, rescale=True), "all, rescaled"),
    ]
    rows = ["| activation | L | pattern | Θ̃/Θ | how |", "|---|---|---|---|---|"]
    for act, kw, label in cases:
        d = theory.derive_scaling_factor(Architecture(activation=act, **kw))
        if d.factor is None:
            why = "ratio depends on the inputs (norms / angle)"
        else:
            why = "ratio free of the inputs"
        rows.append(f"| {act} | {kw['depth']} | {label} | {_cell(d.factor)} | {why} |")
    return "\n".join(rows)


def _unrolled() -> str:
    """The depth-2 unrolled Θ̃ printed from the code's recursion (theory.latex)."""
    body = [ln for ln in TL.recursion_fragment(2).splitlines() if not ln.startswith("%")]
    return "\n".join(["```latex", *body, "```"])


def _latex_factor() -> str:
    body = [ln for ln in TL.scaling_fragment(3, HALF).splitlines() if not ln.startswith("%")]
    return "\n".join(["```latex", *body, "```"])


def generate() -> dict[str, str]:
    return {
        "unrolled": _unrolled(),
        "main_table": _main_table(),
        "exponent_check": _exponent_check(),
        "explicit_table": _explicit_table(),
        "latex_factor": _latex_factor(),
    }


if __name__ == "__main__":  # pragma: no cover
    for k, v in generate().items():
        print(f"--- {k}\n{v}")
