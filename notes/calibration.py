"""Generated blocks of notes/calibration.md: the measured calibration of the Monte Carlo
checks, formatted from ``notes/calibration_data.json`` (written by
``benchmarks/calibrate_checks.py``; generate() only formats it, so it is fast)."""
from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "calibration_data.json"


def _load() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def _table(res: dict) -> str:
    rows = ["| claim | tests | p-values (runs) | rate p<0.05 [95 % CI] | rate p<0.01 [95 % CI] "
            "| KS p (uniform) | min p | tail bound r | family share |",
            "|---|---|---|---|---|---|---|---|---|"]
    for k, r in res["claims"].items():
        a, b = r["rate_0.05"], r["rate_0.01"]
        rows.append(f"| {k} | {', '.join(r['kinds'])} | {r['n_pvalues']} ({r['runs']}) | "
                    f"{a[0]:.3f} [{a[1]:.3f}, {a[2]:.3f}] | {b[0]:.4f} [{b[1]:.4f}, {b[2]:.4f}] | "
                    f"{r['ks_p']:.2g} | {r['min_p']:.2g} | {r['tail_inflation_bound']:.2f} | "
                    f"{r['family_share']:.2g} |")
    return "\n".join(rows)


def generate() -> dict[str, str]:
    res = _load()
    pv = res["provenance"]
    return {
        "provenance": (f"Produced by `{pv['command']}` at commit {pv['commit']} on {pv['date']} "
                       f"(profile `{pv['profile']}`, {pv['runs']} runs, "
                       f"{pv['wall_seconds']:.0f} s wall)."),
        "table": _table(res),
        "family": (f"Estimated family-wise false-alarm rate of a run: "
                   f"**{res['family_wise_estimate']:.2g}** (stated budget 1e-3)."),
    }
