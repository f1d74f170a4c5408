"""Benchmark of batched Monte Carlo (``empirical_ntk(..., draws=K)``, theory.batched)
against JAX and neural-tangents, measured in the same run.

Optional baselines (NOT dependencies of the package; the script prints "not installed"
and skips a baseline that is missing)::

    pip install "jax[cpu]"                                   # jax + jaxlib
    pip install --no-deps neural-tangents==0.6.5 frozendict  # no tensorflow

neural-tangents 0.6.5 imports names that newer jax releases removed (``jax.core.Jaxpr``
& co., ``jax.interpreters.ad.zeros_like_p``) and a tensorflow-only ``experimental``
subpackage; :func:`import_neural_tangents` re-exports the moved names from ``jax._src``,
registers a placeholder for ``zeros_like_p`` (only used by the STRUCTURED_DERIVATIVES
rules; that implementation fails with this jax anyway, ``linearize() got multiple values
for argument 'has_aux'``, and is not timed) and stubs ``neural_tangents.experimental``.
The two implementations timed (JACOBIAN_CONTRACTION, NTK_VECTOR_PRODUCTS) run NT's own
code unmodified, and their result is checked against ours (column ``max rel diff``).

Run: ``python benchmarks/bench_batched.py [--threads 1] [--repeats 3] [--draws 2000] [--quick]``

What is compared (all float64, ``jax_enable_x64``; times are wall clock, best of
``--repeats`` after a warm-up; JAX compile time is excluded by a first call per shape):

(a) depth 3, ReLU, n = 3 inputs of dimension 32, p = 0.3 on every matrix (hard masks, no
    rescaling), widths 32, 64, 128, ``--draws`` draws. *Ours*: ``empirical_ntk(arch, X,
    width, seed, draws=K)``, drawing included. *JAX*: ``jax.jit(jax.vmap(ntk))`` over the
    SAME draws (our weights and masks, already on the device: drawing and transfer are not
    in its time), ``ntk`` = per-input ``jax.grad`` of the masked MLP in our convention
    w.r.t. every weight matrix (a pruned entry has gradient 0), contracted as
    ``Σ_h J_h J_hᵀ``; vmapped over chunks of ``--jax-chunk`` draws to bound memory.
(b) depth 3, ReLU, n = 8 inputs of dimension 32, p = 0.3, widths 2048 and 4096, ONE draw.
    *Ours*: ``empirical_ntk(..., draws=1)``, drawing included (also split into drawing
    and forward/backward + contraction). *neural-tangents*: ``nt.empirical_ntk_fn`` on a
    ``stax.serial`` of bias-free ``Dense(parameterization="ntk")`` / ``Relu`` layers whose
    ``W_std`` reproduce our scalings, applied to ``M ⊙ W`` (our mask and weights, fixed),
    NTK taken w.r.t. ``W``: exactly our mask-model NTK (the gradient vanishes at pruned
    entries). NT is given the drawn weights for free (drawing and transfer excluded), jitted.
    The ratio uses the faster NT implementation that fits ``--nt-max-gb``.

Goals (issue 9): (a) ours ≥ 5x faster per draw; (b) ≥ 3x faster than NT, and our drawing
no slower than our contraction.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import types


def _threads_from_argv(argv) -> int | None:
    """``--threads N`` must act before numpy/jax start their thread pools."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return None


_THREADS = _threads_from_argv(sys.argv[1:])
if _THREADS is not None:  # the same thread budget for OpenBLAS (ours) and XLA (JAX, NT)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(_THREADS)
    if _THREADS == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()

import numpy as np  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, ".."))
sys.path.insert(0, _HERE)

from bench_empirical_ntk import best_of, gemm_rate  # noqa: E402
from theory import Architecture, empirical_ntk  # noqa: E402
from theory import batched as B  # noqa: E402
from theory.backends import NUMPY  # noqa: E402


