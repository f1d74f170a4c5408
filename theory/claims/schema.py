"""The claim file: schema, validation and loading (TOML, stdlib ``tomllib``).

A file holds an array of tables ``[[claim]]`` and optionally a top-level ``alpha`` (the
family-wise false-alarm probability of the whole file, default ``1e-3``). Every key of a
claim is validated here, and every error is one line naming the claim and the key
(:class:`ClaimError`). Nothing in a claim file is executed: ``predict`` is parsed by
:mod:`theory.expr`. See ``docs/guide/claims.md`` for the meaning of every key.
"""
from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..architecture import MODELS, PRUNED_SPECS, Architecture
from ..expr import ExpressionError, Expression, parse_expression

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    tomllib = None

KINDS = ("limit", "mean", "variance", "rate")
KERNELS = ("ntk", "nngp")
PAIRS = ("all", "diagonal", "off_diagonal")
EXPECT = ("holds", "refuted")
INPUT_LAYERS = ("exact", "wide")
ARCH_KEYS = ("depth", "activation", "p", "rescale", "pruned", "model")
STAT_KINDS = ("mean", "variance", "rate")

DEFAULT_FILE_ALPHA = 1e-3
DEFAULT_RESOLUTION = 0.05
DEFAULT_WIDTH = 64
DEFAULT_DRAWS = 2000
DEFAULT_RTOL = 1e-10
DEFAULT_D0 = 4
DEFAULT_N_INPUTS = 3

# keys allowed per kind (besides the common ones)
COMMON_KEYS = ("name", "kind", "kernel", "architecture", "input_layer", "inputs", "d0",
               "n_inputs", "special_pairs", "pairs", "expect", "predict", "n_p")
KIND_KEYS = {
    "limit": ("rtol",),
    "mean": ("width", "draws", "alpha", "resolution"),
    "variance": ("width", "draws", "alpha", "resolution"),
    "rate": ("widths", "exponent", "draws", "alpha", "resolution"),
}
# names a prediction may use: per kind; p0..pL are added per architecture
INPUT_NAMES = ("nx", "nxp", "rho", "theta", "d0")
BASE_NAMES = ("L", "d0", "nx", "nxp", "rho", "theta", "dense")
KIND_NAMES = {"limit": (), "mean": ("d", "limit"), "variance": ("d", "limit"), "rate": ()}


class ClaimError(ValueError):
    """A malformed claim (file): one line naming the claim and the key."""


def _err(claim: str, key: str, msg: str) -> ClaimError:
    who = f"claim {claim!r}" if claim else "claim file"
    return ClaimError(f"{who}, key {key!r}: {msg}")


@dataclass(frozen=True)
class PRange:
    """``p = { from = a, to = b }``: values are drawn in ``[a, b]`` (and ``p`` is a sympy
    Symbol in the symbolic comparisons)."""
    lo: float
    hi: float


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _p_value(name: str, key: str, v: Any) -> Any:
    if isinstance(v, Mapping):
        extra = set(v) - {"from", "to"}
        if extra or set(v) != {"from", "to"}:
            raise _err(name, key, f"a range is {{ from = a, to = b }}, got keys {sorted(v)}")
        lo, hi = v["from"], v["to"]
        if not (_is_real(lo) and _is_real(hi)):
            raise _err(name, key, "range bounds must be numbers")
        if not (0.0 <= lo <= hi < 1.0):
            raise _err(name, key, f"range must satisfy 0 <= from <= to < 1, got from = {lo}, "
                                  f"to = {hi}")
        return PRange(float(lo), float(hi))
    if not _is_real(v):
        raise _err(name, key, f"p must be a number in [0, 1), a range {{ from, to }} or a list "
                              f"of these, got {type(v).__name__}")
    if not (0.0 <= float(v) < 1.0) or not math.isfinite(float(v)):
        raise _err(name, key, f"p must lie in [0, 1) (fraction of weights removed), got {v}")
    return float(v)


