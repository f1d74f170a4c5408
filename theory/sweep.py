"""Resumable Monte Carlo sweeps: finite-width NTK against the limit over a grid of
architectures, widths and seeds (docs/math.md#finite-width; user guide
``docs/guide/sweeps_and_figures.md``).

A *sweep* is the Cartesian product of the grid keys ``widths × p × depth × rescale ×
model × activation × pruned × input_layer`` (a *configuration*) times ``seeds`` seed
indices. One *task* = one configuration × one seed index: it draws ``draws`` independent
networks, computes their empirical NTK (:func:`theory.empirical_ntk` with ``draws``,
batched) on the inputs and
compares it with the infinite-width limit (:func:`theory.limit_ntk`, input layer
``"exact"`` or ``"wide"``) and with the dense limit (same network, ``p = 0``).

Determinism. A task's random numbers come from
``SeedSequence([master seed, 64-bit config hash, seed index])``, where the config hash is
a SHA-256 of the canonical JSON of the configuration (inputs included). A task is a pure
function of that key: results are bit-identical in any order, serially, over processes
(``jobs``) or on a Dask cluster (``scheduler``).

Storage. Every finished task is one row of an SQLite table, inserted in its own
transaction, keyed by ``(config_hash, seed)``; running the same sweep again computes only
the missing rows. The database records its schema version and refuses another.

Per-draw statistics (``E = Θ_d − Θ̃``, norms are Frobenius; ``diag``/``offdiag`` restrict
to the diagonal / off-diagonal entries):

* ``rel_err = ‖E‖/‖Θ̃‖``, ``rel_err_diag``, ``rel_err_offdiag``;
* ``abs_err = max |E_ij|``, ``abs_err_diag``, ``abs_err_offdiag``;
* ``rel_err_dense = ‖Θ_d − Θ̃_dense‖/‖Θ̃_dense‖`` (the paper's comparison with the
  unpruned limit);
* ``ratio_dense = ⟨Θ_d, Θ̃_dense⟩/‖Θ̃_dense‖²`` (the scalar ``c`` that best fits
  ``Θ_d ≈ c Θ̃_dense``; equals the pruning factor in the limit when one exists).

Each is stored as ``NAME_mean``, ``NAME_sd`` (``ddof = 1``) and ``NAME_stderr`` over the
draws (``NULL`` when ``draws = 1`` or the quantity is undefined, never NaN), with the mean
NTK, the entrywise sample variance, the limit and the dense limit as JSON matrices.
"""
from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import numbers
import os
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .architecture import MODELS, PRUNED_SPECS, Architecture
from .blas_threads import one_blas_thread
from .limits import INPUT_LAYER_MODES, limit_ntk
from .network import empirical_ntk
from .stats import SlopeFit, slope_fit

__all__ = [
    "SCHEMA_VERSION", "ENGINE", "SweepError", "SweepConfig", "Task", "SweepReport",
    "load_config", "config_from_dict", "make_inputs", "tasks", "compute_task",
    "sample_ntks", "run_sweep", "read_rows", "export", "aggregate", "width_rates",
    "METRICS", "DEFAULT_INPUTS",
]

SCHEMA_VERSION = 1
#: Identifies how draws are generated; part of every config hash, so rows computed by a
#: different sampler are never mixed with new ones.
ENGINE = "empirical_ntk-batched-v4"  # v2: compiled SFC64 + ziggurat sampler (theory.fastdraw);
# v3: one BLAS thread per task (compute_task), so rows no longer depend on the scheduler;
# v4: small networks contracted by compiled kernels (theory.fastcontract; same draws,
# NTKs that differ at rounding level)

METRICS = ("rel_err", "rel_err_diag", "rel_err_offdiag", "abs_err", "abs_err_diag",
           "abs_err_offdiag", "rel_err_dense", "ratio_dense")

#: The default inputs: two unit vectors in R² at 60 degrees (as ``theory limit``).
DEFAULT_INPUTS = ((1.0, 0.0), (0.5, math.sqrt(3) / 2))

