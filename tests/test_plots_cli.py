"""``theory plot``, ``theory experiment`` and ``theory verify``: files written, numbers
plotted, errors as one line, exit codes."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from theory import experiment as E
from theory import plots as P
from theory import sweep as S
from theory import verify as V
from theory.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """A small database with rows for every figure: depth 2 over widths and p (figures
    1, 2) and depth 1 with masked/unmasked input layer (figure 3)."""
    path = tmp_path_factory.mktemp("plots") / "r.sqlite"
    base = {"draws": 4, "seeds": 2, "inputs": {"n": 2, "d0": 4, "seed": 4}}
    S.run_sweep(S.config_from_dict({**base, "widths": [8, 16, 32], "p": [0.0, 0.5],
                                    "depth": 2, "rescale": [False, True]}), db=path, quiet=True)
    S.run_sweep(S.config_from_dict({**base, "widths": 16, "p": [0.0, 0.5, 0.8], "depth": 1,
                                    "rescale": True, "pruned": ["all", "all_but_input"]}),
                db=path, quiet=True)
    return path


def test_plot_all_writes_png_and_pdf(db, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["plot", "all", "--from", str(db), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    names = {"error_vs_width", "ratio_vs_p", "variance_vs_p", "mixture_vs_angle"}
    assert {Path(p).name for p in printed} == {f"{n}.{e}" for n in names for e in ("png", "pdf")}
    for n in names:
        assert (out / f"{n}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{n}.pdf").read_bytes()[:5] == b"%PDF-"


def test_figure_numbers_are_the_database_numbers(db):
    rows = S.read_rows(db, "depth = ?", [2])
    f1 = P.error_vs_width(rows)
    agg = {(a["p"], bool(a["rescale"]), a["width"]): a for a in S.aggregate(rows)}
    assert len(f1.table) == len(agg)
    for r in f1.table:
        assert any(math.isclose(r["mean"], a["mean"]) for a in agg.values())
    f2 = P.ratio_vs_p(rows)  # at the largest width; derived factor from theory.scaling_factor
    mask = [r for r in f2.table if r["factor"] == "(1 - p)**3"]
    assert {r["p"] for r in mask} == {0.0, 0.5} and all(r["derived"] == (1 - r["p"]) ** 3 for r in mask)
    assert {r["factor"] for r in f2.table} == {"(1 - p)**3", "1"}
    f3 = P.variance_vs_p(S.read_rows(db, "depth = ?", [1]), entries=((0, 0),))
    from theory import Architecture
    from theory.variance import neuron_moments
    for r in f3.table:
        X = np.asarray(json.loads(S.read_rows(db, "depth = ?", [1])[0]["X"]))
        pr = "all" if "(input layer masked)" in r["label"] else "all_but_input"
        a = Architecture(depth=1, p=r["p"], rescale=True, pruned=pr)
        assert r["exact"] == pytest.approx(neuron_moments(a, X).variance[0, 0], rel=1e-12)
    masked = [r for r in f3.table if r["wide"] is not None]
    assert masked and all(r["exact"] >= r["wide"] - 1e-9 for r in masked)


def test_mixture_figure_agrees_at_parallel_inputs():
    f = P.mixture_vs_angle(d0s=(2, 4), n_angles=5)
    ends = [r for r in f.table if r["theta"] in (0.0, math.pi)]
    assert len(ends) == 4 and all(abs(r["gap"]) < 1e-9 for r in ends)
    assert max(abs(r["gap"]) for r in f.table) > 0.01  # d0 = 2, 4: the mixture differs


@pytest.mark.parametrize("argv, needle", [
    (["plot", "error-vs-width"], "needs --from"),
    (["plot", "ratio-vs-p", "--from", "/nonexistent.sqlite"], "does not exist"),
    (["plot", "error-vs-width", "--from", "DB", "--select", "colour=red"], "unknown key"),
    (["plot", "error-vs-width", "--from", "DB", "--select", "depth=three"], "--select"),
    (["plot", "error-vs-width", "--from", "DB", "--select", "depth=7"], "no sweep rows"),
    (["plot", "error-vs-width", "--from", "DB", "--format", "gif"], "--format"),
])
def test_plot_errors_are_one_line(db, tmp_path, capsys, argv, needle):
    argv = [str(db) if a == "DB" else a for a in argv] + ["--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("theory plot: error:") and needle in err, err


def test_experiment_cli_runs_resumes_and_plots(tmp_path, capsys, monkeypatch):
    tiny = {**E.QUICK, "widths": [8, 16, 32], "depth": 1, "draws": 2, "seeds": 2,
            "inputs": {"n": 3, "d0": 4, "seed": 1}}
    monkeypatch.setattr(E, "QUICK", tiny)
    argv = ["experiment", "ntk-vs-width", "--quick", "--out", str(tmp_path), "--jobs", "1"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["grid"] == tiny and len(out["lines"]) == 2 * len(tiny["p"])
    unresc = {ln["p"]: ln["plateau"] for ln in out["lines"] if not ln["rescale"]}
    # the plateau of the unrescaled NTK is the distance of q^2 Θ̃_dense from Θ̃_dense (L = 1;
    # the input layer's mixture moves it only off the diagonal)
    assert unresc[0.0] == 0.0 and 0.5 < unresc[0.75] < 1
    assert (tmp_path / "ntk_vs_width.png").exists() and (tmp_path / "ntk_vs_width.pdf").exists()
    assert main(argv) == 0  # resumes: nothing left to compute
    assert f"{2 * 3 * 3 * 2} skipped" in capsys.readouterr().err


def test_experiment_bad_options(capsys, tmp_path):
    assert main(["experiment", "ntk-vs-width", "--jobs", "0", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_verify_arguments_map_to_pytest():
    ns = type("NS", (), dict(seed=3, profile="thorough", json="v.json", select=None, quiet=True))
    args = V.pytest_args(ns, Path("/x/checks"))
    assert args[0] == "/x/checks" and ["--seed", "3"] == args[args.index("--seed"):args.index("--seed") + 2]
    assert "--verdicts-json" in args and "thorough" in args and "-q" in args


def test_verify_exit_code_follows_the_checks(tmp_path, monkeypatch, capsys):
    """A refuted claim (a failing check) gives a non-zero exit; a holding one gives 0."""
    d = tmp_path / "checks"
    d.mkdir()
    (d / "conftest.py").write_text(
        "def pytest_addoption(parser):\n"
        "    parser.addoption('--seed'); parser.addoption('--profile')\n"
        "    parser.addoption('--verdicts-json')\n")
    (d / "test_claim.py").write_text("def test_holds():\n    assert 1 + 1 == 2\n\n"
                                     "def test_refuted():\n    assert 0.5 == 0.25, 'claim refuted'\n")
    monkeypatch.setattr(V, "CHECKS_DIR", d)
    # the stand-in checks need no installed pytest plugins (isolates the inner session)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert main(["verify", "-q", "-k", "holds", "--seed", "1"]) == 0
    assert main(["verify", "-q", "-k", "refuted"]) == 1  # pytest's "tests failed"
    assert main(["verify", "--seed", "-1"]) == 2
    monkeypatch.setattr(V, "CHECKS_DIR", tmp_path / "nowhere")
    assert main(["verify"]) == 2
    assert "not available" in capsys.readouterr().err


def test_verify_runs_the_real_checks(tmp_path):
    """``theory verify`` on one cheap real claim check: exit 0 and the verdict JSON."""
    out = tmp_path / "v.json"
    r = subprocess.run([sys.executable, "-m", "theory.cli", "verify", "-q", "-k",
                        "test_symbolic_uniform_p_all_layers", "--seed", "0", "--json", str(out)],
                       cwd=tmp_path, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert out.exists() and json.loads(out.read_text())


def test_help_lists_only_existing_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for cmd in ("limit", "sample", "factor", "sweep", "plot", "experiment", "latex", "check",
                "verify"):
        assert cmd in text
