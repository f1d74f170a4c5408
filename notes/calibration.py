"""Generated blocks of notes/calibration.md: the measured calibration of the Monte Carlo
checks, aggregated from the raw p-values that ``benchmarks/calibrate_checks.py`` stores in
``notes/data/calibration/*.jsonl.gz`` (one file per run set, with a provenance ``.json``).
``generate()`` recomputes every table from those files (a few seconds), so the note can
never disagree with its data.

Statistics (all derived in notes/calibration.md, *Method*):

* rates of ``p < 0.05, 0.01, 0.001`` with Clopper–Pearson 95 % intervals, and a
  cluster-robust upper bound (clusters: the p-values of one configuration of one run,
  which share draws): ``rate + 1.96 sqrt(G/(G−1) Σ_c (k_c − rate n_c)²) / Σ_c n_c``;
* per kind of test the tail inflation ``r = rate(p < 0.05)/0.05`` and its upper bound
  ``r̄`` (the larger of the two 95 % upper bounds, divided by 0.05);
* per claim and run the claim-level adjusted p-value ``m_run · min p`` (Bonferroni over
  the run's recorded comparisons of that claim); its rate below 0.05 is the claim's
  false-alarm rate at a 5 % claim level, measured with every dependence between the
  comparisons included;
* the family-wise estimate ``Σ_claims Σ_kinds (comparisons per run) · alpha_each · r``
  (point) and with ``max(1, r̄)`` (bound), plus the near-control budget.
"""
from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats as st

RAW_DIR = Path(__file__).resolve().parent / "data" / "calibration"
LEVELS = (0.05, 0.01, 0.001)


