"""theory: infinite-width NTK/NNGP of randomly pruned MLPs, the derived pruning factor,
finite-width Monte Carlo, resumable sweeps and figures, LaTeX export, claim files (check)
and the built-in claim checks (verify). Results are JSON on stdout (check and verify: a
verdict table); errors are one line on stderr with a non-zero exit code.

Parametrisation (docs/math.md#network): no biases; L hidden layers, L+1 weight matrices
W1..W{L+1} with iid N(0, 1) entries, each layer scaled by sqrt(c_sigma / d_h) with
c_sigma = 1 / E[sigma(z)^2], z ~ N(0, 1); Sigma^(0)(x, x') = x^T x' (no 1/d0); a pruned
matrix keeps each weight with probability 1 - p (a hard 0/1 mask), optionally rescaled
by 1/sqrt(1 - p).

Inputs (--inputs FILE): .npy, .npz (one array, or key X), .csv (numbers, an optional
header line), .json (a list of rows, or {"X": rows}); one input per row. Without
--inputs a demo pair of unit vectors at 60 degrees is used.
"""
from __future__ import annotations

import argparse
import csv
import json
import keyword
import math
import os
import re
import sys
import textwrap
import warnings
from typing import Any, Callable, Sequence

import numpy as np
import sympy

from ._version import __version__
from .activations import ACTIVATION_NAMES
from .architecture import MODELS, PRUNED_SPECS, Architecture

INPUT_FORMATS = (".npy", ".npz", ".csv", ".json")
DEMO_INPUTS = np.array([[1.0, 0.0], [0.5, np.sqrt(3) / 2]])
DEFAULT_P = 0.5


def _wrap(text: str) -> str:
    return textwrap.fill(text, 78)


class CLIError(ValueError):
    """A bad command-line value; its message is printed as one line."""


# ----------------------------------------------------------------------------- parsers
class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows ``(default: …)`` for options that have a meaningful default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        d = action.default
        if d is None or d is False or d is argparse.SUPPRESS or "%(default)" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (``theory limit: error: …``) and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        message = re.sub(r"argument (\S+?)(?:/\S+)?: \1 ", r"\1 ", message)  # name it once
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# names that read as numbers or constants, not as a free symbol
_RESERVED = {"nan", "inf", "infinity", "oo", "zoo", "pi", "e", "i", "none", "true", "false"}


def parse_p(text: str) -> Any:
    """``--p``: one of

    * a number in ``[0, 1)``: ``0.5``, ``.5``, ``5e-1`` (a float), or a constant expression
      of the safe expression language :mod:`theory.expr` such as ``1/2``, ``1/3`` or
      ``sqrt(2)/2`` (kept exact, as a sympy number);
    * a comma-separated list of such values, one per weight matrix (``0.1, 0.2,0.3``;
      whitespace allowed, no empty entries);
    * a symbol name (a Python identifier such as ``p`` or ``p1``; not a keyword and not
      ``nan``, ``inf``, ``oo``, ``pi``, ``e``, ``i``), or a comma-separated list of names
      and numbers, for the symbolic ``factor`` and ``latex``.

    Anything else (``p**2``, ``x y``, ``0.5,``, ``nan``, ``__import__('os')``) is an error
    naming ``--p``. Nothing is evaluated as Python: non-trivial values go through
    :func:`theory.expr.parse_expression` (an ``ast`` whitelist)."""
    from .expr import ExpressionError, parse_expression
    if not isinstance(text, str):
        raise argparse.ArgumentTypeError(f"--p must be text, got {type(text).__name__}")
    usage = ("--p must be a number in [0, 1) such as 0.5 or 1/2, a comma-separated list of them "
             "(one per weight matrix), or a symbol name such as p")
    parts = [t.strip() for t in text.split(",")]
    vals: list[Any] = []
    for t in parts:
        if _NUMBER_RE.match(t):
            v: Any = float(t)
        elif _IDENT_RE.match(t) and t.lower() not in _RESERVED and not keyword.iskeyword(t):
            vals.append(sympy.Symbol(t))
            continue
        elif not t:
            raise argparse.ArgumentTypeError(f"{usage}; got {text!r} (empty entry)")
        else:
            try:
                v = parse_expression(t, context="--p").to_sympy()
            except ExpressionError as e:
                raise argparse.ArgumentTypeError(f"{usage}; got {text!r} ({e})") from None
            if not (v.is_number and v.is_real and v.is_finite):
                raise argparse.ArgumentTypeError(f"{usage}; got {text!r}")
        if not 0 <= v < 1:
            raise argparse.ArgumentTypeError(
                f"--p values must lie in [0, 1) (fraction of weights removed), got {t!r}")
        vals.append(v)
    return vals[0] if len(vals) == 1 else vals


