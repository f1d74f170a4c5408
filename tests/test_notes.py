"""Every note's generated blocks must equal its script's ``generate()`` (notes/regen.py)."""
from __future__ import annotations

import pytest

from notes import regen

NAMES = regen.note_names()


def test_there_are_notes() -> None:
    assert {"pruning_factor", "input_layer_mixture", "bound_comparison"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_note_blocks_are_generated(name: str, tmp_path, monkeypatch) -> None:
    # figures go to a temporary directory: checking the text never rewrites the images
    monkeypatch.setenv("NOTES_FIGURES_DIR", str(tmp_path))
    text = (regen.NOTES_DIR / f"{name}.md").read_text(encoding="utf-8")
    blocks = regen.parse_blocks(text)
    generated = regen.generate(name)
    assert not regen.key_mismatch(blocks, generated), regen.key_mismatch(blocks, generated)
    stale = [k for k in blocks if blocks[k] != generated[k]]
    assert not stale, (f"notes/{name}.md: blocks {stale} differ from generate(); "
                       f"run: python -m notes.regen {name}")


# ----------------------------------------------------------------------------- machinery

DOC = """intro
<!-- BEGIN GENERATED: a -->
old
<!-- END GENERATED: a -->
mid
<!-- BEGIN GENERATED: b -->
<!-- END GENERATED: b -->
"""


def test_parse_and_render_roundtrip() -> None:
    assert regen.parse_blocks(DOC) == {"a": "old", "b": ""}
    new = regen.render(DOC, {"a": "x\n| t |", "b": "y"})
    assert regen.parse_blocks(new) == {"a": "x\n| t |", "b": "y"}
    assert new.startswith("intro\n") and "\nmid\n" in new
    assert regen.render(new, {"a": "x\n| t |", "b": "y"}) == new  # idempotent
    # empty and trailing-newline bodies survive a round trip
    for body in ("", "z\n", "\nz"):
        assert regen.parse_blocks(regen.render(DOC, {"a": body, "b": "k"}))["a"] == body


@pytest.mark.parametrize("bad", [
    "<!-- BEGIN GENERATED: a -->\nx\n",                                     # never closed
    "<!-- BEGIN GENERATED: a -->\n<!-- END GENERATED: b -->\n",             # mismatched
    "<!-- END GENERATED: a -->\n",                                          # END first
    DOC + DOC,                                                              # duplicate
    "<!-- BEGIN GENERATED: a -->\n<!-- BEGIN GENERATED: b -->\n"
    "<!-- END GENERATED: b -->\n<!-- END GENERATED: a -->\n",               # nested
])
def test_malformed_markers_raise(bad: str) -> None:
    with pytest.raises(regen.NoteError):
        regen.parse_blocks(bad)


def test_key_mismatch_is_reported() -> None:
    with pytest.raises(regen.NoteError, match="without generated text"):
        regen.render(DOC, {"a": "1"})
    with pytest.raises(regen.NoteError, match="without a block"):
        regen.render(DOC, {"a": "1", "b": "2", "c": "3"})


# ----------------------------------------------------------------------------- the standard
# docs/guide/notes_standard.md: every note that defines ``findings()`` is checked; the notes
# below must define it (notes written before the standard may adopt it later).
import importlib  # noqa: E402

import numpy as np  # noqa: E402

from notes import findings as NF  # noqa: E402

ADOPTED = {"depth_law", "bound_slack", "input_layer_mixture", "bound_comparison",
           "one_hidden_layer_variance"}
WITH_FINDINGS = [n for n in NAMES if hasattr(importlib.import_module(f"notes.{n}"), "findings")]


def test_adopted_notes_define_findings() -> None:
    assert ADOPTED <= set(WITH_FINDINGS), sorted(ADOPTED - set(WITH_FINDINGS))


@pytest.mark.parametrize("name", WITH_FINDINGS)
def test_findings_follow_the_standard(name: str) -> None:
    mod = importlib.import_module(f"notes.{name}")
    fs = mod.findings()
    assert fs and all(isinstance(f, NF.Finding) for f in fs)
    assert len({f.key for f in fs}) == len(fs), "finding keys must be unique"
    probs = [p for f in fs for p in NF.problems(f)]
    assert not probs, probs
    text = (regen.NOTES_DIR / f"{name}.md").read_text(encoding="utf-8")
    block = regen.parse_blocks(text).get("findings")
    assert block == NF.render(fs), f"notes/{name}.md needs a 'findings' block = render(findings())"
    for f in fs:            # the regenerated block shows every seed's own result
        for s in f.seeds:
            assert f"seed {s}:" in block


def _finding(**kw) -> NF.Finding:
    base = dict(key="k", statement="s", kind="measured", value=1.0, uncertainty=0.1,
                regime="r", seeds={1: (1.0, 0.1), 2: (1.1, 0.1)})
    base.update(kw)
    return NF.Finding(**base)


def test_standard_accepts_a_good_finding_and_rejects_each_omission() -> None:
    assert NF.problems(_finding()) == []
    assert NF.problems(_finding(kind="fit", fits={1: NF.Fit(9.0, 8), 2: NF.Fit(7.0, 8)})) == []
    assert NF.problems(_finding(kind="exact", uncertainty=0.0, seeds={})) == []
    bad = [_finding(seeds={1: (1.0, 0.1)}),                    # one seed
           _finding(uncertainty=0.0),                           # no uncertainty
           _finding(regime=" "),                                # no regime
           _finding(independent=False),                         # dependent population
           _finding(kind="fit"),                                # fit without χ²
           _finding(kind="fit", fits={1: NF.Fit(9.0, 8)}),      # χ² at one seed only
           _finding(seeds={1: (1.0, 0.0), 2: (1.0, 0.1)}),      # a seed without error
           _finding(value=float("nan")),
           _finding(kind="guess")]
    for f in bad:
        assert NF.problems(f), f


def test_render_shows_both_seeds_and_replication_z() -> None:
    f = _finding()
    out = NF.render([f])
    assert "seed 1: 1 ± 0.1" in out and "seed 2: 1.1 ± 0.1" in out
    assert f.replication_z() == pytest.approx(-0.1 / np.hypot(0.1, 0.1))
    v, u = NF.combine({1: (1.0, 0.1), 2: (2.0, 0.1)})
    assert v == pytest.approx(1.5) and u == pytest.approx(0.1 / np.sqrt(2))


# ----------------------------------------------------------------------------- cached draws
def test_depth_law_cache_provenance(tmp_path) -> None:
    """The committed draws are what ``python -m notes.depth_law --recompute`` makes: same
    configuration, and a few networks redrawn now equal the cached values bit for bit."""
    from notes import depth_law as D
    theta = D.load()
    c = D.CONFIG
    assert theta.shape == (len(c["ps"]), len(c["depths"]), len(c["widths"]), len(c["seeds"]),
                           c["draws"])
    # Θ(x,x) is a sum of squares; exactly 0 when every path is masked or dead (p = 0.8, d = 64)
    assert np.all(np.isfinite(theta)) and np.all(theta >= 0)
    for p, L, d in ((0.8, 2, 64), (0.0, 1, 128)):
        cell = (c["ps"].index(p), c["depths"].index(L), c["widths"].index(d))
        for s, seed in enumerate(c["seeds"]):
            redo = D.simulate_cell(seed, p, L, d, 3)
            assert np.array_equal(redo, theta[cell + (s, slice(0, 3))])
    # a cache made with another configuration is refused
    other = dict(c, draws=c["draws"] + 1)
    D.save(theta, tmp_path / "x.npz", other)
    with pytest.raises(ValueError, match="recompute"):
        D.load.__wrapped__(tmp_path / "x.npz")


def test_bound_slack_cache_provenance(tmp_path) -> None:
    from notes import bound_slack as S
    data = S.load()
    c = S.CONFIG
    assert data["one"].shape == (len(c["ps"]), 3, len(c["seeds"]), c["one_layer_draws"], 3)
    assert data["deep"].shape == (len(c["deep_depths"]), len(c["ps"]), len(c["deep_widths"]),
                                  len(c["seeds"]), c["deep_draws"], 3)
    for s, seed in enumerate(c["seeds"]):
        redo = S.simulate_cell(seed, 0.5, 2, c["deep_widths"][0], 2)
        assert np.array_equal(redo, data["deep"][0, 1, 0, s, :2])
        ip = c["ps"].index(0.0)
        redo = S.simulate_cell(seed, 0.0, 1, S.one_layer_widths(ip)[0], 2)
        assert np.array_equal(redo, data["one"][ip, 0, s, :2])
    S.save(data, tmp_path / "x.npz", dict(c, deep_draws=1))
    with pytest.raises(ValueError, match="recompute"):
        S.load.__wrapped__(tmp_path / "x.npz")
