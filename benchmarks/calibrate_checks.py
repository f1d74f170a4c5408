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
* per kind of test (mean t, Welch, KS, variance z, …, pooled over claims): the tail
  inflation ``r`` = (rate at p < 0.05)/0.05, point value and upper 95 % Clopper–Pearson
  bound;
* the family-wise estimate: Σ over claims and kinds of (comparisons per run) ·
  alpha_each · r_kind, i.e. the Bonferroni sum with each level multiplied by the measured
  tail inflation of its kind of test (an extrapolation from 5 % to ≈ 1e-6: it assumes the
  p-value density there is not more inflated — stated in notes/calibration.md).

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


def _rates(p: np.ndarray) -> dict:
    out = {}
    for lev in (0.05, 0.01):
        k = int(np.sum(p < lev))
        lo, hi = clopper_pearson(k, p.size)
        out[f"rate_{lev}"] = [k / p.size, lo, hi]
    return out


def aggregate(lines: list[dict]) -> dict:
    """Per claim: rates at 5 % and 1 % (Clopper–Pearson), KS uniformity, smallest p.
    Per kind of test (pooled over the claims that use it): the tail inflation at 5 %,
    ``r = rate/0.05`` (point) and its upper 95 % bound (at least 1 for the bound). The
    family-wise estimate is Σ over claims and kinds of (comparisons per run) ×
    alpha_each × r_kind, as a point value and an upper bound."""
    by: dict = {}
    kinds: dict = {}
    for rec in lines:
        d = by.setdefault(rec["claim"], {"p": [], "alpha_each": rec["alpha_each"],
                                         "kinds": {}, "seeds": set()})
        d["p"].extend(rec["p"])
        d["kinds"].setdefault(rec["kind"], 0)
        d["kinds"][rec["kind"]] += len(rec["p"])
        d["seeds"].add(rec["seed"])
        kinds.setdefault(rec["kind"], []).extend(rec["p"])
    kind_rows = {}
    for kname, ps in sorted(kinds.items()):
        p = np.asarray(ps)
        row = {"n_pvalues": int(p.size), "ks_p": float(st.kstest(p, "uniform").pvalue)}
        row.update(_rates(p))
        row["inflation"] = row["rate_0.05"][0] / 0.05
        row["inflation_bound"] = max(1.0, row["rate_0.05"][2] / 0.05)
        kind_rows[kname] = row
    out = {}
    fw = fw_hi = 0.0
    for key in sorted(by, key=lambda k: (len(k), k)):
        d = by[key]
        p = np.asarray(d["p"])
        runs = max(1, len(d["seeds"]))
        row = {"n_pvalues": int(p.size), "runs": runs, "per_run": p.size / runs,
               "alpha_each": d["alpha_each"], "kinds": sorted(d["kinds"]),
               "ks_p": float(st.kstest(p, "uniform").pvalue), "min_p": float(p.min())}
        row.update(_rates(p))
        share = sum(c / runs * d["alpha_each"] * kind_rows[k]["inflation"]
                    for k, c in d["kinds"].items())
        share_hi = sum(c / runs * d["alpha_each"] * kind_rows[k]["inflation_bound"]
                       for k, c in d["kinds"].items())
        row["family_share"] = [share, share_hi]
        fw += share
        fw_hi += share_hi
        out[key] = row
    return {"claims": out, "kinds": kind_rows, "family_wise_estimate": [fw, fw_hi]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="calibration of the Monte Carlo checks")
    ap.add_argument("n", type=int, help="number of reseeded runs")
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--select", default=None, help="pytest -k expression (default: every "
                    "Monte Carlo check)")
    ap.add_argument("--raw", default=None, help="JSON-lines file of raw p-values to append "
                    "to (and aggregate); default: a temporary file")
    ap.add_argument("--aggregate-only", action="store_true",
                    help="do not run: aggregate the --raw file")
    ap.add_argument("--out", default=str(ROOT / "notes" / "calibration_data.json"))
    ns = ap.parse_args(argv)
    if ns.n < 1 and not ns.aggregate_only:
        print("calibrate_checks: n must be a positive integer", file=sys.stderr)
        return 2
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        path = ns.raw or os.path.join(tmp, "p.jsonl")
        if not ns.aggregate_only:
            for s in range(ns.first_seed, ns.first_seed + ns.n):
                times.append(run_once(s, path, ns.select))
                print(f"seed {s}: {times[-1]:.0f} s", flush=True)
        lines = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
    if not lines:
        print("calibrate_checks: no p-values recorded", file=sys.stderr)
        return 1
    res = aggregate(lines)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    seeds = sorted({rec["seed"] for rec in lines})
    if ns.aggregate_only:
        command = f"python benchmarks/calibrate_checks.py 0 --aggregate-only --raw {ns.raw}"
    else:
        command = f"python benchmarks/calibrate_checks.py {ns.n} --first-seed {ns.first_seed}" + (
            f" --select '{ns.select}'" if ns.select else "")
    res["provenance"] = {"command": command, "commit": commit,
                         "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
                         "runs": len(seeds), "seeds": seeds, "profile": "calibrate",
                         "wall_seconds": round(sum(times), 1) if times else None}
    Path(ns.out).write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    for k, r in list(res["claims"].items()) + list(res["kinds"].items()):
        print(f"{k:>20}: {r['n_pvalues']:5d} p-values, rate(p<0.05) {r['rate_0.05'][0]:.3f} "
              f"[{r['rate_0.05'][1]:.3f}, {r['rate_0.05'][2]:.3f}], rate(p<0.01) "
              f"{r['rate_0.01'][0]:.4f} [{r['rate_0.01'][1]:.4f}, {r['rate_0.01'][2]:.4f}], "
              f"KS p {r['ks_p']:.3g}")
    fw = res["family_wise_estimate"]
    print(f"family-wise estimate: {fw[0]:.3g} (upper bound {fw[1]:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
