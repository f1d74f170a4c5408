"""Sweeps (theory.sweep, ``theory sweep``): configuration errors, determinism across
schedulers (serial, processes, Dask), interrupt-and-resume, export."""
from __future__ import annotations

import csv
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from theory import sweep as S
from theory.cli import main

ROOT = Path(__file__).resolve().parent.parent

SMALL = """
widths = [8, 16, 32]
p = [0.0, 0.5]
depth = 2
rescale = [false, true]
seeds = 2
draws = 3
seed = 11
[inputs]
n = 3
d0 = 5
seed = 2
"""


def _cfg(tmp_path: Path, text: str = SMALL, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _strip(rows):
    """Rows without the machine-dependent timing column."""
    return [{k: v for k, v in r.items() if k not in S.TIMING_COLUMNS} for r in rows]


# ----------------------------------------------------------------------------- config
def test_config_grid_and_defaults(tmp_path):
    cfg = S.load_config(_cfg(tmp_path))
    assert cfg.n_tasks == 3 * 2 * 2 * 2
    assert cfg.db == str(tmp_path / "s.sqlite")
    assert len(cfg.X) == 3 and len(cfg.X[0]) == 5
    assert all(abs(math.hypot(*row) - 1) < 1e-12 for row in cfg.X)
    # a per-matrix p is a list inside the grid list; pruned = [0, 2] is one index set
    c2 = S.config_from_dict({"widths": 8, "p": [[0.1, 0.2, 0.3]], "depth": 2,
                             "pruned": [0, 1, 2]})
    assert c2.p == ((0.1, 0.2, 0.3),) and c2.pruned == ((0, 1, 2),)


@pytest.mark.parametrize("body, key", [
    ("widths = [8]\nwidht = 3", "widht"),                     # unknown key
    ("widths = [8, 'a']", "widths[1]"),                       # wrong type
    ("widths = [0]", "widths"),                               # bad value
    ("widths = [8]\np = 1.0", "p"),
    ("widths = [8]\np = [0.1, 'x']", "p[1]"),
    ("widths = [8]\ndraws = 0", "draws"),
    ("widths = [8]\nseeds = 1.5", "seeds"),
    ("widths = [8]\nrescale = 'yes'", "rescale"),
    ("widths = [8]\nmodel = 'dropout'", "model"),
    ("widths = [8]\nactivation = 'swish9'", "activation"),
    ("widths = [8]\ninput_layer = 'narrow'", "input_layer"),
    ("widths = [8]\npruned = 'some'", "pruned"),
    ("widths = [8, 8]", "widths"),                            # repeated
    ("p = 0.5", "widths"),                                    # missing
    ("widths = [8]\n[inputs]\nn = 2\nd1 = 3", "inputs.d1"),
    ("widths = [8]\n[inputs]\nfile = 'missing.npy'", "missing.npy"),
    ("widths = [8]\ndepth = 1\np = [[0.1, 0.2, 0.3]]", "p"),  # wrong length for depth 1
    ("widths = [8", "not valid TOML"),
])
def test_bad_config_one_clear_line(tmp_path, capsys, body, key):
    path = _cfg(tmp_path, body)
    with pytest.raises(S.SweepError, match=key.replace("[", r"\[").replace("]", r"\]")):
        S.load_config(path)
    assert main(["sweep", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("theory sweep: error:") and key in err


@pytest.mark.parametrize("argv, needle", [
    (["--draws", "0"], "--draws"),
    (["--widths=-5"], "--widths"),
    (["--widths", "64,abc"], "--widths"),
    (["--seeds", "0"], "--seeds"),
    (["--jobs", "0"], "--jobs"),
    (["--p", "1.5"], "p"),
    (["--inputs", "/nonexistent/x.json"], "no such file"),
    (["--export", "out.txt"], "--export"),
    (["--export", "out.csv"], "--export needs --db"),
])
def test_bad_flags_one_clear_line(capsys, argv, needle):
    # a value the parser rejects (e.g. --p) exits through argparse with code 2; a value
    # the sweep rejects returns 2: either way one line on stderr
    try:
        rc = main(["sweep", "--widths", "8,16,32", "--draws", "2", *argv])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err


def test_seed_indices_list_selects_tasks(tmp_path):
    a = S.config_from_dict({"widths": 8, "depth": 1, "draws": 2, "seeds": 3})
    b = S.config_from_dict({"widths": 8, "depth": 1, "draws": 2, "seeds": [2, 0]})
    ra = {r["seed"]: r for r in _strip(S.run_sweep(a, quiet=True).rows)}
    rb = _strip(S.run_sweep(b, quiet=True).rows)
    assert b.n_tasks == 2 and [r["seed"] for r in rb] == [0, 2]
    assert all(r == ra[r["seed"]] for r in rb)  # a task is its key, whatever else runs
    with pytest.raises(S.SweepError, match="seeds"):
        S.config_from_dict({"widths": 8, "seeds": [1, 1]})


def test_progress_bar_only_on_a_terminal(monkeypatch):
    assert S._progress(5, quiet=False) is None          # pytest's stderr is not a TTY
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = S._progress(5, quiet=False)
    assert bar is not None and bar.total == 5
    bar.close()
    assert S._progress(5, quiet=True) is None


def test_config_and_flags_conflict(tmp_path, capsys):
    assert main(["sweep", str(_cfg(tmp_path)), "--depth", "4"]) == 2
    assert "--depth cannot be combined" in capsys.readouterr().err


# ----------------------------------------------------------------------------- flags mode
def test_flags_sweep_json_and_rate(capsys):
    assert main(["sweep", "--widths", "8,16,32", "--draws", "1", "--depth", "1",
                 "--input-layer", "wide", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out
    res = json.loads(out)
    assert res["tasks"] == 3 and res["computed"] == 3 and res["skipped"] == 0
    assert [r["width"] for r in res["sweep"]] == [8, 16, 32]
    r0 = res["sweep"][0]
    assert r0["input_layer"] == "wide" and r0["rel_error_stderr"] is None  # one draw: no sd
    assert r0["mean_rel_error"] > 0 and r0["mean_max_abs_error"] > 0
    (rate,) = res["rates"]
    assert rate["predicted_slope"] == -0.5 and rate["widths"] == [8, 16, 32]
    assert rate["ci"][0] <= rate["slope"] <= rate["ci"][1]


def test_width_rates_recovers_an_exact_power_law():
    """Synthetic rows y = 3 w^-0.5 (±1 % seed noise): the fit must give the slope."""
    rows = []
    for w in (16, 64, 256, 1024):
        for s, eps in enumerate((0.99, 1.01)):
            rows.append({**{k: "x" for k in S._CONFIG_FIELDS}, "p": 0.5, "width": w,
                         "seed": s, "rel_err_mean": 3 * w ** -0.5 * eps,
                         "rel_err_stderr": 0.01})
    (e,) = S.width_rates(rows)
    assert e["fit"]["slope"] == pytest.approx(-0.5, abs=1e-12)
    assert e["contains_predicted"]
    agg = S.aggregate(rows)
    assert agg[0]["mean"] == pytest.approx(3 / 4) and agg[0]["seeds"] == 2
    assert agg[0]["stderr"] == pytest.approx(0.01 * 3 / 4)  # spread of the two seed means


def test_single_draw_metrics_match_direct_computation():
    import numpy as np
    import theory
    cfg = S.config_from_dict({"widths": 16, "p": 0.5, "depth": 2, "draws": 2,
                              "inputs": {"n": 2, "d0": 4}})
    (t0, ) = S.tasks(cfg)
    row = S.compute_task(t0)
    X = np.asarray(cfg.X)
    arch = theory.Architecture(depth=2, p=0.5)
    ntks = theory.empirical_ntk(arch, X, 16, t0.seed_sequence(), draws=2)
    lim = theory.limit_ntk(arch, X)
    rel = [np.linalg.norm(k - lim) / np.linalg.norm(lim) for k in ntks]
    assert row["rel_err_mean"] == pytest.approx(np.mean(rel), rel=1e-14)
    assert row["abs_err_mean"] == pytest.approx(np.mean([np.abs(k - lim).max() for k in ntks]))
    dense = theory.limit_ntk(arch.dense(), X)
    assert row["ratio_dense_mean"] == pytest.approx(
        np.mean([np.sum(k * dense) / np.sum(dense * dense) for k in ntks]))
    assert json.loads(row["limit_ntk"]) == lim.tolist()


# ----------------------------------------------------------------------------- determinism
def test_serial_and_processes_are_bit_identical(tmp_path):
    cfg = S.load_config(_cfg(tmp_path))
    a = S.run_sweep(cfg, db=tmp_path / "a.sqlite", jobs=1, quiet=True)
    b = S.run_sweep(cfg, db=tmp_path / "b.sqlite", jobs=2, quiet=True)
    assert a.computed == b.computed == cfg.n_tasks
    assert _strip(a.rows) == _strip(b.rows)


def test_growing_the_grid_keeps_old_rows(tmp_path):
    """Seeds derive from the task key, not its position: adding a width computes only the
    new tasks and leaves the old rows unchanged."""
    db = tmp_path / "g.sqlite"
    small = S.config_from_dict({"widths": [8, 16], "p": 0.5, "depth": 1, "draws": 2})
    big = S.config_from_dict({"widths": [4, 8, 16, 32], "p": 0.5, "depth": 1, "draws": 2})
    r1 = S.run_sweep(small, db=db, quiet=True)
    r2 = S.run_sweep(big, db=db, quiet=True)
    assert (r2.skipped, r2.computed) == (2, 2)
    old = {(r["width"], r["seed"]): r for r in _strip(r1.rows)}
    assert all(old[(r["width"], r["seed"])] == r for r in _strip(r2.rows) if r["width"] in (8, 16))


def test_resume_after_interrupt(tmp_path):
    cfg = S.load_config(_cfg(tmp_path))
    ref = S.run_sweep(cfg, db=tmp_path / "ref.sqlite", quiet=True)
    db = tmp_path / "int.sqlite"
    seen = []

    def hook(row):
        seen.append(row)
        if len(seen) == 5:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        S.run_sweep(cfg, db=db, quiet=True, on_task_done=hook)
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 5
    again = S.run_sweep(cfg, db=db, jobs=2, quiet=True)
    assert (again.skipped, again.computed) == (5, cfg.n_tasks - 5)
    assert _strip(again.rows) == _strip(ref.rows)
    # and once more: nothing left to do
    last = S.run_sweep(cfg, db=db, quiet=True)
    assert (last.skipped, last.computed) == (cfg.n_tasks, 0)


_SLOW_CHILD = """
import sys, time
import theory.sweep as S
from theory.cli import main
fast = S.compute_task
def slow(task):  # same result, later: so that the parent can kill it mid-sweep
    time.sleep(0.15)
    return fast(task)
S.compute_task = slow
sys.exit(main(sys.argv[1:]))
"""


def test_resume_after_the_process_is_killed(tmp_path):
    """A real interruption: SIGKILL a running ``theory sweep`` once some rows are committed
    (its tasks are slowed down by a sleep, results unchanged); the same command then
    computes only the missing tasks and the database equals an uninterrupted run."""
    path = _cfg(tmp_path)
    args = ["sweep", str(path), "--jobs", "1", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_CHILD, *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = tmp_path / "s.sqlite"
    n = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as c:
                    n = c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                n = 0
            if n >= 2:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "the sweep finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cfg = S.load_config(path)
    with sqlite3.connect(db) as c:
        stored = c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert 2 <= stored < cfg.n_tasks
    r = subprocess.run([sys.executable, "-m", "theory.cli", *args[:-1]], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"{cfg.n_tasks} tasks: {stored} skipped" in r.stderr
    assert json.loads(r.stdout)["computed"] == cfg.n_tasks - stored
    ref = S.run_sweep(cfg, db=tmp_path / "ref.sqlite", quiet=True)
    assert _strip(S.read_rows(db)) == _strip(ref.rows)


def test_schema_version_is_enforced(tmp_path):
    db = tmp_path / "old.sqlite"
    S.open_db(db).close()
    with sqlite3.connect(db) as c:
        c.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with pytest.raises(S.SweepError, match="schema version 0"):
        S.open_db(db)
    (tmp_path / "junk.sqlite").write_text("not a database")
    with pytest.raises(S.SweepError, match="not a usable sweep database"):
        S.open_db(tmp_path / "junk.sqlite")


# ----------------------------------------------------------------------------- export
def test_export_csv_and_json(tmp_path, capsys):
    path = _cfg(tmp_path)
    assert main(["sweep", str(path), "--quiet", "--jobs", "1",
                 "--export", str(tmp_path / "r.json")]) == 0
    assert main(["sweep", str(path), "--export", str(tmp_path / "r.csv")]) == 0
    err = capsys.readouterr().err
    assert "24 tasks: 24 skipped" in err and "0 computed" in err
    rows = S.read_rows(tmp_path / "s.sqlite")
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and json.loads(text) == rows
    with open(tmp_path / "r.csv", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert len(got) == len(rows) == 24 and list(got[0]) == S.COLUMNS
    assert float(got[0]["rel_err_mean"]) == rows[0]["rel_err_mean"]  # repr round-trips


# ----------------------------------------------------------------------------- Dask
def test_dask_cluster_is_bit_identical_to_serial(tmp_path, capsys):
    import distributed
    cfg = S.load_config(_cfg(tmp_path))
    serial = S.run_sweep(cfg, db=tmp_path / "serial.sqlite", jobs=1, quiet=True)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        addr = cluster.scheduler_address
        assert addr.startswith("tcp://127.0.0.1:")
        assert main(["sweep", str(_cfg(tmp_path)), "--scheduler", addr, "--quiet",
                     "--db", str(tmp_path / "dask.sqlite")]) == 0
    capsys.readouterr()
    assert _strip(S.read_rows(tmp_path / "dask.sqlite")) == _strip(serial.rows)


def test_scheduler_without_dask_is_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    assert main(["sweep", str(_cfg(tmp_path)), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs Dask" in err and "[dask]" in err


def test_unreachable_scheduler_is_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(S, "CONNECT_TIMEOUT", "1s")
    assert main(["sweep", str(_cfg(tmp_path)), "--scheduler", "tcp://127.0.0.1:9",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot connect" in err


def test_committed_experiment_rows_are_reproducible():
    """notes/data/ntk_vs_width.sqlite is resumed, not recomputed, by the note: recompute a
    few of its tasks and demand the stored rows bit for bit (a sampler change that keeps
    ``S.ENGINE`` fails here; then delete the file and regenerate the note)."""
    from theory import experiment as E
    db = ROOT / "notes" / "data" / "ntk_vs_width.sqlite"
    stored = {(r["config_hash"], r["seed"]): r for r in S.read_rows(db)}
    todo = [t for t in S.tasks(S.config_from_dict(E.NTK_VS_WIDTH))
            if t.cfg["width"] == 64 and t.cfg["p"] in (0.0, 0.75) and t.seed < 2]
    assert len(todo) == 8
    for t in todo:
        row = S.compute_task(t)
        old = stored[(t.config_hash, t.seed)]
        assert {k: row[k] for k in S.COLUMNS if k not in S.TIMING_COLUMNS} == \
               {k: old[k] for k in S.COLUMNS if k not in S.TIMING_COLUMNS}


def test_rows_do_not_depend_on_the_callers_blas_threads(monkeypatch):
    """compute_task runs its draws and limits with one BLAS thread, whatever the caller's
    (serial runs keep numpy's default, Dask's nanny starts workers with one): OpenBLAS
    rounds some products differently with one thread and with two (a 420-wide masked
    layer's NTK term here, by 2e-16), which made a row depend on where it was computed."""
    from threadpoolctl import threadpool_info, threadpool_limits
    cfg = S.config_from_dict({"widths": [420], "p": [0.3], "depth": 2, "draws": 5,
                              "seeds": 1, "activation": "erf", "inputs": {"n": 4, "d0": 7}})
    task = S.tasks(cfg)[0]
    seen = []
    real = S.empirical_ntk

    def spy(*args, **kw):
        seen.append({m["num_threads"] for m in threadpool_info() if m["user_api"] == "blas"})
        return real(*args, **kw)

    monkeypatch.setattr(S, "empirical_ntk", spy)
    rows = {}
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            rows[threads] = S.compute_task(task)
    assert seen == [{1}, {1}]  # the draws ran with one BLAS thread both times
    keep = [k for k in S.COLUMNS if k not in S.TIMING_COLUMNS]
    assert {k: rows[1][k] for k in keep} == {k: rows[2][k] for k in keep}
