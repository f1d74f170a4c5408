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

Run: ``python benchmarks/bench_batched.py [--threads 1] [--clock wall|cpu] [--repeats 3]
[--min-time 0.2] [--draws 2000] [--quick]``

What is compared (all float64, ``jax_enable_x64``; every time is the best over
``--repeats`` *interleaved* rounds — ours and the baselines one after the other in each
round, so a change of the machine's load hits them alike — after a warm-up; in (a) each
round times a block of calls in a row lasting at least ``--min-time`` (0.2 s) for every
contender, since a lone call of a few ms right after the settle pause measured slower per
draw than calls in a row; JAX and NT
compile time is excluded by a first call per shape; ``--clock cpu`` measures the CPU time
of the whole process instead of wall time, which other jobs on a shared machine do not
inflate):

(a) depth 3, ReLU, n = 3 inputs of dimension 32, p = 0.3 on every matrix (hard masks, no
    rescaling), widths 32, 64, 128, ``--draws`` draws. *Ours*: ``empirical_ntk(arch, X,
    width, seed, draws=K)``, drawing included, also split into drawing and
    forward/backward + contraction (*contr*). Two JAX baselines, ``ntk`` = per-input
    ``jax.grad`` of the masked MLP in our convention w.r.t. every weight matrix (a pruned
    entry has gradient 0), contracted as ``Σ_h J_h J_hᵀ``, vmapped over chunks of
    ``--jax-chunk`` draws: *JAXown* = ``jax.jit(jax.vmap(keys -> jax.random draw -> ntk))``,
    what a JAX user would write, drawing its own networks (Bernoulli masks, N(0,1)
    weights); *JAXgiven* = ``jax.jit(jax.vmap(ntk))`` over OUR drawn networks, already on
    the device. Three readings of the goal: (i) JAXown / ours (both draw and contract);
    (ii) JAXgiven / contr (neither draws); (iii) JAXgiven / ours (JAX gets the draws for
    free, ours pays for them).
(b) depth 3, ReLU, n = 8 inputs of dimension 32, p = 0.3, widths 2048 and 4096, ONE draw.
    *Ours*: ``empirical_ntk(..., draws=1)``, drawing included (also split into drawing and
    forward/backward + contraction). *neural-tangents*: ``nt.empirical_ntk_fn`` on a
    ``stax.serial`` of bias-free ``Dense(parameterization="ntk")`` / ``Relu`` layers whose
    ``W_std`` reproduce our scalings, applied to ``M ⊙ W`` (our mask and weights, fixed),
    NTK taken w.r.t. ``W``: exactly our mask-model NTK (the gradient vanishes at pruned
    entries). NT is given the drawn weights for free (drawing and transfer excluded), jitted.
    The ratio uses the faster NT implementation that fits ``--nt-max-gb``.

