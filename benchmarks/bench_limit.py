"""Limit kernels at data-set scale: dense float64 Gram matrices against neural-tangents'
jitted ``kernel_fn`` measured in the same run, the n = 20 000 run with its memory, and the
input-layer mixture at d0 = 784.

    python benchmarks/bench_limit.py --nt-python /work/venv-nt/bin/python   # full
    python benchmarks/bench_limit.py --quick                                # smoke run
    python benchmarks/bench_limit.py --only dense --sizes 1024 4096 --repeat 7

Baseline: neural-tangents (Novak et al., "Neural Tangents: Fast and Easy Infinite Neural
Networks in Python", ICLR 2020, arXiv 1912.02803). Its 0.6.5 release cannot be imported
with the jax this project uses (it needs ``jax.core`` names that jax removed), so it runs
in a subprocess of a separate virtualenv — an optional extra of this benchmark, not of the
package. Recipe (Python 3.11, CPU only; pulls TensorFlow through ``tf2jax``, ~1.5 GB)::

    python -m venv /work/venv-nt
    /work/venv-nt/bin/pip install "jax[cpu]==0.4.30" neural-tangents==0.6.5 "numpy<2" scipy

then pass ``--nt-python /work/venv-nt/bin/python`` (or set ``NT_PYTHON``). Without it the
table says that the neural-tangents column is unavailable and why.

What is timed. Ours: ``theory.limit_ntk(arch, X, "wide")`` (the tiled float64 driver of
``theory.limits``, threads over tiles). neural-tangents: ``jax.jit(kernel_fn)(X, None,
"ntk")`` with float64 (``jax_enable_x64``), warm (compiled on a first call), output left
on the device (``block_until_ready``), inside its subprocess
(``benchmarks/_nt_worker.py``). A third column is a jitted JAX closed form of the ReLU
recursion in this process (the stand-in of the previous session). Calls are interleaved
round by round (ours, NT, stand-in, ours, …) and the best of ``--repeat`` is kept, so load
from other processes hits all columns alike; each call's CPU time / wall time is printed
(``thr``: how many cores it kept busy; XLA uses its own intra-op thread pool, one thread
per core by default).

Parametrisation: neural-tangents' ``Dense`` maps the input Gram ``XXᵀ`` to ``W_std² XXᵀ /
d0`` and hidden kernels ``K`` to ``W_std² K``. On inputs ``sqrt(d0)·X`` with ``W_std = 1``
at the first layer this is our ``Σ^(0) = xᵀx'``, and ``W_std² = c_σ`` afterwards (2 for
ReLU, ``π / (2 asin(2/3))`` for erf) is the ``c_σ``-normalised recursion of
docs/math.md#limit; ``b_std=None`` (no bias). The printed deviations are entry-wise,
relative to ``sqrt(K(x,x) K(x',x'))``, on pairs with ``|ρ| <= 0.9`` (where neural-tangents'
plain ``arccos`` of the correlation is accurate) and on all pairs (near ``ρ = ±1`` theirs
loses digits; ours matches mpmath to 1e-13 there, tests/test_dense_gram.py).
"""
from __future__ import annotations

