"""The repository explains itself: nothing in it may point to the team's working notes
(files that users never receive). References go into ``docs/`` instead."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Built from pieces so that this file does not match its own pattern.
_NAMES = ["MATH", "DESIGN", "LITERATURE"]
FORBIDDEN = re.compile(r"(?<!docs/)\b(?:" + "|".join(n + r"\.md" for n in _NAMES) + r")\b|\.\./" + "shared")


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
        return [ROOT / f for f in out]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the tree
        return [p for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]


def test_no_reference_outside_the_repository():
    hits = []
    for path in _tracked_files():
        if path.suffix in {".png", ".pdf", ".npy", ".sqlite", ".pyc"} or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for i, line in enumerate(text.splitlines(), 1):
            if FORBIDDEN.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()[:120]}")
    assert not hits, "references outside the repository (point into docs/ instead):\n" + "\n".join(hits)


def test_the_pattern_catches_what_it_forbids():
    # negative control: the guard must see each forbidden form
    for bad in ["see " + "MATH" + ".md §3", "../" + "shared/seeds", "LITERATURE" + ".md (Arora)",
                "DESIGN" + ".md"]:
        assert FORBIDDEN.search(bad), bad
    assert not FORBIDDEN.search("see docs/math.md#pruning")
