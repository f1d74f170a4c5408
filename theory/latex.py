"""LaTeX export of the theory's formulas, generated from the code's sympy objects.

Every formula that exists in code as a sympy object is printed with ``sympy.latex`` from
that object, so the LaTeX cannot drift from the code:

* the arc-cosine kernels ``κ₀, κ₁`` and ``J₂`` (Cho & Saul 2009; docs/math.md#limit) come from the
  ReLU / ReLU² kernel maps of :mod:`theory.activations` evaluated with the sympy backend;
* the unrolled pruned NTK ``Θ̃^(L)`` at a concrete depth (docs/math.md#pruning) comes from running
  the one recursion (:func:`theory.recursion.run_recursion`) with a *generic* activation
  whose kernel maps return the symbols ``Σ̃^(h), Σ̇̃^(h)`` and with symbolic ``s_h, G_h``;
* the scaling factor ``Θ̃/Θ`` comes from :func:`theory.scaling_factor` (derived there from
  the recursion's per-layer structure and cross-checked against the cancelled ratio of the
  sympy recursions; never typed in);
* the ``architecture`` fragment describes any architecture (activation, pruning pattern,
  model, rescaling): ``c_σ``, ``s_h``, ``G_h``, its factor and the input-layer route;
* the bounds come from :func:`theory.bounds.to_latex` (docs/math.md#bounds);
* the one-hidden-layer variance constant (docs/math.md#finite-width) from :mod:`theory.variance` when that
  module provides a sympy expression (see :func:`variance_fragment`).

The general-``h`` recursion (with ``\\sum``/``\\prod`` over layers) is notation, not a code
object; it is typed here once and ``tests/test_latex.py`` checks it against the code-derived
unrolled expression for several depths and both pruning models (:func:`template_ntk`).

Notation (consistent across fragments; only amsmath/amssymb commands, no macros, so a
fragment can be pasted into a paper): ``\\Sigma^{(h)}``, ``\\dot\\Sigma^{(h)}``,
``\\Theta^{(L)}`` (dense), ``\\tilde\\Sigma^{(h)}``, ``\\dot{\\tilde\\Sigma}^{(h)}``,
``\\tilde\\Theta^{(L)}`` (pruned), ``p`` / ``p_h`` the pruning probability, ``q = 1-p``,
``s_h`` the effective weight variance and ``G_h`` the gradient factor of weight matrix
``h = 1 … L+1`` (1-based, as in docs/math.md).
"""
from __future__ import annotations

import argparse
import os
from textwrap import fill as _fill
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import sympy

from .activations import Activation, get_activation
from .architecture import Architecture
from .backends import SympyBackend
from .recursion import run_recursion
from .scaling import scaling_factor

__all__ = [
    "FRAGMENTS", "arccos_kernels", "symbols_for_depth", "derived_ntk", "template_ntk",
    "kernels_fragment", "recursion_fragment", "scaling_fragment", "variance_fragment",
    "bounds_fragment", "latex_fragment", "latex_document", "export_latex", "cli_main",
]

RHO = sympy.Symbol("rho", real=True)
_THETA = sympy.Symbol("theta", positive=True)
_LATEX_OPTS = dict(inv_trig_style="full")  # \arccos, not \operatorname{acos}


def _tex(expr: Any, **names: Any) -> str:
    """``sympy.latex`` with the project's printing options."""
    return sympy.latex(expr, **_LATEX_OPTS, **names)


# ----------------------------------------------------------------------------- kernels

def arccos_kernels() -> dict[str, sympy.Expr]:
    """``κ₀(ρ)``, ``κ₁(ρ)`` (ReLU, ``c_σ = 2``), ``J₂(θ)`` and ``k₂`` as sympy expressions,
    obtained from the code's kernel maps (docs/math.md#limit, docs/references.md Cho & Saul 2009).

    ``κ₁ = Σ(x,x')/sqrt(Σ(x,x)Σ(x',x'))`` and ``κ₀ = Σ̇(x,x')`` are read off the ReLU
    ``pair_map`` of :mod:`theory.activations` at unit variances with ``θ = arccos ρ``; ``J₂``
    is the sympy backend's angular function; ``k2`` is ``E[relu(u)²relu(v)²]/(ab)`` at unit
    variances, from the ReLU² map divided by its ``c_σ``.
    """
    B = SympyBackend()
    relu, relu2 = get_activation("relu"), get_activation("relu2")
    one = sympy.Integer(1)
    sig, sdot = relu.pair_map(B, one, one, _THETA, sympy.pi - _THETA)
    sig2, _ = relu2.pair_map(B, one, one, _THETA, sympy.pi - _THETA)
    to_rho = {_THETA: sympy.acos(RHO)}
    return {
        "kappa0": sympy.simplify(sdot.xreplace(to_rho)),
        "kappa1": sympy.together(sympy.expand(sympy.simplify(sig.xreplace(to_rho)))),
        "J2": B.J(2, _THETA, sympy.pi - _THETA),
        "k2": sig2 / relu2.c_sigma(B),
        "c_relu": relu.c_sigma(B),
        "c_relu2": relu2.c_sigma(B),
    }


