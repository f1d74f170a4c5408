"""Verdicts: one record per claim, and the verdict table.

The built-in claim checks (``checks/``) and user claim files (``theory.claims``) record
their comparisons here and print the same table, so there is one implementation of how a
verdict is reached and shown.

A record collects, for one claim:

* **observations** — comparisons of the claim's prediction with the evidence (a statistic,
  its critical value, whether it rejected, and for statistical comparisons the smallest
  relative deviation the test detects with 80 % power);
* **controls** — the same test applied to a deliberately wrong prediction, which must
  reject. A *gross* control (an exponent off by one, the wrong model) shows the check is
  not empty; a *near* control (the prediction off by about 1.5 × the detectable effect)
  shows the stated power is real.

The verdict:

``proved``        the prediction was shown equal to the engine's result symbolically;
``refuted``       some observation rejected the prediction;
``inconclusive``  nothing was observed, a control did not reject, or the detectable effect
                  exceeds the requested ``resolution``;
``holds``         otherwise.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable

VERDICTS = ("proved", "holds", "refuted", "inconclusive")


def _f(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


@dataclass
class ClaimRecord:
    """Everything observed about one claim in a run (see the module docstring)."""
    key: str
    title: str
    statistic: str                      # what the "statistic" column means
    source: str = ""
    stochastic: bool = True
    kind: str = ""                      # limit | mean | variance | rate | ... (free text)
    expect: str = "holds"               # what the author believes: "holds" or "refuted"
    finding: bool = False               # a recorded finding: "refuted" does not fail a run
    resolution: float | None = None     # inconclusive when detectable_effect exceeds it
    alpha: float | None = None          # the record's share of the false-alarm budget
    higher_is_worse: bool = True        # for the main statistic
    control_higher_is_stronger: bool = True
    configs: "OrderedDict[str, None]" = field(default_factory=OrderedDict)
    worst: float = float("nan")
    crit: float = float("nan")
    detectable_effect: float = float("nan")   # the largest (weakest) over observations
    control_worst: float = float("nan")       # the weakest gross control
    control_crit: float = float("nan")
    near_worst: float = float("nan")          # the weakest near control
    near_crit: float = float("nan")
    rejections: list = field(default_factory=list)
    control_misses: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    n_observed: int = 0
    n_controls: int = 0
    n_near: int = 0
    proved: bool = False
    details: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ recording
    def config(self, cfg: Any) -> str:
        key = cfg if isinstance(cfg, str) else repr(cfg)
        self.configs[key] = None
        return key

    @staticmethod
    def _norm(stat: float, crit: float) -> float:
        """Statistic relative to its critical value (one claim may compare with several
        tolerances, e.g. float64 and mpmath)."""
        return stat / crit if crit > 0 and math.isfinite(crit) else stat

    def observe(self, stat: float, crit: float, reject: bool, what: str,
                detectable: float | None = None) -> None:
        """Record one comparison of the prediction. ``detectable``: the smallest relative
        deviation this comparison detects with 80 % power (statistical comparisons)."""
        self.n_observed += 1
        stat, crit = float(stat), float(crit)
        if math.isnan(self.worst):
            self.worst, self.crit = stat, crit
        else:
            a, b = self._norm(stat, crit), self._norm(self.worst, self.crit)
            if (a > b) if self.higher_is_worse else (a < b):
                self.worst, self.crit = stat, crit
        if detectable is not None and math.isfinite(detectable):
            if math.isnan(self.detectable_effect) or detectable > self.detectable_effect:
                self.detectable_effect = float(detectable)
        if reject:
            self.rejections.append(f"{what}: statistic {stat:.4g} vs critical {crit:.4g}")

    def control(self, stat: float, crit: float, reject: bool, what: str,
                near: bool = False) -> None:
        """Record a negative control (a wrong prediction that must be rejected);
        ``near=True`` for a control off by about 1.5 × the detectable effect."""
        stat, crit = float(stat), float(crit)
        if near:
            self.n_near += 1
            cur, cur_crit = self.near_worst, self.near_crit
        else:
            self.n_controls += 1
            cur, cur_crit = self.control_worst, self.control_crit
        if math.isnan(cur):
            weaker = True
        else:
            a, b = self._norm(stat, crit), self._norm(cur, cur_crit)
            weaker = (a < b) if self.control_higher_is_stronger else (a > b)
        if weaker:
            if near:
                self.near_worst, self.near_crit = stat, crit
            else:
                self.control_worst, self.control_crit = stat, crit
        if not reject:
            self.control_misses.append(f"{'near ' if near else ''}{what}: control statistic "
                                       f"{stat:.4g} vs critical {crit:.4g} (did NOT reject)")

    def note(self, text: str, key: str | None = None) -> None:
        """Add a note for the table; a note with a ``key`` replaces the previous one."""
        keyed = self.details.setdefault("_keyed_notes", {})
        if key is not None:
            if key in keyed and keyed[key] in self.notes:
                self.notes[self.notes.index(keyed[key])] = text
            else:
                self.notes.append(text)
            keyed[key] = text
        elif text not in self.notes:
            self.notes.append(text)

    # ------------------------------------------------------------------ verdict
    @property
    def too_coarse(self) -> bool:
        """The detectable effect exceeds the requested resolution."""
        return (self.resolution is not None and not math.isnan(self.detectable_effect)
                and self.detectable_effect > self.resolution)

    @property
    def verdict(self) -> str:
        if self.rejections:
            return "refuted"
        if self.proved and self.n_observed > 0:
            return "proved"
        if self.n_observed == 0 or self.n_controls == 0 or self.control_misses:
            return "inconclusive"
        if self.too_coarse:
            return "inconclusive"
        return "holds"

    @property
    def matches_expectation(self) -> bool:
        """Whether the verdict agrees with :attr:`expect` (``proved`` counts as holds)."""
        v = "holds" if self.verdict == "proved" else self.verdict
        return v == self.expect

    def as_json(self, **run: Any) -> dict:
        """One JSON object. Keys of the built-in checks' table (``claim, configs,
        statistic, control_statistic, verdict, details``) and of claim files (``name,
        kind, verdict, statistic, critical, detectable_effect, expect, details``)."""
        details = {k: v for k, v in self.details.items() if not k.startswith("_")}
        details.update({
            "statistic_meaning": self.statistic,
            "critical": _f(self.crit),
            "control_critical": _f(self.control_crit),
            "near_control_statistic": _f(self.near_worst),
            "near_control_critical": _f(self.near_crit),
            "comparisons": self.n_observed,
            "controls": self.n_controls,
            "near_controls": self.n_near,
            "alpha": self.alpha if self.stochastic else None,
            "resolution": self.resolution,
            "source": self.source,
            "finding": self.finding,
            "rejections": self.rejections[:10],
            "control_misses": self.control_misses[:10],
            "notes": self.notes,
            "configs_tried": list(self.configs)[:100],
        })
        details.update(run)
        return {
            "claim": f"{self.key} {self.title}".strip(),
            "name": self.title,
            "kind": self.kind,
            "configs": len(self.configs),
            "statistic": _f(self.worst),
            "critical": _f(self.crit),
            "control_statistic": _f(self.control_worst),
            "detectable_effect": _f(self.detectable_effect),
            "verdict": self.verdict,
            "expect": self.expect,
            "details": details,
        }


class VerdictTable:
    """An ordered registry of :class:`ClaimRecord` objects, keyed by ``key``."""

    def __init__(self) -> None:
        self.records: "OrderedDict[str, ClaimRecord]" = OrderedDict()

    def record(self, key: str, title: str, statistic: str, **kw: Any) -> ClaimRecord:
        """The record for ``key``, created on first use."""
        if key not in self.records:
            self.records[key] = ClaimRecord(key, title, statistic, **kw)
        return self.records[key]

    def __iter__(self):
        return iter(self.records.values())

    def __len__(self) -> int:
        return len(self.records)

    def values(self):
        return self.records.values()

    def to_json(self, **run: Any) -> list:
        return [r.as_json(**run) for r in self.records.values()]

    def render(self, header: str = "") -> list[str]:
        return render_table(self.records.values(), header=header)


def fmt_number(x: Any) -> str:
    """Short fixed-width rendering of a statistic (``-`` for missing)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    ax = abs(x)
    if math.isinf(ax):
        return "inf" if x > 0 else "-inf"
    if ax != 0 and (ax < 1e-3 or ax >= 1e5):
        return f"{x:.2e}"
    return f"{x:.3g}"


