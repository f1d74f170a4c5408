"""Inputs, pairs and the pruning probabilities a claim is checked at.

Seeded random inputs include special pairs: a repeated input (``ρ = 1``), its opposite
(``ρ = −1``), an orthogonal one, and a tiny and a huge norm. Limits are checked at norms
``1e-3`` and ``1e3``; Monte Carlo kinds keep norms moderate (``0.3`` and ``3``), where the
finite networks' floating point is uneventful and the predicted scale is ordinary.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from .schema import DEFAULT_D0, DEFAULT_N_INPUTS, Claim, PRange

P_GRID = 256   # drawn p are k/256: exact in float64, sympy and mpmath alike


@dataclass
class Inputs:
    X: np.ndarray            # (n, d0)
    labels: list             # a short description of each row
    pairs: list              # selected (i, j), i <= j


def make_inputs(claim: Claim, rng: np.random.Generator, monte_carlo: bool) -> Inputs:
    if claim.inputs is not None:
        X = np.asarray(claim.inputs, dtype=np.float64)
        labels = [f"x{i}" for i in range(len(X))]
    else:
        d0 = claim.d0 or DEFAULT_D0
        k = claim.n_inputs or DEFAULT_N_INPUTS
        dirs = rng.standard_normal((k, d0))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        X = dirs * rng.uniform(0.5, 2.0, size=(k, 1))
        labels = [f"random{i}" for i in range(k)]
        if claim.special_pairs:
            tiny, huge = (0.3, 3.0) if monte_carlo else (1e-3, 1e3)
            rows = [X[0].copy(), -X[0]]
            labels += ["equal to random0", "opposite of random0"]
            if d0 >= 2:
                v = rng.standard_normal(d0)
                u = X[0] / np.linalg.norm(X[0])
                v -= (v @ u) * u
                rows.append(v / np.linalg.norm(v) * np.linalg.norm(X[0]))
                labels.append("orthogonal to random0")
            for scale, lab in ((tiny, "tiny norm"), (huge, "huge norm")):
                v = rng.standard_normal(d0)
                rows.append(v / np.linalg.norm(v) * scale)
                labels.append(f"{lab} {scale:g}")
            X = np.vstack([X] + [np.asarray(r)[None, :] for r in rows])
    n = len(X)
    if claim.pairs == "diagonal":
        pairs = [(i, i) for i in range(n)]
    elif claim.pairs == "off_diagonal":
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    else:
        pairs = [(i, j) for i in range(n) for j in range(i, n)]
    if not pairs:
        raise ValueError(f"claim {claim.name!r}, key 'pairs': no pairs to compare "
                         f"(off_diagonal needs at least two inputs)")
    return Inputs(X, labels, pairs)


def pair_geometry(X: Any, pairs: list, claim_name: str, need_angle: bool,
                  backend: str = "numpy", dps: int = 50) -> dict:
    """``nx, nxp, rho, theta`` per pair (arrays; ``mpf`` object arrays for ``"mpmath"``),
    from the engine's own input geometry (:func:`theory.recursion.input_state`, whose
    angle keeps full relative accuracy at ``ρ = ±1``), so ``theta`` in a prediction is the
    angle the recursion sees."""
    from ..backends import NUMPY, mpmath_backend
    from ..recursion import input_state
    X = np.asarray(X, dtype=np.float64)
    if need_angle and np.any(np.all(X == 0, axis=1)):
        raise ValueError(f"claim {claim_name!r}, key 'inputs': a zero input has no angle; "
                         f"rho/theta are undefined")
    B = NUMPY if backend == "numpy" else mpmath_backend(dps)
    v, theta, _ = input_state(B, X)
    i = [a for a, _ in pairs]
    j = [b for _, b in pairs]
    if backend == "numpy":
        n = np.sqrt(np.asarray(v, dtype=np.float64))
        th = np.array([theta[a, b] for a, b in pairs])
        return {"nx": n[i], "nxp": n[j], "rho": np.cos(th), "theta": th}
    import mpmath
    with mpmath.workdps(dps):
        n = [mpmath.sqrt(mpmath.mpf(x)) for x in v]
        th = np.array([mpmath.mpf(theta[a, b]) for a, b in pairs], dtype=object)
        return {"nx": np.array([n[a] for a in i], dtype=object),
                "nxp": np.array([n[b] for b in j], dtype=object),
                "rho": np.array([mpmath.cos(t) for t in th], dtype=object), "theta": th}


@dataclass
class PConfig:
    """One pruning configuration: the exact ``p`` (sympy rationals), and the names the
    prediction sees."""
    p: Any                   # for Architecture: Rational or list of Rationals
    label: str

    def floats(self) -> Any:
        return [float(v) for v in self.p] if isinstance(self.p, list) else float(self.p)


def _draw_in(rng: np.random.Generator, r: PRange) -> sympy.Rational:
    lo, hi = math.ceil(r.lo * P_GRID), math.floor(r.hi * P_GRID)
    if hi < lo:  # the range holds no grid point: use its midpoint, exactly as a decimal
        return sympy.Rational(repr((r.lo + r.hi) / 2))
    return sympy.Rational(int(rng.integers(lo, hi + 1)), P_GRID)


def _exact(v: float) -> sympy.Rational:
    return sympy.Rational(repr(float(v)))


def p_configs(claim: Claim, rng: np.random.Generator, n_default: int) -> list[PConfig]:
    """The ``p`` values to check: the fixed value, or ``n_p`` draws in each range."""
    spec = claim.p_spec
    if not claim.has_range:
        p = [_exact(v) for v in spec] if isinstance(spec, list) else _exact(spec)
        return [PConfig(p, f"p={_fmt(p)}")]
    n = claim.n_p or n_default
    out = []
    for _ in range(n):
        if isinstance(spec, list):
            p = [_draw_in(rng, v) if isinstance(v, PRange) else _exact(v) for v in spec]
        else:
            p = _draw_in(rng, spec)
        out.append(PConfig(p, f"p={_fmt(p)}"))
    return out


def _fmt(p: Any) -> str:
    if isinstance(p, list):
        return "[" + ",".join(_fmt(v) for v in p) + "]"
    return f"{float(p):.6g}"


def symbolic_p(claim: Claim) -> tuple[Any, dict]:
    """``p`` for a symbolic architecture: ranges become sympy Symbols (``p``, or ``p{h}``
    per matrix), fixed values exact rationals; and the map name → value for ``predict``."""
    spec = claim.p_spec
    if isinstance(spec, list):
        vals = [sympy.Symbol(f"p{h}", real=True) if isinstance(v, PRange) else _exact(v)
                for h, v in enumerate(spec)]
        return vals, {}
    val = sympy.Symbol("p", real=True) if isinstance(spec, PRange) else _exact(spec)
    return val, {"p": val}
