"""Limit kernels at data-set scale: float64 Gram matrices against a jitted JAX anchor, the
n = 20 000 streaming run, and the input-layer mixture at d0 = 784.

    python benchmarks/bench_limit.py            # full (a few minutes on 2 cores)
    python benchmarks/bench_limit.py --quick    # small sizes, smoke run

Anchor. The intended anchor is neural-tangents' jitted ``kernel_fn`` of
``stax.serial(Dense(512, W_std=1, b_std=None), Relu(), Dense(512, W_std=sqrt(2),
b_std=None), Relu(), …, Dense(1, W_std=sqrt(2), b_std=None))`` on inputs ``sqrt(d0)·X``:
neural-tangents divides the input Gram by ``d0`` and multiplies by ``W_std²`` at every
Dense layer, so ``W_std = 1`` on ``sqrt(d0) X`` gives our ``Σ^(0) = xᵀx'`` and
``W_std² = 2 = c_σ`` afterwards gives Arora et al.'s ``c_σ``-normalised recursion
(docs/math.md#limit), with ``b_std=None`` for our bias-free network. If
neural-tangents cannot be imported with the installed jax (0.6.5 needs ``jax.core``
names that recent jax removed), the anchor is a jitted JAX implementation of the same
closed-form recursion (neural-tangents' arc-cosine formulas, ``acos`` of the clipped
correlation), labelled ``jax-closed-form``. Both are timed warm (after compilation),
best of ``--repeat`` runs, in the same process as ours; values are compared entry-wise
relative to ``sqrt(Θ(x,x)Θ(x',x'))``, separately on pairs with ``|ρ| <= 0.9`` (where the
anchor's plain ``acos`` is accurate) and overall.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import theory  # noqa: E402
from theory.limits import stream_gram  # noqa: E402


def best_time(f, repeat: int) -> tuple[float, float]:
    """Best wall-clock and best process CPU time (all threads) over ``repeat`` runs."""
    ws, cs = [], []
    for _ in range(repeat):
        c, t = time.process_time(), time.perf_counter()
        f()
        ws.append(time.perf_counter() - t)
        cs.append(time.process_time() - c)
    return min(ws), min(cs)


def make_anchor(depth: int):
    """(name, kernel_fn(X) -> NTK as numpy) or (reason, None)."""
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except Exception as e:  # noqa: BLE001 - report any import failure
        return f"jax unavailable ({type(e).__name__}: {e})", None
    try:
        from neural_tangents import stax
        layers = [stax.Dense(512, W_std=1.0, b_std=None), stax.Relu()]
        for _ in range(depth - 1):
            layers += [stax.Dense(512, W_std=np.sqrt(2.0), b_std=None), stax.Relu()]
        layers += [stax.Dense(1, W_std=np.sqrt(2.0), b_std=None)]
        _, _, kfn = stax.serial(*layers)
        kj = jax.jit(lambda X: kfn(X, None, "ntk"))
        return "neural-tangents kernel_fn (jit)", lambda X: np.asarray(
            kj(np.sqrt(X.shape[1]) * X).block_until_ready())
    except Exception as e:  # noqa: BLE001
        nt_reason = f"{type(e).__name__}: {str(e).splitlines()[0][:100]}"

    @jax.jit
    def kfn(X):
        nngp = X @ X.T
        ntk = nngp
        d = jnp.diag(nngp)
        prod = jnp.sqrt(d[:, None] * d[None, :])
        for _ in range(depth):
            cos = jnp.clip(nngp / prod, -1.0, 1.0)
            th = jnp.arccos(cos)
            nngp = prod * (jnp.sqrt(1 - cos * cos) + (jnp.pi - th) * cos) / jnp.pi
            ntk = ntk * (jnp.pi - th) / jnp.pi + nngp
        return ntk
    return (f"jax-closed-form (jit; neural-tangents not importable: {nt_reason})",
            lambda X: np.asarray(kfn(X).block_until_ready()))


def agreement(K, Ka, X):
    s = np.sqrt(np.outer(np.diag(K), np.diag(K)))
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    rho = U @ U.T
    d = np.abs(K - Ka) / s
    return float(d[np.abs(rho) <= 0.9].max()), float(d.max())


def dense(ns) -> None:
    print("== dense limit NTK, ReLU, L = 3, d0 = 16 (warm, best of %d)" % ns.repeat)
    name, anchor = make_anchor(3)
    print(f"anchor: {name}")
    arch = theory.Architecture(depth=3)
    print("wall = best wall-clock time, cpu = best process CPU time (all threads); on a "
          "loaded machine the cpu column is the steadier one")
    print(f"{'n':>6} {'ours wall':>10} {'anchor wall':>12} {'ratio':>6} {'ours cpu':>9} "
          f"{'anchor cpu':>11} {'ratio':>6} {'dev |rho|<=.9':>14} {'dev all':>8}")
    for n in ns.sizes:
        X = np.random.default_rng(n).standard_normal((n, 16))
        K = theory.limit_ntk(arch, X, "wide")
        w_o, c_o = best_time(lambda: theory.limit_ntk(arch, X, "wide"), ns.repeat)
        if anchor is None:
            print(f"{n:>6} {w_o:>10.3f} {'—':>12} {'—':>6} {c_o:>9.3f}")
            continue
        Ka = anchor(X)
        w_a, c_a = best_time(lambda: anchor(X), ns.repeat)
        dev_mid, dev_all = agreement(K, Ka, X)
        print(f"{n:>6} {w_o:>10.3f} {w_a:>12.3f} {w_a / w_o:>6.2f} {c_o:>9.3f} {c_a:>11.3f} "
              f"{c_a / c_o:>6.2f} {dev_mid:>14.1e} {dev_all:>8.1e}")
    print("ratio = anchor time / our time (> 1: we are faster)")


def big(ns) -> None:
    n = ns.big
    print(f"== n = {n}: dense limit NTK streamed to a .npy file (subprocess, own peak RSS)")
    code = textwrap.dedent(f"""
        import resource, sys, time, numpy as np
        sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r})
        import theory
        from theory.limits import stream_gram
        X = np.random.default_rng(0).standard_normal(({n}, 16))
        r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        stream_gram(theory.Architecture(depth=3), X, {ns.tmp!r}, input_layer="wide",
                    progress=False)
        dt = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        K = np.load({ns.tmp!r}, mmap_mode="r")
        i = np.random.default_rng(1).integers(0, {n}, 50)
        ref = theory.limit_ntk(theory.Architecture(depth=3), X[i], "wide", X2=X)
        print(f"time {{dt:.1f}} s, peak RSS {{r1 / 2**10:.0f}} MiB (before the run "
              f"{{r0 / 2**10:.0f}} MiB), output {{8 * {n}**2 / 2**30:.2f}} GiB on disk; "
              f"50 streamed rows vs in-memory cross kernel: max abs diff "
              f"{{np.max(np.abs(K[i] - ref)):.1e}}")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    print(out.stdout.strip() or out.stderr.strip()[-2000:])
    if os.path.exists(ns.tmp):
        os.remove(ns.tmp)


