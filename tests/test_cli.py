"""The ``theory`` command line: what a newcomer types, and every bad input gets one clear
line on stderr and a non-zero exit (issue: output a researcher can trust).

Most tests call ``theory.cli.main([...])`` in-process; two run a subprocess (a closed
pipe, and the console entry point's version)."""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

import theory
from theory import cli

ROOT = Path(__file__).resolve().parent.parent
X = np.array([[1.0, 0.0, 0.5], [0.2, -1.0, 0.3], [0.4, 0.4, -0.8]])


def run(capsys, *argv: str) -> tuple[int, dict | None, str]:
    """``(exit code, parsed JSON or None, stderr)``; SystemExit (argparse) counts as a code."""
    try:
        rc = cli.main(list(argv))
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    data = json.loads(out) if rc == 0 and out.lstrip().startswith("{") else None
    return rc, data, err


def assert_one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc != 0
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], lines[0]


# ----------------------------------------------------------------------------- item 1
def test_limit_never_derives_the_factor_unless_asked(capsys, monkeypatch):
    import theory.scaling as S

    def boom(*a, **k):
        raise AssertionError("symbolic work that was not asked for")
    monkeypatch.setattr(S, "derive_scaling_factor", boom)
    monkeypatch.setattr(S, "factor_structure", boom)
    rc, data, err = run(capsys, "limit", "--depth", "300", "--p", "0.5")
    assert rc == 0, err
    assert "scaling_factor" not in data and len(data["ntk"]) == 2


def test_limit_factor_is_labelled_with_its_recursion(capsys):
    # the printed kernel uses the mixture: the factor 1 does not apply off the diagonal
    rc, data, err = run(capsys, "limit", "--depth", "3", "--p", "0.5", "--rescale", "--factor")
    assert rc == 0, err
    f = data["scaling_factor"]
    assert f["value"] == "1" and f["recursion"] == "wide-input"
    assert "off-diagonal" in f["applies_to"] and data["input_layer"]["route"] == "enumerated"
    K, Kd = np.array(data["ntk"]), theory.limit_ntk(theory.Architecture(depth=3, p=0), cli.DEMO_INPUTS)
    assert abs(K[0, 1] / Kd[0, 1] - 1) > 0.01  # ... and indeed it does not
    rc, data, _ = run(capsys, "limit", "--depth", "3", "--p", "0.5", "--rescale", "--factor",
                      "--input-layer", "wide")
    assert "printed kernel" in data["scaling_factor"]["applies_to"]
    assert "off-diagonal" not in data["scaling_factor"]["applies_to"]


def test_factor_fast_at_depth_and_reason_readable(capsys):
    rc, data, err = run(capsys, "factor", "--depth", "300", "--p", "p")
    assert rc == 0 and data["scaling_factor"] == "(1 - p)**301" and data["recursion"] == "wide-input"
    rc, data, err = run(capsys, "factor", "--depth", "40", "--activation", "erf")
    assert rc == 0 and data["scaling_factor"] is None
    assert not re.search(r"\b(theta|v)_\d+", data["reason"]) and "W1-W40" in data["reason"]
    rc, data, err = run(capsys, "latex", "--fragment", "scaling", "--depth", "300")
    assert rc == 0, err


# ----------------------------------------------------------------------------- items 2/3
def test_input_layer_route_reported(capsys, tmp_path):
    rng = np.random.default_rng(0)
    big = tmp_path / "X20.npy"
    np.save(big, rng.standard_normal((2, 20)))
    rc, data, err = run(capsys, "limit", "--inputs", str(big), "--depth", "2")
    r = data["input_layer"]
    assert r["route"] == "sampled" and r["exact"] is False and r["n_masks"] == 1 << 15
    assert 0 < r["stderr"] < 0.1 and r["error_estimate"] == r["stderr"]
    assert "APPROXIMATION" in r["note"]
    rc, data, err = run(capsys, "limit", "--depth", "2")
    assert data["input_layer"]["route"] == "enumerated" and data["input_layer"]["exact"] is True
    rc, data, err = run(capsys, "limit", "--depth", "2", "--pruned", "all_but_input")
    assert data["input_layer"]["route"] == "dense"
    rc, data, err = run(capsys, "limit", "--depth", "2", "--input-layer", "wide")
    assert data["input_layer"]["route"] == "wide" and data["input_layer"]["exact"] is False