def parse_pruned(text: str) -> Any:
    """``--pruned``: ``all | hidden | all_but_input | all_but_output | none``
    (case-insensitive) or a comma-separated list of 0-based matrix indices (``0, 2``)."""
    t = text.strip()
    if t.lower() in PRUNED_SPECS:
        return t.lower()
    parts = [s.strip() for s in t.split(",")]
    if parts and all(re.fullmatch(r"\d+", s) for s in parts):
        return [int(s) for s in parts]
    raise argparse.ArgumentTypeError(
        f"--pruned must be one of {', '.join(PRUNED_SPECS)} or comma-separated matrix indices "
        f"0..L such as 0,2; got {text!r}")


def _int_at_least(name: str, lo: int) -> Callable[[str], int]:
    def conv(text: str) -> int:
        try:
            v = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {lo}, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {lo}, got {v}")
        return v
    return conv


def parse_widths(text: str) -> list[int]:
    """``--widths``: comma-separated integers >= 1 (``64,128, 256``)."""
    parts = [s.strip() for s in text.split(",")]
    out = []
    for s in parts:
        if not re.fullmatch(r"\d+", s) or int(s) < 1:
            raise argparse.ArgumentTypeError(
                f"--widths must be comma-separated integers >= 1 such as 64,128,256; "
                f"{s!r} in {text!r} is not")
        out.append(int(s))
    return out


def _activation(text: str) -> str:
    t = text.strip().lower()
    if t not in ACTIVATION_NAMES:
        raise argparse.ArgumentTypeError(
            f"--activation must be one of {', '.join(ACTIVATION_NAMES)} (case-insensitive), got {text!r}")
    return t


def add_arch_args(ap: argparse.ArgumentParser, p_help: str | None = None) -> None:
    """The architecture options shared by the subcommands."""
    ap.add_argument("--depth", type=_int_at_least("--depth", 0), default=3, metavar="L",
                    help="hidden layers L (the net has L+1 weight matrices W1..W{L+1})")
    ap.add_argument("--activation", type=_activation, default="relu", metavar="NAME",
                    help=f"activation, case-insensitive: {' | '.join(ACTIVATION_NAMES)}")
    ap.add_argument("--p", type=parse_p, default=None, metavar="P",
                    help=p_help or ("pruning probability of each pruned matrix (default: 0.5): "
                                    "a number in [0, 1) such as 0.5 or 1/2, or one per matrix "
                                    "as 0.1,0.2,0.3,0.4"))
    ap.add_argument("--pruned", type=parse_pruned, default="all", metavar="WHICH",
                    help="which matrices carry a mask: all | hidden | all_but_input | "
                         "all_but_output | none, or 0-based indices such as 0,2")
    ap.add_argument("--rescale", action="store_true",
                    help="multiply kept weights by 1/sqrt(1-p) (then the limit equals the dense one)")
    ap.add_argument("--model", default="mask", choices=MODELS,
                    help="mask: hard 0/1 masks; variance: Gaussian weights of variance 1-p "
                         "(no mask in the gradient)")


def arch_from_args(ns: argparse.Namespace, default_p: Any = DEFAULT_P) -> Architecture:
    """The :class:`Architecture` of the parsed options; ``--p`` with ``--pruned none`` is
    an error (it would prune nothing)."""
    p = (0 if ns.pruned == "none" else default_p) if ns.p is None else ns.p
    if ns.pruned == "none" and ns.p is not None and any(
            isinstance(v, sympy.Symbol) or float(v) != 0 for v in (p if isinstance(p, list) else [p])):
        raise CLIError(f"--p {_show(ns.p)} has no effect with --pruned none (no matrix is "
                       f"pruned); drop --p or choose which matrices --pruned masks")
    try:
        return Architecture(depth=ns.depth, activation=ns.activation, p=p, pruned=ns.pruned,
                            rescale=ns.rescale, model=ns.model)
    except (ValueError, TypeError) as e:
        raise CLIError(f"invalid architecture: {e}") from None


def _show(p: Any) -> str:
    return ",".join(map(str, p)) if isinstance(p, list) else str(p)