def image_like(n: int, d0: int, seed: int = 7) -> np.ndarray:
    """Non-negative, sparse, image-like inputs: on a ``w × w`` grid (``w² = d0``) each row
    is a sum of 3 random Gaussian strokes minus a threshold, clipped at 0 (about a fifth
    of the pixels nonzero, like MNIST digits)."""
    w = int(round(np.sqrt(d0)))
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:w, 0:w] / w
    X = np.zeros((n, w, w))
    for _ in range(3):
        cy, cx = rng.uniform(0.25, 0.75, (2, n, 1, 1))
        sy, sx = rng.uniform(0.05, 0.25, (2, n, 1, 1))
        X += np.exp(-((yy - cy) / sy) ** 2 / 2 - ((xx - cx) / sx) ** 2 / 2)
    return np.clip(X - 0.6, 0, None).reshape(n, d0)


def mixture(ns) -> None:
    """The input-layer mixture (ReLU, L = 3, p = 0.5) at n = ns.mix_n and d0 = 64, 256, 784
    with mixture_method='expansion': every entry the expansion can estimate is expanded,
    the others are sampled with ns.mix_masks masks (reported as 'sampled'). Wall and
    CPU seconds (the machine is shared: CPU seconds / 2 is the idle 2-core wall time), the
    load average, the routes and the reported error (propagated through the recursion,
    relative to max |K|) with its kind. Baseline in the same run: the wide formula."""
    n = ns.mix_n
    print(f"== pruned limit NTK with the input-layer mixture: n = {n}, ReLU, L = 3, p = 0.5, "
          f"tol = {ns.tol:g}; mixture_method='expansion' (entries the expansion cannot "
          f"certify are sampled with {ns.mix_masks} masks and counted as 'sampled')")
    arch = theory.Architecture(depth=3, p=0.5)
    theory.limits.limit_result(arch, np.random.default_rng(0).standard_normal((4, 32)),
                               mixture_method="expansion")   # one-off loading
    for kind in ("gaussian", "image-like"):
        for d0 in (64, 256, 784):
            # image-like: few entries certify, and the sampled fallback loops over entries
            # in Python, so a smaller n (the certified share is what is reported)
            m = n if kind == "gaussian" else min(n, 128)
            X = np.random.default_rng(7).standard_normal((m, d0)) if kind == "gaussian" \
                else image_like(m, d0)
            t, c = time.perf_counter(), time.process_time()
            r = theory.limits.limit_result(arch, X, tol=ns.tol, mixture_method="expansion",
                                           n_masks=ns.mix_masks)
            dt, dc = time.perf_counter() - t, time.process_time() - c
            t = time.perf_counter()
            Kw = theory.limit_ntk(arch, X, "wide")
            dtw = time.perf_counter() - t
            gap = np.max(np.abs(r.value - Kw)) / np.max(np.abs(Kw))
            # share of off-diagonal layer-1 entries whose own estimate is <= tol (what
            # mixture_method="auto" would certify without sampling)
            from theory.input_layer import MixturePlan
            _, st = MixturePlan(arch, X, None, method="expansion", tol=ns.tol).tile(0, m, 0, m)
            off = ~np.eye(m, dtype=bool)
            cert = float(np.mean((np.maximum(st["err_s"], st["err_g"]) <= ns.tol)[off]))
            print(f"{kind:10} n = {m:4} d0 = {d0:3}: {dt:6.2f} s wall, {dc:6.2f} s CPU (load "
                  f"{os.getloadavg()[0]:.1f}); wide formula {dtw:5.2f} s; route={r.route} "
                  f"layer-1 entries with estimate <= tol: {cert:.4f}; reported error "
                  f"{r.error_estimate:.1e} (order {r.order}); |mixture − wide|/max|K| = {gap:.1e}")
    print(f"error kind: {r.error_kind}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tol", type=float, default=1e-8, help="mixture tolerance (relative)")
    ap.add_argument("--only", choices=["dense", "big", "mixture"], default=None)
    ns = ap.parse_args()
    ns.sizes = [256, 1024] if ns.quick else [1024, 4096]
    ns.big = 4000 if ns.quick else 20000
    ns.mix_n = 128 if ns.quick else 1024
    ns.mix_masks = 256
    ns.tmp = os.path.join(tempfile.gettempdir(), f"bench_limit_{os.getpid()}.npy")
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    for name, f in (("dense", dense), ("big", big), ("mixture", mixture)):
        if ns.only in (None, name):
            f(ns)


if __name__ == "__main__":
    main()