def test_latex_architecture_states_route(capsys, tmp_path):
    big = tmp_path / "X20.npy"
    np.save(big, np.random.default_rng(1).standard_normal((2, 20)))
    assert cli.main(["latex", "--fragment", "architecture", "--inputs", str(big), "--p", "0.5",
                     "--depth", "2"]) == 0
    out = capsys.readouterr().out
    assert r"\emph{sampled} over 32768 masks" in out and "standard error" in out


# ----------------------------------------------------------------------------- item 4
@pytest.mark.parametrize("text,expected", [
    ("0.5", 0.5), (" .25 ", 0.25), ("5e-1", 0.5), ("0", 0.0), ("1/2", sympy.Rational(1, 2)),
    ("0.1,0.2, 0.3 ,0.4", [0.1, 0.2, 0.3, 0.4]), ("p", sympy.Symbol("p")),
    ("p0,p1", [sympy.Symbol("p0"), sympy.Symbol("p1")]),
    ("sqrt(2)/2", sympy.sqrt(2) / 2), ("0.1, 1/3", [0.1, sympy.Rational(1, 3)]),
])
def test_parse_p_accepts(text, expected):
    assert cli.parse_p(text) == expected


@pytest.mark.parametrize("text", ["0.5,", ",0.5", "1/2 - /2", "x y", "p**2", "nan", "inf", "1",
                                  "-0.1", "1.5", "1/0", "", "0.5;0.2", "__import__('os')"])
def test_parse_p_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError, match="--p"):
        cli.parse_p(text)


def test_p_on_the_command_line(capsys):
    rc, data, _ = run(capsys, "limit", "--p", "1/2", "--depth", "1")
    assert data["arch"]["p"] == [0.5, 0.5]
    for bad in ("0.5,", "x y", "p**2", "1/2 - /2"):
        rc, _, err = run(capsys, "limit", "--p", bad)
        assert_one_line_error(rc, err, "--p")
    rc, data, err = run(capsys, "factor", "--depth", "1", "--p", "q")
    assert data["scaling_factor"] == "(1 - q)**2"


def test_pruned_parsing(capsys):
    rc, data, err = run(capsys, "limit", "--pruned", " 1, 2", "--p", "0.3")
    assert rc == 0 and data["arch"]["pruned_matrices"] == [1, 2]
    rc, data, err = run(capsys, "limit", "--pruned", "Hidden")
    assert rc == 0 and data["arch"]["pruned_matrices"] == [1, 2]
    rc, _, err = run(capsys, "limit", "--pruned", "1,,2")
    assert_one_line_error(rc, err, "--pruned")
    rc, _, err = run(capsys, "limit", "--pruned", "0,7")
    assert_one_line_error(rc, err, "out of range")


def test_pruned_none_does_not_echo_a_misleading_p(capsys):
    rc, _, err = run(capsys, "limit", "--pruned", "none", "--p", "0.5")
    assert_one_line_error(rc, err, "--p", "--pruned none")
    rc, data, err = run(capsys, "limit", "--pruned", "none")
    assert rc == 0 and data["arch"]["p"] == [0.0] * 4


# ----------------------------------------------------------------------------- item 5
def _formats(tmp_path: Path) -> dict[str, Path]:
    files = {}
    files["npy"] = tmp_path / "a.npy"
    np.save(files["npy"], X)
    files["NPY"] = tmp_path / "b.NPY"
    with open(files["NPY"], "wb") as fh:
        np.save(fh, X)
    files["npz_single"] = tmp_path / "c.npz"
    np.savez(files["npz_single"], anything=X)
    files["npz_X"] = tmp_path / "d.Npz"
    with open(files["npz_X"], "wb") as fh:
        np.savez(fh, X=X, y=np.ones(3))
    files["csv"] = tmp_path / "e.csv"
    files["csv"].write_text("\n".join(",".join(repr(float(v)) for v in row) for row in X) + "\n")
    files["csv_header"] = tmp_path / "f.CSV"
    files["csv_header"].write_text("x1, x2, x3\n" + "\n".join(", ".join(repr(float(v)) for v in row) for row in X))
    files["json"] = tmp_path / "g.json"
    files["json"].write_text(json.dumps(X.tolist()))
    files["json_obj"] = tmp_path / "h.JSON"
    files["json_obj"].write_text(json.dumps({"X": X.tolist()}))
    return files


