"""theory.claims: every kind reaches every verdict it can; malformed files give one-line
errors naming the claim and the key (CLI exit 2); CLI exit codes; the pytest plugin
collects ``*.claims.toml`` and nothing else.

The Monte Carlo claims here are small (two inputs, hundreds of draws) so the file stays
cheap; their family-wise alpha is the default 1e-3 per claim, so a false alarm in this
module has probability below 1e-2. Verdicts that must be refuted are wrong by a factor
(×1.2, ×2, exponent −1 instead of −1/2) many detectable effects away.
"""
import importlib.metadata
import json
import math
import textwrap

import numpy as np
import pytest

from theory import claims as C
from theory.claims import Claim, ClaimError
from theory.cli import main as cli_main

pytest_plugins = ["pytester"]

X2 = [[1.0, 0.0, 0.5], [0.3, -0.8, 0.2]]


# ------------------------------------------------------------------------- limit
def test_limit_proved_symbolically():
    c = Claim(name="scaling", kind="limit", input_layer="wide",
              architecture=dict(depth=2, p={"from": 0.1, "to": 0.9}),
              predict="(1 - p)**(L + 1) * dense")
    r = C.check(c)
    assert r.verdict == "proved" and r.matches
    assert r.details["symbolic"]["difference"] == "0"
    assert r.statistic <= 1e-12


def test_limit_holds_numerically_and_refuted_with_counterexample():
    ok = Claim(name="diag", kind="limit", pairs="diagonal", d0=3,
               architecture=dict(depth=2, p=0.375), predict="(1 - p)**(L + 1) * dense")
    r = C.check(ok)
    assert r.verdict == "holds"          # exact input layer: numerics only (wide caveat)
    assert any("not applicable" in n for n in r.record.notes)
    bad = Claim(name="off", kind="limit", d0=3, expect="refuted",
                architecture=dict(depth=2, p=0.375), predict="(1 - p)**(L + 1) * dense")
    r = C.check(bad)
    assert r.verdict == "refuted" and r.matches
    ce = r.details["counterexample"]
    assert ce["pair"][0] != ce["pair"][1] and ce["relative_error"] > 1e-3
    assert "--claim" not in r.replay and "seed=0" in r.replay   # built in Python


def test_limit_wrong_exponent_refuted_symbolic_note():
    c = Claim(name="L", kind="limit", input_layer="wide", expect="refuted",
              architecture=dict(depth=3, p={"from": 0.1, "to": 0.9}), predict="(1-p)**L*dense")
    r = C.check(c, seed=3)
    assert r.verdict == "refuted"
    assert r.details["symbolic"]["difference"] != "0"


def test_limit_mpmath_judges_below_float64():
    # at rtol 1e-30 float64 is only a screen (at 1e-13); the 50-digit comparison sees an
    # error of 1e-20 and passes the exact prediction
    kw = dict(kind="limit", input_layer="wide", rtol=1e-30, d0=2, n_inputs=1,
              special_pairs=False, architecture=dict(depth=1, p=0.5))
    r = C.check(Claim(name="tiny", predict="(1 - p)**2 * dense * (1 + 1e-20)", **kw))
    assert r.verdict == "refuted"
    assert all("50 digits" in x for x in r.record.rejections)
    r = C.check(Claim(name="exact", predict="(1 - p)**2 * dense", **kw))
    assert r.verdict == "proved"
    assert r.details["configs"][1]["max_relative_error"] < 1e-40


# ------------------------------------------------------------------------- mean
def _mean(**kw):
    base = dict(name="m", kind="mean", inputs=X2, architecture=dict(depth=1, p=0.5),
                width=32, draws=1500, predict="limit", resolution=0.2)
    base.update(kw)
    return Claim(**base)


def test_mean_holds_refuted_inconclusive():
    r = C.check(_mean())
    assert r.verdict == "holds", r.reason
    assert 0 < r.detectable_effect <= 0.2
    assert r.record.n_controls and r.record.n_near and not r.record.control_misses
    r = C.check(_mean(name="m2", predict="1.2 * limit", expect="refuted"))
    assert r.verdict == "refuted" and "counterexample" in r.details
    r = C.check(_mean(name="m3", draws=20))
    assert r.verdict == "inconclusive"
    assert r.details["draws_needed"] > 20
    assert "draws per width" in " ".join(r.record.notes)


# ------------------------------------------------------------------------- variance
def _var(**kw):
    base = dict(name="v", kind="variance", inputs=X2, pairs="diagonal",
                architecture=dict(depth=1, p=0.5, pruned="all_but_input", rescale=True),
                width=32, draws=1500, resolution=0.4,
                predict="(12 + 16*p/(1 - p)) / d * nx**4")
    base.update(kw)
    return Claim(**base)


def test_variance_holds_refuted_inconclusive():
    r = C.check(_var())
    assert r.verdict == "holds", r.reason
    assert 0 < r.detectable_effect <= 0.4
    r = C.check(_var(name="v2", predict="2 * (12 + 16*p/(1 - p)) / d * nx**4", expect="refuted"))
    assert r.verdict == "refuted"
    r = C.check(_var(name="v3", draws=40))
    assert r.verdict == "inconclusive" and r.details["draws_needed"] > 40