@dataclass
class Claim:
    """One claim (see ``docs/guide/claims.md``). Buildable in Python::

        Claim(name="scaling", kind="limit",
              architecture=dict(depth=3, p={"from": 0.1, "to": 0.9}),
              predict="(1 - p)**(L + 1) * dense")

    ``architecture``: the keyword arguments of :class:`theory.Architecture` (``p`` may be a
    number, a range ``{"from": a, "to": b}``, or a list with one entry per matrix).
    Validated on construction (:class:`ClaimError`).
    """
    name: str
    kind: str
    architecture: Mapping[str, Any]
    predict: str | None = None
    kernel: str = "ntk"
    input_layer: str = "exact"
    inputs: Any = None
    d0: int | None = None
    n_inputs: int | None = None
    special_pairs: bool = True
    pairs: str = "all"
    expect: str = "holds"
    n_p: int | None = None
    rtol: float = DEFAULT_RTOL
    width: Any = DEFAULT_WIDTH
    widths: Any = None
    draws: int = DEFAULT_DRAWS
    exponent: float | None = None
    alpha: float | None = None
    resolution: float = DEFAULT_RESOLUTION
    source: str | None = None          # the file it came from (for the replay command)
    expression: Expression | None = field(default=None, init=False, repr=False, compare=False)
    p_spec: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate(self)

    # ------------------------------------------------------------------ helpers
    @property
    def depth(self) -> int:
        return int(self.architecture["depth"])

    @property
    def p_is_scalar(self) -> bool:
        return not isinstance(self.p_spec, list)

    @property
    def has_range(self) -> bool:
        spec = self.p_spec if isinstance(self.p_spec, list) else [self.p_spec]
        return any(isinstance(v, PRange) for v in spec)

    @property
    def width_list(self) -> list[int]:
        if self.kind == "rate":
            return list(self.widths)
        return [self.width] if _is_int(self.width) else list(self.width)

    def architecture_for(self, p: Any) -> Architecture:
        """The :class:`theory.Architecture` with ``p`` (number, symbol, or per-matrix list)."""
        kw = {k: v for k, v in self.architecture.items() if k != "p"}
        if isinstance(kw.get("pruned"), list):
            kw["pruned"] = tuple(kw["pruned"])
        return Architecture(p=p, **kw)


