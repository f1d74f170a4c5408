"""``theory check FILE.toml [--seed N] [--json PATH] [--claim NAME]``: the verdict table.

Exit status: 0 when every verdict matches its claim's ``expect``, 1 otherwise, 2 for a
malformed file or bad arguments (one line on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from ..verdicts import render_table
from .run import check_file
from .schema import ClaimError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("check", help="check the claims of a claim file (verdict table)",
                              description=__doc__)
    p.add_argument("file", help="a claim file (TOML, [[claim]] tables)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--json", metavar="PATH", help="write the verdicts as JSON to PATH")
    p.add_argument("--claim", action="append", metavar="NAME",
                   help="check only the claim(s) with this name (replay)")
    return p


def lines(results: Sequence, seed: int, path: str) -> list[str]:
    out = render_table([r.record for r in results],
                       header=f"{path}: seed {seed}; statistical claims share the file's "
                              f"family-wise alpha (Bonferroni)")
    out.append("")
    for r in results:
        mark = "ok " if r.matches else "MISMATCH"
        out.append(f"[{mark}] {r.name}: {r.verdict} (expected {r.expect}) — {r.reason}")
        if r.verdict == "refuted" and "counterexample" in r.details:
            out.append(f"        counterexample: {json.dumps(r.details['counterexample'], default=str)[:600]}")
        if r.verdict != "proved" and not (r.verdict == "holds" and r.matches):
            out.append(f"        replay: {r.replay}")
    return out


def run(ns: argparse.Namespace) -> int:
    if ns.seed < 0:
        print(f"theory check: error: --seed must be a non-negative integer, got {ns.seed}",
              file=sys.stderr)
        return 2
    try:
        results = check_file(ns.file, seed=ns.seed, only=ns.claim)
    except ClaimError as e:
        print(f"theory check: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as e:
        print(f"theory check: error: {e}", file=sys.stderr)
        return 2
    for line in lines(results, ns.seed, ns.file):
        print(line)
    if ns.json:
        with open(ns.json, "w") as fh:
            json.dump([r.as_json() for r in results], fh, indent=2, default=str)
    return 0 if all(r.matches for r in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="theory")
    sub = ap.add_subparsers(dest="cmd", required=True)
    add_parser(sub)
    ns = ap.parse_args(["check", *(sys.argv[1:] if argv is None else argv)])
    return run(ns)
