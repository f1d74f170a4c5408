"""Structured findings: the notes standard (docs/guide/notes_standard.md) in code.

A note adopts the standard by defining, in ``notes/NAME.py``,

    def findings() -> list[Finding]: ...

(cache it with ``functools.lru_cache`` when ``generate()`` uses it too) and by putting
``render(findings())`` into a generated block called ``findings`` of ``notes/NAME.md``.
``tests/test_notes.py`` then checks every finding with :func:`problems`: a value with an
uncertainty, results from at least two independent seeds shown side by side, the regime
in which it was measured, a goodness of fit for every fitted law, and a statement that
population statistics come from independent draws.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from scipy import stats as _st

KINDS = ("measured", "fit", "exact")


@dataclass(frozen=True)
class Fit:
    """Goodness of fit of a fitted law: ``χ²`` on ``dof`` degrees of freedom."""
    chi2: float
    dof: int

    @property
    def p_value(self) -> float:
        return float(_st.chi2.sf(self.chi2, self.dof))

    def text(self) -> str:
        return f"χ²/dof = {self.chi2:.1f}/{self.dof}, P = {self.p_value:.2g}"


@dataclass(frozen=True)
class Finding:
    """One headline number of a note.

    ``kind``: ``"measured"`` (Monte Carlo), ``"fit"`` (a fitted law: needs ``fit`` per
    seed) or ``"exact"`` (symbolic / exact arithmetic: no seeds, uncertainty may be 0).
    ``value ± uncertainty`` is the combined result (one standard error unless
    ``uncertainty_kind`` says otherwise); ``seeds`` maps each seed to its own
    ``(value, uncertainty)``; ``fits`` maps each seed to its goodness of fit (fits only).
    ``independent``: the note asserts that the draws behind a population statistic are
    independent (e.g. pairs of fresh inputs, not all pairs of one input set).
    """
    key: str
    statement: str
    kind: str
    value: float
    uncertainty: float
    regime: str
    seeds: dict[int, tuple[float, float]] = field(default_factory=dict)
    fits: dict[int, Fit] = field(default_factory=dict)
    independent: bool = True
    uncertainty_kind: str = "s.e."
    fmt: str = ".3g"

    def replication_z(self) -> float | None:
        """``(v₁ − v₂)/sqrt(u₁² + u₂²)`` of the first two seeds (None if < 2 seeds)."""
        if len(self.seeds) < 2:
            return None
        (v1, u1), (v2, u2) = list(self.seeds.values())[:2]
        den = math.hypot(u1, u2)
        return (v1 - v2) / den if den > 0 else None


def problems(f: Finding) -> list[str]:
    """What ``f`` lacks to meet the standard (empty when it complies)."""
    out = []
    if f.kind not in KINDS:
        out.append(f"{f.key}: kind must be one of {KINDS}, got {f.kind!r}")
    if not f.statement.strip():
        out.append(f"{f.key}: empty statement")
    if not f.regime.strip():
        out.append(f"{f.key}: no regime (where was it measured?)")
    if not math.isfinite(f.value):
        out.append(f"{f.key}: value is not finite")
    if not (math.isfinite(f.uncertainty) and f.uncertainty >= 0):
        out.append(f"{f.key}: uncertainty must be finite and >= 0")
    if f.kind == "exact":
        return out
    if not f.uncertainty > 0:
        out.append(f"{f.key}: a Monte Carlo number needs a positive uncertainty")
    if len(f.seeds) < 2:
        out.append(f"{f.key}: needs results at >= 2 seeds, got {sorted(f.seeds)}")
    for s, (v, u) in f.seeds.items():
        if not (math.isfinite(v) and math.isfinite(u) and u > 0):
            out.append(f"{f.key}: seed {s} needs a finite value and positive uncertainty")
    if not f.independent:
        out.append(f"{f.key}: population statistics must come from independent draws")
    if f.kind == "fit":
        if set(f.fits) != set(f.seeds):
            out.append(f"{f.key}: a fitted law needs its goodness of fit at every seed")
        for s, g in f.fits.items():
            if not (g.dof > 0 and math.isfinite(g.chi2) and g.chi2 >= 0):
                out.append(f"{f.key}: seed {s}: bad goodness of fit {g}")
    return out


def _vu(v: float, u: float, fmt: str) -> str:
    return f"{v:{fmt}} ± {u:{fmt}}" if u > 0 else f"{v:{fmt}}"


def render(findings: list[Finding]) -> str:
    """The Markdown of a ``findings`` block: one row per finding, every seed shown."""
    rows = ["| finding | value | per seed | replication z | goodness of fit | regime |",
            "|---|---|---|---|---|---|"]
    for f in findings:
        per = "; ".join(f"seed {s}: {_vu(v, u, f.fmt)}" for s, (v, u) in f.seeds.items()) \
            or "exact"
        z = f.replication_z()
        fits = "; ".join(f"seed {s}: {g.text()}" for s, g in f.fits.items()) or "—"
        kind = "exact" if f.kind == "exact" and f.uncertainty == 0 else f.uncertainty_kind
        rows.append(f"| **{f.key}**: {f.statement} | {_vu(f.value, f.uncertainty, f.fmt)} "
                    f"({kind}) | {per} | "
                    f"{'—' if z is None else f'{z:+.2f}'} | {fits} | {f.regime} |")
    return "\n".join(rows)


def combine(per_seed: dict[int, tuple[float, float]]) -> tuple[float, float]:
    """Inverse-variance mean of independent per-seed results and its standard error."""
    w = [1.0 / u ** 2 for _, u in per_seed.values()]
    v = sum(wi * vi for wi, (vi, _) in zip(w, per_seed.values())) / sum(w)
    return v, 1.0 / math.sqrt(sum(w))