# ------------------------------------------------------------------------- rate
def _rate(**kw):
    base = dict(name="r", kind="rate", inputs=X2, architecture=dict(depth=1, p=0.5),
                widths=[16, 32, 64], draws=300, exponent=-0.5, resolution=1.0)
    base.update(kw)
    return Claim(**base)


def test_rate_holds_refuted_inconclusive():
    r = C.check(_rate())
    assert r.verdict == "holds", r.reason
    r = C.check(_rate(name="r2", exponent=-1.0, expect="refuted"))
    assert r.verdict == "refuted"
    r = C.check(_rate(name="r3", draws=12, resolution=0.05))
    assert r.verdict == "inconclusive"


# ------------------------------------------------------------------------- schema
GOOD = """
[[claim]]
name = "ok"
kind = "limit"
architecture = { depth = 1, p = 0.5 }
predict = "(1 - p)**2 * dense"
input_layer = "wide"
"""


@pytest.mark.parametrize("edit, key", [
    (("kind = \"limit\"", "kind = \"limit\"\nfoo = 1"), "'foo'"),
    (("depth = 1", "depth = 1, colour = 2"), "'architecture.colour'"),
    (("depth = 1", "depth = \"one\""), "'architecture.depth'"),
    (("p = 0.5", "p = 1.0"), "'architecture.p'"),
    (("p = 0.5", "p = -0.1"), "'architecture.p'"),
    (("p = 0.5", "p = { from = 0.5, to = 1.2 }"), "'architecture.p'"),
    (("p = 0.5", "p = [0.1, 0.2, 0.3]"), "'architecture.p'"),
    (("kind = \"limit\"", "kind = \"mean\"\nwidth = 0"), "'width'"),
    (("kind = \"limit\"", "kind = \"mean\"\nwidth = \"wide\""), "'width'"),
    (("kind = \"limit\"", "kind = \"mean\"\ndraws = 1"), "'draws'"),
    (("kind = \"limit\"", "kind = \"limit\"\nwidth = 8"), "'width'"),
    (("(1 - p)**2 * dense", "d * dense"), "'predict'"),
    (("(1 - p)**2 * dense", "limit"), "'predict'"),
    (("(1 - p)**2 * dense", "__import__('os').system('true')"), "'predict'"),
    (("(1 - p)**2 * dense", "dense.real"), "'predict'"),
    (("kind = \"limit\"", "kind = \"guess\""), "'kind'"),
    (("input_layer = \"wide\"", "input_layer = \"narrow\""), "'input_layer'"),
    (("input_layer = \"wide\"", "input_layer = \"wide\"\nexpect = \"maybe\""), "'expect'"),
    (("input_layer = \"wide\"", "input_layer = \"wide\"\nrtol = \"small\""), "'rtol'"),
    (("input_layer = \"wide\"", "input_layer = \"wide\"\npairs = \"some\""), "'pairs'"),
    (("input_layer = \"wide\"", "input_layer = \"wide\"\nd0 = 0"), "'d0'"),
])
def test_malformed_claims_name_claim_and_key(edit, key, tmp_path):
    text = GOOD.replace(*edit)
    assert text != GOOD
    with pytest.raises(ClaimError) as e:
        C.parse_claims(text)
    msg = str(e.value)
    assert "\n" not in msg and key in msg and ("'ok'" in msg or "claim file" in msg)
    f = tmp_path / "bad.claims.toml"
    f.write_text(text)
    assert cli_main(["check", str(f)]) == 2