def _validate(c: Claim) -> None:
    name = c.name
    if not isinstance(name, str) or not name.strip():
        raise _err("", "name", f"every claim needs a non-empty string name, got {name!r}")
    if c.kind not in KINDS:
        raise _err(name, "kind", f"must be one of {', '.join(KINDS)}, got {c.kind!r}")
    if c.kernel not in KERNELS:
        raise _err(name, "kernel", f"must be one of {', '.join(KERNELS)}, got {c.kernel!r}")
    if c.input_layer not in INPUT_LAYERS:
        raise _err(name, "input_layer", f"must be one of {', '.join(INPUT_LAYERS)}, got "
                                        f"{c.input_layer!r}")
    if c.pairs not in PAIRS:
        raise _err(name, "pairs", f"must be one of {', '.join(PAIRS)}, got {c.pairs!r}")
    if c.expect not in EXPECT:
        raise _err(name, "expect", f"must be one of {', '.join(EXPECT)}, got {c.expect!r}")
    if not isinstance(c.special_pairs, bool):
        raise _err(name, "special_pairs", f"must be true or false, got {c.special_pairs!r}")

    # architecture
    a = c.architecture
    if isinstance(a, Architecture):
        if a.activation_derivative is not None or not isinstance(a.activation, str):
            raise _err(name, "architecture", "only named activations can be used in claims")
        a = {"depth": a.depth, "activation": a.activation, "p": list(a.p) if isinstance(a.p, tuple)
             else a.p, "rescale": a.rescale, "pruned": list(a.pruned) if isinstance(a.pruned, tuple)
             else a.pruned, "model": a.model}
        c.architecture = a
    if not isinstance(a, Mapping):
        raise _err(name, "architecture", f"must be a table of theory.Architecture arguments "
                                         f"({', '.join(ARCH_KEYS)}), got {type(a).__name__}")
    a = dict(a)
    for k in a:
        if k not in ARCH_KEYS:
            raise _err(name, f"architecture.{k}", f"unknown key (allowed: {', '.join(ARCH_KEYS)})")
    if "depth" not in a:
        raise _err(name, "architecture.depth", "missing (number of hidden layers L)")
    if not _is_int(a["depth"]) or a["depth"] < 0:
        raise _err(name, "architecture.depth", f"must be a non-negative integer, got {a['depth']!r}")
    if "activation" in a and not isinstance(a["activation"], str):
        raise _err(name, "architecture.activation", f"must be a string, got {a['activation']!r}")
    if "rescale" in a and not isinstance(a["rescale"], bool):
        raise _err(name, "architecture.rescale", f"must be true or false, got {a['rescale']!r}")
    if "model" in a and a["model"] not in MODELS:
        raise _err(name, "architecture.model", f"must be one of {', '.join(MODELS)}, got "
                                               f"{a['model']!r}")
    if "pruned" in a:
        pr = a["pruned"]
        if isinstance(pr, str):
            if pr not in PRUNED_SPECS:
                raise _err(name, "architecture.pruned", f"must be one of {', '.join(PRUNED_SPECS)} "
                                                        f"or a list of matrix indices, got {pr!r}")
        elif not (isinstance(pr, (list, tuple)) and all(_is_int(i) for i in pr)):
            raise _err(name, "architecture.pruned", f"must be a string or a list of integers, "
                                                    f"got {pr!r}")
    n = a["depth"] + 1
    p = a.get("p", 0.0)
    if isinstance(p, (list, tuple)):
        if len(p) != n:
            raise _err(name, "architecture.p", f"a list needs depth + 1 = {n} entries (one per "
                                               f"weight matrix), got {len(p)}")
        spec: Any = [_p_value(name, f"architecture.p[{h}]", v) for h, v in enumerate(p)]
    else:
        spec = _p_value(name, "architecture.p", p)
    c.architecture = a
    c.p_spec = spec
    # the architecture must be constructible (pruned indices, p on unpruned matrices, ...)
    try:
        probe = spec.lo if isinstance(spec, PRange) else \
            [v.lo if isinstance(v, PRange) else v for v in spec] if isinstance(spec, list) else spec
        c.architecture_for(probe)
    except (TypeError, ValueError) as e:
        raise _err(name, "architecture", str(e)) from None

    # kind-specific keys: reject the ones that do not apply (set to non-defaults)
    allowed = set(COMMON_KEYS) | set(KIND_KEYS[c.kind])
    defaults = Claim.__dataclass_fields__
    for k in ("rtol", "width", "widths", "draws", "exponent", "alpha", "resolution"):
        if k not in allowed and getattr(c, k) != defaults[k].default:
            raise _err(name, k, f"does not apply to a {c.kind!r} claim")

    # inputs
    if c.inputs is not None:
        if c.d0 is not None or c.n_inputs is not None:
            raise _err(name, "inputs", "give either inputs = [[...], ...] or d0 / n_inputs, not both")
        X = c.inputs
        if not (isinstance(X, (list, tuple)) and X and all(isinstance(r, (list, tuple)) and r
                                                            for r in X)):
            raise _err(name, "inputs", "must be a non-empty list of non-empty rows of numbers")
        if len({len(r) for r in X}) != 1:
            raise _err(name, "inputs", "all rows must have the same length d0")
        for r in X:
            for v in r:
                if not _is_real(v) or not math.isfinite(float(v)):
                    raise _err(name, "inputs", f"entries must be finite numbers, got {v!r}")
    else:
        if c.d0 is not None and (not _is_int(c.d0) or c.d0 < 1):
            raise _err(name, "d0", f"must be a positive integer, got {c.d0!r}")
        if c.n_inputs is not None and (not _is_int(c.n_inputs) or c.n_inputs < 1):
            raise _err(name, "n_inputs", f"must be a positive integer, got {c.n_inputs!r}")
    if c.n_p is not None and (not _is_int(c.n_p) or c.n_p < 1):
        raise _err(name, "n_p", f"must be a positive integer, got {c.n_p!r}")

    # numbers
    if c.kind == "limit":
        if not _is_real(c.rtol) or not (0 < c.rtol < 1):
            raise _err(name, "rtol", f"must be a number in (0, 1), got {c.rtol!r}")
    else:
        if not _is_int(c.draws) or c.draws < (10 if c.kind != "mean" else 2):
            raise _err(name, "draws", f"must be an integer >= {10 if c.kind != 'mean' else 2}, "
                                      f"got {c.draws!r}")
        if c.alpha is not None and (not _is_real(c.alpha) or not (0 < c.alpha < 1)):
            raise _err(name, "alpha", f"must be a number in (0, 1), got {c.alpha!r}")
        if not _is_real(c.resolution) or not (c.resolution > 0):
            raise _err(name, "resolution", f"must be a positive number, got {c.resolution!r}")
    if c.kind in ("mean", "variance"):
        ws = [c.width] if _is_int(c.width) else c.width
        if not (isinstance(ws, (list, tuple)) and ws and all(_is_int(w) for w in ws)):
            raise _err(name, "width", f"must be an integer or a list of integers, got {c.width!r}")
        if any(w < 1 for w in ws):
            raise _err(name, "width", f"must be >= 1, got {c.width!r}")
    if c.kind == "rate":
        ws = c.widths
        if not (isinstance(ws, (list, tuple)) and all(_is_int(w) for w in ws)):
            raise _err(name, "widths", f"a rate claim needs widths = [d1, d2, ...] (integers), "
                                       f"got {ws!r}")
        if any(w < 1 for w in ws):
            raise _err(name, "widths", f"must be >= 1, got {ws!r}")
        if len(set(ws)) < 3:
            raise _err(name, "widths", f"need at least 3 distinct widths for a slope, got {ws!r}")
        if c.exponent is None or not _is_real(c.exponent):
            raise _err(name, "exponent", f"a rate claim needs exponent = number (e.g. -0.5), got "
                                         f"{c.exponent!r}")
        if c.predict is not None:
            raise _err(name, "predict", "a rate claim states its exponent, not predict")
    elif c.predict is None:
        raise _err(name, "predict", "missing (the predicted value, an expression)")

    # the prediction: names depend on the kind and the architecture
    if c.predict is not None:
        names = set(BASE_NAMES) | set(KIND_NAMES[c.kind]) | {f"p{h}" for h in range(n)}
        if c.p_is_scalar:
            names.add("p")
        ctx = f"claim {name!r}, key 'predict'"
        try:
            if not isinstance(c.predict, str):
                raise ExpressionError(f"{ctx}: must be a string expression, got "
                                      f"{type(c.predict).__name__}")
            c.expression = parse_expression(c.predict, names, context=ctx)
        except ExpressionError as e:
            msg = str(e)
            # explain kind/predict mismatches
            for bad, why in (("'d'", "the width d only enters 'mean' and 'variance' claims "
                                     "(a limit has no width)"),
                             ("'limit'", "'limit' is the engine's own value: a 'limit' claim "
                                         "compares against it already"),
                             ("'p'", "p is given per matrix: use p0 ... pL")):
                if f"unknown name {bad}" in msg:
                    msg = f"{msg.split(': unknown')[0]}: {bad} cannot be used in a {c.kind!r} claim: {why}" \
                        if bad != "'p'" else f"{msg.split(': unknown')[0]}: {why}"
                    break
            raise ClaimError(msg) from None


