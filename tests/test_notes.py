"""Every note's generated blocks must equal its script's ``generate()`` (notes/regen.py)."""
from __future__ import annotations

import pytest

from notes import regen

NAMES = regen.note_names()


def test_there_are_notes() -> None:
    assert {"pruning_factor", "input_layer_mixture", "bound_comparison"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_note_blocks_are_generated(name: str) -> None:
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