GRID_KEYS = ("widths", "p", "depth", "rescale", "model", "activation", "pruned", "input_layer")
SCALAR_KEYS = ("seeds", "draws", "seed", "db")
INPUT_KEYS = ("file", "n", "d0", "seed")


class SweepError(ValueError):
    """A bad sweep configuration or database; the message names the key or file."""


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: grid values (tuples), seeds per configuration, draws per task,
    master seed, inputs ``X`` and an optional database path."""
    widths: tuple[int, ...]
    p: tuple[Any, ...] = (0.5,)
    depth: tuple[int, ...] = (3,)
    rescale: tuple[bool, ...] = (False,)
    model: tuple[str, ...] = ("mask",)
    activation: tuple[str, ...] = ("relu",)
    pruned: tuple[Any, ...] = ("all",)
    input_layer: tuple[str, ...] = ("exact",)
    seeds: int | tuple[int, ...] = 1      # a count (indices 0 … seeds-1) or explicit indices
    draws: int = 20
    seed: int = 0
    X: tuple[tuple[float, ...], ...] = DEFAULT_INPUTS
    db: str | None = None

    @property
    def seed_indices(self) -> tuple[int, ...]:
        return tuple(range(self.seeds)) if isinstance(self.seeds, int) else tuple(self.seeds)

    @property
    def n_tasks(self) -> int:
        return len(list(self.configurations())) * len(self.seed_indices)

    def configurations(self) -> Iterator[dict[str, Any]]:
        for w, p, L, r, m, a, pr, il in itertools.product(
                self.widths, self.p, self.depth, self.rescale, self.model, self.activation,
                self.pruned, self.input_layer):
            yield {"width": w, "p": p, "depth": L, "rescale": r, "model": m, "activation": a,
                   "pruned": pr, "input_layer": il}


def _err(key: str, msg: str) -> SweepError:
    return SweepError(f"{key}: {msg}")


def _int(key: str, v: Any, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise _err(key, f"must be an integer >= {minimum}, got {v!r}")
    if v < minimum:
        raise _err(key, f"must be an integer >= {minimum}, got {v}")
    return int(v)


def _p_value(key: str, v: Any) -> Any:
    def one(x: Any, k: str) -> float:
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise _err(k, f"must be a number in [0, 1), got {x!r}")
        x = float(x)
        if not (0.0 <= x < 1.0):
            raise _err(k, f"must lie in [0, 1) (fraction of weights removed), got {x!r}")
        return x
    if isinstance(v, (list, tuple)):
        return tuple(one(x, f"{key}[{i}]") for i, x in enumerate(v))
    return one(v, key)


def _pruned_value(key: str, v: Any) -> Any:
    if isinstance(v, str):
        if v not in PRUNED_SPECS:
            raise _err(key, f"must be one of {list(PRUNED_SPECS)} or a list of matrix indices, got {v!r}")
        return v
    if isinstance(v, (list, tuple)):
        return tuple(_int(f"{key}[{i}]", x, 0) for i, x in enumerate(v))
    raise _err(key, f"must be a string {list(PRUNED_SPECS)} or a list of matrix indices, got {v!r}")


def _choice(allowed: Sequence[str]) -> Callable[[str, Any], str]:
    def check(key: str, v: Any) -> str:
        if not isinstance(v, str) or v not in allowed:
            raise _err(key, f"must be one of {list(allowed)}, got {v!r}")
        return v
    return check


def _activation(key: str, v: Any) -> str:
    from .activations import get_activation
    if not isinstance(v, str):
        raise _err(key, f"must be an activation name, got {v!r}")
    try:
        get_activation(v)
    except (ValueError, TypeError) as exc:
        raise _err(key, str(exc)) from None
    return v


def _bool(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _err(key, f"must be true or false, got {v!r}")
    return v


_GRID_CHECK: dict[str, Callable[[str, Any], Any]] = {
    "widths": lambda k, v: _int(k, v, 1),
    "p": _p_value,
    "depth": lambda k, v: _int(k, v, 0),
    "rescale": _bool,
    "model": _choice(MODELS),
    "activation": _activation,
    "pruned": _pruned_value,
    "input_layer": _choice(INPUT_LAYER_MODES),
}


def _grid(key: str, v: Any) -> tuple:
    """A grid key: a scalar, or a non-empty list of values (for ``p``/``pruned`` a list of
    lists is a list of per-matrix values)."""
    check = _GRID_CHECK[key]
    if isinstance(v, list) and key in ("p", "pruned") and v and not any(isinstance(x, list) for x in v):
        # p = [0.1, 0.5] is a grid of two scalars; pruned = [0, 2] is ONE index set
        vals = [v] if key == "pruned" and all(isinstance(x, int) and not isinstance(x, bool) for x in v) else v
    elif isinstance(v, list):
        vals = v
    else:
        vals = [v]
    if not vals:
        raise _err(key, "must not be an empty list")
    out = tuple(check(f"{key}[{i}]" if len(vals) > 1 else key, x) for i, x in enumerate(vals))
    if len(set(out)) != len(out):
        raise _err(key, f"has repeated values {list(v) if isinstance(v, list) else v!r}")
    return out


def make_inputs(n: int, d0: int, seed: int = 0) -> np.ndarray:
    """``n`` inputs uniform on the unit sphere of ``R^{d0}`` (normalised Gaussian rows from
    ``numpy.random.default_rng(seed)``)."""
    n = _int("inputs.n", n, 1)
    d0 = _int("inputs.d0", d0, 1)
    rng = np.random.default_rng(_int("inputs.seed", seed, 0))
    X = rng.standard_normal((n, d0))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def load_inputs_file(path: str | os.PathLike) -> np.ndarray:
    """``(n, d0)`` float64 inputs from a file, read by the CLI's one input loader
    (:func:`theory.cli.load_inputs`: .npy, .npz, .csv, .json)."""
    from .cli import load_inputs
    try:
        return load_inputs(str(path))
    except (OSError, ValueError) as exc:
        raise SweepError(str(exc).splitlines()[0]) from None


def _inputs(spec: Any, base: Path | None) -> tuple[tuple[float, ...], ...]:
    if not isinstance(spec, dict):
        raise _err("inputs", f"must be a table (file = ... or n, d0, seed), got {spec!r}")
    if unknown := sorted(set(spec) - set(INPUT_KEYS)):
        raise _err(f"inputs.{unknown[0]}", f"unknown key; allowed: {list(INPUT_KEYS)}")
    if "file" in spec:
        if len(spec) > 1:
            raise _err("inputs", "give either file or n/d0/seed, not both")
        f = spec["file"]
        if not isinstance(f, str):
            raise _err("inputs.file", f"must be a path string, got {f!r}")
        path = Path(f) if base is None or Path(f).is_absolute() else base / f
        X = load_inputs_file(path)
    else:
        if "n" not in spec or "d0" not in spec:
            raise _err("inputs", "needs file = PATH, or n and d0 (and optionally seed)")
        X = make_inputs(spec["n"], spec["d0"], spec.get("seed", 0))
    return tuple(tuple(float(v) for v in row) for row in X)


def config_from_dict(d: dict[str, Any], base: Path | None = None) -> SweepConfig:
    """Validate a configuration mapping (the TOML file's content): grid keys
    :data:`GRID_KEYS` (scalar or list), ``seeds`` (a count, or a list of seed indices),
    ``draws``, ``seed`` (master),
    ``db`` (path, relative to ``base``) and an ``[inputs]`` table. Raises
    :class:`SweepError` naming the offending key."""
    if not isinstance(d, dict):
        raise SweepError(f"a sweep configuration must be a table, got {type(d).__name__}")
    allowed = set(GRID_KEYS) | set(SCALAR_KEYS) | {"inputs"}
    if unknown := sorted(set(d) - allowed):
        raise _err(unknown[0], f"unknown key; allowed keys: {sorted(allowed)}")
    if "widths" not in d:
        raise _err("widths", "is required (a list of hidden-layer widths)")
    kw: dict[str, Any] = {k: _grid(k, d[k]) for k in GRID_KEYS if k in d}
    if "seeds" in d:
        v = d["seeds"]
        if isinstance(v, list):
            if not v:
                raise _err("seeds", "must not be an empty list")
            kw["seeds"] = tuple(_int(f"seeds[{i}]", x, 0) for i, x in enumerate(v))
            if len(set(kw["seeds"])) != len(v):
                raise _err("seeds", f"has repeated seed indices {v!r}")
        else:
            kw["seeds"] = _int("seeds", v, 1)
    if "draws" in d:
        kw["draws"] = _int("draws", d["draws"], 1)
    if "seed" in d:
        kw["seed"] = _int("seed", d["seed"], 0)
    if "db" in d:
        if not isinstance(d["db"], str) or not d["db"]:
            raise _err("db", f"must be a path string, got {d['db']!r}")
        kw["db"] = str(Path(d["db"]) if base is None or Path(d["db"]).is_absolute() else base / d["db"])
    if "inputs" in d:
        kw["X"] = _inputs(d["inputs"], base)
    cfg = SweepConfig(**kw)
    _validate_architectures(cfg)
    return cfg


def _validate_architectures(cfg: SweepConfig) -> None:
    """Build every architecture once so that inconsistent combinations (per-matrix ``p`` of
    the wrong length, ``p`` on an unpruned matrix) fail before any work."""
    seen = set()
    for c in cfg.configurations():
        key = (c["p"], c["depth"], c["rescale"], c["model"], c["activation"], c["pruned"])
        if key in seen:
            continue
        seen.add(key)
        try:
            architecture(c)
        except (TypeError, ValueError) as exc:
            raise SweepError(f"configuration depth={c['depth']} p={c['p']!r} "
                             f"pruned={c['pruned']!r}: {exc}") from None


def load_config(path: str | os.PathLike) -> SweepConfig:
    """Read a TOML sweep configuration (``tomllib``); relative paths inside it are relative
    to the file. Errors are :class:`SweepError` with one line naming the file and key."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the same parser, as a package
        import tomli as tomllib
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"config file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise SweepError(f"config file {str(path)!r} is not UTF-8 text") from None
    try:
        cfg = config_from_dict(data, base=path.parent)
    except SweepError as exc:
        raise SweepError(f"{path}: {exc}") from None
    if cfg.db is None:
        cfg = SweepConfig(**{**cfg.__dict__, "db": str(path.with_suffix(".sqlite"))})
    return cfg


def architecture(c: dict[str, Any]) -> Architecture:
    """The :class:`theory.Architecture` of a configuration dict."""
    return Architecture(depth=c["depth"], activation=c["activation"], p=c["p"],
                        rescale=c["rescale"], pruned=c["pruned"], model=c["model"])


# ----------------------------------------------------------------------------- tasks
def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _inputs_hash(X: tuple) -> str:
    return hashlib.sha256(json.dumps(X).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Task:
    """One configuration × one seed index (picklable; sent to worker processes)."""
    config: tuple[tuple[str, Any], ...]   # sorted (key, value) pairs incl. draws, inputs hash
    config_hash: str
    seed: int                             # seed index 0 … seeds-1
    master_seed: int
    X: tuple[tuple[float, ...], ...]

    @property
    def cfg(self) -> dict[str, Any]:
        return dict(self.config)

    def seed_sequence(self) -> np.random.SeedSequence:
        h = int(self.config_hash, 16)
        return np.random.SeedSequence([self.master_seed, h >> 32, h & 0xFFFFFFFF, self.seed])


def tasks(cfg: SweepConfig) -> list[Task]:
    """All tasks of a sweep, in grid order."""
    ih = _inputs_hash(cfg.X)
    out = []
    for c in cfg.configurations():
        full = {**c, "draws": cfg.draws, "inputs": ih, "master_seed": cfg.seed,
                "engine": ENGINE, "schema": SCHEMA_VERSION}
        canon = json.dumps({k: _jsonable(v) for k, v in full.items()}, sort_keys=True)
        h = hashlib.sha256(canon.encode()).hexdigest()[:16]
        items = tuple(sorted(full.items()))
        out.extend(Task(items, h, s, cfg.seed, cfg.X) for s in cfg.seed_indices)
    return out


def sample_ntks(arch: Architecture, X: np.ndarray, width: int, seed: np.random.SeedSequence,
                draws: int) -> np.ndarray:
    """``(draws, n, n)`` empirical NTKs of ``draws`` independent networks drawn and
    contracted together (:func:`theory.empirical_ntk` with ``draws=K``; a pure function
    of ``(seed, arch, d0, width, draws)``). The one place a sweep draws networks: a change
    here must change :data:`ENGINE`."""
    return empirical_ntk(arch, X, width, seed, draws=draws)


@lru_cache(maxsize=64)
def _limits(arch: Architecture, X: tuple, input_layer: str) -> tuple[np.ndarray, np.ndarray]:
    A = np.asarray(X, dtype=np.float64)
    return (limit_ntk(arch, A, input_layer=input_layer),
            limit_ntk(arch.dense(), A, input_layer=input_layer))


def _stats(x: np.ndarray) -> tuple[float | None, float | None, float | None]:
    x = x[np.isfinite(x)] if x.size else x
    if x.size == 0:
        return None, None, None
    m = float(x.mean())
    if x.size < 2:
        return m, None, None
    sd = float(x.std(ddof=1))
    return m, sd, sd / math.sqrt(x.size)


def _metrics(ntks: np.ndarray, lim: np.ndarray, dense: np.ndarray) -> dict[str, np.ndarray]:
    n = lim.shape[0]
    E = ntks - lim
    diag = np.eye(n, dtype=bool)
    off = ~diag

    def rel(part: np.ndarray, A: np.ndarray, ref: np.ndarray) -> np.ndarray:
        den = float(np.linalg.norm(ref[part]))
        if n == 0 or not part.any() or den == 0.0:
            return np.full(len(A), np.nan)
        return np.linalg.norm(A[:, part], axis=1) / den

    def mx(part: np.ndarray) -> np.ndarray:
        if not part.any():
            return np.full(len(E), np.nan)
        return np.abs(E[:, part]).max(axis=1)

    full = np.ones((n, n), dtype=bool)
    dn2 = float(np.sum(dense * dense))
    return {
        "rel_err": rel(full, E, lim), "rel_err_diag": rel(diag, E, lim),
        "rel_err_offdiag": rel(off, E, lim),
        "abs_err": mx(full), "abs_err_diag": mx(diag), "abs_err_offdiag": mx(off),
        "rel_err_dense": rel(full, ntks - dense, dense),
        "ratio_dense": (np.einsum("kij,ij->k", ntks, dense) / dn2 if dn2 > 0
                        else np.full(len(E), np.nan)),
    }


def compute_task(task: Task) -> dict[str, Any]:
    """Run one task; returns the database row as a dict (see the module docstring)."""
    t0 = time.perf_counter()
    c = task.cfg
    arch = architecture(c)
    X = np.asarray(task.X, dtype=np.float64)
    # One BLAS thread per task, wherever it runs: OpenBLAS rounds some products differently
    # with one thread and with several (measured: a 420-wide masked layer's NTK term moved
    # by 2e-16), and Dask's nanny starts its workers with one, so this is what makes serial,
    # --jobs and Dask rows bit-identical. Parallelism comes from the tasks.
    with one_blas_thread():
        lim, dense = _limits(arch, task.X, c["input_layer"])
        ntks = sample_ntks(arch, X, c["width"], task.seed_sequence(), c["draws"])
    row: dict[str, Any] = {
        "config_hash": task.config_hash, "seed": task.seed, "width": c["width"],
        "p": c["p"] if isinstance(c["p"], float) else None,
        "p_list": json.dumps(_jsonable(c["p"])), "depth": c["depth"],
        "rescale": int(c["rescale"]), "model": c["model"], "activation": c["activation"],
        "pruned": json.dumps(_jsonable(c["pruned"])), "input_layer": c["input_layer"],
        "draws": c["draws"], "inputs": c["inputs"], "master_seed": task.master_seed,
        "engine": c["engine"],
    }
    for name, vals in _metrics(ntks, lim, dense).items():
        row[f"{name}_mean"], row[f"{name}_sd"], row[f"{name}_stderr"] = _stats(vals)
    mean = ntks.mean(axis=0)
    ln = float(np.linalg.norm(lim))
    row["rel_bias"] = float(np.linalg.norm(mean - lim)) / ln if ln > 0 else None
    dn2 = float(np.sum(dense * dense))
    row["limit_ratio_dense"] = float(np.sum(lim * dense)) / dn2 if dn2 > 0 else None
    row["mean_ntk"] = json.dumps(mean.tolist())
    row["var_ntk"] = json.dumps(ntks.var(axis=0, ddof=1).tolist()) if len(ntks) > 1 else None
    row["limit_ntk"] = json.dumps(lim.tolist())
    row["dense_limit_ntk"] = json.dumps(dense.tolist())
    row["X"] = json.dumps([list(r) for r in task.X])
    row["elapsed_s"] = time.perf_counter() - t0
    return row


# ----------------------------------------------------------------------------- storage
_KEY_COLS = [("config_hash", "TEXT NOT NULL"), ("seed", "INTEGER NOT NULL"),
             ("width", "INTEGER"), ("p", "REAL"), ("p_list", "TEXT"), ("depth", "INTEGER"),
             ("rescale", "INTEGER"), ("model", "TEXT"), ("activation", "TEXT"),
             ("pruned", "TEXT"), ("input_layer", "TEXT"), ("draws", "INTEGER"),
             ("inputs", "TEXT"), ("master_seed", "INTEGER"), ("engine", "TEXT")]
_VALUE_COLS = ([(f"{m}_{s}", "REAL") for m in METRICS for s in ("mean", "sd", "stderr")]
               + [("rel_bias", "REAL"), ("limit_ratio_dense", "REAL"), ("mean_ntk", "TEXT"),
                  ("var_ntk", "TEXT"), ("limit_ntk", "TEXT"), ("dense_limit_ntk", "TEXT"),
                  ("X", "TEXT"), ("elapsed_s", "REAL")])
COLUMNS = [c for c, _ in _KEY_COLS + _VALUE_COLS]
#: Columns that depend on the machine, not on the task (excluded from comparisons).
TIMING_COLUMNS = ("elapsed_s",)


def open_db(path: str | os.PathLike) -> sqlite3.Connection:
    """Open (creating if needed) a sweep database; :class:`SweepError` if it is not one
    or has another schema version."""
    path = str(path)
    if path != ":memory:":
        parent = Path(path).parent
        if not parent.is_dir():
            raise SweepError(f"db: directory {str(parent)!r} does not exist")
    try:
        conn = sqlite3.connect(path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL" if path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        with conn:
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            cols = ", ".join(f"{c} {t}" for c, t in _KEY_COLS + _VALUE_COLS)
            conn.execute(f"CREATE TABLE IF NOT EXISTS results ({cols}, "
                         "PRIMARY KEY (config_hash, seed))")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
        (ver,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise SweepError(f"db {path!r} is not a usable sweep database: {exc}") from None
    if ver != str(SCHEMA_VERSION):
        conn.close()
        raise SweepError(f"db {path!r} has schema version {ver}; this version of theory "
                         f"writes {SCHEMA_VERSION} (use a new --db file)")
    return conn


def _done(conn: sqlite3.Connection) -> set[tuple[str, int]]:
    return set(conn.execute("SELECT config_hash, seed FROM results"))


def _insert(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    with conn:  # one transaction per finished task
        conn.execute(f"INSERT INTO results ({', '.join(COLUMNS)}) VALUES "
                     f"({', '.join('?' * len(COLUMNS))})", [row[c] for c in COLUMNS])


def read_rows(db: str | os.PathLike | sqlite3.Connection, where: str = "",
              params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """All rows of a sweep database (optionally filtered by an SQL ``where`` clause with
    ``?`` parameters), ordered by configuration and seed."""
    own = not isinstance(db, sqlite3.Connection)
    if own and not Path(db).is_file():
        raise SweepError(f"db {str(db)!r} does not exist")
    conn = open_db(db) if own else db
    try:
        conn.row_factory = sqlite3.Row
        q = f"SELECT * FROM results {('WHERE ' + where) if where else ''} " \
            "ORDER BY model, activation, depth, input_layer, pruned, rescale, p_list, width, seed"
        return [dict(r) for r in conn.execute(q, params)]
    finally:
        conn.row_factory = None
        if own:
            conn.close()


def export(db: str | os.PathLike, path: str | os.PathLike) -> int:
    """Write every row to ``path`` (``.csv`` or ``.json``); returns the number of rows."""
    path = Path(path)
    if path.suffix not in (".csv", ".json"):
        raise SweepError(f"--export: file name must end in .csv or .json, got {str(path)!r}")
    rows = read_rows(db)
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    else:
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(rows)
    return len(rows)


# ----------------------------------------------------------------------------- execution
@dataclass
class SweepReport:
    total: int
    skipped: int                   # already in the database
    computed: int
    db: str
    seconds: float
    rows: list[dict[str, Any]] = field(default_factory=list)


def _serial(todo: Sequence[Task]) -> Iterator[dict[str, Any]]:
    for t in todo:
        yield compute_task(t)


def _one_draw_thread() -> None:
    """Worker-process initializer: the processes already fill the CPUs, so each draws its
    batches on one thread (:func:`theory.batched.draw_threads`; the bits do not change)."""
    from . import batched
    batched.DRAW_THREADS = 1


def _processes(todo: Sequence[Task], jobs: int) -> Iterator[dict[str, Any]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    ex = ProcessPoolExecutor(max_workers=jobs, initializer=_one_draw_thread)
    try:
        futs = [ex.submit(compute_task, t) for t in todo]
        for f in as_completed(futs):
            yield f.result()
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


CONNECT_TIMEOUT = "10s"  # how long --scheduler waits for the scheduler to answer


def dask_client(address: str):
    """A ``distributed.Client`` connected to ``address`` (``tcp://HOST:PORT``), or
    :class:`SweepError` with an install hint when Dask is missing."""
    try:
        from distributed import Client
    except ImportError:
        raise SweepError("--scheduler needs Dask distributed, which is not installed: "
                         "pip install 'pruned-ntk-theory[dask]'") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SweepError(f"--scheduler: cannot connect to {address!r}: {exc}") from None


def _dask(todo: Sequence[Task], address: str) -> Iterator[dict[str, Any]]:
    client = dask_client(address)
    try:
        from distributed import as_completed
        futs = client.map(compute_task, list(todo), pure=False)
        for f in as_completed(futs, loop=client.loop):
            yield f.result()
    finally:
        client.close()


def _progress(total: int, quiet: bool):
    """A tqdm bar on stderr when it is a terminal and not ``quiet``; else a no-op."""
    if quiet or total == 0 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="task", desc="sweep", file=sys.stderr, dynamic_ncols=True)


def run_sweep(cfg: SweepConfig, *, db: str | os.PathLike | None = None, jobs: int | None = 1,
              scheduler: str | None = None, quiet: bool = False,
              on_task_done: Callable[[dict[str, Any]], None] | None = None) -> SweepReport:
    """Compute every task of ``cfg`` that ``db`` (default ``cfg.db``; ``None``: in memory)
    does not hold yet, writing each row as it finishes.

    ``jobs``: worker processes (``None`` = ``os.cpu_count()``; 1 = in this process);
    ``scheduler``: address of a Dask distributed scheduler (overrides ``jobs``).
    ``on_task_done(row)`` is called after each row is committed (tests use it to
    interrupt). A ``KeyboardInterrupt`` leaves the committed rows in place.
    """
    if jobs is None:
        jobs = os.cpu_count() or 1
    jobs = _int("jobs", jobs, 1)
    path = str(db if db is not None else (cfg.db or ":memory:"))
    all_tasks = tasks(cfg)
    conn = open_db(path)
    t0 = time.perf_counter()
    try:
        done = _done(conn)
        todo = [t for t in all_tasks if (t.config_hash, t.seed) not in done]
        skipped = len(all_tasks) - len(todo)
        if scheduler:
            results = _dask(todo, scheduler)
        elif jobs > 1 and len(todo) > 1:
            results = _processes(todo, min(jobs, len(todo)))
        else:
            results = _serial(todo)
        bar = _progress(len(todo), quiet)
        n = 0
        try:
            for row in results:
                _insert(conn, row)
                n += 1
                if bar is not None:
                    bar.update(1)
                if on_task_done is not None:
                    on_task_done(row)
        finally:
            if bar is not None:
                bar.close()
            close = getattr(results, "close", None)
            if close is not None:
                close()
        keys = {(t.config_hash, t.seed) for t in all_tasks}
        rows = [r for r in read_rows(conn) if (r["config_hash"], r["seed"]) in keys]
    finally:
        conn.close()
    return SweepReport(len(all_tasks), skipped, n, path, time.perf_counter() - t0, rows)


# ----------------------------------------------------------------------------- summaries
_CONFIG_FIELDS = ("p_list", "depth", "rescale", "model", "activation", "pruned",
                  "input_layer", "draws", "inputs", "master_seed")


def _seed_mean(vals: Sequence[float], ses: Sequence[float | None]) -> tuple[float, float | None]:
    """Mean over seeds and its standard error: the spread of the seed means when there
    are >= 2 seeds, else the task's own standard error over its draws."""
    v = np.asarray(vals, dtype=np.float64)
    if v.size >= 2:
        return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))
    return float(v[0]), ses[0]


def aggregate(rows: Sequence[dict[str, Any]], metric: str = "rel_err") -> list[dict[str, Any]]:
    """One entry per configuration (seeds pooled): the configuration fields, ``width``,
    ``seeds``, ``mean`` and ``stderr`` of ``METRIC_mean`` over seeds (see
    :func:`_seed_mean`), sorted like :func:`read_rows`."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in _CONFIG_FIELDS + ("width",)), []).append(r)
    out = []
    for key, rs in groups.items():
        vals = [r[f"{metric}_mean"] for r in rs]
        if any(v is None for v in vals):
            m, se = None, None
        else:
            m, se = _seed_mean(vals, [r[f"{metric}_stderr"] for r in rs])
        out.append({**dict(zip(_CONFIG_FIELDS + ("width",), key)), "p": rs[0]["p"],
                    "seeds": len(rs), "mean": m, "stderr": se})
    return out


def width_rates(rows: Sequence[dict[str, Any]], metric: str = "rel_err", *,
                alpha: float = 0.05) -> list[dict[str, Any]]:
    """Per configuration (all fields but width): the least-squares slope of
    ``log(metric)`` against ``log(width)`` with its Student-t ``1 − alpha`` interval
    (:func:`theory.stats.slope_fit`, weights ``(mean/stderr)²`` when every point has a
    standard error). The predicted slope of the fluctuation error is ``−1/2``
    (docs/math.md#finite-width). ``fit`` is ``None`` with a ``reason`` when fewer than 3
    widths are available."""
    agg = aggregate(rows, metric)
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for a in agg:
        groups.setdefault(tuple(a[k] for k in _CONFIG_FIELDS), []).append(a)
    out = []
    for key, pts in groups.items():
        pts = sorted((a for a in pts if a["mean"] is not None and a["mean"] > 0),
                     key=lambda a: a["width"])
        entry = {**dict(zip(_CONFIG_FIELDS, key)), "p": pts[0]["p"] if pts else None,
                 "metric": metric, "widths": [a["width"] for a in pts], "predicted_slope": -0.5}
        if len(pts) < 3:
            entry.update(fit=None, reason=f"needs >= 3 widths with a positive {metric}, got {len(pts)}")
        else:
            x = [math.log(a["width"]) for a in pts]
            y = [math.log(a["mean"]) for a in pts]
            se = [a["stderr"] for a in pts]
            w = None if any(s is None or s <= 0 for s in se) else \
                [(a["mean"] / s) ** 2 for a, s in zip(pts, se)]
            f: SlopeFit = slope_fit(x, y, alpha=alpha, weights=w)
            entry.update(fit=f.as_dict(), contains_predicted=f.contains(-0.5))
        out.append(entry)
    return out