def claim_from_table(t: Mapping[str, Any], index: int, source: str | None = None) -> Claim:
    """One ``[[claim]]`` table → :class:`Claim` (validated)."""
    if not isinstance(t, Mapping):
        raise ClaimError(f"claim #{index + 1}: each [[claim]] must be a table")
    name = t.get("name")
    label = name if isinstance(name, str) and name.strip() else f"#{index + 1}"
    if "name" not in t:
        raise _err(f"#{index + 1}", "name", "missing (every claim needs a name)")
    kind = t.get("kind")
    if kind not in KINDS:
        raise _err(label, "kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    allowed = set(COMMON_KEYS) | set(KIND_KEYS[kind])
    for k in t:
        if k not in allowed:
            other = [kk for kk, v in KIND_KEYS.items() if k in v]
            hint = f" (only for {', '.join(other)} claims)" if other else \
                f" (allowed: {', '.join(sorted(allowed))})"
            raise _err(label, k, f"unknown key{hint}")
    if "architecture" not in t:
        raise _err(label, "architecture", "missing (a table of theory.Architecture arguments)")
    kw = dict(t)
    return Claim(source=source, **kw)


def parse_claims(text: str, source: str | None = None) -> tuple[list[Claim], float]:
    """Claims and the file's family-wise alpha from TOML text."""
    if tomllib is None:  # pragma: no cover
        raise ClaimError("claim files need Python >= 3.11 (tomllib)")
    where = source or "claim file"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ClaimError(f"{where}: not valid TOML: {e}") from None
    for k in data:
        if k not in ("claim", "alpha"):
            raise ClaimError(f"{where}: unknown top-level key {k!r} (allowed: [[claim]] tables "
                             f"and alpha)")
    alpha = data.get("alpha", DEFAULT_FILE_ALPHA)
    if not _is_real(alpha) or not (0 < alpha < 1):
        raise ClaimError(f"{where}: top-level key 'alpha' must be a number in (0, 1), got {alpha!r}")
    tables = data.get("claim")
    if not tables:
        raise ClaimError(f"{where}: no claims (the file needs at least one [[claim]] table)")
    if not isinstance(tables, list):
        raise ClaimError(f"{where}: 'claim' must be an array of tables: write [[claim]]")
    claims = [claim_from_table(t, i, source) for i, t in enumerate(tables)]
    seen = set()
    for c in claims:
        if c.name in seen:
            raise _err(c.name, "name", "two claims have this name (names identify claims)")
        seen.add(c.name)
    return claims, float(alpha)


def load_file(path: str | os.PathLike) -> tuple[list[Claim], float]:
    """Claims and the family-wise alpha of a claim file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise ClaimError(f"{path}: cannot read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ClaimError(f"{path}: not UTF-8 text") from None
    return parse_claims(text, source=path)


def load(path: str | os.PathLike) -> list[Claim]:
    """The claims of a claim file (validated; :class:`ClaimError` on the first problem)."""
    return load_file(path)[0]
