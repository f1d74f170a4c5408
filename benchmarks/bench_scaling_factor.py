"""Benchmark of the pruning factor: the per-layer rule (``theory.scaling.factor_structure``,
used by ``theory.scaling_factor`` and ``theory factor``) against the sympy-ratio derivation
(``theory.scaling.derive_scaling_factor``, kept as its cross-check), measured in the same
run.

Run: ``python benchmarks/bench_scaling_factor.py [--depths 2 4 6 8] [--deep 300 3000]``

For each depth and activation (ReLU with symbolic ``p``; erf at ``p = 1/2``) it prints the
wall time of both derivations (best of 3 for the fast one, one run for the slow one) and
their ratio, then the fast rule alone at the ``--deep`` depths. Timings are wall-clock and
include whatever else the machine is running.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import sympy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import theory  # noqa: E402
from theory.scaling import derive_scaling_factor, factor_structure  # noqa: E402


def _best(f, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[2, 4, 6, 8])
    ap.add_argument("--deep", type=int, nargs="+", default=[300, 3000])
    a = ap.parse_args(argv)
    p = sympy.Symbol("p")
    print(f"{'activation':>10} {'L':>5} {'fast [s]':>10} {'slow [s]':>10} {'slow/fast':>10}  agree")
    for act, pv in (("relu", p), ("erf", sympy.Rational(1, 2))):
        for L in a.depths:
            arch = theory.Architecture(depth=L, activation=act, p=pv)
            tf = _best(lambda: factor_structure(arch))
            t = time.perf_counter()
            slow = derive_scaling_factor(arch).factor
            ts = time.perf_counter() - t
            fast = factor_structure(arch).factor
            agree = (fast is None and slow is None) or (
                fast is not None and slow is not None and sympy.simplify(fast - slow) == 0)
            print(f"{act:>10} {L:>5} {tf:10.4f} {ts:10.3f} {ts / tf:10.0f}  {agree}")
    for act, pv in (("relu", p), ("relu", 0.5), ("relu2", 0.5), ("erf", 0.5)):
        for L in a.deep:
            arch = theory.Architecture(depth=L, activation=act, p=pv)
            tf = _best(lambda: factor_structure(arch))
            f = factor_structure(arch).factor
            shown = "None" if f is None else (str(f) if len(str(f)) < 40 else str(f)[:37] + "...")
            print(f"{act:>10} {L:>5} {tf:10.4f} {'-':>10} {'-':>10}  factor = {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
