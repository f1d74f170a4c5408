"""Command line: ``theory limit | sample | factor | sweep | plot | experiment | latex |
check | verify`` (JSON on stdout; ``check`` and ``verify`` print a verdict table).

Inputs come from ``--inputs FILE`` (``.npy``, or JSON: a list of rows or ``{"X": rows}``);
without it a demo pair of unit vectors at 60 degrees is used.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

import numpy as np
import sympy

from .architecture import Architecture
from .limits import limit_kernels


def _load_inputs(path: str | None) -> np.ndarray:
    if path is None:
        return np.array([[1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    if path.endswith(".npy"):
        return np.load(path, allow_pickle=False)
    with open(path) as fh:
        data = json.load(fh)
    if isinstance(data, dict):
        if "X" not in data:
            raise ValueError(f"--inputs JSON object must have a key 'X', got keys {sorted(data)}")
        data = data["X"]
    return np.asarray(data, dtype=np.float64)


def _parse_p(text: str) -> Any:
    """``0.5``, ``0.1,0.2,0.3`` (per matrix), or a symbol name such as ``p``."""
    parts = [t.strip() for t in text.split(",")]
    vals: list[Any] = []
    for t in parts:
        try:
            vals.append(float(t))
        except ValueError:
            vals.append(sympy.Symbol(t))
    return vals[0] if len(vals) == 1 else vals


def _parse_pruned(text: str) -> Any:
    if all(c.isdigit() or c == "," for c in text) and text:
        return [int(t) for t in text.split(",")]
    return text


def _arch_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--depth", type=int, default=3, help="hidden layers L (L+1 matrices)")
    ap.add_argument("--activation", default="relu", help="relu | erf | relu2 | tanh")
    ap.add_argument("--p", default="0.5", help="pruning probability: 0.5, or per matrix 0.1,0.2,..")
    ap.add_argument("--pruned", default="all",
                    help="all | hidden | all_but_input | all_but_output | none | 0,2,..")
    ap.add_argument("--rescale", action="store_true", help="multiply kept weights by 1/sqrt(1-p)")
    ap.add_argument("--model", default="mask", choices=["mask", "variance"])


def _arch(ns: argparse.Namespace) -> Architecture:
    return Architecture(depth=ns.depth, activation=ns.activation, p=_parse_p(ns.p),
                        pruned=_parse_pruned(ns.pruned), rescale=ns.rescale, model=ns.model)


def _factor(arch: Architecture) -> dict:
    from .scaling import derive_scaling_factor
    d = derive_scaling_factor(arch)
    return {"scaling_factor": None if d.factor is None else str(d.factor),
            "scaling_factor_latex": None if d.factor is None else sympy.latex(d.factor),
            "reason": d.reason}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["latex"]:
        from .latex import cli_main
        return cli_main(argv[1:])
    ap = argparse.ArgumentParser(prog="theory", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p_lim = sub.add_parser("limit", help="infinite-width NTK and NNGP (JSON)")
    _arch_args(p_lim)
    p_lim.add_argument("--inputs", help=".npy or .json (n, d0) inputs")
    p_lim.add_argument("--input-layer", default="exact", choices=["exact", "wide"])
    p_lim.add_argument("--backend", default="numpy", choices=["numpy", "mpmath"])
    p_lim.add_argument("--dps", type=int, default=50)

    p_s = sub.add_parser("sample", help="empirical NTK of finite masked networks (JSON)")
    _arch_args(p_s)
    p_s.add_argument("--inputs")
    p_s.add_argument("--width", type=int, default=1024)
    p_s.add_argument("--seed", type=int, default=0)
    p_s.add_argument("--draws", type=int, default=1, help="independent draws (mean and stderr)")

    p_f = sub.add_parser("factor", help="derived scaling factor (symbolic p allowed: --p p)")
    _arch_args(p_f)

    # sweep / plot / experiment / verify live in their own modules (issue 9)
    from . import plots, sweep_cli, verify
    sweep_cli.add_parser(sub)
    plots.add_parser(sub)
    sweep_cli.add_experiment_parser(sub)

    sub.add_parser("latex", help="LaTeX export (see theory latex --help)")
    from .claims import cli as claims_cli  # theory check FILE.toml
    claims_cli.add_parser(sub)
    verify.add_parser(sub)
    ns = ap.parse_args(argv)
    if ns.cmd == "check":
        return claims_cli.run(ns)
    if getattr(ns, "run", None) is not None:  # sweep, plot, experiment, verify
        return ns.run(ns)
    try:
        out = _run(ns)
    except (ValueError, TypeError, FloatingPointError) as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), file=sys.stderr)
        return 2
    # one top-level key per line: readable, and still plain JSON for scripts
    sys.stdout.write("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in out.items())
                     + "\n}\n")
    return 0


def _run(ns: argparse.Namespace) -> dict:
    arch = _arch(ns)
    if ns.cmd == "factor":
        return {"arch": arch.describe(), **_factor(arch)}
    X = _load_inputs(ns.inputs)
    if ns.cmd == "limit":
        r = limit_kernels(arch, X, input_layer=ns.input_layer, backend=ns.backend, dps=ns.dps)
        tolist = (lambda a: np.asarray(a, dtype=float).tolist()) if ns.backend == "numpy" else \
            (lambda a: [[str(v) for v in row] for row in np.asarray(a)])
        return {"arch": arch.describe(), "input_layer": ns.input_layer, "backend": ns.backend,
                "ntk": tolist(r.ntk), "nngp": tolist(r.nngp), **_factor(arch)}
    from .network import sample_kernels
    if ns.cmd == "sample":
        if ns.draws < 1:
            raise ValueError(f"draws must be >= 1, got {ns.draws}")
        seeds = np.random.SeedSequence(ns.seed).spawn(ns.draws) if ns.draws > 1 else [ns.seed]
        ks = [sample_kernels(arch, X, ns.width, s) for s in seeds]
        ntk = np.stack([k["ntk"] for k in ks])
        res = {"arch": arch.describe(), "width": ns.width, "seed": ns.seed, "draws": ns.draws,
               "ntk": ntk.mean(0).tolist(), "nngp": np.mean([k["nngp"] for k in ks], 0).tolist(),
               "per_layer": np.mean([k["per_layer"] for k in ks], 0).tolist()}
        if ns.draws > 1:
            res["ntk_stderr"] = (ntk.std(0, ddof=1) / np.sqrt(ns.draws)).tolist()
        return res
    raise ValueError(f"unknown command {ns.cmd!r}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
