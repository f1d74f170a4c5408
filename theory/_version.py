"""``theory.__version__``: the installed distribution's version (package metadata), or,
when running from a source tree that is not installed, the ``version`` in
``pyproject.toml``."""
from __future__ import annotations

import re
from pathlib import Path

DIST_NAME = "pruned-ntk-theory"


def _from_pyproject() -> str:
    try:
        text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return "0+unknown"
    m = re.search(r'(?m)^version\s*=\s*"([^"]+)"', text)
    return m.group(1) if m else "0+unknown"


def get_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
        return version(DIST_NAME)
    except PackageNotFoundError:
        return _from_pyproject()


__version__ = get_version()