# ----------------------------------------------------------------------------- optional baselines
def import_jax():
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def import_neural_tangents():
    """neural-tangents 0.6.5 with the compatibility shims described in the module
    docstring, or ``None`` (with the reason) if it cannot be imported."""
    try:
        import jax
        import jax._src.core as jcore
        import jax.core
        import jax.interpreters.ad as jad
    except ImportError:
        return None, "jax not installed"
    for name in ("Jaxpr", "ShapedArray", "Var", "Literal", "JaxprEqn", "Value", "Primitive",
                 "AbstractValue"):
        if not hasattr(jax.core, name) and hasattr(jcore, name):
            setattr(jax.core, name, getattr(jcore, name))
    try:
        import jax.util  # noqa: F401
    except ImportError:
        import jax._src.util as jutil
        mod = types.ModuleType("jax.util")
        mod.safe_zip, mod.safe_map = jutil.safe_zip, jutil.safe_map
        sys.modules["jax.util"] = mod
    try:
        from jax.extend import linear_util  # noqa: F401
    except ImportError:
        import jax._src.linear_util as jlu
        sys.modules["jax.extend.linear_util"] = jlu
    try:
        jad.zeros_like_p
    except AttributeError:
        jad.zeros_like_p = jcore.Primitive("zeros_like_placeholder")
    sys.modules.setdefault("neural_tangents.experimental",
                           types.ModuleType("neural_tangents.experimental"))
    try:
        import neural_tangents as nt
    except ImportError as exc:
        return None, f"not installed ({exc})"
    except Exception as exc:  # an incompatibility the shims do not cover
        return None, f"cannot be imported with this jax: {type(exc).__name__}: {exc}"
    return nt, nt.__version__


