"""Regenerate (or check) the generated blocks of the notes.

Convention: ``notes/NAME.md`` quotes numbers, tables and formulas only inside blocks

    <!-- BEGIN GENERATED: key -->
    ...text produced by the script...
    <!-- END GENERATED: key -->

and ``notes/NAME.py`` defines ``generate() -> dict[str, str]`` giving, for every key, the
exact Markdown text of the block (no leading/trailing newline).

    python -m notes.regen [NAME ...]        rewrite the blocks in place (all notes by default)
    python -m notes.regen --check [NAME ...]  exit 1 listing the notes whose blocks differ
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path
from typing import Sequence

NOTES_DIR = Path(__file__).resolve().parent


def figures_dir() -> Path:
    """Where the notes write their figures: ``notes/figures``, or the directory named by
    the environment variable ``NOTES_FIGURES_DIR`` (the tests point it at a temporary
    directory, so checking a note's text never rewrites the committed images)."""
    import os
    return Path(os.environ.get("NOTES_FIGURES_DIR") or NOTES_DIR / "figures")
BEGIN = "<!-- BEGIN GENERATED: {key} -->"
END = "<!-- END GENERATED: {key} -->"
_MARKER = re.compile(r"<!-- (BEGIN|END) GENERATED: ([^ ]+) -->")
_BLOCK = re.compile(
    r"<!-- BEGIN GENERATED: (?P<key>[^ ]+) -->\n(?P<body>.*?)\n?<!-- END GENERATED: (?P=key) -->",
    re.S)


class NoteError(ValueError):
    """Malformed markers, or keys that do not match between a note and its script."""


def note_names() -> list[str]:
    """Every ``notes/NAME.md`` that has a matching ``notes/NAME.py``, sorted."""
    return sorted(p.stem for p in NOTES_DIR.glob("*.md") if (NOTES_DIR / f"{p.stem}.py").exists())


def parse_blocks(text: str) -> dict[str, str]:
    """``{key: body}`` of the generated blocks of a note; raises :class:`NoteError` on
    unbalanced, nested or duplicated markers."""
    open_key: str | None = None
    seen: set[str] = set()
    for m in _MARKER.finditer(text):
        kind, key = m.groups()
        if kind == "BEGIN":
            if open_key is not None:
                raise NoteError(f"BEGIN {key!r} inside the open block {open_key!r}")
            if key in seen:
                raise NoteError(f"duplicate generated block {key!r}")
            open_key = key
            seen.add(key)
        else:
            if open_key != key:
                raise NoteError(f"END {key!r} does not close {open_key!r}")
            open_key = None
    if open_key is not None:
        raise NoteError(f"block {open_key!r} is never closed")
    blocks = {m.group("key"): m.group("body") for m in _BLOCK.finditer(text)}
    if set(blocks) != seen:
        raise NoteError(f"malformed blocks: {sorted(seen - set(blocks))} (BEGIN must end its "
                        "line; END must start one)")
    return blocks


def generate(name: str) -> dict[str, str]:
    """Import ``notes.NAME`` and run its ``generate()``."""
    mod = importlib.import_module(f"notes.{name}")
    out = mod.generate()
    if not isinstance(out, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                            for k, v in out.items()):
        raise NoteError(f"notes/{name}.py: generate() must return dict[str, str]")
    return out


def key_mismatch(blocks: dict[str, str], generated: dict[str, str]) -> list[str]:
    """Human-readable problems with the key sets (empty when they agree)."""
    probs = []
    if missing := sorted(set(blocks) - set(generated)):
        probs.append(f"keys in the .md without generated text: {missing}")
    if extra := sorted(set(generated) - set(blocks)):
        probs.append(f"generated keys without a block in the .md: {extra}")
    return probs


def render(text: str, generated: dict[str, str]) -> str:
    """``text`` with every block's body replaced by ``generated[key]``."""
    blocks = parse_blocks(text)
    if probs := key_mismatch(blocks, generated):
        raise NoteError("; ".join(probs))

    def sub(m: re.Match) -> str:
        key = m.group("key")
        return f"{BEGIN.format(key=key)}\n{generated[key]}\n{END.format(key=key)}"
    return _BLOCK.sub(sub, text)


def stale_blocks(name: str) -> list[str]:
    """Problems with ``notes/NAME.md`` (empty when it is up to date)."""
    text = (NOTES_DIR / f"{name}.md").read_text(encoding="utf-8")
    blocks = parse_blocks(text)
    gen = generate(name)
    probs = key_mismatch(blocks, gen)
    probs += [f"block {k!r} differs from generate()" for k in sorted(blocks)
              if k in gen and blocks[k] != gen[k]]
    return probs


def regenerate(name: str) -> bool:
    """Rewrite the blocks of ``notes/NAME.md``; True if the file changed."""
    path = NOTES_DIR / f"{name}.md"
    text = path.read_text(encoding="utf-8")
    new = render(text, generate(name))
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m notes.regen", description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="notes to process (default: all)")
    ap.add_argument("--check", action="store_true", help="only check; exit 1 if any differ")
    args = ap.parse_args(argv)
    known = note_names()
    names = args.names or known
    if unknown := [n for n in names if n not in known]:
        print(f"unknown notes {unknown}; known: {known}", file=sys.stderr)
        return 2
    bad = []
    for name in names:
        if args.check:
            probs = stale_blocks(name)
            if probs:
                bad.append(name)
                print(f"notes/{name}.md: " + "; ".join(probs))
        else:
            try:
                changed = regenerate(name)
            except NoteError as exc:
                bad.append(name)
                print(f"notes/{name}.md: {exc}", file=sys.stderr)
                continue
            print(f"notes/{name}.md: {'updated' if changed else 'up to date'}")
    if args.check and bad:
        print(f"stale notes: {' '.join(bad)} (run: python -m notes.regen {' '.join(bad)})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