# ----------------------------------------------------------------------------- inputs
def load_inputs(path: str | None) -> np.ndarray:
    """Inputs ``(n, d0)`` float64 from ``path`` (module docstring lists the formats), or
    the demo pair. Every problem is a :class:`CLIError` with one line naming ``--inputs``."""
    if path is None:
        return DEMO_INPUTS.copy()
    ext = os.path.splitext(path)[1].lower()
    if ext not in INPUT_FORMATS:
        raise CLIError(f"--inputs: unknown format {ext or '(no extension)'!r} of {path!r}; "
                       f"accepted: {', '.join(INPUT_FORMATS)} (case-insensitive)")
    if not os.path.isfile(path):
        raise CLIError(f"--inputs: no such file: {path!r}")
    try:
        if ext == ".npy":
            data: Any = np.load(path, allow_pickle=False)
        elif ext == ".npz":
            with np.load(path, allow_pickle=False) as z:
                keys = list(z.keys())
                if len(keys) == 1:
                    data = z[keys[0]]
                elif "X" in keys:
                    data = z["X"]
                else:
                    raise CLIError(f"--inputs: {path!r} holds arrays {keys}; give one array or "
                                   f"name it X")
        elif ext == ".csv":
            data = _read_csv(path)
        else:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            if isinstance(data, dict):
                if "X" not in data:
                    raise CLIError(f"--inputs: the JSON object in {path!r} must have a key 'X' "
                                   f"(a list of rows), got keys {sorted(data)}")
                data = data["X"]
            data = _rows_to_array(data, path)
    except CLIError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, EOFError) as e:
        raise CLIError(f"--inputs: cannot read {path!r} as {ext}: {str(e).splitlines()[0]}") from None
    return _check_array(data, path)


def _read_csv(path: str) -> np.ndarray:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    if not rows:
        raise CLIError(f"--inputs: {path!r} has no rows")
    if any(_parse_float(c) is None for c in rows[0]):  # a header line
        rows = rows[1:]
    out = []
    for i, r in enumerate(rows, start=1):
        vals = []
        for j, c in enumerate(r, start=1):
            v = _parse_float(c)
            if v is None:
                raise CLIError(f"--inputs: {path!r} data row {i}, column {j}: {c.strip()!r} is "
                               f"not a number")
            vals.append(v)
        out.append(vals)
    return _rows_to_array(out, path)


def _parse_float(c: str) -> float | None:
    try:
        return float(c.strip())
    except ValueError:
        return None


def _rows_to_array(rows: Any, path: str) -> np.ndarray:
    if not isinstance(rows, list) or not rows:
        raise CLIError(f"--inputs: {path!r} must hold a non-empty list of rows (one input per row)")
    if all(isinstance(r, list) for r in rows):
        lens = [len(r) for r in rows]
        if len(set(lens)) > 1:
            k = next(i for i, n in enumerate(lens) if n != lens[0])
            raise CLIError(f"--inputs: rows of {path!r} have different lengths (row 1 has "
                           f"{lens[0]} values, row {k + 1} has {lens[k]}); every input needs "
                           f"the same dimension d0")
        for i, r in enumerate(rows, start=1):
            for j, v in enumerate(r, start=1):
                if isinstance(v, list):
                    raise CLIError(f"--inputs: {path!r} must be 2-D, one input per row (n, d0); "
                                   f"row {i}, column {j} is itself a list")
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise CLIError(f"--inputs: {path!r} row {i}, column {j}: {v!r} is not a number")
    try:
        return np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise CLIError(f"--inputs: {path!r} must hold rows of numbers of equal length") from None


def _check_array(A: Any, path: str) -> np.ndarray:
    A = np.asarray(A)
    if A.dtype.kind not in "biuf":
        raise CLIError(f"--inputs: {path!r} holds {A.dtype} values, not real numbers")
    A = A.astype(np.float64)
    if A.ndim != 2:
        raise CLIError(f"--inputs: {path!r} must be 2-D, one input per row (n, d0); got shape "
                       f"{A.shape}" + (" (for one input write a single row)" if A.ndim == 1 else ""))
    if A.shape[0] < 1 or A.shape[1] < 1:
        raise CLIError(f"--inputs: {path!r} is empty (shape {A.shape})")
    bad = ~np.isfinite(A)
    if np.any(bad):
        i, j = map(int, np.argwhere(bad)[0])
        raise CLIError(f"--inputs: {path!r} contains NaN or inf ({int(bad.sum())} entries, first "
                       f"at row {i + 1}, column {j + 1})")
    return A