def test_input_formats(capsys, tmp_path):
    expect = theory.limit_ntk(theory.Architecture(depth=3, p=0.5), X)
    for name, path in _formats(tmp_path).items():
        rc, data, err = run(capsys, "limit", "--inputs", str(path))
        assert rc == 0, (name, err)
        np.testing.assert_array_equal(np.array(data["ntk"]), expect, err_msg=name)


@pytest.mark.parametrize("content,ext,needle", [
    (None, ".npy", "no such file"),
    ("1,2\n", ".txt", "accepted: .npy, .npz, .csv, .json"),
    ("1,2\n3\n", ".csv", "different lengths"),
    ("1,2\n3,abc\n", ".csv", "not a number"),
    ("[[1, 2], [3]]", ".json", "different lengths"),
    ('{"Y": [[1, 2]]}', ".json", "key 'X'"),
    ("[[1, NaN]]", ".json", "NaN or inf"),
    ("[1, 2, 3]", ".json", "2-D"),
    ("[[[1, 2]]]", ".json", "2-D"),
    ("[[1, \"a\"]]", ".json", "not a number"),
    ("{not json", ".json", "cannot read"),
    ("garbage", ".npy", "cannot read"),
    ("", ".csv", "no rows"),
])
def test_bad_input_files(capsys, tmp_path, content, ext, needle):
    path = tmp_path / f"bad{ext}"
    if content is not None:
        path.write_text(content)
    rc, _, err = run(capsys, "limit", "--inputs", str(path))
    assert_one_line_error(rc, err, "--inputs", needle)


def test_bad_npz_and_nan_npy(capsys, tmp_path):
    np.savez(tmp_path / "m.npz", a=X, b=X)
    rc, _, err = run(capsys, "limit", "--inputs", str(tmp_path / "m.npz"))
    assert_one_line_error(rc, err, "--inputs", "name it X")
    np.save(tmp_path / "n.npy", np.array([[1.0, np.inf]]))
    rc, _, err = run(capsys, "sample", "--inputs", str(tmp_path / "n.npy"), "--width", "8")
    assert_one_line_error(rc, err, "--inputs", "NaN or inf")


# ----------------------------------------------------------------------------- item 6
@pytest.mark.parametrize("argv,needle", [
    (["--draws", "0"], "--draws"), (["--widths=-5"], "--widths"), (["--widths", "64,abc"], "--widths"),
    (["--widths", "64,"], "--widths"), (["--depth", "-1"], "--depth"), (["--seed", "x"], "--seed"),
])
def test_sweep_bad_inputs(capsys, argv, needle):
    rc, _, err = run(capsys, "sweep", *argv)
    assert_one_line_error(rc, err, needle)


def test_sweep_output_is_strict_json_with_relative_error(capsys):
    rc, data, err = run(capsys, "sweep", "--widths", "16, 32", "--draws", "1", "--depth", "1")
    assert rc == 0, err
    for row in data["sweep"]:
        # one draw: no standard error (null, never NaN); the relative error is reported
        assert row["stderr"] is None and row["rel_error_stderr"] is None
        assert row["mean_rel_error"] > 0
    # relative error = ‖Θ_d − Θ̃‖_F / ‖Θ̃‖_F (theory.sweep): bounded below by the largest
    # entry's error over the Frobenius norm of the limit
    lim = np.linalg.norm(np.array(data["limit_ntk"]))
    r = data["sweep"][0]
    assert r["mean_rel_error"] >= r["mean_max_abs_error"] / lim * (1 - 1e-12)
    assert data["rates"][0]["predicted_slope"] == -0.5


def test_emit_refuses_nan(capsys):
    with pytest.raises(ValueError):
        cli.emit({"x": float("nan")})


# ----------------------------------------------------------------------------- item 7
def test_underflow_is_reported_on_the_command_line(capsys):
    rc, data, err = run(capsys, "limit", "--depth", "1100", "--p", "0.5")
    assert rc == 0
    assert "warning" in err and "underflowed" in err and "mpmath" in err and "log_ntk" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- item 8
