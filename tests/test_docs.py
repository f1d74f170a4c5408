"""The documentation the code points to exists.

Docstrings, checks, notes and CLI output cite ``docs/math.md#pruning``, ``docs/references.md``,
``docs/design.md`` and the like as plain text. These tests fail when such a target is
missing: the page, the explicit MyST label ``(anchor)=`` of a ``#anchor``, a section
quoted by title (``docs/math.md#finite-width ("Rate")``) or a sentence quoted from the page. They also check the licence and
the citation metadata. The Sphinx build itself (warnings as errors) runs in ``.ci/run``.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# docs/PAGE.md, optionally #anchor, optionally a quoted section title: ("Title") or , "Title"
REF = re.compile(r"docs/(?P<page>[\w/-]+\.md)(?:#(?P<anchor>[\w-]+))?"
                 r"(?:\s*\(\"(?P<t1>[^\"]+)\"\)|,\s*\"(?P<t2>[^\"]+)\")?")


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
        files = [ROOT / f for f in out]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the tree
        files = [p for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]
    return [f for f in files if "_build" not in f.parts and "_generated" not in f.parts]


def _labels(text: str) -> set[str]:
    return set(re.findall(r"^\((?P<label>[\w-]+)\)=\s*$", text, re.M))


def _headings(text: str) -> set[str]:
    return {h.strip() for h in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.M)}


def _plain(text: str) -> str:
    """Text without Markdown/maths markup and with whitespace collapsed."""
    return " ".join(re.sub(r"[$`*\\]", "", text).split())


def missing_targets(text: str, docs: Path) -> list[str]:
    """Every docs reference in ``text`` whose page, label or quoted section is missing."""
    missing = []
    for m in REF.finditer(text):
        if Path(m["page"]).stem.isupper():  # a placeholder such as docs/guide/TOPIC.md
            continue
        page = docs / m["page"]
        if not page.is_file():
            missing.append(f"page docs/{m['page']}")
            continue
        body = page.read_text(encoding="utf-8")
        if m["anchor"] and m["anchor"] not in _labels(body):
            missing.append(f"label ({m['anchor']})= in docs/{m['page']}")
        quote = m["t1"] or m["t2"]
        if not quote:
            continue
        quote = " ".join(quote.split())
        if len(quote.split()) <= 6:  # a section title: must be a heading of the page
            if not any(quote in h for h in _headings(body)):
                missing.append(f"section {quote!r} in docs/{m['page']}")
        else:  # a quoted sentence ("…" marks an omission): every piece must be in the page
            plain = _plain(body)
            for piece in (x.strip() for x in quote.split("…")):
                if piece and _plain(piece) not in plain:
                    missing.append(f"quoted text {piece!r} in docs/{m['page']}")
    return missing


def test_every_docs_reference_in_the_repository_resolves():
    hits = []
    for path in _tracked_files():
        if path.suffix in {".png", ".pdf", ".npy", ".sqlite", ".pyc"} or not path.is_file():
            continue
        if path.resolve() == Path(__file__).resolve():  # its own negative controls
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for target in missing_targets(text, ROOT / "docs"):
            hits.append(f"{path.relative_to(ROOT)}: {target}")
    assert not hits, "docs targets named in the code are missing:\n" + "\n".join(sorted(set(hits)))


def test_the_references_are_found_and_a_missing_target_is_reported():
    # negative control: the scanner sees the references and reports what does not exist
    refs = [m.group(0) for m in REF.finditer(
        'see docs/math.md#pruning ("Homogeneous activations") and docs/design.md, "X Y"')]
    assert refs == ['docs/math.md#pruning ("Homogeneous activations")', 'docs/design.md, "X Y"']
    assert missing_targets("docs/math.md#pruning", ROOT / "docs") == []
    assert missing_targets("docs/math.md#no-such-anchor", ROOT / "docs") == [
        "label (no-such-anchor)= in docs/math.md"]
    assert missing_targets("docs/nothing.md", ROOT / "docs") == ["page docs/nothing.md"]
    assert missing_targets("docs/guide/TOPIC.md", ROOT / "docs") == []  # a placeholder
    assert missing_targets('docs/math.md#limit ("No such section")', ROOT / "docs") == [
        "section 'No such section' in docs/math.md"]
    assert missing_targets('docs/math.md#pruning ("this sentence is not on that page at all")',
                           ROOT / "docs") == [
        "quoted text 'this sentence is not on that page at all' in docs/math.md"]


def test_math_page_has_every_section_anchor():
    labels = _labels((ROOT / "docs" / "math.md").read_text(encoding="utf-8"))
    expected = {"network", "limit", "pruning", "input-layer", "finite-width", "bounds", "path-kernel"}
    assert expected <= labels, f"missing: {sorted(expected - labels)}"


def test_index_includes_guides_and_notes_by_glob():
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert re.search(r":glob:\s*\n\s*\nguide/\*", index)
    assert re.search(r":glob:\s*\n\s*\n_generated/notes/\*", index)


def _top_level_keys(text: str) -> dict[str, str]:
    return {m[1]: m[2].strip() for m in re.finditer(r"^([A-Za-z][\w-]*):(.*)$", text, re.M)}


def test_citation_cff_has_the_required_keys():
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    keys = _top_level_keys(text)
    for key in ("cff-version", "message", "title", "authors", "preferred-citation", "references"):
        assert key in keys, key
    assert keys["cff-version"].strip("\"'") == "1.2.0"
    pref = text.split("preferred-citation:", 1)[1].split("\nreferences:", 1)[0]
    for key in ("type:", "title:", "authors:", "year:"):
        assert key in pref, key
    assert "2203.14328" in pref and "Yang" in pref


def test_licence_file():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "The pruned-ntk-theory authors" in text
