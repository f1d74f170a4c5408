"""``theory verify``: run the built-in claim checks (``checks/``) through pytest.

Equivalent to ``python -m pytest checks/ --seed S --profile P --verdicts-json F``; the
exit status is pytest's: 0 when every claim holds, non-zero when one is refuted (or a
check errors). The checks live beside the package in a source checkout (they are not
installed with the wheel).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

CHECKS_DIR = Path(__file__).resolve().parent.parent / "checks"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    ap = sub.add_parser("verify", help="run the built-in claim checks (pytest checks/) and "
                        "print the verdict table; non-zero exit if a claim is refuted",
                        description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None, help="master seed (default 0)")
    ap.add_argument("--profile", default=None, help="ci (fast, default) or thorough")
    ap.add_argument("--json", metavar="PATH", help="write the verdict table as JSON")
    ap.add_argument("-k", dest="select", metavar="EXPR", help="only checks matching EXPR "
                    "(pytest -k)")
    ap.add_argument("-q", "--quiet", action="store_true", help="less pytest output")
    ap.set_defaults(run=run)
    return ap


def pytest_args(ns: argparse.Namespace, checks_dir: Path | None = None) -> list[str]:
    """The pytest command line ``theory verify`` runs."""
    checks_dir = CHECKS_DIR if checks_dir is None else checks_dir
    args = [str(checks_dir), "-p", "no:cacheprovider", f"--rootdir={checks_dir.parent}"]
    if ns.seed is not None:
        args += ["--seed", str(ns.seed)]
    if ns.profile is not None:
        args += ["--profile", ns.profile]
    if ns.json is not None:
        args += ["--verdicts-json", ns.json]
    if ns.select:
        args += ["-k", ns.select]
    if ns.quiet:
        args.append("-q")
    return args


def run(ns: argparse.Namespace) -> int:
    if ns.seed is not None and ns.seed < 0:
        print(f"theory verify: error: --seed must be a non-negative integer, got {ns.seed}",
              file=sys.stderr)
        return 2
    if not (CHECKS_DIR / "conftest.py").is_file():
        print(f"theory verify: error: the claim checks are not available at {CHECKS_DIR} "
              "(they ship with a source checkout of pruned-ntk-theory)", file=sys.stderr)
        return 2
    try:
        import pytest
    except ImportError:
        print("theory verify: error: pytest is not installed: pip install "
              "'pruned-ntk-theory[test]'", file=sys.stderr)
        return 2
    code = int(pytest.main(pytest_args(ns)))
    return code