def kernels_fragment() -> str:
    """The arc-cosine kernels (docs/math.md#limit): ``Σ^(h)``, ``Σ̇^(h)`` for ReLU via ``κ₁, κ₀``
    and ``J₂`` for the fourth moments (docs/math.md#finite-width), all printed from code."""
    k = arccos_kernels()
    th = sympy.Symbol(r"\theta")
    j2 = k["J2"].xreplace({_THETA: th})
    # E[relu(u)^2 relu(v)^2] as a multiple of J_2 (the multiple is computed, and must be
    # free of theta: Cho & Saul's k_2 at unit norms)
    k2_over_j2 = sympy.simplify(k["k2"] / k["J2"])
    if k2_over_j2.has(_THETA):
        raise AssertionError(f"E[relu^2 relu^2] / J_2 depends on theta: {k2_over_j2}")
    j2sym = sympy.Symbol("J2theta")
    k2 = k2_over_j2 * j2sym
    return "\n".join([
        r"% Arc-cosine kernels (Cho & Saul 2009), ReLU with c_sigma = "
        + str(k["c_relu"]) + r"; generated by theory.latex from theory.activations.",
        r"\begin{align*}",
        r"\rho^{(h)} &= \frac{\Sigma^{(h-1)}(x,x')}{\sqrt{\Sigma^{(h-1)}(x,x)\,"
        r"\Sigma^{(h-1)}(x',x')}}, \\",
        r"\Sigma^{(h)}(x,x') &= \sqrt{\Sigma^{(h-1)}(x,x)\,\Sigma^{(h-1)}(x',x')}\;"
        r"\kappa_1\bigl(\rho^{(h)}\bigr), \qquad "
        r"\dot\Sigma^{(h)}(x,x') = \kappa_0\bigl(\rho^{(h)}\bigr), \\",
        rf"\kappa_0(\rho) &= {_tex(k['kappa0'])}, \\",
        rf"\kappa_1(\rho) &= {_tex(k['kappa1'])}, \\",
        rf"J_2(\theta) &= {_tex(j2)}, \\",
        r"\mathbb{E}\bigl[\sigma(u)^2\sigma(v)^2\bigr]_{\sigma=\mathrm{relu},\,"
        r"\operatorname{Var}u=\operatorname{Var}v=1,\,\cos\theta=\rho}"
        " &= " + _tex(k2, symbol_names={j2sym: r"J_2(\theta)"}) + ".",
        r"\end{align*}",
    ])


# ----------------------------------------------------------------------------- recursion

class _GenericKernel(Activation):
    """An activation whose sympy kernel maps return fresh symbols per layer, so that the
    recursion's output shows its structure: ``Σ̃^(h)``, ``Σ̇̃^(h)`` for layer ``h = 1, 2 …``
    in call order (``run_recursion`` calls ``pair_map`` once per layer, in order)."""

    name = "generic"
    degree = None

    def __init__(self) -> None:
        self.layer = 0
        self.sigma: list[sympy.Symbol] = []
        self.sigma_dot: list[sympy.Symbol] = []

    def c_sigma(self, B):
        return sympy.Integer(1)

    def pair_map(self, B, va, vb, theta, phi):
        self.layer += 1
        s = sympy.Symbol(f"Sigmat_{self.layer}")
        sd = sympy.Symbol(f"SigmaDott_{self.layer}")
        self.sigma.append(s)
        self.sigma_dot.append(sd)
        return s, sd

    def variance_map(self, B, v):
        return sympy.Symbol(f"Sigmat_{self.layer}_diag")

    def output_angle(self, B, va, vb, theta, phi, sigma, va_out, vb_out):
        t = sympy.Symbol(f"theta_{self.layer}")
        return t, sympy.pi - t


class _SymbolicFactors(Architecture):
    """An architecture whose ``s_h`` and ``G_h`` are the symbols ``s_{h+1}``, ``G_{h+1}``
    (1-based in the printout), or ``G_h = s_h`` / ``G_h = 1`` for the two pruning models.
    Only ``depth`` and ``act`` of the base class are used by the recursion."""

    def s_of(self, h: int):  # noqa: D401 - overrides Architecture.s_of
        return sympy.Symbol(f"s_{h + 1}", positive=True)

    def grad_factor_of(self, h: int):
        g = object.__getattribute__(self, "_grad_mode")
        if g == "mask":
            return self.s_of(h)
        if g == "variance":
            return sympy.Integer(1)
        return sympy.Symbol(f"G_{h + 1}", positive=True)


