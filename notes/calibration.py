"""Generated blocks of notes/calibration.md: the measured calibration of the Monte Carlo
checks, formatted from ``notes/calibration_data.json`` (written by
``benchmarks/calibrate_checks.py``; generate() only formats it, so it is fast)."""
from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "calibration_data.json"


def _load() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def _rate(r: list) -> str:
    return f"{r[0]:.3f} [{r[1]:.3f}, {r[2]:.3f}]"


def _claims(res: dict) -> str:
    rows = ["| claim | tests | p-values (runs) | rate p<0.05 [95 % CI] | rate p<0.01 [95 % CI] "
            "| KS p (uniform) | min p | alpha each | family share (point, bound) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for k, r in res["claims"].items():
        rows.append(f"| {k} | {', '.join(r['kinds'])} | {r['n_pvalues']} ({r['runs']}) | "
                    f"{_rate(r['rate_0.05'])} | {_rate(r['rate_0.01'])} | {r['ks_p']:.2g} | "
                    f"{r['min_p']:.2g} | {r['alpha_each']:.2g} | "
                    f"{r['family_share'][0]:.2g}, {r['family_share'][1]:.2g} |")
    return "\n".join(rows)


def _kinds(res: dict) -> str:
    rows = ["| kind of test | p-values | rate p<0.05 [95 % CI] | rate p<0.01 [95 % CI] | "
            "KS p | inflation r (point, bound) |", "|---|---|---|---|---|---|"]
    for k, r in res["kinds"].items():
        rows.append(f"| {k} | {r['n_pvalues']} | {_rate(r['rate_0.05'])} | "
                    f"{_rate(r['rate_0.01'])} | {r['ks_p']:.2g} | {r['inflation']:.2f}, "
                    f"{r['inflation_bound']:.2f} |")
    return "\n".join(rows)


def generate() -> dict[str, str]:
    res = _load()
    pv = res["provenance"]
    fw = res["family_wise_estimate"]
    return {
        "provenance": (f"Produced by `{pv['command']}` at commit {pv['commit']} on {pv['date']} "
                       f"(profile `{pv['profile']}`, {pv['runs']} runs, seeds "
                       f"{', '.join(str(s) for s in pv['seeds'])}; each run ≈ 75 s CPU)."),
        "claims": _claims(res),
        "kinds": _kinds(res),
        "family": (f"Estimated family-wise false-alarm rate of a default run: "
                   f"**{fw[0]:.2g}** (point), **{fw[1]:.2g}** (upper bound from the 95 % "
                   f"Clopper–Pearson bounds of the inflations); stated budget 1e-3."),
    }