import argparse
import os
import json
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import theory  # noqa: E402
from theory.limits import stream_gram  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class NTWorker:
    """neural-tangents' jitted ``kernel_fn`` in a subprocess run by ``python`` (the
    interpreter of the separate venv), speaking the line protocol of
    ``benchmarks/_nt_worker.py``. ``reason`` says why it is unavailable, if it is."""

    def __init__(self, python: str | None):
        self.proc, self.reason, self.info = None, None, {}
        if not python:
            self.reason = ("no --nt-python / NT_PYTHON given (see the recipe at the top of "
                           "this file)")
            return
        if not os.path.exists(python):
            self.reason = f"--nt-python {python!r} does not exist"
            return
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="")
        self.proc = subprocess.Popen([python, os.path.join(HERE, "_nt_worker.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            self.info = self.ask({"cmd": "info"})
        except RuntimeError as e:
            self.reason, self.proc = str(e), None

    def ask(self, msg: dict) -> dict:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the neural-tangents worker exited (code {self.proc.wait()})")
        out = json.loads(line)
        if "error" in out:
            raise RuntimeError(out["error"])
        return out

    def load(self, X: np.ndarray, act: str, depth: int) -> np.ndarray:
        with tempfile.TemporaryDirectory() as d:
            np.save(os.path.join(d, "X.npy"), X)
            self.ask({"cmd": "load", "x": os.path.join(d, "X.npy"),
                      "out": os.path.join(d, "K.npy"), "act": act, "depth": depth})
            return np.load(os.path.join(d, "K.npy"))

    def time(self) -> tuple[float, float]:
        time.sleep(SETTLE)
        r = self.ask({"cmd": "time"})
        return r["wall"], r["cpu"]

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.ask({"cmd": "quit"})
            except (RuntimeError, OSError, ValueError):
                pass
            self.proc.wait(timeout=30)
            self.proc = None


def make_jax_closed_form(depth: int):
    """The jitted-JAX stand-in (ReLU only): (label, f(X) -> NTK) or (reason, None)."""
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except Exception as e:  # noqa: BLE001 - report any import failure
        return f"jax unavailable ({type(e).__name__}: {e})", None

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
    return f"jax {jax.__version__} closed form (jit, in this process)", \
        lambda X: kfn(X).block_until_ready()


SETTLE = 0.2
"""Seconds of quiet before every timed call (ours, neural-tangents', the stand-in): XLA's
and OpenBLAS's worker threads spin for a while after a call, and in interleaved rounds
that spinning would land on whichever call comes next."""


def timed(f) -> tuple[float, float]:
    time.sleep(SETTLE)
    c, t = time.process_time(), time.perf_counter()
    f()
    return time.perf_counter() - t, time.process_time() - c


def agreement(K, Ka, X):
    """Largest ``|K − Ka| / sqrt(K(x,x) K(x',x'))`` on pairs with ``|ρ| <= 0.9`` and
    overall (``ρ`` the input correlation)."""
    s = np.sqrt(np.outer(np.diag(K), np.diag(K)))
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    rho = U @ U.T
    d = np.abs(K - Ka) / s
    return float(d[np.abs(rho) <= 0.9].max()), float(d.max())


def dense(ns) -> None:
    depth, d0 = 3, 16
    nt = NTWorker(ns.nt_python)
    jname, jax_cf = make_jax_closed_form(depth)
    jax_cf = (jname, jax_cf)
    print(f"== dense limit NTK, L = {depth}, d0 = {d0}; warm calls, best of {ns.repeat}, "
          f"ours / neural-tangents / JAX stand-in interleaved round by round")
    print(f"ours: theory.limit_ntk(arch, X, 'wide'), workers = {ns.workers or 'default'} "
          f"(threads over tiles), numpy {np.__version__}")
    if nt.proc is None:
        print(f"neural-tangents: UNAVAILABLE — {nt.reason}")
    else:
        i = nt.info
        print(f"neural-tangents {i['neural_tangents']} (jax {i['jax']}, numpy {i['numpy']}, "
              f"{', '.join(i['devices'])}, {i['cpus']} cpus, XLA_FLAGS={i['xla_flags']!r}) "
              f"in a subprocess of {ns.nt_python}")
    print(f"JAX stand-in (ReLU only): {jname}")
    print("wall = best wall-clock time [s]; thr = CPU time / wall time of that call (cores "
          "kept busy); NT/ours = their wall / our wall (> 1: we are faster); cpu NT/o = their "
          "CPU time / ours (same calls); dev = largest "
          "|K_ours − K_theirs| / sqrt(K(x,x) K(x',x')) on pairs with |rho| <= 0.9 and on all")
    print(f"{'act':>4} {'n':>6} {'ours':>7} {'thr':>4} {'NT':>7} {'thr':>4} {'NT/ours':>8} "
          f"{'cpu NT/o':>8} {'dev NT':>16} {'jaxcf':>7} {'thr':>4} {'cf/ours':>8} "
          f"{'dev cf':>16}")
    try:
        for act in ns.acts:
            arch = theory.Architecture(depth=depth, activation=act)
            for n in ns.sizes:
                X = np.random.default_rng(n).standard_normal((n, d0))
                kw = {} if ns.workers is None else {"workers": ns.workers}
                ours = lambda: theory.limit_ntk(arch, X, "wide", **kw)  # noqa: E731
                K = ours()
                t_o = []
                t_nt, dev_nt = [], "—"
                if nt.proc is not None:
                    try:
                        Kn = nt.load(X, act, depth)
                        dev_nt = "%.0e / %.0e" % agreement(K, Kn, X)
                        del Kn
                    except RuntimeError as e:
                        print(f"  neural-tangents failed at n = {n}: {e}")
                        t_nt = None
                else:
                    t_nt = None
                t_cf, dev_cf = None, "—"
                if jax_cf[1] is not None and act == "relu" and n <= ns.cf_max:
                    dev_cf = "%.0e / %.0e" % agreement(K, np.asarray(jax_cf[1](X)), X)
                    t_cf = []
                for _ in range(ns.repeat):   # interleaved: the load others put on the
                    t_o.append(timed(ours))  # machine hits all columns alike
                    if t_nt is not None:
                        t_nt.append(nt.time())
                    if t_cf is not None:
                        t_cf.append(timed(lambda: jax_cf[1](X)))

                def col(ts):
                    if not ts:
                        return None, f"{'—':>7} {'':>4}"
                    w, c = min(ts)
                    return w, f"{w:>7.3f} {c / w:>4.1f}"
                wo, so = col(t_o)
                wn, sn = col(t_nt)
                wc, sc = col(t_cf)
                rn = f"{wn / wo:>8.2f}" if wn else f"{'—':>8}"
                rcpu = f"{min(t_nt)[1] / min(t_o)[1]:>8.2f}" if wn else f"{'—':>8}"
                rc = f"{wc / wo:>8.2f}" if wc else f"{'—':>8}"
                print(f"{act:>4} {n:>6} {so} {sn} {rn} {rcpu} {dev_nt:>16} {sc} {rc} {dev_cf:>16}",
                      flush=True)
    finally:
        nt.close()


def big(ns) -> None:
    n = ns.big
    print(f"== n = {n}: dense ReLU limit NTK, L = 3, d0 = 16, in memory and streamed to a .npy "
          f"file (each in its own subprocess: own peak RSS; 2 threads over 256-tiles)")
    root = os.path.dirname(HERE)
    for mode in ("memory", "stream"):
        code = textwrap.dedent(f"""
            import os, resource, sys, time, numpy as np
            sys.path.insert(0, {root!r})
            import theory
            from theory.limits import stream_gram
            arch = theory.Architecture(depth=3)
            X = np.random.default_rng(0).standard_normal(({n}, 16))
            theory.limit_ntk(arch, X[:300], "wide")      # imports, first-call setup
            r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            c, t = time.process_time(), time.perf_counter()
            if {mode!r} == "memory":
                K = theory.limit_ntk(arch, X, "wide")
            else:
                stream_gram(arch, X, {ns.tmp!r}, input_layer="wide", progress=False)
            dt, dc = time.perf_counter() - t, time.process_time() - c
            r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if {mode!r} == "stream":
                K = np.load({ns.tmp!r}, mmap_mode="r")
            i = np.random.default_rng(1).integers(0, {n}, 50)
            ref = theory.limit_ntk(arch, X[i], "wide", X2=X)
            print(f"{mode!s:>6}: {{dt:5.1f}} s wall, {{dc:5.1f}} s CPU (load "
                  f"{{os.getloadavg()[0]:.1f}}); peak RSS {{r1 / 2**20:.2f}} GiB "
                  f"(before {{r0 / 2**20:.2f}} GiB; the matrix is {{8 * {n}**2 / 2**30:.2f}} GiB"
                  f"{{' on disk, its page cache counts in RSS' if {mode!r} == 'stream' else ''}}); "
                  f"50 rows vs the cross kernel K(X[i], X): max rel diff "
                  f"{{np.max(np.abs(K[i] - ref) / np.abs(ref)):.1e}}")
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        print(out.stdout.strip() or out.stderr.strip()[-2000:], flush=True)
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
    ap.add_argument("--repeat", type=int, default=5, help="best of this many warm calls")
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="n of the dense table (default 256 1024 4096)")
    ap.add_argument("--acts", nargs="+", default=["relu", "erf"], choices=["relu", "erf"])
    ap.add_argument("--workers", type=int, default=None,
                    help="our tile threads (default: theory's default)")
    ap.add_argument("--nt-python", default=os.environ.get("NT_PYTHON"),
                    help="python of a venv with neural-tangents (default: $NT_PYTHON)")
    ap.add_argument("--cf-max", type=int, default=4096,
                    help="largest n for the in-process JAX stand-in column")
    ap.add_argument("--big", type=int, default=None, help="n of the streamed run (20000)")
    ap.add_argument("--tol", type=float, default=1e-8, help="mixture tolerance (relative)")
    ap.add_argument("--only", choices=["dense", "big", "mixture"], default=None)
    ns = ap.parse_args()
    ns.sizes = ns.sizes or ([256, 1024] if ns.quick else [256, 1024, 4096])
    ns.big = ns.big or (4000 if ns.quick else 20000)
    ns.mix_n = 128 if ns.quick else 1024
    ns.mix_masks = 256
    ns.tmp = os.path.join(tempfile.gettempdir(), f"bench_limit_{os.getpid()}.npy")
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    for name, f in (("dense", dense), ("big", big), ("mixture", mixture)):
        if ns.only in (None, name):
            f(ns)


if __name__ == "__main__":
    main()