def test_latex_into_a_closed_pipe_is_quiet():
    """``theory latex | head`` : the reader is gone before the first write."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "theory.cli", "latex", "--fragment", "kernels"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    proc.stdout.close()  # no reader: every write fails with EPIPE
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_activation_names_case_insensitive_and_new(capsys):
    rc, data, err = run(capsys, "limit", "--activation", "ReLU", "--depth", "1")
    assert rc == 0 and data["arch"]["activation"] == "relu"
    for name in ("gelu", "Sigmoid", "SOFTPLUS"):
        rc, data, err = run(capsys, "limit", "--activation", name, "--depth", "1", "--input-layer", "wide")
        assert rc == 0, err
        expect = theory.limit_ntk(theory.Architecture(depth=1, activation=name.lower(), p=0.5),
                                  cli.DEMO_INPUTS, "wide")
        np.testing.assert_array_equal(np.array(data["ntk"]), expect)
    rc, _, err = run(capsys, "limit", "--activation", "relu3")
    assert_one_line_error(rc, err, "--activation", "gelu")


def _all_subparsers():
    ap = cli.build_parser()
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return ap, sub.choices


def test_every_option_has_help_and_defaults_are_shown():
    ap, subs = _all_subparsers()
    assert set(subs) >= {"limit", "sample", "factor", "sweep", "latex"}
    for name, p in subs.items():
        for a in p._actions:
            if a.option_strings and a.dest != "help":
                assert a.help and len(a.help) > 10, (name, a.option_strings)
    text = " ".join(subs["sample"].format_help().split())
    assert "(default: 1024)" in text and "--inputs FILE" in text and "(default: 0.5)" in text
    assert "(default: 3)" in " ".join(subs["limit"].format_help().split())
    assert "Parametrisation" in ap.format_help()


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"theory {theory.__version__}"
    m = re.search(r'(?m)^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert theory.__version__ == m.group(1)


# ----------------------------------------------------------------------------- expectations
def test_limit_out(capsys, tmp_path):
    out = tmp_path / "K.npy"
    rc, data, err = run(capsys, "limit", "--out", str(out), "--depth", "2")
    assert rc == 0 and "ntk" not in data and data["out"]["shape"] == [2, 2]
    np.testing.assert_array_equal(np.load(out), theory.limit_ntk(theory.Architecture(depth=2, p=0.5),
                                                                 cli.DEMO_INPUTS))
    rc, data, err = run(capsys, "limit", "--out", str(tmp_path / "K.npz"), "--depth", "2")
    with np.load(tmp_path / "K.npz") as z:
        assert set(z.files) == {"ntk", "nngp"}
    rc, _, err = run(capsys, "limit", "--out", str(tmp_path / "K.txt"))
    assert_one_line_error(rc, err, "--out")


def test_sample_prints_limit_zscores_and_labelled_layers(capsys):
    rc, data, err = run(capsys, "sample", "--depth", "2", "--width", "64", "--draws", "3")
    assert rc == 0, err
    assert list(data["per_layer"]) == ["W1", "W2", "W3"]
    np.testing.assert_allclose(sum(np.array(v) for v in data["per_layer"].values()),
                               np.array(data["ntk"]), rtol=1e-10)
    lim = np.array(data["limit_ntk"])
    z = (np.array(data["ntk"]) - lim) / np.array(data["ntk_stderr"])
    np.testing.assert_allclose(np.array(data["z"], dtype=float), z, rtol=1e-12)
    rc, data, err = run(capsys, "sample", "--width", "16")
    assert data["z"] is None and "--draws >= 2" in data["z_note"]


def test_latex_for_any_architecture(capsys):
    assert cli.main(["latex", "--fragment", "architecture", "--activation", "Erf", "--pruned", "hidden",
                     "--model", "variance", "--depth", "3", "--p", "0.25"]) == 0
    out = capsys.readouterr().out
    assert r"\sigma = \mathrm{erf}" in out and "no scalar factor" in out
    assert r"s_{2} = s_{3} = \frac{3}{4}" in out and r"G_{1} = \dots = G_{4} = 1" in out
    assert cli.main(["latex", "--fragment", "architecture", "--rescale", "--depth", "2"]) == 0
    out = capsys.readouterr().out
    assert r"= 1 \quad \text{(wide-input recursion)}" in out and "off-diagonal" in out