# ----------------------------------------------------------------------------- reporting
def _input_layer_report(arch: Architecture, X: np.ndarray, input_layer: str,
                        info: dict | None = None) -> dict:
    """Which layer-1 recursion the limit used, and its error (docs/math.md#input-layer).

    ``route`` (from the engine's own report, :func:`theory.limit_result`): ``wide``
    (requested: layer 1 treated like the others), ``dense`` (the input matrix is not
    hard-masked, so the wide formula is exact), ``enumerated`` (the mask mixture over all
    ``2^d0`` masks: exact), ``expansion`` (the 1/d0 expansion of the mixture, with its
    error estimate), ``sampled`` (Monte Carlo over ``n_masks`` masks, with its standard
    error) or ``mixed`` (entries took different routes). ``info``: the report filled by
    ``limit_kernels(..., info=info)`` when the caller already computed the kernel."""
    from .input_layer import EXACT_MAX_D0, needs_mixture
    d0 = int(X.shape[1])
    rep: dict = {"requested": input_layer, "d0": d0}
    if input_layer == "wide" or not needs_mixture(arch):
        exact = not needs_mixture(arch)
        return {**rep, "route": "wide" if input_layer == "wide" else "dense", "exact": exact,
                "note": "the input matrix is not hard-masked: the wide formula is the exact "
                        "limit" if exact else "layer 1 treated like the others (fan-in d0 taken "
                        "as large); with a hard-masked input matrix this differs from the exact "
                        "limit off the diagonal"}
    if arch.is_symbolic:  # no numbers to report: say which route numbers would take
        route = "enumerated" if d0 <= EXACT_MAX_D0 else "expansion or sampled (depends on p)"
        return {**rep, "route": route, "exact": d0 <= EXACT_MAX_D0,
                "note": "input-layer mask mixture; its error depends on the numeric p"}
    if info is None:
        from .limits import limit_kernels
        info = {}
        limit_kernels(arch, X, input_layer=input_layer, kernels=("ntk",), info=info)
    route = info["route"]
    out = {**rep, "route": route, "exact": route == "enumerated",
           "routes": info.get("routes", {}), "n_masks": info.get("n_masks"),
           "order": info.get("order"), "error_estimate": info.get("error_estimate"),
           "error_kind": info.get("error_kind"), "stderr": info.get("stderr"),
           "tol": info.get("tol")}
    notes = {"enumerated": f"input-layer mask mixture over all 2^{d0} masks (exact)",
             "expansion": "input-layer mask mixture by its 1/d0 expansion; error_estimate is "
                          "relative to sqrt(K(x,x)K(x',x')) (a calibrated estimate, not a bound)",
             "sampled": "APPROXIMATION: the input-layer mask mixture is a Monte Carlo average "
                        "over n_masks masks; stderr is its standard error",
             "mixed": "entries took different routes (see routes); error_estimate is the largest"}
    out["note"] = notes.get(route, "")
    return out


def _factor_report(arch: Architecture, route: str | None) -> dict:
    """The symbolic factor (fast per-layer rule), labelled with its recursion; when the
    printed kernel uses the mask mixture, says that it does not apply off the diagonal."""
    from .scaling import factor_structure
    fs = factor_structure(arch)
    out = {"value": None if fs.factor is None else str(fs.factor),
           "latex": None if fs.factor is None else sympy.latex(fs.factor),
           "recursion": fs.recursion, "reason": fs.reason}
    if route in ("enumerated", "sampled"):
        out["applies_to"] = (
            ("the diagonal entries only" if arch.act.degree == 1 else "none of the printed entries")
            + f": the printed kernel uses the input-layer mask mixture (route {route}), whose "
              "off-diagonal entries are not this multiple of the dense kernel "
              "(docs/math.md#input-layer)")
    elif route is not None:
        out["applies_to"] = "the printed kernel (it uses the wide-input recursion)"
    elif fs.mixture_note:
        out["note"] = fs.mixture_note
    return out


def _matrix(a: Any, backend: str = "numpy") -> list:
    if backend == "numpy":
        return np.asarray(a, dtype=float).tolist()
    return [[str(v) for v in row] for row in np.asarray(a)]


