"""Sweep throughput: serial vs ``--jobs N`` processes vs a Dask LocalCluster (N worker
processes on loopback), the same tasks, all measured in this run; also checks that the
three databases are identical (timing column excluded).

    python benchmarks/bench_sweep.py [--jobs 2] [--draws 16] [--seeds 4]

Prints tasks per second and each scheduler's speed relative to the serial baseline.
Caveats: tasks of a few milliseconds measure start-up overhead, not throughput (use
``--widths 512,1024``); Dask's nanny starts its workers with one BLAS thread
(``OMP_NUM_THREADS=1``) while the serial and ``--jobs`` runs use numpy's default thread
pool, which on a busy machine oversubscribes the cores.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from theory import sweep as S


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--draws", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--widths", default="64,128,256")
    args = ap.parse_args()
    cfg = S.config_from_dict({"widths": [int(w) for w in args.widths.split(",")],
                              "p": [0.0, 0.5], "depth": 3, "rescale": [False, True],
                              "draws": args.draws, "seeds": args.seeds,
                              "inputs": {"n": 3, "d0": 8}})
    S.compute_task(S.tasks(cfg)[0])  # warm imports and the limit cache of this process
    tmp = Path(tempfile.mkdtemp())
    results = {}

    def timed(name, **kw):
        t = time.perf_counter()
        rep = S.run_sweep(cfg, db=tmp / f"{name}.sqlite", quiet=True, **kw)
        results[name] = (time.perf_counter() - t, rep)

    timed("serial", jobs=1)
    timed(f"processes ({args.jobs})", jobs=args.jobs)
    from distributed import LocalCluster
    with LocalCluster(n_workers=args.jobs, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cl:
        timed(f"dask LocalCluster ({args.jobs} procs)", scheduler=cl.scheduler_address)
    strip = lambda rows: [{k: v for k, v in r.items() if k not in S.TIMING_COLUMNS} for r in rows]
    base_rows = strip(results["serial"][1].rows)
    base = results["serial"][0]
    print(f"{cfg.n_tasks} tasks ({args.draws} draws each, widths {args.widths}, depth 3)")
    print(f"{'scheduler':34s} {'seconds':>8s} {'tasks/s':>8s} {'speed vs serial':>16s} identical")
    for name, (sec, rep) in results.items():
        same = strip(rep.rows) == base_rows
        print(f"{name:34s} {sec:8.2f} {cfg.n_tasks / sec:8.1f} {base / sec:15.2f}x {same}")


if __name__ == "__main__":
    main()