# ----------------------------------------------------------------------------- helpers
def rel_diff(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def ours_split(arch, X, width, seed, draws, repeats):
    """Our batched path, timed as drawing vs forward/backward + contraction (same chunks
    as ``batched_kernels``)."""
    n, d0 = X.shape
    widths = (width,) * arch.depth
    lay = B._layout(arch, d0, widths)
    gpc = B._groups_per_chunk(lay, n, B.DEFAULT_MEMORY_BUDGET)
    n_groups = -(-draws // lay.group)
    bufs = B._alloc(lay, min(n_groups, gpc) * lay.group)
    scales, factors = B._scales(arch)
    cs = float(arch.act.c_sigma(NUMPY))
    ss = np.random.SeedSequence(seed)
    XT = np.ascontiguousarray(X.T)
    best_draw = best_con = float("inf")
    for _ in range(repeats):
        t_draw = t_con = 0.0
        for g0 in range(0, n_groups, gpc):
            ng = min(gpc, n_groups - g0)
            t0 = time.perf_counter()
            W, M = B._draw_groups(ss, lay, g0, ng, bufs)
            t1 = time.perf_counter()
            G, Bt, _ = B._batched_trace(W, scales, arch.act, cs, widths, XT, True)
            B._batched_contributions(W, M, factors, G, Bt, n, lay.group)
            t2 = time.perf_counter()
            t_draw += t1 - t0
            t_con += t2 - t1
        best_draw, best_con = min(best_draw, t_draw), min(best_con, t_con)
    return best_draw, best_con


# ----------------------------------------------------------------------------- JAX reference (a)
def jax_masked_ntk(jax, alphas, c_sigma, widths):
    """``jit(vmap(ntk))``: the masked MLP of docs/math.md#network, gradient per input."""
    import jax.numpy as jnp
    L = len(widths)

    def f(Ws, Ms, x):
        g = x
        for h in range(L):
            pre = jnp.sqrt(alphas[h]) * ((Ms[h] * Ws[h]) @ g)
            g = jnp.sqrt(c_sigma / widths[h]) * jax.nn.relu(pre)
        return (jnp.sqrt(alphas[L]) * ((Ms[L] * Ws[L]) @ g))[0]

    def ntk(Ws, Ms, X):
        J = jax.vmap(jax.grad(f), in_axes=(None, None, 0))(Ws, Ms, X)  # per matrix (n, ...)
        return sum(jnp.einsum("aij,bij->ab", j, j) for j in J)

    return jax.jit(jax.vmap(ntk, in_axes=(0, 0, None)))


def jax_draw(jax, dims, qs):
    """``key -> (Ws, Ms)``: one network drawn with ``jax.random`` (Bernoulli(q) masks,
    N(0,1) weights, float64), the JAX counterpart of our drawing."""
    import jax.numpy as jnp

    def draw(key):
        Ws, Ms = [], []
        for h in range(len(dims) - 1):
            key, km, kw = jax.random.split(key, 3)
            shape = (dims[h + 1], dims[h])
            Ms.append(jax.random.bernoulli(km, qs[h], shape).astype(jnp.float64))
            Ws.append(jax.random.normal(kw, shape, dtype=jnp.float64) * Ms[-1])
        return Ws, Ms

    return draw


def jax_end_to_end(jax, alphas, c_sigma, widths, dims, qs):
    """``jit(vmap(draw then ntk))`` over a batch of keys: JAX drawing its own networks."""
    ntk = jax_masked_ntk(jax, alphas, c_sigma, widths)
    draw = jax_draw(jax, dims, qs)

    @jax.jit
    def run(keys, X):
        Ws, Ms = jax.vmap(draw)(keys)
        return ntk(Ws, Ms, X)

    return run


def part_a(args, jax):
    arch = Architecture(depth=3, activation="relu", p=args.p, pruned="all")
    d0, n, K = 32, 3, args.draws
    X = np.random.default_rng(1).standard_normal((n, d0))
    cs = float(arch.act.c_sigma(NUMPY))
    alphas = [float(arch.alpha_of(h)) for h in range(arch.n_matrices)]
    print(f"\n(a) depth 3, ReLU, n = {n} inputs of dim {d0}, p = {args.p} (all matrices, hard "
          f"masks), {K} draws; per-draw wall time, best of {args.repeats}")
    head = (f"{'width':>6} {'loop us':>8} {'ours us':>9} {'draw us':>8} {'contr us':>8} "
            f"{'JAX us':>9} {'JAX/ours':>9} {'max rel diff':>12} {'JAX+draw us':>11} "
            f"{'(JAX+draw)/ours':>15}")
    print(head)
    print("-" * len(head))
    for w in args.small_widths:
        empirical_ntk(arch, X, w, 0, draws=min(K, 64))  # warm-up
        t_ours, ours = best_of(lambda: empirical_ntk(arch, X, w, 0, draws=K), args.repeats)
        t_draw, t_con = ours_split(arch, X, w, 0, K, args.repeats)
        n_loop = min(K, 200)
        t_loop, _ = best_of(lambda: [empirical_ntk(arch, X, w, s) for s in range(n_loop)],
                            args.repeats)
        jtxt, rtxt, dtxt, etxt, ertxt = "not inst.", "-", "-", "not inst.", "-"
        if jax is not None:
            fn = jax_masked_ntk(jax, alphas, cs, [w] * arch.depth)
            nets = B.draw_networks(arch, d0, w, 0, K)  # the same K networks as ours
            chunks = []
            for s in range(0, K, args.jax_chunk):
                Ws = [jax.device_put(a[s:s + args.jax_chunk]) for a in nets.weights]
                Ms = [jax.device_put(m[s:s + args.jax_chunk]) for m in nets.masks]
                chunks.append((Ws, Ms))
            Xj = jax.device_put(X)
            for Ws, Ms in chunks:  # compile (every chunk shape) outside the timing
                fn(Ws, Ms, Xj).block_until_ready()

            def run_jax():
                return [fn(Ws, Ms, Xj).block_until_ready() for Ws, Ms in chunks]

            t_jax, res = best_of(run_jax, args.repeats)
            jres = np.concatenate([np.asarray(r) for r in res])
            dtxt = f"{rel_diff(jres, ours):.1e}"
            jtxt = f"{t_jax / K * 1e6:.1f}"
            rtxt = f"{t_jax / t_ours:.2f}"
            del nets, chunks, res, jres
            e2e = jax_end_to_end(jax, alphas, cs, [w] * arch.depth, (d0,) + (w,) * 3 + (1,),
                                 [float(arch.q_of(h)) for h in range(arch.n_matrices)])
            keys = jax.random.split(jax.random.PRNGKey(0), K)
            key_chunks = [keys[s:s + args.jax_chunk] for s in range(0, K, args.jax_chunk)]
            for kc in key_chunks:  # compile outside the timing
                e2e(kc, Xj).block_until_ready()
            t_e2e, _ = best_of(lambda: [e2e(kc, Xj).block_until_ready() for kc in key_chunks],
                               args.repeats)
            etxt = f"{t_e2e / K * 1e6:.1f}"
            ertxt = f"{t_e2e / t_ours:.2f}"
        print(f"{w:>6} {t_loop / n_loop * 1e6:>8.1f} {t_ours / K * 1e6:>9.1f} "
              f"{t_draw / K * 1e6:>8.1f} "
              f"{t_con / K * 1e6:>8.1f} {jtxt:>9} {rtxt:>9} {dtxt:>12} {etxt:>11} {ertxt:>15}")
    print("loop = the single-draw path empirical_ntk(arch, X, width, seed) in a Python loop "
          "(200 draws);\n"
          "ours = empirical_ntk(..., draws=K) end to end (drawing included); draw/contr: the "
          "same chunks timed apart;\nJAX = jit(vmap(NTK)) of OUR draws (drawing, transfer and "
          "compile excluded); JAX+draw = jit(vmap(jax.random draw + NTK)), compile excluded")


# ----------------------------------------------------------------------------- NT reference (b)
def nt_masked_ntk(jax, nt, arch, d0, widths, impl):
    """jitted ``(X, Ws, Ms) -> Θ`` of the masked stax network (module docstring)."""
    from neural_tangents import stax
    cs = float(arch.act.c_sigma(NUMPY))
    L = arch.depth
    layers = []
    for h in range(L):
        scale = np.sqrt(float(arch.alpha_of(h)) * (d0 if h == 0 else cs))
        layers += [stax.Dense(widths[h], W_std=scale, b_std=None, parameterization="ntk"),
                   stax.Relu()]
    layers.append(stax.Dense(1, W_std=np.sqrt(float(arch.alpha_of(L)) * cs), b_std=None,
                             parameterization="ntk"))
    _, apply_fn, _ = stax.serial(*layers)

    def params_of(Ws):  # [(W, b=None), (), (W, None), (), …]
        out = []
        for h, W in enumerate(Ws):
            out.append((W, None))
            if h < L:
                out.append(())
        return out

    @jax.jit
    def ntk(X, Ws, Ms):
        def f(Ws_, x):
            return apply_fn(params_of([M * W for M, W in zip(Ms, Ws_)]), x)
        fn = nt.empirical_ntk_fn(f, trace_axes=(), vmap_axes=0, implementation=impl)
        return fn(X, None, Ws)[:, :, 0, 0]

    return ntk


def part_b(args, jax, nt):
    arch = Architecture(depth=3, activation="relu", p=args.p, pruned="all")
    d0, n = 32, 8
    X = np.random.default_rng(2).standard_normal((n, d0))
    print(f"\n(b) depth 3, ReLU, n = {n} inputs of dim {d0}, p = {args.p}, one draw; wall "
          f"time, best of {args.repeats_large}")
    head = (f"{'width':>6} {'ours ms':>8} {'draw ms':>8} {'contr ms':>8} {'draw/contr':>10} "
            f"{'NT jac ms':>9} {'NT vp ms':>9} {'NT/ours':>8} {'max rel diff':>12} "
            f"{'JAX draw ms':>11}")
    print(head)
    print("-" * len(head))
    for w in args.large_widths:
        widths = (w,) * arch.depth
        empirical_ntk(arch, X, w, 0, draws=1)  # warm-up
        t_ours, ours = best_of(lambda: empirical_ntk(arch, X, w, 0, draws=1),
                               args.repeats_large)
        t_draw, t_con = ours_split(arch, X, w, 0, 1, args.repeats_large)
        cols, diffs = {}, []
        jd_txt = "not inst."
        if jax is not None:
            dims = (d0,) + widths + (1,)
            jd = jax.jit(jax_draw(jax, dims, [float(arch.q_of(h))
                                               for h in range(arch.n_matrices)]))
            key = jax.random.PRNGKey(0)
            jax.block_until_ready(jd(key))  # compile
            t_jd, _ = best_of(lambda: jax.block_until_ready(jd(key)), args.repeats_large)
            jd_txt = f"{t_jd * 1e3:.1f}"
            del jd
        if nt is not None:
            nets = B.draw_networks(arch, d0, w, 0, 1)
            Ws = [jax.device_put(np.ascontiguousarray(a[0].T)) for a in nets.weights]
            Ms = [jax.device_put(np.ascontiguousarray(m[0].T)) for m in nets.masks]
            del nets
            Xj = jax.device_put(X)
            n_params = sum(a.size for a in Ws)
            for key, impl in (("jac", nt.NtkImplementation.JACOBIAN_CONTRACTION),
                              ("vp", nt.NtkImplementation.NTK_VECTOR_PRODUCTS)):
                need_gb = (2 * n + 4) * n_params * 8 / 1e9 if key == "jac" else \
                    8 * n_params * 8 / 1e9
                if need_gb > args.nt_max_gb:
                    cols[key] = f"(>{args.nt_max_gb:g}GB)"
                    continue
                fn = nt_masked_ntk(jax, nt, arch, d0, widths, impl)
                res = fn(Xj, Ws, Ms).block_until_ready()  # compile
                t_nt, res = best_of(lambda: fn(Xj, Ws, Ms).block_until_ready(),
                                    args.repeats_large)
                cols[key] = t_nt
                diffs.append(rel_diff(res, ours[0]))
                del fn, res
            del Ws, Ms
        times = [v for v in cols.values() if isinstance(v, float)]
        fmt = {k: (f"{v * 1e3:.1f}" if isinstance(v, float) else v) for k, v in cols.items()}
        nt_txt = "not inst." if nt is None else "-"
        print(f"{w:>6} {t_ours * 1e3:>8.1f} {t_draw * 1e3:>8.1f} {t_con * 1e3:>8.1f} "
              f"{t_draw / t_con:>10.2f} {fmt.get('jac', nt_txt):>9} {fmt.get('vp', nt_txt):>9} "
              f"{(f'{min(times) / t_ours:.2f}' if times else '-'):>8} "
              f"{(f'{max(diffs):.1e}' if diffs else '-'):>12} {jd_txt:>11}")
    print("ours = empirical_ntk(..., draws=1) end to end (drawing included); NT: "
          "empirical_ntk_fn on our drawn masked weights (drawing, transfer, compile excluded); "
          "NT/ours uses the faster NT implementation;\nJAX draw = jit(jax.random "
          "bernoulli + normal) of the same shapes, for reference (not in NT's time)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--repeats-large", type=int, default=3)
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--p", type=float, default=0.3)
    ap.add_argument("--small-widths", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--large-widths", type=int, nargs="+", default=[2048, 4096])
    ap.add_argument("--jax-chunk", type=int, default=500)
    ap.add_argument("--nt-max-gb", type=float, default=4.0,
                    help="skip an NT implementation whose estimated memory exceeds this")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for OpenBLAS and XLA alike (default: their own defaults); "
                         "1 avoids the stalls of multi-threaded BLAS on a loaded machine")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    args = ap.parse_args(argv)
    if args.quick:
        args.draws, args.small_widths, args.large_widths = 200, [32], [256]
        args.repeats = args.repeats_large = 1

    load = os.getloadavg()
    ncpu = len(os.sched_getaffinity(0))
    print("load average at start (other processes share these CPUs): "
          + ", ".join(f"{x:.2f}" for x in load) + f"; CPUs available: {ncpu}")
    jax = import_jax()
    nt, nt_info = import_neural_tangents() if jax is not None else (None, "jax not installed")
    print("threads: " + (f"{args.threads} (OpenBLAS and XLA)" if args.threads else
                         "library defaults (OPENBLAS_NUM_THREADS="
                         f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})"))
    print(f"numpy {np.__version__}; jax {jax.__version__ if jax else 'not installed'}"
          + (f" ({jax.devices()[0].platform}, x64)" if jax else "")
          + f"; neural-tangents {nt_info}")
    rate = gemm_rate(repeats=args.repeats)
    print(f"float64 GEMM rate (numpy 4096x4096 @, best of {args.repeats}): "
          f"{rate / 1e9:.1f} GFLOP/s")
    part_a(args, jax)
    part_b(args, jax, nt)
    print("\ngoals: (a) JAX/ours >= 5; (b) NT/ours >= 3 and draw/contr <= 1")
    print("load average at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