# ----------------------------------------------------------------------------- limit
def add_limit(sub: Any) -> None:
    ap = sub.add_parser("limit", help="infinite-width NTK and NNGP of all pairs of inputs (JSON)",
                        description=_wrap("Infinite-width NTK and NNGP (docs/math.md#limit) of all "
                                    "pairs of rows of --inputs, with the input-layer route taken."),
                        formatter_class=_Formatter)
    add_arch_args(ap)
    ap.add_argument("--inputs", metavar="FILE",
                    help="inputs, one per row: .npy, .npz, .csv or .json (default: a demo pair)")
    ap.add_argument("--input-layer", default="exact", choices=["exact", "wide"],
                    help="exact: input-layer mask mixture when W1 is hard-masked; wide: layer 1 "
                         "like the others")
    ap.add_argument("--backend", default="numpy", choices=["numpy", "mpmath"],
                    help="float64, or mpmath at --dps digits (entries printed as strings)")
    ap.add_argument("--dps", type=_int_at_least("--dps", 15), default=50,
                    help="decimal digits of the mpmath backend")
    ap.add_argument("--factor", action="store_true",
                    help="also print the derived symbolic factor NTK_pruned/NTK_dense")
    ap.add_argument("--out", metavar="FILE.npy",
                    help="save the NTK to FILE.npy (or NTK and NNGP to FILE.npz) instead of "
                         "printing the matrices")
    ap.set_defaults(func=run_limit)


def run_limit(ns: argparse.Namespace) -> int:
    from .limits import limit_kernels
    arch = arch_from_args(ns)
    X = load_inputs(ns.inputs)
    out_ext = None
    if ns.out is not None:
        out_ext = os.path.splitext(ns.out)[1].lower()
        if out_ext not in (".npy", ".npz"):
            raise CLIError(f"--out must end in .npy (NTK) or .npz (NTK and NNGP), got {ns.out!r}")
        if ns.backend != "numpy":
            raise CLIError("--out saves float64 arrays: use --backend numpy")
    info: dict = {}
    r = limit_kernels(arch, X, input_layer=ns.input_layer, backend=ns.backend, dps=ns.dps,
                      info=info)
    report = _input_layer_report(arch, X, ns.input_layer, info=info)
    res: dict = {"arch": arch.describe(), "input_layer": report, "backend": ns.backend,
                 "n": int(X.shape[0])}
    if out_ext is not None:
        ntk = np.asarray(r.ntk, dtype=np.float64)
        if out_ext == ".npy":
            np.save(ns.out, ntk)
        else:
            np.savez(ns.out, ntk=ntk, nngp=np.asarray(r.nngp, dtype=np.float64))
        res["out"] = {"file": ns.out, "shape": list(ntk.shape),
                      "arrays": ["ntk"] if out_ext == ".npy" else ["ntk", "nngp"]}
    else:
        res["ntk"] = _matrix(r.ntk, ns.backend)
        res["nngp"] = _matrix(r.nngp, ns.backend)
    if ns.factor:
        res["scaling_factor"] = _factor_report(arch, report["route"])
    return emit(res)


# ----------------------------------------------------------------------------- sample
def add_sample(sub: Any) -> None:
    ap = sub.add_parser("sample", help="empirical NTK of finite pruned networks beside the limit (JSON)",
                        description=_wrap("Empirical NTK/NNGP of finite masked networks (mean over "
                                    "--draws independent networks) next to the infinite-width "
                                    "limit, with per-entry z-scores."),
                        formatter_class=_Formatter)
    add_arch_args(ap)
    ap.add_argument("--inputs", metavar="FILE",
                    help="inputs, one per row: .npy, .npz, .csv or .json (default: a demo pair)")
    ap.add_argument("--width", type=_int_at_least("--width", 1), default=1024,
                    help="width of every hidden layer")
    ap.add_argument("--seed", type=_int_at_least("--seed", 0), default=0,
                    help="seed of the weights and masks (draws use independent child seeds)")
    ap.add_argument("--draws", type=_int_at_least("--draws", 1), default=1,
                    help="independent networks (>= 2 gives standard errors and z-scores)")
    ap.set_defaults(func=run_sample)