@pytest.mark.parametrize("text, needle", [
    ("", "no claims"),
    ("alpha = 0.01\n", "no claims"),
    ("[[claim]\n", "not valid TOML"),
    ("other = 1\n" + GOOD, "unknown top-level key"),
    (GOOD + GOOD, "two claims have this name"),
    (GOOD.replace('name = "ok"\n', ""), "'name'"),
])
def test_malformed_files(text, needle, tmp_path, capsys):
    f = tmp_path / "x.claims.toml"
    f.write_text(text)
    assert cli_main(["check", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_division_by_zero_in_predict_is_one_line_error(tmp_path, capsys):
    f = tmp_path / "z.claims.toml"
    f.write_text(GOOD.replace("(1 - p)**2 * dense", "dense / (p - 0.5)"))
    assert cli_main(["check", str(f)]) == 2
    err = capsys.readouterr().err
    assert "claim 'ok', key 'predict'" in err and "division by zero" in err


# ------------------------------------------------------------------------- CLI
def test_cli_exit_codes_and_json(tmp_path, capsys):
    f = tmp_path / "a.claims.toml"
    f.write_text(GOOD)
    out = tmp_path / "v.json"
    assert cli_main(["check", str(f), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [d["verdict"] for d in data] == ["proved"]
    for k in ("name", "kind", "verdict", "statistic", "critical", "detectable_effect", "expect",
              "details"):
        assert k in data[0]
    f.write_text(GOOD.replace("(1 - p)**2", "(1 - p)**1"))
    assert cli_main(["check", str(f)]) == 1            # refuted, expected holds
    text = capsys.readouterr().out
    assert "MISMATCH" in text and "replay: theory check" in text and "--claim ok" in text
    f.write_text(GOOD.replace("(1 - p)**2", "(1 - p)**1") + 'expect = "refuted"\n')
    assert cli_main(["check", str(f)]) == 0
    assert cli_main(["check", str(f), "--claim", "nope"]) == 2


def test_alpha_split_over_statistical_claims():
    cs = [Claim(name=f"c{i}", kind=k, architecture=dict(depth=1), predict="limit" if k != "limit" else "dense",
                **({"alpha": 1e-4} if i == 3 else {}))
          for i, k in enumerate(["limit", "mean", "variance", "mean"])]
    assert C.allocate_alpha(cs, 1e-3) == [None, 5e-4, 5e-4, 1e-4]


# ------------------------------------------------------------------------- plugin
def _plugin_args():
    eps = importlib.metadata.entry_points(group="pytest11")
    return [] if any(e.value == "theory.pytest_plugin" for e in eps) else ["-p", "theory.pytest_plugin"]


def test_plugin_collects_only_claim_files(pytester):
    pytester.makefile(".claims.toml", mine=GOOD)
    pytester.makefile(".toml", other=GOOD)                     # other.toml: not collected
    pytester.makefile(".toml", pyproject="[project]\nname = 'x'\n")
    pytester.makefile(".claims.toml.bak", old=GOOD)
    res = pytester.runpytest(*_plugin_args(), "--collect-only", "-q")
    lines = [l for l in res.outlines if "::" in l]
    assert lines == ["mine.claims.toml::ok"], res.outlines


def test_plugin_pass_fail_table_and_json(pytester):
    pytester.makefile(".claims.toml", good=GOOD,
                      bad=GOOD.replace("(1 - p)**2", "(1 - p)**3"))
    res = pytester.runpytest(*_plugin_args(), "--seed", "2", "--verdicts-json", "v.json")
    res.assert_outcomes(passed=1, failed=1)
    out = "\n".join(res.outlines)
    assert "verdicts (claim files)" in out
    assert "replay: theory check" in out and "--seed 2" in out
    data = json.loads((pytester.path / "v.json").read_text())
    assert sorted(d["verdict"] for d in data) == ["proved", "refuted"]


def test_plugin_malformed_file_is_a_collection_error(pytester):
    pytester.makefile(".claims.toml", broken=GOOD.replace("p = 0.5", "p = 2"))
    res = pytester.runpytest(*_plugin_args())
    assert res.ret != 0
    assert any("key 'architecture.p'" in l for l in res.outlines)


def test_broken_engine_is_caught_even_when_symbolically_proved(monkeypatch):
    """Break the code on purpose: an engine off by 1e-6 in its pruned limit must turn the
    'proved' scaling claim into 'refuted' (numerics are required for 'proved')."""
    from theory.claims import run as R
    real = R._limit

    def broken(claim, arch, X, backend="numpy"):
        out = real(claim, arch, X, backend)
        return out if not arch.pruned_matrices() else out * (1 + 1e-6)

    monkeypatch.setattr(R, "_limit", broken)
    c = Claim(name="scaling", kind="limit", input_layer="wide",
              architecture=dict(depth=2, p={"from": 0.1, "to": 0.9}),
              predict="(1 - p)**(L + 1) * dense")
    r = C.check(c)
    assert r.record.proved and r.verdict == "refuted"


def test_broken_sampler_is_caught(monkeypatch):
    """Break the Monte Carlo on purpose: networks whose kernel is 10 % too large must refute
    the one-hidden-layer mean claim at 3000 draws (detectable effect ≈ 5 %)."""
    from theory.claims import run as R
    real = R.draw_kernels
    monkeypatch.setattr(R, "draw_kernels", lambda *a, **k: real(*a, **k) * 1.10)
    r = C.check(_mean(draws=3000, pairs="diagonal"))
    assert r.detectable_effect < 0.1 and r.verdict == "refuted"


def test_nngp_kernel_numerics():
    """The NNGP of the last hidden layer sees L matrices: hard masks scale it by (1-p)^L
    (ReLU, wide input); the symbolic route is NTK-only, so numerics decide ('holds')."""
    kw = dict(kind="limit", kernel="nngp", input_layer="wide", d0=3,
              architecture=dict(depth=2, p={"from": 0.1, "to": 0.8}))
    r = C.check(Claim(name="nngp", predict="(1 - p)**L * dense", **kw))
    assert r.verdict == "holds", r.reason
    r = C.check(Claim(name="nngp+1", predict="(1 - p)**(L + 1) * dense", expect="refuted", **kw))
    assert r.verdict == "refuted"