Goals (issue 9): (a) ours ≥ 5x faster per draw (the script states under which reading);
(b) ≥ 3x faster than NT, and our drawing no slower than our contraction.
"""
from __future__ import annotations

import argparse
import math
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

from bench_empirical_ntk import gemm_rate  # noqa: E402
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
CLOCK = time.perf_counter  # --clock cpu: time.process_time (CPU time of the whole process)
SETTLE = 0.2
"""Seconds of quiet before every timed call: XLA's and OpenBLAS's worker threads spin for
a while after a call, and in interleaved rounds that spinning lands on whichever call
comes next (measured: our 2-thread draw at width 4096 took 150 ms right after
neural-tangents' call and 80 ms after a pause)."""


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        time.sleep(SETTLE)
        t0 = CLOCK()
        out = fn()
        best = min(best, CLOCK() - t0)
    return best, out


def rel_diff(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


SPLIT_BEST: dict = {}  # (width, draws) -> best (draw, contraction) seconds so far


def ours_split(arch, X, width, seed, draws, repeats):
    """Our batched path, timed as drawing vs forward/backward + contraction (same chunks
    as ``batched_kernels``); the best of each part is also kept in ``SPLIT_BEST``.

    Small networks (``B._chunk_plan``): the real path draws and contracts whole chunks
    on every thread at once; here each chunk is drawn and then contracted (compiled
    kernels) on the calling thread alone, so the two parts are one-thread costs.
    Larger networks: the chunk's segments drawn on the drawing threads, then the BLAS
    contraction, as in the real path."""
    n, d0 = X.shape
    widths = (width,) * arch.depth
    lay = B._layout(arch, d0, widths)
    whole, gpc = B._chunk_plan(lay, n, B.DEFAULT_MEMORY_BUDGET, B.draw_threads())
    n_groups = -(-draws // lay.group)
    # the kept buffers of batched_kernels (fresh pages here would time page faults that
    # the real path does not pay after its first call)
    bufs = B._buffers(lay, min(n_groups, gpc) * lay.group, masks=not whole)
    contract = B._CompiledContraction.of(arch, lay)
    scales, factors = B.matrix_scales(arch)
    cs = float(arch.act.c_sigma(NUMPY))
    ss = np.random.SeedSequence(seed)
    XT = np.ascontiguousarray(X.T)
    C = min(n_groups, gpc) * lay.group
    outs = (np.empty((C, n, n)), np.empty((C, n)), np.empty((C, arch.depth + 1, n, n)))
    best_draw = best_con = float("inf")
    for _ in range(repeats):
        t_draw = t_con = 0.0
        time.sleep(SETTLE)
        for g0 in range(0, n_groups, gpc):
            ng = min(gpc, n_groups - g0)
            t0 = CLOCK()
            W, M = B._draw_groups(ss, lay, g0, ng, bufs, threads=1 if whole else None,
                                  masks=not whole)
            t1 = CLOCK()
            if whole:
                c = W[0].shape[0]
                contract(W, X, True, *(o[:c] for o in outs))
            else:
                G, Bt, _ = B._batched_trace(W, scales, arch.act, cs, widths, XT, True)
                B._batched_contributions(W, M, factors, G, Bt, n, lay.group)
            t2 = CLOCK()
            t_draw += t1 - t0
            t_con += t2 - t1
        best_draw, best_con = min(best_draw, t_draw), min(best_con, t_con)
    old = SPLIT_BEST.get((width, draws), (float("inf"), float("inf")))
    SPLIT_BEST[(width, draws)] = (min(old[0], best_draw), min(old[1], best_con))
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


def autorange(fn, min_time: float) -> int:
    """Calls of ``fn`` per timed block so that a block lasts at least ``min_time`` seconds
    (from one timed call, which also warms up)."""
    t0 = CLOCK()
    fn()
    return max(1, math.ceil(min_time / max(CLOCK() - t0, 1e-9)))


def interleaved_best(fns: dict, rounds: int, reps: dict | None = None) -> dict:
    """Best wall time of each ``fns[name]()`` over ``rounds`` rounds, the functions run
    one after the other within a round (so a change of the machine's load affects all of
    them alike); a block of ``reps[name]`` consecutive calls (default 1) is timed and
    divided by it; returns ``{name: (seconds per call, last result)}``."""
    best = {k: (float("inf"), None) for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            r = (reps or {}).get(k, 1)
            time.sleep(SETTLE)
            t0 = CLOCK()
            for _ in range(r):
                out = fn()
            dt = (CLOCK() - t0) / r
            best[k] = (min(best[k][0], dt), out)
    return best


def part_a(args, jax):
    arch = Architecture(depth=3, activation="relu", p=args.p, pruned="all")
    d0, n, K = 32, 3, args.draws
    X = np.random.default_rng(1).standard_normal((n, d0))
    cs = float(arch.act.c_sigma(NUMPY))
    alphas = [float(arch.alpha_of(h)) for h in range(arch.n_matrices)]
    print(f"\n(a) depth 3, ReLU, n = {n} inputs of dim {d0}, p = {args.p} (all matrices, hard "
          f"masks), {K} draws; per-draw {args.clock} time, best of {args.repeats} interleaved "
          f"rounds, each timing calls in a row for >= {args.min_time:g} s")
    head = (f"{'width':>6} {'loop us':>8} {'ours us':>8} {'draw us':>8} {'contr us':>8} "
            f"{'JAXown us':>9} {'JAXgiven us':>11} {'(i)':>6} {'(ii)':>6} {'(iii)':>6} "
            f"{'max rel diff':>12}")
    print(head)
    print("-" * len(head))
    rows = []
    for w in args.small_widths:
        empirical_ntk(arch, X, w, 0, draws=min(K, 64))  # warm-up (and numba's cache load)
        n_loop = min(K, 200)
        fns = {"ours": lambda: empirical_ntk(arch, X, w, 0, draws=K),
               "split": lambda: ours_split(arch, X, w, 0, K, 1),
               "loop": lambda: [empirical_ntk(arch, X, w, s) for s in range(n_loop)]}
        if jax is not None:
            fn = jax_masked_ntk(jax, alphas, cs, [w] * arch.depth)
            nets = B.draw_networks(arch, d0, w, 0, K)  # the same K networks as ours
            chunks = []
            for s in range(0, K, args.jax_chunk):
                Ws = [jax.device_put(a[s:s + args.jax_chunk]) for a in nets.weights]
                Ms = [jax.device_put(m[s:s + args.jax_chunk]) for m in nets.masks]
                chunks.append((Ws, Ms))
            del nets
            Xj = jax.device_put(X)
            for Ws, Ms in chunks:  # compile (every chunk shape) outside the timing
                fn(Ws, Ms, Xj).block_until_ready()
            e2e = jax_end_to_end(jax, alphas, cs, [w] * arch.depth, (d0,) + (w,) * 3 + (1,),
                                 [float(arch.q_of(h)) for h in range(arch.n_matrices)])
            keys = jax.random.split(jax.random.PRNGKey(0), K)
            key_chunks = [keys[s:s + args.jax_chunk] for s in range(0, K, args.jax_chunk)]
            for kc in key_chunks:  # compile outside the timing
                e2e(kc, Xj).block_until_ready()
            fns["jax_given"] = lambda: [fn(Ws, Ms, Xj).block_until_ready() for Ws, Ms in chunks]
            fns["jax_own"] = lambda: [e2e(kc, Xj).block_until_ready() for kc in key_chunks]
        # a timed block lasts >= --min-time for every contender: a single 30 ms call
        # right after the 0.2 s settle pause ran up to 1.5x slower per draw than calls
        # in a row (measured at width 32), which penalised the shortest calls, ours
        reps = {k: autorange(fn, args.min_time) for k, fn in fns.items() if k != "split"}
        res = interleaved_best(fns, args.repeats, reps)
        t_ours, ours = res["ours"]
        # the split's draw and contraction parts: best of each over the rounds
        t_draw, t_con = SPLIT_BEST.pop((w, K))
        t_loop = res["loop"][0]
        cols = {"jo": "not inst.", "jg": "not inst.", "i": "-", "ii": "-", "iii": "-", "d": "-"}
        if jax is not None:
            t_jg, jres = res["jax_given"]
            t_jo = res["jax_own"][0]
            jres = np.concatenate([np.asarray(r) for r in jres])
            cols = {"jo": f"{t_jo / K * 1e6:.1f}", "jg": f"{t_jg / K * 1e6:.1f}",
                    "i": f"{t_jo / t_ours:.1f}", "ii": f"{t_jg / t_con:.1f}",
                    "iii": f"{t_jg / t_ours:.1f}", "d": f"{rel_diff(jres, ours):.1e}"}
            rows.append((w, t_jo / t_ours, t_jg / t_con, t_jg / t_ours))
            del chunks, jres, res
        print(f"{w:>6} {t_loop / n_loop * 1e6:>8.1f} {t_ours / K * 1e6:>8.1f} "
              f"{t_draw / K * 1e6:>8.1f} {t_con / K * 1e6:>8.1f} {cols['jo']:>9} "
              f"{cols['jg']:>11} {cols['i']:>6} {cols['ii']:>6} {cols['iii']:>6} "
              f"{cols['d']:>12}")
    print("loop = the single-draw path empirical_ntk(arch, X, width, seed) in a Python loop "
          "(200 draws);\n"
          "ours = empirical_ntk(..., draws=K) end to end (drawing included, whole chunks drawn "
          "and contracted on every thread at once); draw/contr: the same chunks timed apart "
          "on ONE thread (contr = compiled forward/backward + contraction);\n"
          "JAXown = jit(vmap(jax.random draw + NTK)) over K keys; JAXgiven = jit(vmap(NTK)) of "
          "OUR K drawn networks, already on the device (compile excluded for both);\n"
          "(i) = JAXown/ours (both draw and contract); (ii) = JAXgiven/contr (neither draws); "
          "(iii) = JAXgiven/ours (JAX given the draws for free, ours pays for drawing)")
    return rows


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
    print(f"\n(b) depth 3, ReLU, n = {n} inputs of dim {d0}, p = {args.p}, one draw; {args.clock} "
          f"time, best of {args.repeats_large} interleaved rounds")
    head = (f"{'width':>6} {'ours ms':>8} {'draw ms':>8} {'contr ms':>8} {'draw/contr':>10} "
            f"{'NT jac ms':>9} {'NT vp ms':>9} {'NT/ours':>8} {'max rel diff':>12} "
            f"{'JAX draw ms':>11}")
    print(head)
    print("-" * len(head))
    rows = []
    for w in args.large_widths:
        widths = (w,) * arch.depth
        empirical_ntk(arch, X, w, 0, draws=1)  # warm-up
        fns = {"ours": lambda: empirical_ntk(arch, X, w, 0, draws=1),
               "split": lambda: ours_split(arch, X, w, 0, 1, 1)}
        cols, nt_fns = {}, {}
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
                fn(Xj, Ws, Ms).block_until_ready()  # compile
                nt_fns[key] = (lambda f=fn: f(Xj, Ws, Ms).block_until_ready())
        res = interleaved_best({**fns, **nt_fns}, args.repeats_large)
        t_ours, ours = res["ours"]
        t_draw, t_con = SPLIT_BEST.pop((w, 1))
        diffs = []
        for key in nt_fns:
            cols[key] = res[key][0]
            diffs.append(rel_diff(res[key][1], ours[0]))
        del nt_fns, res
        times = [v for v in cols.values() if isinstance(v, float)]
        fmt = {k: (f"{v * 1e3:.1f}" if isinstance(v, float) else v) for k, v in cols.items()}
        nt_txt = "not inst." if nt is None else "-"
        rows.append((w, t_draw / t_con, min(times) / t_ours if times else None))
        print(f"{w:>6} {t_ours * 1e3:>8.1f} {t_draw * 1e3:>8.1f} {t_con * 1e3:>8.1f} "
              f"{t_draw / t_con:>10.2f} {fmt.get('jac', nt_txt):>9} {fmt.get('vp', nt_txt):>9} "
              f"{(f'{min(times) / t_ours:.2f}' if times else '-'):>8} "
              f"{(f'{max(diffs):.1e}' if diffs else '-'):>12} {jd_txt:>11}")
    print("ours = empirical_ntk(..., draws=1) end to end (drawing included); draw/contr: the "
          "same draw timed apart (contr = forward/backward + contraction); NT: "
          "empirical_ntk_fn on our drawn masked weights (drawing, transfer, compile excluded); "
          "NT/ours uses the faster NT implementation;\nJAX draw = jit(jax.random "
          "bernoulli + normal) of the same shapes, for reference (not in NT's time)")
    if args.pairs:
        # the best-of-rounds columns above pair the best draw with the best contraction;
        # paired rounds show how the ratio itself varies on a machine shared with others
        print(f"\ndraw/contr in {args.pairs} paired rounds (one draw, then its contraction; "
              f"{SETTLE} s pause before each): median [quartiles]")
        for i, w in enumerate(args.large_widths):
            ratios = [np.divide(*ours_split(arch, X, w, 0, 1, 1)) for _ in range(args.pairs)]
            q = np.percentile(ratios, [25, 50, 75])
            print(f"{w:>6} {q[1]:.2f} [{q[0]:.2f}, {q[2]:.2f}]")
            rows[i] = rows[i] + (float(q[1]),)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--repeats-large", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.2,
                    help="(a): each timed block repeats a call until it lasts this long (s)")
    ap.add_argument("--pairs", type=int, default=15,
                    help="paired draw/contraction rounds per large width (0: skip)")
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
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: time.perf_counter; cpu: time.process_time, the CPU time of "
                         "the whole process (all its threads), which a shared machine's "
                         "other jobs do not inflate; with --threads 1 the two agree on an "
                         "idle machine")
    ap.add_argument("--only", choices=("a", "b"), default=None,
                    help="run only part (a) or only part (b)")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    args = ap.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.quick:
        args.draws, args.small_widths, args.large_widths = 200, [32], [256]
        args.repeats = args.repeats_large = 1

    load = os.getloadavg()
    ncpu = len(os.sched_getaffinity(0))
    print("load average at start (other processes share these CPUs): "
          + ", ".join(f"{x:.2f}" for x in load) + f"; CPUs available: {ncpu}")
    jax = import_jax()
    nt, nt_info = import_neural_tangents() if jax is not None else (None, "jax not installed")
    print(f"clock: {args.clock} ({CLOCK.__name__})")
    print("threads: " + (f"{args.threads} (OpenBLAS and XLA)" if args.threads else
                         "library defaults (OPENBLAS_NUM_THREADS="
                         f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})"))
    print(f"numpy {np.__version__}; jax {jax.__version__ if jax else 'not installed'}"
          + (f" ({jax.devices()[0].platform}, x64)" if jax else "")
          + f"; neural-tangents {nt_info}")
    rate = gemm_rate(repeats=args.repeats)
    print(f"float64 GEMM rate (numpy 4096x4096 @, best of {args.repeats}): "
          f"{rate / 1e9:.1f} GFLOP/s")
    rows_a = part_a(args, jax) if args.only != "b" else []
    rows_b = part_b(args, jax, nt) if args.only != "a" else []
    print("\ngoals (issue 9): (a) per draw >= 5x faster than jit(vmap) JAX; "
          "(b) NT/ours >= 3 and draw/contr <= 1")
    for name, i in (("(i) JAX draws its own networks, vs our draw+contraction", 1),
                    ("(ii) JAX given our networks, vs our contraction only", 2),
                    ("(iii) JAX given our networks, vs our draw+contraction", 3)):
        if rows_a:
            r = [row[i] for row in rows_a]
            print(f"  (a) {name}: {min(r):.1f}x to {max(r):.1f}x -> "
                  f"{'met' if min(r) >= 5 else 'NOT met'}")
    if rows_b:
        dc = [r[1] for r in rows_b]
        print(f"  (b) draw/contr {min(dc):.2f} to {max(dc):.2f} (best of rounds) -> "
              f"{'met' if max(dc) <= 1 else 'NOT met'}")
        if all(len(r) > 3 for r in rows_b):
            med = [r[3] for r in rows_b]
            print(f"  (b) draw/contr {min(med):.2f} to {max(med):.2f} (median of paired "
                  f"rounds) -> {'met' if max(med) <= 1 else 'NOT met'}")
        nt_r = [r[2] for r in rows_b if r[2] is not None]
        if nt_r:
            print(f"  (b) NT/ours {min(nt_r):.2f} to {max(nt_r):.2f} -> "
                  f"{'met' if min(nt_r) >= 3 else 'NOT met'}")
    print("load average at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