def _pct(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100 * x:.2g}%"


def render_table(records: Iterable[ClaimRecord], header: str = "",
                 title_width: int = 52) -> list[str]:
    """The verdict table as text lines: one row per record, then the meaning of each
    statistic, notes, rejections and control misses.

    Columns: ``configs`` tried, worst ``statistic`` against ``crit``, ``detect`` (the
    largest relative deviation the statistical comparisons detect with 80 % power),
    the weakest gross ``control`` and the weakest ``near`` control (each must lie beyond
    its critical value), and the ``verdict``.
    """
    records = list(records)
    out: list[str] = []
    if header:
        out.append(header)
    head = (f"{'claim':<{title_width}} {'configs':>7} {'statistic':>10} {'crit':>9} "
            f"{'detect':>7} {'control':>10} {'near':>9} {'verdict':>12}")
    out.append(head)
    out.append("-" * len(head))
    for c in records:
        title = f"{c.key:<3} {c.title}" if c.key else c.title
        if len(title) > title_width:
            title = title[:title_width - 1] + "…"
        v = c.verdict
        if c.expect != "holds":
            v = f"{v} (exp. {c.expect})"
        out.append(f"{title:<{title_width}} {len(c.configs):>7} {fmt_number(c.worst):>10} "
                   f"{fmt_number(c.crit):>9} {_pct(c.detectable_effect):>7} "
                   f"{fmt_number(c.control_worst):>10} {fmt_number(c.near_worst):>9} {v:>12}")
    out.append("")
    out.append("statistic = worst value over all comparisons (against crit); detect = smallest "
               "relative error detected with 80 % power; control / near = weakest gross / near "
               "negative control (must lie beyond its own critical value):")
    for c in records:
        label = c.key or c.title
        out.append(f"  {label:<3} statistic: {c.statistic}")
        if c.too_coarse:
            out.append(f"        INCONCLUSIVE: detectable effect {_pct(c.detectable_effect)} "
                       f"exceeds the resolution {_pct(c.resolution)}")
        for n in c.notes:
            out.append(f"        note: {n}")
        for r in c.rejections[:3]:
            out.append(f"        REJECTED: {r}")
        for r in c.control_misses[:3]:
            out.append(f"        CONTROL MISS: {r}")
        if not c.configs and c.n_observed == 0:
            out.append("        (not run in this session)")
    return out