def load_records(raw_dir: Path = RAW_DIR) -> list[dict]:
    """Every stored p-value record, duplicates (the same seed run twice) removed."""
    seen, out = set(), []
    for f in sorted(raw_dir.glob("*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            for line in fh:
                if not line.strip() or line in seen:
                    continue
                seen.add(line)
                out.append(json.loads(line))
    return out


def load_provenance(raw_dir: Path = RAW_DIR) -> list[dict]:
    """The provenance of each stored run set (``<tag>.json`` next to ``<tag>.jsonl.gz``)."""
    return [json.loads(f.read_text()) for f in sorted(raw_dir.glob("*.json"))
            if (raw_dir / f"{f.stem}.jsonl.gz").exists()]


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for ``k`` successes in ``n`` trials."""
    a = 1 - level
    lo = 0.0 if k == 0 else float(st.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(st.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def cluster_upper(hits: list[int], sizes: list[int], z: float = 1.96) -> float:
    """Upper 95 % bound of a pooled rate from cluster counts (ratio estimator with the
    cluster-robust sandwich variance): valid whatever the dependence within a cluster."""
    k, n = np.asarray(hits, float), np.asarray(sizes, float)
    G = k.size
    rate = k.sum() / n.sum()
    if G < 2:
        return 1.0
    var = G / (G - 1) * float(np.sum((k - rate * n) ** 2)) / n.sum() ** 2
    return float(rate + z * math.sqrt(var))


def _rates(groups: dict) -> dict:
    """``groups``: cluster → array of p-values."""
    ps = np.concatenate(list(groups.values()))
    out = {"n_pvalues": int(ps.size), "clusters": len(groups),
           "ks_p": float(st.kstest(ps, "uniform").pvalue), "min_p": float(ps.min())}
    for lev in LEVELS:
        hits = [int(np.sum(g < lev)) for g in groups.values()]
        sizes = [g.size for g in groups.values()]
        k = sum(hits)
        lo, hi = clopper_pearson(k, ps.size)
        out[f"rate_{lev}"] = [k / ps.size, lo, hi, cluster_upper(hits, sizes)]
    return out


def aggregate(records: list[dict], include_unmeasured: bool = True) -> dict:
    """The tables of the note (module docstring) from the raw records. Claims of the alpha
    table without records enter the family-wise estimate at their nominal level (bound:
    times the "mean t" inflation bound) and are listed as not measured."""
    kinds: dict = {}
    claims: dict = {}
    for rec in records:
        cl = (rec["claim"], rec["seed"], rec.get("config", ""))
        p = np.asarray(rec["p"], float)
        kg = kinds.setdefault(rec["kind"], {})
        kg[cl] = np.concatenate([kg[cl], p]) if cl in kg else p
        c = claims.setdefault(rec["claim"], {"groups": {}, "runs": {}, "kinds": {},
                                             "alpha_each": rec["alpha_each"]})
        c["groups"][cl] = np.concatenate([c["groups"][cl], p]) if cl in c["groups"] else p
        c["runs"].setdefault(rec["seed"], []).extend(p.tolist())
        c["kinds"][rec["kind"]] = c["kinds"].get(rec["kind"], 0) + p.size
    kind_rows = {}
    for name, groups in sorted(kinds.items()):
        row = _rates(groups)
        r5 = row["rate_0.05"]
        row["inflation"] = r5[0] / 0.05
        row["inflation_bound"] = max(r5[2], r5[3]) / 0.05
        # deeper in the tail (skewed statistics: second moments, variance z) the inflation
        # can grow; the point value at 0.001, where it is the larger one, is the tail reading
        row["inflation_tail"] = max(row["inflation"], row["rate_0.001"][0] / 0.001)
        kind_rows[name] = row
    out = {}
    fw = fw_hi = fw_tail = 0.0
    for key in sorted(claims, key=lambda k: (len(k), k)):
        c = claims[key]
        row = _rates(c["groups"])
        runs = len(c["runs"])
        row.update(runs=runs, alpha_each=c["alpha_each"], kinds=sorted(c["kinds"]),
                   per_run=row["n_pvalues"] / runs)
        adj = np.array([min(1.0, len(p) * min(p)) for p in c["runs"].values()])
        k_adj = int(np.sum(adj < 0.05))
        row["claim_level_0.05"] = [k_adj / runs, *clopper_pearson(k_adj, runs)]
        share = sum(n / runs * c["alpha_each"] * kind_rows[k]["inflation"]
                    for k, n in c["kinds"].items())
        share_hi = sum(n / runs * c["alpha_each"] * max(1.0, kind_rows[k]["inflation_bound"])
                       for k, n in c["kinds"].items())
        row["nominal"] = sum(n / runs for n in c["kinds"].values()) * c["alpha_each"]
        row["family_share"] = [share, share_hi]
        fw += share
        fw_hi += share_hi
        fw_tail += sum(n / runs * c["alpha_each"] * kind_rows[k]["inflation_tail"]
                       for k, n in c["kinds"].items())
        out[key] = row
    # claims of the alpha table that recorded no p-value: their nominal level, multiplied
    # (for the bound) by the largest inflation bound of the "mean t" kind (else of any kind)
    unmeasured = {}
    if include_unmeasured:
        ref = kind_rows.get("mean t") or (max(kind_rows.values(),
                                              key=lambda r: r["inflation_bound"])
                                          if kind_rows else None)
        r_hi = max(1.0, ref["inflation_bound"]) if ref else float("nan")
        for key, a in _alpha_table().items():
            if key not in out:
                unmeasured[key] = [a, a * r_hi]
                fw += a
                fw_hi += a * r_hi
                fw_tail += a * (ref["inflation_tail"] if ref else float("nan"))
    near = _near_budget()
    return {"claims": out, "kinds": kind_rows, "near_budget": near, "unmeasured": unmeasured,
            "family_wise_estimate": [fw + near, fw_hi + near],
            "family_wise_tail": fw_tail + near}


def _alpha_table() -> dict:
    from checks.conftest import ALPHA
    return dict(ALPHA)


def _near_budget() -> float:
    from checks.conftest import NEAR_BUDGET
    return float(NEAR_BUDGET)


def _stated() -> tuple[float, float]:
    from checks.conftest import ALPHA, FAMILY_ALPHA, NEAR_BUDGET
    return float(FAMILY_ALPHA), math.fsum(ALPHA.values()) + NEAR_BUDGET


def summary_lines(res: dict) -> list[str]:
    out = []
    for k, r in list(res["claims"].items()) + list(res["kinds"].items()):
        out.append(f"{k:>20}: {r['n_pvalues']:6d} p-values, rate(p<0.05) "
                   f"{r['rate_0.05'][0]:.4f} [{r['rate_0.05'][1]:.4f}, {r['rate_0.05'][2]:.4f}]"
                   f" cluster {r['rate_0.05'][3]:.4f}, rate(p<0.01) {r['rate_0.01'][0]:.4f}, "
                   f"rate(p<0.001) {r['rate_0.001'][0]:.5f}, KS p {r['ks_p']:.3g}")
    fw = res["family_wise_estimate"]
    out.append(f"family-wise estimate: {fw[0]:.3g} (upper bound {fw[1]:.3g})")
    return out


# ----------------------------------------------------------------------------- the note
def _rate(r: list, bound: bool = True) -> str:
    s = f"{r[0]:.4f} [{r[1]:.4f}, {r[2]:.4f}]"
    return s + (f" ≤ {r[3]:.4f}" if bound and len(r) > 3 else "")


def _claims(res: dict) -> str:
    rows = ["| claim | tests | p-values (runs) | rate p<0.05 [CP 95 %] ≤ cluster bound | "
            "rate p<0.01 | rate p<0.001 | KS p | min p | claim level: rate m·min p < 0.05 "
            "[CP 95 %] | alpha each | share: nominal, point, bound |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for k, r in res["claims"].items():
        cl = r["claim_level_0.05"]
        rows.append(f"| {k} | {', '.join(r['kinds'])} | {r['n_pvalues']} ({r['runs']}) | "
                    f"{_rate(r['rate_0.05'])} | {r['rate_0.01'][0]:.4f} | "
                    f"{r['rate_0.001'][0]:.5f} | {r['ks_p']:.2g} | {r['min_p']:.2g} | "
                    f"{cl[0]:.3f} [{cl[1]:.3f}, {cl[2]:.3f}] | {r['alpha_each']:.2g} | "
                    f"{r['nominal']:.2g}, {r['family_share'][0]:.2g}, "
                    f"{r['family_share'][1]:.2g} |")
    for k, (a, a_hi) in res.get("unmeasured", {}).items():
        rows.append(f"| {k} | not measured (records no p-values) | – | – | – | – | – | – | – "
                    f"| – | {a:.2g}, {a:.2g}, {a_hi:.2g} |")
    return "\n".join(rows)


def _kinds(res: dict) -> str:
    rows = ["| kind of test | p-values (clusters) | rate p<0.05 [CP 95 %] ≤ cluster bound | "
            "rate p<0.01 [CP 95 %] ≤ cluster bound | rate p<0.001 [CP 95 %] | KS p | "
            "inflation r (point, bound) |", "|---|---|---|---|---|---|---|"]
    for k, r in res["kinds"].items():
        rows.append(f"| {k} | {r['n_pvalues']} ({r['clusters']}) | {_rate(r['rate_0.05'])} | "
                    f"{_rate(r['rate_0.01'])} | {_rate(r['rate_0.001'], bound=False)} | "
                    f"{r['ks_p']:.2g} | {r['inflation']:.2f}, {r['inflation_bound']:.2f} |")
    return "\n".join(rows)


def _provenance(prov: list[dict]) -> str:
    lines = []
    flat = []
    for p in prov:
        flat.extend(p.get("earlier", []))
        flat.append(p)
    for p in flat:
        lines.append(f"- `{p['tag']}`: `{p['command']}` at commit {p['commit']} on "
                     f"{p['date']} — {p['runs']} runs (seeds {p['seeds'][0]}–{p['seeds'][1]}), "
                     f"files {', '.join(p['files'])}; {p['wall_seconds']:.0f} s wall with "
                     f"{p['jobs']} jobs on {p['cpus']} CPUs (mean {p['run_seconds_mean']:.1f} s "
                     f"per run" + (f"; load average {p['load_at_start']} at the start"
                                   if "load_at_start" in p else "") + ").")
    return "\n".join(lines)


def _null10(path: Path = RAW_DIR / "claim10_null.json") -> str:
    """Claim 10's tests on two samples of the same (engine) sampler:
    benchmarks/claim10_null.py."""
    d = json.loads(path.read_text())
    rows = [f"Produced by `{d['provenance']['command']}` "
            f"({d['provenance']['wall_seconds']} s).", "",
            "| design | kind of test | p-values (configurations) | rate p<0.05 [CP 95 %] ≤ "
            "cluster bound | rate p<0.01 [CP 95 %] | rate p<0.001 [CP 95 %] | skewness of the "
            "worst mean feature (median, max) |", "|---|---|---|---|---|---|---|"]
    for name in sorted(k for k in d if k != "provenance"):
        r = d[name]
        for kind, c in sorted(r["counts"].items()):
            n = c["n"]
            cells = []
            for j, lev in enumerate(("0.05", "0.01", "0.001")):
                lo, hi = clopper_pearson(c[lev], n)
                cell = f"{c[lev] / n:.4f} [{lo:.4f}, {hi:.4f}]"
                if j == 0:
                    cl = np.asarray(c["clusters"])
                    cell += f" ≤ {cluster_upper(cl[:, 1].tolist(), cl[:, 0].tolist()):.4f}"
                cells.append(cell)
            rows.append(f"| {name} | {kind} | {n} ({r['configs']}) | {' | '.join(cells)} | "
                        f"{r['max_skewness_median']:.1f}, {r['max_skewness_max']:.1f} |")
    return "\n".join(rows)


def _claim10(res: dict) -> str:
    """The engine-vs-reference summary of claim 10 from the stored runs."""
    c = res["claims"].get("10")
    if c is None:
        return "No stored calibration run of claim 10."
    cl = c["claim_level_0.05"]
    parts = [f"Engine vs plain reference, current design: {c['runs']} runs "
             f"({c['clusters']} configurations, {c['n_pvalues']} p-values). Rates of "
             f"p < 0.05 / 0.01 / 0.001:"]
    for k in c["kinds"]:
        r = res["kinds"][k]
        parts.append(f"{k} {r['rate_0.05'][0]:.4f} (≤ {max(r['rate_0.05'][2:]):.4f}) / "
                     f"{r['rate_0.01'][0]:.4f} / {r['rate_0.001'][0]:.4f} of {r['n_pvalues']};")
    parts.append(f"claim level (m·min p < 0.05): {cl[0]:.3f} [{cl[1]:.3f}, {cl[2]:.3f}]; "
                 f"smallest p-value {c['min_p']:.2g} among {c['n_pvalues']} "
                 f"(expected smallest of that many uniforms ≈ {1 / (c['n_pvalues'] + 1):.1g}).")
    return " ".join(parts)


def generate() -> dict[str, str]:
    res = aggregate(load_records())
    fw = res["family_wise_estimate"]
    stated, nominal = _stated()
    verdict = "within" if fw[1] <= stated else "**above**"
    return {
        "provenance": _provenance(load_provenance()),
        "claims": _claims(res),
        "kinds": _kinds(res),
        "claim10_null": _null10(),
        "claim10": _claim10(res),
        "family": (f"Nominal Bonferroni sum (alpha table + near budget): {nominal:.2g}. "
                   f"Estimated family-wise false-alarm rate of a default run: **{fw[0]:.2g}** "
                   f"(point), **{fw[1]:.2g}** (upper bound, inflations at their 95 % upper "
                   f"bounds, at least 1), {verdict} the stated {stated:g}; the near-control "
                   f"budget {res['near_budget']:.2g} is included at its nominal value. "
                   f"Tail reading (each kind's inflation taken at p < 0.001 where that point "
                   f"value is larger than at 0.05 — the skewed statistics' tails grow, e.g. "
                   f"the Welch second moments "
                   f"{res['kinds'].get('welch second moment', {}).get('inflation_tail', float('nan')):.2g}×): "
                   f"**{res['family_wise_tail']:.2g}**, "
                   f"{'within' if res['family_wise_tail'] <= stated else '**above**'} the "
                   f"stated {stated:g}; it extrapolates from 1e-3 instead of 5 % to the "
                   f"per-test levels ≈ 1e-7–1e-5, and rests on few p-values below 1e-3."),
    }
