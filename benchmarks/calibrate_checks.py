"""Calibration of the Monte Carlo checks: false-alarm rates measured, not assumed.

    python benchmarks/calibrate_checks.py N [--first-seed S] [--out notes/calibration_data.json]

Runs the Monte Carlo claims of ``checks/`` N times (``--seed S, S+1, …``, profile
``calibrate``: the ci design — same configurations per claim, same Bonferroni ``m``,
alpha and draws) while the checks write the p-value of every
comparison of a claim's prediction to a JSON-lines file (``CHECKS_PVALUES``,
``checks/_support.py::record_pvalues``). The claimed truth is the truth here (the theory
holds and the code is right, as every default run shows), so each p-value is a draw of the
test's null distribution. Per claim it reports:

* the empirical rate of p < 0.05 and p < 0.01 with Clopper–Pearson 95 % intervals (the
  per-comparison alpha ≈ 1e-6 cannot be counted directly: that would need ~1e7 runs);
* the KS test of the p-values against the uniform distribution;
* the tail inflation ``r`` = upper 95 % Clopper–Pearson bound of (rate at p < 0.01)/0.01,
  at least 1;
* the family-wise estimate: Σ_claims m_claim · alpha_each · r_claim, i.e. the Bonferroni
  sum with each claim's per-comparison level multiplied by its measured tail inflation at
  1 % (an extrapolation: it assumes the p-value density at 1e-6 is not more inflated than
  at 1e-2 — stated in notes/calibration.md).

Writes the aggregated result (small JSON) for notes/calibration.py, with the command, the
git commit and the date (provenance).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats as st

ROOT = Path(__file__).resolve().parents[1]
MC_TESTS = ["monte", "diagonal_mean_exact", "test_rate", "variance_law", "sampler_equivalence"]


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for ``k`` successes in ``n`` trials."""
    a = 1 - level
    lo = 0.0 if k == 0 else float(st.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(st.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def run_once(seed: int, path: str, select: str | None = None) -> float:
    """One reseeded run of the Monte Carlo checks, appending p-values to ``path``."""
    env = dict(os.environ, CHECKS_PVALUES=path, PYTHONPATH=str(ROOT))
    t = time.time()
    subprocess.run([sys.executable, "-m", "pytest", "checks/", "-q", "-p", "no:cacheprovider",
                    "--profile", "calibrate", "--seed", str(seed), "-k", select or " or ".join(MC_TESTS)],
                   cwd=ROOT, env=env, check=False, stdout=subprocess.DEVNULL)
    return time.time() - t


def aggregate(lines: list[dict]) -> dict:
    """Per-claim rates, KS uniformity, tail bound and the family-wise estimate."""
    by: dict = {}
    for rec in lines:
        d = by.setdefault(rec["claim"], {"p": [], "alpha_each": rec["alpha_each"],
                                         "kinds": set(), "seeds": set()})
        d["p"].extend(rec["p"])
        d["kinds"].add(rec["kind"])
        d["seeds"].add(rec["seed"])
    out = {}
    fw = 0.0
    for key in sorted(by, key=lambda k: (len(k), k)):
        d = by[key]
        p = np.asarray(d["p"])
        n = p.size
        per_run = n / max(1, len(d["seeds"]))
        row = {"n_pvalues": int(n), "runs": len(d["seeds"]), "per_run": per_run,
               "alpha_each": d["alpha_each"], "kinds": sorted(d["kinds"]),
               "ks_p": float(st.kstest(p, "uniform").pvalue), "min_p": float(p.min())}
        for lev in (0.05, 0.01):
            k = int(np.sum(p < lev))
            lo, hi = clopper_pearson(k, n)
            row[f"rate_{lev}"] = [k / n, lo, hi]
        infl = max(1.0, row["rate_0.01"][2] / 0.01)
        row["tail_inflation_bound"] = infl
        row["family_share"] = per_run * d["alpha_each"] * infl
        fw += row["family_share"]
        out[key] = row
    return {"claims": out, "family_wise_estimate": fw}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="calibration of the Monte Carlo checks")
    ap.add_argument("n", type=int, help="number of reseeded runs")
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--select", default=None, help="pytest -k expression (default: every "
                    "Monte Carlo check)")
    ap.add_argument("--out", default=str(ROOT / "notes" / "calibration_data.json"))
    ns = ap.parse_args(argv)
    if ns.n < 1:
        print("calibrate_checks: n must be a positive integer", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "p.jsonl")
        times = []
        for s in range(ns.first_seed, ns.first_seed + ns.n):
            times.append(run_once(s, path, ns.select))
            print(f"seed {s}: {times[-1]:.0f} s", flush=True)
        lines = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
    res = aggregate(lines)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    res["provenance"] = {"command": f"python benchmarks/calibrate_checks.py {ns.n} "
                                    f"--first-seed {ns.first_seed}" + (
                                        f" --select '{ns.select}'" if ns.select else ""),
                         "commit": commit,
                         "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
                         "runs": ns.n, "profile": "calibrate",
                         "wall_seconds": round(sum(times), 1)}
    Path(ns.out).write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    for k, r in res["claims"].items():
        print(f"{k:>3}: {r['n_pvalues']:5d} p-values, rate(p<0.05) {r['rate_0.05'][0]:.3f} "
              f"[{r['rate_0.05'][1]:.3f}, {r['rate_0.05'][2]:.3f}], rate(p<0.01) "
              f"{r['rate_0.01'][0]:.4f} [{r['rate_0.01'][1]:.4f}, {r['rate_0.01'][2]:.4f}], "
              f"KS p {r['ks_p']:.3g}")
    print(f"family-wise estimate: {res['family_wise_estimate']:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