def run_sample(ns: argparse.Namespace) -> int:
    from .limits import limit_kernels
    from .network import sample_kernels
    arch = arch_from_args(ns)
    X = load_inputs(ns.inputs)
    seeds = np.random.SeedSequence(ns.seed).spawn(ns.draws) if ns.draws > 1 else [ns.seed]
    ks = [sample_kernels(arch, X, ns.width, s) for s in seeds]
    ntk = np.stack([k["ntk"] for k in ks])
    per = np.mean([k["per_layer"] for k in ks], 0)
    info: dict = {}
    lim = limit_kernels(arch, X, input_layer="exact", info=info).ntk
    report = _input_layer_report(arch, X, "exact", info=info)
    mean = ntk.mean(0)
    res: dict = {"arch": arch.describe(), "width": ns.width, "seed": ns.seed, "draws": ns.draws,
                 "ntk": mean.tolist(), "limit_ntk": np.asarray(lim).tolist(),
                 "limit_input_layer": report,
                 "nngp": np.mean([k["nngp"] for k in ks], 0).tolist(),
                 "per_layer": {f"W{h + 1}": per[h].tolist() for h in range(per.shape[0])}}
    if ns.draws > 1:
        se = ntk.std(0, ddof=1) / np.sqrt(ns.draws)
        res["ntk_stderr"] = se.tolist()
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, (mean - lim) / np.where(se > 0, se, 1.0), np.nan)
        res["z"] = [[None if not np.isfinite(v) else float(v) for v in row] for row in z]
        res["z_note"] = ("z = (mean - limit) / stderr per entry; at finite width the mean also "
                         "carries an O(1/width) bias, so |z| grows with --draws at fixed width; "
                         "null where the draws do not vary")
    else:
        res["z"] = None
        res["z_note"] = "z-scores need --draws >= 2"
    return emit(res)


# ----------------------------------------------------------------------------- factor
def add_factor(sub: Any) -> None:
    ap = sub.add_parser("factor", help="derived pruning factor NTK_pruned/NTK_dense (symbolic p allowed)",
                        description=_wrap("The factor NTK_pruned / NTK_dense of the wide-input "
                                    "recursion, derived from the per-layer structure (any "
                                    "depth), or why none exists. --p p gives it in the symbol p."),
                        formatter_class=_Formatter)
    add_arch_args(ap, p_help="pruning probability (default: 0.5): a number such as 0.5 or 1/2, "
                             "a symbol name such as p, or one per matrix such as p0,p1,p2,p3")
    ap.set_defaults(func=run_factor)


def run_factor(ns: argparse.Namespace) -> int:
    arch = arch_from_args(ns)
    rep = _factor_report(arch, None)
    return emit({"arch": arch.describe(), "scaling_factor": rep["value"],
                 "scaling_factor_latex": rep["latex"], "recursion": rep["recursion"],
                 "reason": rep["reason"], **({"note": rep["note"]} if "note" in rep else {})})


# ----------------------------------------------------------------------------- sweep
def emit(out: dict) -> int:
    """One top-level key per line: readable, and still strict JSON (NaN/inf are refused)."""
    sys.stdout.write("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v, allow_nan=False)}"
                                        for k, v in out.items()) + "\n}\n")
    sys.stdout.flush()
    return 0


def add_latex(sub: Any) -> None:
    from .latex import add_parser
    add_parser(sub, formatter_class=_Formatter, add_arch_args=add_arch_args)


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="theory", description=__doc__, formatter_class=_Formatter)
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND", parser_class=_Parser)
    # one line per subcommand: module.add_parser(sub) sets func=run via set_defaults
    add_limit(sub)
    add_sample(sub)
    add_factor(sub)
    from . import plots, sweep_cli, verify
    _with_run(sweep_cli.add_parser(sub))           # sweep (SQLite, processes, Dask)
    _with_run(plots.add_parser(sub))               # plot
    _with_run(sweep_cli.add_experiment_parser(sub))  # experiment
    add_latex(sub)
    from .claims import cli as claims_cli  # theory check FILE.toml (issue 8)
    claims_cli.add_parser(sub).set_defaults(func=claims_cli.run)
    _with_run(verify.add_parser(sub))              # verify (the built-in claim checks)
    return ap


def _with_run(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Subcommands that set ``run=`` (sweep, plot, experiment, verify) dispatch through
    ``func`` like the others, so they share main's one-line error handling."""
    ap.set_defaults(func=ap.get_default("run"))
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = build_parser()
    ns = ap.parse_args(argv)
    prog = f"theory {ns.cmd}"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rc = ns.func(ns)
        for w in caught:  # one line each, no source location
            if issubclass(w.category, (RuntimeWarning, UserWarning)):
                print(f"{prog}: warning: {w.message}", file=sys.stderr)
        return rc
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: stop quietly (Python docs, signal/SIGPIPE)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (CLIError, ValueError, TypeError, FloatingPointError, OSError, KeyError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        kind = "" if isinstance(e, CLIError) else f"{type(e).__name__}: "
        print(f"{prog}: error: {kind}{msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
