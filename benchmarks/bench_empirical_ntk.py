"""Benchmark of the finite-network empirical NTK (theory.network), docs/design.md "The finite
network, fast".

Run: ``python benchmarks/bench_empirical_ntk.py [--widths 512 1024 2048 4096] [--repeats 3]``

In one run it measures this machine's float64 GEMM rate (numpy ``@`` on 4096×4096, best
of a few) and then, for depth 3, 8 inputs of dimension 16 and p = 0.5 (hard masks on all
matrices), times separately (best of ``--repeats`` after a warm-up):

* ``draw``: weights and masks (``draw_network``, default: one thread; ``N thr``: with
  ``workers`` = the CPUs available);
* ``fwd/bwd``: forward pass and backprop signals (``forward_backward``);
* ``contract``: the per-matrix NTK contraction (``ntk_contributions``), whose useful flops
  are the masked GEMMs, ``2 · d_out · d_in · n(n+1)/2`` per masked matrix; its achieved
  rate is printed as a fraction of the GEMM rate.

Goals: contraction at width 4096 ≥ 50 % of the GEMM rate; draw ≤ contraction.
Timings are wall-clock and include whatever else the machine is running.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from theory import Architecture  # noqa: E402
from theory.network import draw_network, forward_backward, ntk_contributions  # noqa: E402


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def gemm_rate(n: int = 4096, repeats: int = 3) -> float:
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    A @ B  # warm-up (thread pool, page faults)
    t, _ = best_of(lambda: A @ B, repeats)
    return 2.0 * n ** 3 / t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--d0", type=int, default=16)
    ap.add_argument("--p", type=float, default=0.5)
    args = ap.parse_args(argv)

    load = os.getloadavg()
    ncpu = len(os.sched_getaffinity(0))
    rate = gemm_rate(repeats=args.repeats)
    print(f"numpy {np.__version__}; CPUs available: {ncpu}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"float64 GEMM rate (4096x4096 @, best of {args.repeats}): {rate / 1e9:.1f} GFLOP/s")
    print("load average before the run (other processes share these CPUs): "
          + ", ".join(f"{x:.2f}" for x in load))
    arch = Architecture(depth=args.depth, activation="relu", p=args.p, pruned="all")
    X = np.random.default_rng(1).standard_normal((args.n, args.d0))
    P = args.n * (args.n + 1) // 2
    print(f"depth {args.depth}, n = {args.n} inputs of dim {args.d0}, p = {args.p}, "
          f"model 'mask', all {args.depth + 1} matrices pruned; times: best of "
          f"{args.repeats} after a warm-up")
    thr = f"{ncpu} thr ms"
    head = (f"{'width':>6} {'entries':>9} {'draw ms':>8} {thr:>8} {'ns/entry':>8} "
            f"{'fwd/bwd ms':>10} {'contract ms':>11} {'GFLOP/s':>8} {'% GEMM':>7} "
            f"{'draw/contract':>13}")
    print(head)
    print("-" * len(head))
    for w in args.widths:
        draw_network(arch, args.d0, w, seed=0)  # warm-up: first-touch memory, thread pool
        t_drawN, net = best_of(lambda: draw_network(arch, args.d0, w, seed=1, workers=ncpu),
                               args.repeats)
        del net
        t_draw, net = best_of(lambda: draw_network(arch, args.d0, w, seed=1), args.repeats)
        t_fb, tr = best_of(lambda: forward_backward(net, X), args.repeats)
        t_c, _ = best_of(lambda: ntk_contributions(net, tr), args.repeats)
        dims = net.dims
        entries = sum(dims[h] * dims[h + 1] for h in range(len(dims) - 1))
        flops = sum(2.0 * dims[h] * dims[h + 1] * P
                    for h in range(len(dims) - 1) if net.masks[h] is not None)
        achieved = flops / t_c
        t_best = min(t_draw, t_drawN)
        print(f"{w:>6} {entries:>9} {t_draw * 1e3:>8.1f} {t_drawN * 1e3:>8.1f} "
              f"{t_best / entries * 1e9:>8.2f} {t_fb * 1e3:>10.1f} {t_c * 1e3:>11.1f} "
              f"{achieved / 1e9:>8.1f} {100 * achieved / rate:>6.1f}% {t_best / t_c:>13.2f}")
        del net, tr
    print("ns/entry and draw/contract use the faster of the two draw timings")
    print("goals: contract >= 50% of GEMM at width 4096; draw/contract <= 1")


if __name__ == "__main__":
    main()
