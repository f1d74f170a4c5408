"""neural-tangents side of ``benchmarks/bench_limit.py``, run by the interpreter of a
separate virtualenv (``--nt-python``; recipe in the benchmark's docstring).

It never imports ``theory``. Protocol: one JSON object per line on stdin, one JSON reply per
line on stdout (everything else neural-tangents/TensorFlow prints goes to stderr):

* ``{"cmd": "load", "x": "X.npy", "out": "K.npy", "act": "relu"|"erf", "depth": 3}`` —
  build ``stax.serial`` (parametrisation below), ``jax.jit`` its ``kernel_fn(·, None,
  "ntk")``, run it once (compilation) and save the NTK to ``out``;
* ``{"cmd": "time"}`` — one warm call on the loaded inputs: ``{"wall": s, "cpu": s}``
  (``cpu`` = process CPU time of all threads, so ``cpu / wall`` is the number of cores
  XLA kept busy);
* ``{"cmd": "info"}`` — versions and devices; ``{"cmd": "quit"}``.

Parametrisation (neural-tangents' default NTK parametrisation, Novak et al. 2020,
"Neural Tangents: Fast and Easy Infinite Neural Networks in Python", ICLR, arXiv
1912.02803): ``Dense`` maps the input Gram ``XXᵀ`` to ``W_std² XXᵀ / d0`` and a hidden
NNGP ``K`` to ``W_std² K``; the NTK gains the same factor. On inputs ``sqrt(d0)·X`` with
``W_std = 1`` at the first layer this is our ``Σ^(0) = xᵀx'``; ``W_std² = c_σ`` at every
later layer (``c_σ = 2`` for ReLU, ``π / (2 asin(2/3))`` for erf) is the
``c_σ``-normalised recursion of docs/math.md#limit; ``b_std=None`` (no bias).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time


def build(act: str, depth: int):
    import jax
    import numpy as np
    from neural_tangents import stax
    if act == "relu":
        layer, c_sigma = stax.Relu(), 2.0
    elif act == "erf":
        layer, c_sigma = stax.Erf(), math.pi / (2 * math.asin(2 / 3))
    else:
        raise ValueError(f"act must be 'relu' or 'erf', got {act!r}")
    w = math.sqrt(c_sigma)
    layers = [stax.Dense(512, W_std=1.0, b_std=None), layer]
    for _ in range(depth - 1):
        layers += [stax.Dense(512, W_std=w, b_std=None), layer]
    layers += [stax.Dense(1, W_std=w, b_std=None)]
    _, _, kernel_fn = stax.serial(*layers)
    kj = jax.jit(lambda x: kernel_fn(x, None, "ntk"))
    return lambda X: kj(X).block_until_ready(), np


def main() -> None:
    real_stdout = sys.stdout
    sys.stdout = sys.stderr          # keep library chatter off the protocol channel
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    state: dict = {}

    def reply(obj: dict) -> None:
        real_stdout.write(json.dumps(obj) + "\n")
        real_stdout.flush()

    for line in sys.stdin:
        msg = json.loads(line)
        try:
            if msg["cmd"] == "info":
                import neural_tangents
                reply({"jax": jax.__version__, "neural_tangents": getattr(
                    neural_tangents, "__version__", "?"), "numpy": np.__version__,
                    "devices": [str(d) for d in jax.devices()], "cpus": os.cpu_count(),
                    "xla_flags": os.environ.get("XLA_FLAGS", "")})
            elif msg["cmd"] == "load":
                f, _ = build(msg["act"], int(msg["depth"]))
                X = np.load(msg["x"])
                Xs = jax.device_put(np.sqrt(X.shape[1]) * X)
                t = time.perf_counter()
                K = np.asarray(f(Xs))
                state.update(f=f, X=Xs)
                np.save(msg["out"], K)
                reply({"ok": True, "first_call": time.perf_counter() - t, "dtype": str(K.dtype)})
            elif msg["cmd"] == "time":
                c, t = time.process_time(), time.perf_counter()
                state["f"](state["X"])
                reply({"wall": time.perf_counter() - t, "cpu": time.process_time() - c})
            elif msg["cmd"] == "quit":
                reply({"ok": True})
                return
            else:
                reply({"error": f"unknown command {msg['cmd']!r}"})
        except Exception as e:  # noqa: BLE001 - reported to the parent, which prints it
            reply({"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
