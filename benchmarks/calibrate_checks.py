"""Calibration of the Monte Carlo checks: false-alarm rates measured, not assumed.

    python benchmarks/calibrate_checks.py [--runs N] [--claims 7,8,10] [--jobs J]
                                          [--first-seed S] [--append]

Runs the Monte Carlo claims of ``checks/`` N times (``--seed S, S+1, …``, profile
``calibrate``: the ci design — same configurations per claim, same Bonferroni ``m``,
alpha and draws — with one example of each deterministic check) while the checks write
the p-value of every comparison of a claim's prediction to a JSON-lines file
(``CHECKS_PVALUES``, ``checks/_support.py::record_pvalues``). The claimed truth is the
truth here (the theory holds and the code is right, as every default run shows), so each
p-value is a draw of its test's null distribution.

``--claims`` restricts the runs to some claims (their ``checks/test_NN_*.py`` files):
dedicated runs give the kinds of test with few p-values per run (claim 7's slope t, claim
8's χ², claim 10's keep-rate tests) hundreds of p-values cheaply. ``--jobs`` runs that
worker processes, each running its share of the seeds one after the other in-process
(``pytest.main`` per seed, so imports and collection are paid once per worker).

The raw p-values are stored, gzipped, in ``notes/data/calibration/<tag>.jsonl.gz`` with a
provenance file ``<tag>.json`` (tag ``all`` or ``claims-7-8-10``; a new run replaces the
run set of the same tag unless ``--append``). ``notes/calibration.py`` aggregates every
stored run set into the tables of notes/calibration.md (``python -m notes.regen``); this
script prints the same summary when it finishes.

The command the calibration note is regenerated with (after every change to a claim's
design), about 20 minutes on an idle 2-core machine::

    nice python benchmarks/calibrate_checks.py --runs 10 --jobs 2 && \\
    nice python benchmarks/calibrate_checks.py --claims 7,8,10 --runs 100 --jobs 2 && \\
    python -m notes.regen
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RAW_DIR = ROOT / "notes" / "data" / "calibration"
# the Monte Carlo tests (pytest -k): the deterministic checks of the same files are skipped
MC_TESTS = ["monte", "diagonal_mean_exact", "test_rate", "variance_law",
            "sampler_equivalence", "random_pruning_law"]


def claim_files(claims: list[str]) -> list[str]:
    """``checks/test_NN_*.py`` of each claim key (``"1c"`` → ``test_01_*``)."""
    out = []
    for c in claims:
        digits = "".join(ch for ch in c if ch.isdigit())
        if not digits:
            raise ValueError(f"--claims: not a claim key: {c!r}")
        hits = sorted((ROOT / "checks").glob(f"test_{int(digits):02d}_*.py"))
        if not hits:
            raise ValueError(f"--claims: no checks/test_{int(digits):02d}_*.py for claim {c!r}")
        out.extend(str(h.relative_to(ROOT)) for h in hits)
    return sorted(set(out))


def _pytest_args(files: list[str], seed: int) -> list[str]:
    return [*files, "-q", "-p", "no:cacheprovider", "--profile", "calibrate", "--seed",
            str(seed), "-k", " or ".join(MC_TESTS)]


def worker(seeds: list[int], outdir: str, files: list[str]) -> int:
    """Run ``seeds`` one after the other in THIS process (``pytest.main`` per seed: the
    imports and the collection cost ~3 s once instead of once per seed; the draw cache is
    emptied between seeds). Each seed writes ``outdir/<seed>.jsonl`` and prints its time.
    A seed replayed this way records exactly the p-values of a fresh ``pytest`` run."""
    import contextlib
    import io

    import pytest
    os.chdir(ROOT)
    for s in seeds:
        os.environ["CHECKS_PVALUES"] = os.path.join(outdir, f"{s}.jsonl")
        t = time.time()
        with contextlib.redirect_stdout(io.StringIO()):
            pytest.main(_pytest_args(files, s))
        from checks import _support as S
        S._DRAW_CACHE.clear()
        print(f"seed {s}: {time.time() - t:.1f} s", flush=True)
    return 0


def run_chunk(seeds: list[int], outdir: str, files: list[str]) -> list[float]:
    """One worker process for ``seeds``; returns the per-seed times it printed."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", outdir,
                          "--worker-seeds", ",".join(map(str, seeds)), "--worker-files",
                          ",".join(files)], cwd=ROOT, env=env, check=False,
                         capture_output=True, text=True).stdout
    times = [float(line.split(":")[1].split()[0]) for line in out.splitlines()
             if line.startswith("seed ")]
    for line in out.splitlines():
        if line.startswith("seed "):
            print(line, flush=True)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="calibration of the Monte Carlo checks")
    ap.add_argument("--runs", type=int, default=10, help="number of reseeded runs")
    ap.add_argument("--claims", default=None, help="comma-separated claim keys (default: "
                    "every Monte Carlo claim, tag 'all')")
    ap.add_argument("--jobs", type=int, default=1, help="seeds run at once")
    ap.add_argument("--first-seed", type=int, default=None,
                    help="default 1000 for all claims, 100000 for a --claims subset")
    ap.add_argument("--append", action="store_true",
                    help="add to the stored run set of this tag instead of replacing it")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--worker-seeds", default="", help=argparse.SUPPRESS)
    ap.add_argument("--worker-files", default="", help=argparse.SUPPRESS)
    ns = ap.parse_args(argv)
    if ns.worker:
        return worker([int(x) for x in ns.worker_seeds.split(",")], ns.worker,
                      ns.worker_files.split(","))
    if ns.runs < 1:
        print("calibrate_checks: --runs must be a positive integer", file=sys.stderr)
        return 2
    if ns.jobs < 1:
        print("calibrate_checks: --jobs must be a positive integer", file=sys.stderr)
        return 2
    try:
        if ns.claims:
            claims = [c.strip() for c in ns.claims.split(",") if c.strip()]
            files = claim_files(claims)
            tag = "claims-" + "-".join(claims)
        else:
            files, tag = ["checks/"], "all"
    except ValueError as e:
        print(f"calibrate_checks: {e}", file=sys.stderr)
        return 2
    first = ns.first_seed if ns.first_seed is not None else (100000 if ns.claims else 1000)
    seeds = list(range(first, first + ns.runs))
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    raw = RAW_DIR / f"{tag}.jsonl.gz"
    prov_path = RAW_DIR / f"{tag}.json"
    t0 = time.time()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    load = round(os.getloadavg()[0], 1)   # wall times mean little on a shared machine
    with tempfile.TemporaryDirectory() as tmp:
        chunks = [seeds[j::ns.jobs] for j in range(ns.jobs) if seeds[j::ns.jobs]]
        times = []
        with ThreadPoolExecutor(max_workers=len(chunks)) as ex:
            for ts in ex.map(lambda c: run_chunk(c, tmp, files), chunks):
                times.extend(ts)
        lines = []
        for s in seeds:
            p = os.path.join(tmp, f"{s}.jsonl")
            if os.path.exists(p):
                lines.extend(line for line in open(p) if line.strip())
    if not lines:
        print("calibrate_checks: no p-values recorded", file=sys.stderr)
        return 1
    old_lines, old_prov = [], None
    if ns.append and raw.exists():
        with gzip.open(raw, "rt") as fh:
            old_lines = [line for line in fh if line.strip()]
        old_prov = json.loads(prov_path.read_text()) if prov_path.exists() else None
    with gzip.open(raw, "wt") as fh:
        fh.writelines(old_lines + lines)
    command = ("python benchmarks/calibrate_checks.py --runs "
               f"{ns.runs} --jobs {ns.jobs} --first-seed {first}"
               + (f" --claims {ns.claims}" if ns.claims else "") + (" --append" if ns.append else ""))
    prov = {"tag": tag, "command": command, "commit": commit,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
            "seeds": [seeds[0], seeds[-1]], "runs": len(seeds), "files": files,
            "profile": "calibrate", "wall_seconds": round(time.time() - t0, 1),
            "run_seconds_mean": round(sum(times) / max(1, len(times)), 1), "jobs": ns.jobs,
            "cpus": os.cpu_count(), "machine": platform.machine(), "load_at_start": load}
    if old_prov:
        prov = {**prov, "earlier": [old_prov]}
    prov_path.write_text(json.dumps(prov, indent=1, sort_keys=True) + "\n")
    from notes import calibration as NC
    res = NC.aggregate(NC.load_records())
    for line in NC.summary_lines(res):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
