"""The pruning factor ``Θ̃ / Θ``, derived by simplifying the recursion's ratio (sympy).

Nothing here types the answer in. The pruned and the dense recursions
(``theory.recursion``) are evaluated with the sympy backend on symbolic inputs (norms
``‖x‖, ‖x'‖ > 0`` and angle ``θ ∈ (0, π)``); the ratio is cancelled, and it is a *scalar
factor* exactly when the cancelled ratio is free of the inputs and of every bound
intermediate (layer angles, transcendental variances). For ReLU with every one of the
``L+1`` matrices hard-masked at the same ``p`` this yields ``(1-p)^(L+1)`` (docs/math.md#pruning);
the variance model yields one power fewer when every matrix is pruned at the same ``p``
(with non-uniform pruning it has no scalar factor: layer h's term carries
``Π_{k≠h} s_k``); for erf/tanh without rescaling the ratio keeps
the inputs, so no scalar factor exists.

The derivation uses the wide-input recursion (docs/math.md#pruning). With a hard-masked input
matrix and finite ``d0`` the exact limit is the mask mixture (docs/math.md#input-layer), which is not a
scalar multiple off the diagonal (see ``theory.input_layer`` and ``checks/``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from .architecture import Architecture, _is_symbolic
from .backends import SympyBackend
from .recursion import run_recursion

NORM_X = sympy.Symbol("n_x", positive=True)
NORM_Y = sympy.Symbol("n_y", positive=True)
THETA = sympy.Symbol("theta", positive=True)


@dataclass
class ScalingDerivation:
    factor: sympy.Expr | None     # the scalar Θ̃/Θ, or None when none exists
    reason: str                   # how it was established, or why there is none
    ratio: sympy.Expr             # the cancelled ratio Θ̃/Θ (may depend on the inputs)


def _positive_q(arch: Architecture) -> tuple[Architecture, dict]:
    """Replace each symbolic ``p_h`` by ``1 - q_h`` with ``q_h > 0`` so that sympy can split
    ``sqrt(q·v) = sqrt(q)·sqrt(v)``; numbers become exact rationals."""
    back: dict = {}
    fwd: dict = {}
    ps = []
    for h in range(arch.n_matrices):
        v = arch.p_of(h)
        if _is_symbolic(v):
            if v not in fwd:
                q = sympy.Dummy(f"q{h}", positive=True)
                fwd[v] = 1 - q
                back[q] = 1 - v
            ps.append(fwd[v])
        else:
            ps.append(sympy.nsimplify(v, rational=True))
    return arch.with_(p=ps), back


def symbolic_ntk(arch: Architecture, B: SympyBackend | None = None,
                 norms: tuple = (NORM_X, NORM_Y), theta: Any = THETA) -> tuple[sympy.Expr, SympyBackend]:
    """``Θ̃(x, x')`` as a sympy expression in the input norms and angle, with intermediates
    bound to symbols in ``B.definitions`` (use ``B.expand`` to substitute them)."""
    B = B or SympyBackend()
    nx, ny = norms
    res = run_recursion(B, arch, nx ** 2, ny ** 2, theta, sympy.pi - theta)
    return res.ntk, B


def derive_scaling_factor(arch: Architecture) -> ScalingDerivation:
    """Derive ``Θ̃/Θ`` for ``arch`` against its dense counterpart (same depth, activation)."""
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be a theory.Architecture, got {type(arch).__name__}")
    parch, back = _positive_q(arch)
    B = SympyBackend()  # shared: identical intermediates get identical symbols
    pruned, _ = symbolic_ntk(parch, B)
    dense, _ = symbolic_ntk(arch.dense(), B)
    ratio = sympy.cancel(sympy.together(pruned / dense))
    ratio = sympy.powsimp(sympy.factor(ratio))
    bound_syms = {s for s, _ in B.definitions}
    depends = ratio.free_symbols & ({NORM_X, NORM_Y, THETA} | bound_syms)
    undefined = ratio.atoms(sympy.core.function.AppliedUndef)
    ratio_out = ratio.xreplace(back)  # no simplify: a non-cancelling ratio can be huge
    if depends or undefined:
        kind = ("homogeneous of degree %d" % arch.act.degree) if arch.act.degree else "not known to be homogeneous"
        return ScalingDerivation(
            None,
            f"no scalar factor: the ratio of pruned to dense limit depends on "
            f"{sorted(map(str, depends | {str(u.func) for u in undefined}))} "
            f"(activation {arch.act.name!r} is {kind}; rescale={arch.rescale}). "
            f"The pruned limit is the dense recursion with weight variances s_h instead.",
            ratio_out)
    # factor in the positive q_h first, then map q_h -> 1 - p_h: prints as (1 - p)**k
    factor = sympy.factor(sympy.simplify(ratio)).xreplace(back)
    return ScalingDerivation(
        factor,
        "scalar: the cancelled ratio of the sympy recursions is free of the inputs "
        "(wide-input recursion, docs/math.md#pruning)", factor)


def scaling_factor(arch: Architecture) -> sympy.Expr | None:
    """The derived scalar ``Θ̃ / Θ`` (sympy), or ``None`` when no scalar factor exists
    (see :func:`derive_scaling_factor` for the reason)."""
    return derive_scaling_factor(arch).factor
