"""theory sweep: the command line of theory.sweep (a TOML config file or flags).

    theory sweep CONFIG.toml [--db F] [--jobs N] [--scheduler tcp://H:P] [--export F] [--quiet]
    theory sweep --widths 64,128,256 --p 0.5 --depth 3 --draws 20 [--db F] ...

Prints a JSON summary on stdout (one top-level key per line): per configuration and
width the mean relative and max-abs error over seeds, and per configuration the fitted
rate (slope of log error against log width, Student-t interval; predicted −1/2).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import sweep as S

_ARCH_FLAGS = ("depth", "activation", "p", "pruned", "rescale", "model")
_CONFIG_FLAGS = _ARCH_FLAGS + ("widths", "draws", "seeds", "seed", "input_layer", "inputs")


def fail(cmd: str, msg: str) -> int:
    """One line on stderr, exit status 2."""
    print(f"theory {cmd}: error: {msg}", file=sys.stderr)
    return 2


def print_json(out: dict[str, Any]) -> None:
    """One top-level key per line; strict JSON (``NaN`` is an error, never printed)."""
    sys.stdout.write("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v, allow_nan=False)}"
                                         for k, v in out.items()) + "\n}\n")


def parse_widths(text: str) -> tuple[int, ...]:
    """``"64,128,256"`` → ``(64, 128, 256)``; ``SweepError`` naming ``--widths``."""
    out = []
    for t in text.split(","):
        t = t.strip()
        try:
            w = int(t)
        except ValueError:
            raise S.SweepError(f"--widths: {t!r} is not an integer (give positive integers "
                               f"separated by commas, e.g. 64,128,256)") from None
        if w < 1:
            raise S.SweepError(f"--widths: widths must be positive integers, got {w}")
        out.append(w)
    if len(set(out)) != len(out):
        raise S.SweepError(f"--widths: repeated width in {text!r}")
    return tuple(out)


def add_run_options(ap: argparse.ArgumentParser) -> None:
    """Options shared by ``sweep`` and ``experiment``: where and how tasks run."""
    ap.add_argument("--db", help="SQLite results file (resumes if it exists); default: "
                    "CONFIG.sqlite beside a config file, in memory for flags")
    ap.add_argument("--jobs", type=int, default=None,
                    help="worker processes (default: os.cpu_count(); 1 = no subprocess)")
    ap.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                    help="run the tasks on a Dask distributed cluster (pip install '.[dask]')")
    ap.add_argument("--export", metavar="FILE.csv|FILE.json",
                    help="also write every stored row to a CSV or JSON file")
    ap.add_argument("--quiet", action="store_true", help="no progress bar or status line")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``theory sweep``."""
    from .cli import add_arch_args  # the same architecture flags as limit/sample/factor
    ap = sub.add_parser("sweep", help="resumable finite-width sweep against the limit "
                        "(TOML config or flags; SQLite, processes, Dask)",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", nargs="?", help="TOML sweep configuration (see docs/guide/"
                    "sweeps_and_figures.md); without it the flags below define one sweep")
    add_arch_args(ap)
    ap.add_argument("--inputs", help=".npy or .json (n, d0) inputs (default: two unit "
                    "vectors at 60 degrees)")
    ap.add_argument("--widths", default="64,128,256,512", help="comma-separated widths")
    ap.add_argument("--draws", type=int, default=20, help="networks per task (>= 1)")
    ap.add_argument("--seeds", type=int, default=1, help="seed indices per configuration")
    ap.add_argument("--seed", type=int, default=0, help="master seed")
    ap.add_argument("--input-layer", default="exact", choices=["exact", "wide"],
                    help="limit with the exact input-layer mixture or the wide formula")
    add_run_options(ap)
    # defaults as the parser defines them, to tell flags given with a config file
    ap.set_defaults(run=run, sweep_defaults={k: ap.get_default(k) for k in _CONFIG_FLAGS})
    return ap


def _flags_config(ns: argparse.Namespace) -> S.SweepConfig:
    from .cli import arch_from_args
    try:
        arch = arch_from_args(ns)
    except (TypeError, ValueError) as exc:
        raise S.SweepError(str(exc)) from None
    if arch.is_symbolic:
        raise S.SweepError(f"--p: a sweep needs numeric pruning probabilities, got {ns.p!r}")
    X = S.DEFAULT_INPUTS if ns.inputs is None else S.load_inputs_file(ns.inputs)
    p = arch.p if isinstance(arch.p, tuple) else float(arch.p)
    d = {"widths": list(parse_widths(ns.widths)),
         "p": [[float(v) for v in p]] if isinstance(p, tuple) else p,
         "depth": arch.depth, "rescale": arch.rescale, "model": arch.model,
         "activation": ns.activation,
         "pruned": [list(arch.pruned)] if isinstance(arch.pruned, tuple) else arch.pruned,
         "input_layer": ns.input_layer}
    for flag, v, lo in (("--draws", ns.draws, 1), ("--seeds", ns.seeds, 1), ("--seed", ns.seed, 0)):
        if v < lo:
            raise S.SweepError(f"{flag} must be an integer >= {lo}, got {v}")
    try:
        cfg = S.config_from_dict({**d, "draws": ns.draws, "seeds": ns.seeds, "seed": ns.seed})
    except S.SweepError as exc:
        raise S.SweepError(f"--{exc}") from None
    return S.SweepConfig(**{**cfg.__dict__, "X": tuple(tuple(float(v) for v in r) for r in X)})


def _check_no_arch_flags(ns: argparse.Namespace) -> None:
    """A config file defines the sweep: flags that would change it are an error (an
    explicitly given default value cannot be told apart and is accepted)."""
    for k in _CONFIG_FLAGS:
        if getattr(ns, k) != ns.sweep_defaults.get(k):
            flag = "--" + k.replace("_", "-")
            key = {"widths": "widths", "inputs": "[inputs] file"}.get(k, k)
            raise S.SweepError(f"{flag} cannot be combined with a config file; put "
                               f"'{key}' in {ns.config!r} instead")


def summary(rep: S.SweepReport, cfg: S.SweepConfig) -> dict[str, Any]:
    """The JSON printed by ``theory sweep``."""
    rel = {tuple(sorted((k, v) for k, v in a.items() if k not in ("mean", "stderr"))): a
           for a in S.aggregate(rep.rows, "rel_err")}
    rows = []
    for a in S.aggregate(rep.rows, "abs_err"):
        key = tuple(sorted((k, v) for k, v in a.items() if k not in ("mean", "stderr")))
        r = rel[key]
        rows.append({"p": json.loads(a["p_list"]), "depth": a["depth"], "rescale": bool(a["rescale"]),
                     "model": a["model"], "activation": a["activation"],
                     "pruned": json.loads(a["pruned"]), "input_layer": a["input_layer"],
                     "width": a["width"], "seeds": a["seeds"], "draws": a["draws"],
                     "mean_rel_error": r["mean"], "rel_error_stderr": r["stderr"],
                     "mean_max_abs_error": a["mean"], "stderr": a["stderr"]})
    rates = []
    for e in S.width_rates(rep.rows, "rel_err"):
        rates.append({"p": json.loads(e["p_list"]), "depth": e["depth"],
                      "rescale": bool(e["rescale"]), "model": e["model"],
                      "activation": e["activation"], "pruned": json.loads(e["pruned"]),
                      "input_layer": e["input_layer"], "widths": e["widths"],
                      "predicted_slope": -0.5,
                      **({"slope": e["fit"]["slope"], "stderr": e["fit"]["stderr"],
                          "ci": [e["fit"]["ci_low"], e["fit"]["ci_high"]],
                          "confidence": 1 - e["fit"]["alpha"],
                          "contains_predicted": e["contains_predicted"]}
                         if e["fit"] else {"slope": None, "reason": e["reason"]})})
    out: dict[str, Any] = {"db": None if rep.db == ":memory:" else rep.db, "tasks": rep.total,
                           "computed": rep.computed, "skipped": rep.skipped}
    configs = list(cfg.configurations())
    archs = {json.dumps({k: S._jsonable(v) for k, v in c.items() if k not in ("width",)},
                        sort_keys=True) for c in configs}
    if len(archs) == 1:  # one architecture: its description and limit, as before
        c = configs[0]
        out["arch"] = S.architecture(c).describe()
        out["limit_ntk"] = json.loads(rep.rows[0]["limit_ntk"]) if rep.rows else None
    out["sweep"] = rows
    out["rates"] = rates
    return out


def execute(cfg: S.SweepConfig, ns: argparse.Namespace, cmd: str = "sweep") -> S.SweepReport:
    """Run (resume) a sweep with the run options of ``ns``; status line on stderr."""
    rep = S.run_sweep(cfg, db=ns.db or cfg.db, jobs=ns.jobs, scheduler=ns.scheduler,
                      quiet=ns.quiet)
    if not ns.quiet:
        where = ("no --db: results kept in memory only" if rep.db == ":memory:"
                 else f"already in {rep.db}")
        print(f"theory {cmd}: {rep.total} tasks: {rep.skipped} skipped ({where}), "
              f"{rep.computed} computed in {rep.seconds:.1f} s", file=sys.stderr)
    if ns.export:
        if rep.db == ":memory:":
            raise S.SweepError("--export needs --db (results in memory are gone after the run)")
        n = S.export(rep.db, ns.export)
        if not ns.quiet:
            print(f"theory {cmd}: exported {n} rows to {ns.export}", file=sys.stderr)
    return rep


def run(ns: argparse.Namespace) -> int:
    try:
        if ns.jobs is not None and ns.jobs < 1:
            raise S.SweepError(f"--jobs must be an integer >= 1, got {ns.jobs}")
        if ns.export and Path(ns.export).suffix not in (".csv", ".json"):
            raise S.SweepError(f"--export: file name must end in .csv or .json, got {ns.export!r}")
        if ns.config is None and ns.export and not ns.db:
            raise S.SweepError("--export needs --db (results in memory are gone after the run)")
        if ns.config is not None:
            _check_no_arch_flags(ns)
            cfg = S.load_config(ns.config)
        else:
            cfg = _flags_config(ns)
        rep = execute(cfg, ns)
        print_json(summary(rep, cfg))
    except KeyboardInterrupt:
        print("theory sweep: interrupted; finished tasks are stored, run the same command "
              "again to resume", file=sys.stderr)
        return 130
    except (S.SweepError, ValueError, TypeError, OSError) as exc:
        return fail("sweep", str(exc))
    return 0


def add_experiment_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``theory experiment`` (see :mod:`theory.experiment`)."""
    from . import experiment
    return experiment.add_parser(sub)