def symbols_for_depth(depth: int) -> dict[str, list[sympy.Symbol]]:
    """The symbols used by :func:`derived_ntk` / :func:`template_ntk` at this depth."""
    n = depth + 1
    return {
        "s": [sympy.Symbol(f"s_{h}", positive=True) for h in range(1, n + 1)],
        "G": [sympy.Symbol(f"G_{h}", positive=True) for h in range(1, n + 1)],
        "Sigma": [sympy.Symbol(f"Sigmat_{h}") for h in range(0, depth + 1)],
        "SigmaDot": [sympy.Symbol(f"SigmaDott_{h}") for h in range(1, depth + 1)],
    }


def derived_ntk(depth: int, model: str = "generic") -> sympy.Expr:
    """``Θ̃^(L)(x,x')`` at ``depth = L`` as the code computes it: the output of
    :func:`theory.recursion.run_recursion` (sympy backend) with a generic activation and
    symbolic ``s_h`` and ``G_h`` (``model="generic"``), ``G_h = s_h`` (``"mask"``) or
    ``G_h = 1`` (``"variance"``). Expanded into the sum of the layers' own terms
    (docs/math.md#pruning); ``Sigmat_0`` stands for ``Σ^(0)(x,x') = xᵀx'``."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(f"depth must be a non-negative integer, got {depth!r}")
    if model not in ("generic", "mask", "variance"):
        raise ValueError(f"model must be 'generic', 'mask' or 'variance', got {model!r}")
    act = _GenericKernel()
    arch = _SymbolicFactors(depth=depth, activation=act, p=0.0, pruned="none")
    object.__setattr__(arch, "_grad_mode", model)
    nx, ny = sympy.Symbol("n_x", positive=True), sympy.Symbol("n_y", positive=True)
    B = SympyBackend()
    res = run_recursion(B, arch, nx ** 2, ny ** 2, _THETA, sympy.pi - _THETA)
    sigma0 = sympy.Symbol("Sigmat_0")
    ntk = sympy.sympify(res.ntk).subs(sympy.cos(_THETA), sigma0 / (nx * ny))
    return sympy.expand(ntk)


def template_ntk(depth: int, model: str = "generic") -> sympy.Expr:
    """The typed formula of docs/math.md#pruning as sympy: ``Σ_h G_h Σ̃^(h-1) Π_{k=h}^{L} Σ̇̃^(k)
    Π_{k=h+1}^{L+1} s_k`` (1-based). Used only to test that the printed general formula
    agrees with :func:`derived_ntk`."""
    sy = symbols_for_depth(depth)
    s, G, S, Sd = sy["s"], sy["G"], sy["Sigma"], sy["SigmaDot"]
    if model == "mask":
        G = s
    elif model == "variance":
        G = [sympy.Integer(1)] * len(s)
    L = depth
    total = sympy.Integer(0)
    for h in range(1, L + 2):
        term = G[h - 1] * S[h - 1]
        for k in range(h, L + 1):
            term *= Sd[k - 1]
        for k in range(h + 1, L + 2):
            term *= s[k - 1]
        total += term
    return sympy.expand(total)


def _recursion_names(depth: int) -> dict[sympy.Symbol, str]:
    sy = symbols_for_depth(depth)
    names: dict[sympy.Symbol, str] = {}
    for h, sym in enumerate(sy["s"], start=1):
        names[sym] = f"s_{{{h}}}"
    for h, sym in enumerate(sy["G"], start=1):
        names[sym] = f"G_{{{h}}}"
    names[sy["Sigma"][0]] = r"\Sigma^{(0)}"
    for h, sym in enumerate(sy["Sigma"][1:], start=1):
        names[sym] = rf"\tilde\Sigma^{{({h})}}"
    for h, sym in enumerate(sy["SigmaDot"], start=1):
        names[sym] = rf"\dot{{\tilde\Sigma}}^{{({h})}}"
    return names


def _layer_terms(expr: sympy.Expr, depth: int) -> list[sympy.Expr]:
    """The terms of the expanded NTK ordered by the layer they belong to (the ``Σ̃^(h-1)``
    they carry), i.e. weight matrix ``1 … L+1``."""
    S = symbols_for_depth(depth)["Sigma"]
    terms = list(sympy.Add.make_args(expr))
    def layer(t: sympy.Expr) -> int:
        return next(i for i, sym in enumerate(S) if t.has(sym))
    return sorted(terms, key=layer)


def recursion_fragment(depth: int = 3) -> str:
    """The pruned recursion (docs/math.md#pruning): pre-activation covariance, the recursive and the
    unrolled form of ``Θ̃`` with ``s_h``, ``G_h`` (typed general form, checked by tests),
    and the depth-``L`` expansion printed from the code's recursion (three models)."""
    L = depth
    names = _recursion_names(L)
    lines = [
        r"% Pruned NTK recursion (docs/math.md#pruning); weight matrices h = 1..L+1, "
        r"s_h = alpha_h q_h, G_h = s_h (hard masks) or 1 (variance model).",
        r"% Generated by theory.latex; the depth-" + str(L)
        + r" expansion is printed from theory.recursion.run_recursion.",
        r"\begin{align*}",
        r"\tilde\Lambda^{(h)}(x,x') &= s_{h}\begin{pmatrix}\tilde\Sigma^{(h-1)}(x,x) & "
        r"\tilde\Sigma^{(h-1)}(x,x')\\ \tilde\Sigma^{(h-1)}(x',x) & "
        r"\tilde\Sigma^{(h-1)}(x',x')\end{pmatrix}, \qquad "
        r"\tilde\Sigma^{(0)} = \Sigma^{(0)}(x,x') = x^\top x', \\",
        r"\tilde\Sigma^{(h)}(x,x') &= c_\sigma\,\mathbb{E}_{(u,v)\sim\mathcal{N}(0,"
        r"\tilde\Lambda^{(h)})}[\sigma(u)\sigma(v)], \qquad "
        r"\dot{\tilde\Sigma}^{(h)}(x,x') = c_\sigma\,\mathbb{E}_{(u,v)\sim\mathcal{N}(0,"
        r"\tilde\Lambda^{(h)})}[\sigma'(u)\sigma'(v)], \\",
        r"\tilde\Theta^{(0)} &= G_{1}\,\Sigma^{(0)}, \qquad "
        r"\tilde\Theta^{(h)} = s_{h+1}\,\tilde\Theta^{(h-1)}\,\dot{\tilde\Sigma}^{(h)} "
        r"+ G_{h+1}\,\tilde\Sigma^{(h)} \quad (h = 1,\dots,L), \\",
        r"\tilde\Theta^{(L)} &= \sum_{h=1}^{L+1} G_{h}\,\tilde\Sigma^{(h-1)}"
        r"\prod_{k=h}^{L}\dot{\tilde\Sigma}^{(k)}\prod_{k=h+1}^{L+1} s_{k}, \qquad "
        r"s_h = \alpha_h q_h,\quad q_h = 1 - p_h,\quad "
        r"G_h = \begin{cases} s_h & \text{hard masks}\\ 1 & \text{variance model}"
        r"\end{cases}",
        r"\end{align*}",
        rf"At depth $L = {L}$ the recursion of the code expands to",
        r"\begin{align*}",
    ]
    for label, model in (("", "generic"), (r"\text{hard masks: }", "mask"),
                         (r"\text{variance model: }", "variance")):
        terms = _layer_terms(derived_ntk(L, model), L)
        head = rf"{label}\tilde\Theta^{{({L})}}(x,x') &= "
        for i, t in enumerate(terms):
            body = _tex(t, symbol_names=names)
            if i == 0:
                lines.append(head + body + (r" \\" if len(terms) > 1 else r" \\[4pt]"))
            else:
                end = r" \\" if i < len(terms) - 1 else r" \\[4pt]"
                lines.append(r"&\quad + " + body + end)
    lines[-1] = lines[-1].removesuffix(r" \\[4pt]").removesuffix(r" \\")
    lines.append(r"\end{align*}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- scaling

P = sympy.Symbol("p")

# (label, keyword arguments of Architecture besides depth/p)
SCALING_CASES: tuple[tuple[str, dict], ...] = (
    ("all matrices, hard masks", dict(pruned="all", model="mask")),
    ("all matrices, variance model", dict(pruned="all", model="variance")),
    ("hidden matrices only, hard masks", dict(pruned="hidden", model="mask")),
    ("all but the input matrix, hard masks", dict(pruned="all_but_input", model="mask")),
    ("all but the output matrix, hard masks", dict(pruned="all_but_output", model="mask")),
    ("all matrices, rescaled", dict(pruned="all", model="mask", rescale=True)),
)


def scaling_table(depth: int, p: Any = P, activation: str = "relu"
                  ) -> list[tuple[str, sympy.Expr | None]]:
    """``(label, theory.scaling_factor(arch))`` for the standard pruning patterns."""
    return [(label, scaling_factor(Architecture(depth=depth, p=p, activation=activation, **kw)))
            for label, kw in SCALING_CASES]


def _p_value(p: Any) -> sympy.Expr | None:
    if p is None:
        return None
    v = sympy.nsimplify(p, rational=True) if not isinstance(p, sympy.Basic) else p
    if v.is_number and not (0 <= v < 1):
        raise ValueError(f"p must lie in [0, 1), got {p}")
    return v


def scaling_fragment(depth: int = 3, p: Any = None) -> str:
    """The derived factor ``Θ̃^(L)/Θ^(L)`` for ReLU (:func:`theory.scaling_factor`) under the
    standard pruning patterns, printed by ``sympy.latex``; with ``p`` given, also its value.
    Wide-input limit (docs/math.md#pruning); the input-layer mask mixture (§4) is not a scalar."""
    pv = _p_value(p)
    rows = scaling_table(depth)
    lines = [
        r"% Pruning factor Theta~/Theta (ReLU), derived by theory.scaling.scaling_factor "
        r"from the recursion's per-layer structure (docs/math.md#pruning).",
        rf"For ReLU and depth $L = {depth}$ (wide input layer, equal $p$ on every pruned "
        r"weight matrix):",
        r"\begin{align*}",
    ]
    body = []
    for label, f in rows:
        val = r"\text{no scalar factor}" if f is None else _tex(f)
        if pv is not None and f is not None and f.has(P):
            val += r" = " + _tex(sympy.nsimplify(f.subs(P, pv)))
            val += rf" \ \text{{at }} p = {_tex(pv)}"
        body.append(rf"\frac{{\tilde\Theta^{{({depth})}}}}{{\Theta^{{({depth})}}}} &= {val}"
                    rf" && \text{{({label})}}")
    lines.append(" \\\\\n".join(body))
    lines.append(r"\end{align*}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- variance

def variance_constants() -> dict[str, sympy.Expr] | None:
    """The one-hidden-layer variance constant ``V = Var T`` (docs/math.md#finite-width) from
    :func:`theory.variance.symbolic_moments` (wide-input form) and
    :func:`theory.variance.diagonal_moments` (exact in ``d0`` on the diagonal), decomposed
    as ``V_mask,rescaled = A + p/(1-p)·B`` (the decomposition is computed and verified here,
    not typed in). ``None`` when :mod:`theory.variance` is unavailable (HOOK)."""
    try:
        from . import variance as V
    except ImportError:
        return None
    P_ = V.P
    def var(model: str, rescale: bool) -> sympy.Expr:
        return V.symbolic_moments(Architecture(depth=1, p=P_, rescale=rescale,
                                               model=model)).variance
    vr = var("mask", True)
    A = sympy.simplify(vr.subs(P_, 0))
    Bc = sympy.simplify((vr - A) * (1 - P_) / P_)
    if sympy.simplify(A + P_ / (1 - P_) * Bc - vr) != 0 or Bc.has(P_):
        raise AssertionError("V(mask, rescaled) is not of the form A + p/(1-p) B")
    out = {
        "A": A, "B": Bc,
        "mask_unrescaled_over_rescaled": sympy.factor(sympy.simplify(var("mask", False) / vr)),
        "variance_rescaled_over_A": sympy.simplify(var("variance", True) / A),
        "variance_unrescaled_over_A": sympy.factor(sympy.simplify(var("variance", False) / A)),
        "diag_exact": sympy.factor(V.diagonal_moments(
            Architecture(depth=1, p=P_, rescale=True)).variance),
    }
    out["_symbols"] = (V.THETA, V.NORM_X, V.NORM_Y, V.X4, P_)  # type: ignore[assignment]
    return out


def variance_fragment() -> str:
    """``Var(T)`` of one hidden layer (docs/math.md#finite-width), printed from :mod:`theory.variance`.

    HOOK: when that module is unavailable a clearly marked placeholder is emitted."""
    c = variance_constants()
    if c is None:
        return "\n".join([
            r"% HOOK (theory.latex.variance_fragment): theory.variance is not available.",
            r"\noindent\textbf{[One-hidden-layer variance constant $\operatorname{Var}(T)$: "
            r"not yet available from the code.]}",
        ])
    th, nx, ny, x4, _ = c["_symbols"]
    names = {th: r"\theta", nx: r"\|x\|", ny: r"\|x'\|", x4: r"\|x\|_4^4"}
    t = lambda e: _tex(e, symbol_names=names)  # noqa: E731
    qsym = sympy.Symbol("q_keep", positive=True)

    def tq(e: sympy.Expr) -> str:
        """A pure function of ``p`` printed in powers of ``(1-p)``; ``1`` prints as empty."""
        f = sympy.factor(e.subs(c["_symbols"][4], 1 - qsym))
        if f == 1:
            return ""
        return _tex(f, symbol_names={qsym: r"(1-p)"}) + r"\,"
    return "\n".join([
        r"% One-hidden-layer variance constant (docs/math.md#finite-width), printed from "
        r"theory.variance.symbolic_moments / diagonal_moments (ReLU, wide-input form).",
        r"For $L = 1$, $\Theta_d = \frac1d\sum_{i=1}^d T_i$ with i.i.d.\ neuron terms, so "
        r"$\operatorname{Var}\Theta_d = V/d$ with $V = \operatorname{Var}(T)$, "
        r"$\theta = \arccos\rho$:",
        r"\begin{align*}",
        r"V_{\text{mask, rescaled}} &= A + \frac{p}{1-p}\,B, \\",
        rf"A &= {t(c['A'])}, \\",
        rf"B &= {t(c['B'])}, \\",
        rf"V_{{\text{{mask, not rescaled}}}} &= {tq(c['mask_unrescaled_over_rescaled'])}"
        r"V_{\text{mask, rescaled}}, \\",
        rf"V_{{\text{{variance model, rescaled}}}} &= {tq(c['variance_rescaled_over_A'])}"
        r"A, \qquad "
        rf"V_{{\text{{variance model, not rescaled}}}} = "
        rf"{tq(c['variance_unrescaled_over_A'])}A, \\",
        r"V_{\text{mask, rescaled}}(x,x) &= " + t(c["diag_exact"])
        + r" \quad \text{(exact in } d_0\text{, input layer masked)}.",
        r"\end{align*}",
    ])


# ----------------------------------------------------------------------------- bounds

def bounds_fragment(p: Any = None) -> str:
    """Arora et al. 2019 Thm 3.1 and the Yang–Wang family (default guess), via
    :func:`theory.bounds.to_latex` (docs/math.md#bounds), with the ratio of the two widths."""
    from . import bounds as tb
    ar, yw = tb.arora_bound(), tb.yang_wang_bound()
    cmp_ = tb.compare(yw, ar)
    num, den = sympy.fraction(sympy.cancel(cmp_.ratio))
    if num.could_extract_minus_sign() or den.could_extract_minus_sign():  # 1/(1-p), not -1/(p-1)
        num, den = -num, -den
    ratio = num / den
    ratio_tex = rf"\frac{{{_tex(num)}}}{{{_tex(den)}}}" if den != 1 else _tex(num)
    lines = [
        r"% Finite-width bounds (docs/math.md#bounds), printed by theory.bounds.to_latex; "
        r"C is the theorem's unspecified constant.",
        r"\begin{align*}",
        r"&\text{Arora et al.\ (2019), Thm.~3.1:} && " + tb.to_latex(ar, with_guarantee=True)
        + r" \\",
        r"&\text{Yang \& Wang (2023), assumed form:} && " + tb.to_latex(yw, with_guarantee=True)
        + r" \\",
        r"&\text{ratio of the widths:} && " + ratio_tex,
    ]
    pv = _p_value(p)
    if pv is not None:
        lines[-1] += rf" = {_tex(sympy.nsimplify(ratio.subs(tb.SYMBOLS.p, pv)))}"
        lines[-1] += rf" \ \text{{at }} p = {_tex(pv)}"
    lines.append(r"\end{align*}")
    lines.append(r"Only the shape of the Yang--Wang bound is known (linear in $1/(1-p)$ "
                 r"as $p\to1$, Arora's bound up to logarithmic factors at $p=0$); its "
                 r"exponents are assumptions.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- architecture

def _runs(values: list) -> list[tuple[int, int, Any]]:
    """Maximal runs of equal consecutive values as ``(first, last, value)`` (1-based)."""
    runs: list[tuple[int, int, Any]] = []
    for i, v in enumerate(values, start=1):
        if runs and runs[-1][2] == v:
            runs[-1] = (runs[-1][0], i, v)
        else:
            runs.append((i, i, v))
    return runs


def _runs_tex(name: str, values: list) -> str:
    parts = []
    for a, b, v in _runs(values):
        if a == b:
            lhs = f"{name}_{{{a}}}"
        elif b == a + 1:
            lhs = f"{name}_{{{a}}} = {name}_{{{b}}}"
        else:
            lhs = rf"{name}_{{{a}}} = \dots = {name}_{{{b}}}"
        parts.append(f"{lhs} = {_tex(v)}")
    return r",\quad ".join(parts)


def _c_sigma_tex(act: Activation) -> str:
    from .backends import NUMPY
    c = act.c_sigma(SympyBackend())
    if isinstance(c, sympy.Symbol):  # quadrature activations: the number, computed
        return rf"c_\sigma \approx {float(act.c_sigma(NUMPY)):.12g}\ \text{{(quadrature)}}"
    return rf"c_\sigma = {_tex(c)}"


def architecture_fragment(arch: Architecture, input_report: dict | None = None) -> str:
    """One architecture (any activation, pruning pattern, model, rescaling): its weight
    variances ``s_h`` and gradient factors ``G_h`` (from :class:`theory.Architecture`),
    ``c_σ``, and the factor ``Θ̃/Θ`` of the wide-input recursion with its label
    (:func:`theory.scaling.factor_structure`, fast at any depth). ``input_report`` (the
    CLI's input-layer report for concrete inputs) adds the route taken by the exact limit
    and its error."""
    from .scaling import _exact_factors, factor_structure
    s, G = _exact_factors(arch)
    fs = factor_structure(arch)
    L, act = arch.depth, arch.act
    ratio = rf"\frac{{\tilde\Theta^{{({L})}}}}{{\Theta^{{({L})}}}}"
    val = r"\text{no scalar factor}" if fs.factor is None else _tex(fs.factor)
    lines = [
        r"% Architecture, generated by theory.latex.architecture_fragment from theory.Architecture "
        r"and theory.scaling.factor_structure.",
        "% factor: " + fs.reason,
        r"Network (docs/math.md\#network): no biases, $L+1$ weight matrices with i.i.d.\ "
        r"$\mathcal N(0,1)$ entries, layer $h$ scaled by $\sqrt{c_\sigma/d_h}$, "
        r"$c_\sigma = 1/\mathbb{E}_{z\sim\mathcal N(0,1)}[\sigma(z)^2]$, "
        r"$\Sigma^{(0)}(x,x') = x^\top x'$ (no $1/d_0$); "
        + ("hard 0/1 masks" if arch.model == "mask" else "variance model (no mask in the gradient)")
        + (", kept weights rescaled by $1/\\sqrt{1-p_h}$" if arch.rescale else "") + ".",
        r"\begin{align*}",
        rf"&L = {L},\quad \sigma = \mathrm{{{act.name}}},\quad {_c_sigma_tex(act)} \\",
        rf"&{_runs_tex('s', s)} \quad \text{{(weight variances)}} \\",
        rf"&{_runs_tex('G', G)} \quad \text{{(gradient factors)}} \\",
        rf"&{ratio} = {val} \quad \text{{(wide-input recursion)}}",
        r"\end{align*}",
    ]
    if fs.factor is None:
        lines.append(r"No scalar factor: the pruned limit is the dense recursion with weight "
                     r"variances $s_h$ and gradient factors $G_h$ (docs/math.md\#pruning).")
    if fs.mixture_note:
        lines.append(r"The input matrix is hard-masked: with finite $d_0$ the exact limit uses "
                     r"the input-layer mask mixture (docs/math.md\#input-layer), to whose "
                     r"off-diagonal entries this factor does not apply"
                     + (r" (for $\sigma$ homogeneous of degree 1 it still holds on the "
                        r"diagonal)." if act.degree == 1 else "."))
    if input_report is not None:
        r = input_report
        err = r.get("error_estimate")
        err_txt = (rf" (relative error estimate {err:.2g})" if isinstance(err, float) else
                   r" (its error needs a numeric $p$)")
        route = {"wide": "the wide formula (requested)",
                 "dense": "the wide formula, which is exact (input matrix not hard-masked)",
                 "enumerated": rf"the mask mixture enumerated over all $2^{{{r['d0']}}}$ masks "
                               r"(exact)",
                 "expansion": r"the mask mixture by its $1/d_0$ expansion" + err_txt,
                 "sampled": rf"the mask mixture \emph{{sampled}} over {r.get('n_masks')} masks "
                            r"(Monte Carlo" + (rf"; standard error {r['stderr']:.2g} relative "
                                               r"to $\sqrt{K(x,x)K(x',x')}$)"
                                               if isinstance(r.get("stderr"), float) else ")"),
                 "mixed": r"the mask mixture, entries by different routes" + err_txt,
                 }.get(r["route"], r"the mask mixture" + err_txt)
        lines.append(rf"Input layer for the given inputs ($d_0 = {r['d0']}$): {route}.")
    else:
        lines.append(r"Input layer of the exact limit: the wide formula unless the input matrix "
                     r"is hard-masked; then the mask mixture, enumerated over all $2^{d_0}$ masks "
                     r"for $d_0 \le 16$ and sampled (Monte Carlo, with its standard error) beyond.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- assembly

FRAGMENTS: dict[str, Callable[..., str]] = {
    "architecture": lambda depth, p: architecture_fragment(
        Architecture(depth=depth, p=P if p is None else _p_value(p))),
    "kernels": lambda depth, p: kernels_fragment(),
    "recursion": lambda depth, p: recursion_fragment(depth),
    "scaling": lambda depth, p: scaling_fragment(depth, p),
    "variance": lambda depth, p: variance_fragment(),
    "bounds": lambda depth, p: bounds_fragment(p),
}


def latex_fragment(name: str = "scaling", *, depth: int = 3, p: Any = None,
                   arch: Architecture | None = None, input_report: dict | None = None) -> str:
    """One fragment as a string (for the CLI to print): ``name`` in :data:`FRAGMENTS`.
    ``arch`` (any architecture) is used by the ``"architecture"`` fragment, with
    ``input_report`` (the input-layer route for concrete inputs) if given."""
    if name not in FRAGMENTS:
        raise ValueError(f"fragment must be one of {tuple(FRAGMENTS)}, got {name!r}")
    _check_depth(depth)
    if name == "architecture" and arch is not None:
        return architecture_fragment(arch, input_report)
    return FRAGMENTS[name](depth, p)


def _check_depth(depth: Any) -> None:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(f"depth must be a non-negative integer, got {depth!r}")


_TITLES = {
    "architecture": "The architecture",
    "kernels": "Arc-cosine kernels (dense limit)",
    "recursion": "The pruned NTK recursion",
    "scaling": "The pruning factor",
    "variance": "One hidden layer: the variance constant",
    "bounds": "Finite-width bounds",
}


def latex_document(fragments: dict[str, str]) -> str:
    """A standalone document (article, amsmath, amssymb) inlining the fragments."""
    parts = [
        r"\documentclass[10pt]{article}",
        r"\usepackage[margin=2cm]{geometry}",
        r"\usepackage{amsmath,amssymb}",
        r"\allowdisplaybreaks",
        r"\title{NTK of randomly pruned networks: formulas generated by \texttt{theory.latex}}",
        r"\author{}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        r"Notation: $L$ hidden layers, weight matrices $h=1,\dots,L+1$; $p$ (or $p_h$) the "
        r"pruning probability, $q=1-p$; $\Sigma^{(h)}$, $\dot\Sigma^{(h)}$, $\Theta^{(L)}$ "
        r"the dense limit kernels and $\tilde\Sigma^{(h)}$, $\dot{\tilde\Sigma}^{(h)}$, "
        r"$\tilde\Theta^{(L)}$ the pruned ones (Arora et al.\ 2019 convention, "
        r"Yang \& Wang 2023).",
    ]
    for name, body in fragments.items():
        parts.append(rf"\section*{{{_TITLES.get(name, name)}}}")
        parts.append(body)
    parts.append(r"\end{document}")
    return "\n".join(parts) + "\n"


def export_latex(out_dir: str | os.PathLike, *, depth: int = 3, p: Any = None,
                 arch: Architecture | None = None, input_report: dict | None = None
                 ) -> dict[str, Path]:
    """Write one ``.tex`` fragment per entry of :data:`FRAGMENTS` (``architecture.tex``, ``kernels.tex``,
    ``recursion.tex``, ``scaling.tex``, ``variance.tex``, ``bounds.tex``) and the standalone
    ``pruned_ntk.tex`` that inlines them (compiles with pdflatex; amsmath, amssymb, geometry
    only). ``depth`` is the depth of the printed expansions and factors; ``p`` (optional,
    in ``[0, 1)``) adds numeric values at that pruning probability. Returns name -> path
    (``"document"`` for the standalone file)."""
    _check_depth(depth)
    _p_value(p)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frags = {name: latex_fragment(name, depth=depth, p=p, arch=arch, input_report=input_report)
             for name in FRAGMENTS}
    paths: dict[str, Path] = {}
    for name, body in frags.items():
        path = out / f"{name}.tex"
        path.write_text(body + "\n", encoding="utf-8")
        paths[name] = path
    doc = out / "pruned_ntk.tex"
    doc.write_text(latex_document(frags), encoding="utf-8")
    paths["document"] = doc
    return paths


# ----------------------------------------------------------------------------- CLI

def add_parser(sub: Any, formatter_class: Any = argparse.HelpFormatter,
               add_arch_args: Callable | None = None) -> argparse.ArgumentParser:
    """Register ``theory latex`` on the CLI's subparsers (``theory.cli``)."""
    ap = sub.add_parser(
        "latex", help="the formulas as LaTeX, for any architecture",
        description=_fill("Print the pruned-NTK formulas as LaTeX (all fragments, or --fragment), "
                    "or write them with a standalone document to --out DIR. The "
                    "'architecture' fragment describes the network given by --depth "
                    "--activation --p --pruned --model --rescale (symbolic p by default)."),
        formatter_class=formatter_class)
    ap.add_argument("--out", metavar="DIR",
                    help="write one .tex file per fragment and pruned_ntk.tex to DIR")
    if add_arch_args is not None:
        add_arch_args(ap, p_help="pruning probability: a symbol name (default: p), a number in "
                                 "[0, 1) such as 0.5 or 1/2 (the factors are also evaluated "
                                 "there), or one per matrix such as 0.1,0.2,0.3,0.4")
    ap.add_argument("--fragment", choices=tuple(FRAGMENTS), default=None,
                    help="print only this fragment (default: all)")
    ap.add_argument("--inputs", metavar="FILE",
                    help="inputs (.npy/.npz/.csv/.json): the architecture fragment then states "
                         "the input-layer route and its error for them")
    ap.set_defaults(func=run_latex)
    return ap


def run_latex(ns: argparse.Namespace) -> int:
    """Print or write the fragments for the parsed options (``theory latex``)."""
    from .cli import _input_layer_report, arch_from_args, load_inputs
    arch = arch_from_args(ns, default_p=P)
    p_eval = ns.p if isinstance(ns.p, (float, sympy.Rational)) else None
    report = None
    if ns.inputs is not None:
        report = _input_layer_report(arch, load_inputs(ns.inputs), "exact")
    if ns.out:
        paths = export_latex(ns.out, depth=ns.depth, p=p_eval, arch=arch, input_report=report)
        for name, path in paths.items():
            print(f"{name}: {path}")
        return 0
    names = [ns.fragment] if ns.fragment else list(FRAGMENTS)
    for i, n in enumerate(names):
        sys.stdout.write(("\n\n" if i else "") + latex_fragment(n, depth=ns.depth, p=p_eval, arch=arch,
                                                                input_report=report))
        sys.stdout.flush()  # fragments appear as they are generated
    sys.stdout.write("\n")
    return 0


def cli_main(argv: Sequence[str] | None = None) -> int:
    """``theory latex [options]`` (same as ``theory latex`` of :mod:`theory.cli`)."""
    from .cli import main
    return main(["latex", *(sys.argv[1:] if argv is None else list(argv))])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli_main(sys.argv[1:]))
