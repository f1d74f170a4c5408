"""pytest plugin: files named ``*.claims.toml`` become tests, one item per claim.

Registered through the ``pytest11`` entry point (``pyproject.toml``), so it is active
wherever the package is installed; it collects nothing but files whose name ends in
``.claims.toml`` (no other TOML file, no other project's tests). An item passes when the
claim's verdict matches its ``expect``; a failure shows the reason, the counterexample and
the replay command. The verdict table of all claim files is printed at the end.

Options (shared with ``checks/``, whose ``conftest.py`` uses the same definitions):

``--seed N``            master seed (default 0);
``--verdicts-json PATH`` write the verdicts as JSON.

Disable with ``-p no:theory_claims``.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

SUFFIX = ".claims.toml"
_RESULTS_KEY = "_theory_claim_results"


def add_shared_options(parser: Any) -> None:
    """Define ``--seed`` and ``--verdicts-json`` once per parser (the plugin and
    ``checks/conftest.py`` both call this; the second call does nothing)."""
    if getattr(parser, "_theory_shared_options", False):
        return
    parser._theory_shared_options = True
    g = parser.getgroup("theory", "pruned-ntk-theory claims (checks/ and *.claims.toml)")
    g.addoption("--seed", action="store", type=int, default=None,
                help="master seed of every Monte Carlo draw (default 0); the same N replays "
                     "a run, other N are independent replications")
    g.addoption("--verdicts-json", action="store", default=None, metavar="PATH",
                help="write the verdict table to PATH as JSON")


def pytest_addoption(parser):
    add_shared_options(parser)


def _seed(config) -> int:
    s = config.getoption("--seed", default=None)
    s = 0 if s is None else int(s)
    if s < 0:
        raise pytest.UsageError("--seed must be a non-negative integer")
    return s


def pytest_collect_file(file_path, parent):
    if file_path.name.endswith(SUFFIX):
        return ClaimsFile.from_parent(parent, path=file_path)
    return None


class ClaimsFile(pytest.File):
    def collect(self):
        from theory.claims.schema import ClaimError, load_file
        from theory.claims.run import allocate_alpha
        try:
            claims, fam = load_file(self.path)
        except ClaimError as e:
            raise self.CollectError(str(e)) from None
        for c, a in zip(claims, allocate_alpha(claims, fam)):
            yield ClaimItem.from_parent(self, name=c.name, claim=c, alpha=a)


class ClaimMismatch(Exception):
    pass


class ClaimItem(pytest.Item):
    def __init__(self, *, claim, alpha, **kw):
        super().__init__(**kw)
        self.claim = claim
        self.alpha = alpha
        self.result = None

    def runtest(self):
        from theory.claims.run import check
        seed = _seed(self.config)
        self.result = check(self.claim, seed=seed, alpha=self.alpha)
        self.config.stash.setdefault(_STASH, []).append(self.result)
        if not self.result.matches:
            raise ClaimMismatch(self.result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ClaimMismatch):
            r = self.result
            out = [f"claim {r.name!r}: verdict {r.verdict}, expected {r.expect}",
                   f"  reason: {r.reason}"]
            for n in r.record.notes:
                out.append(f"  note: {n}")
            for m in r.record.control_misses[:3]:
                out.append(f"  control miss: {m}")
            if "counterexample" in r.details:
                out.append(f"  counterexample: {json.dumps(r.details['counterexample'], default=str)[:800]}")
            out.append(f"  replay: {r.replay}")
            out.append(f"  (or: pytest '{self.nodeid}' --seed {r.seed})")
            return "\n".join(out)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"claim: {self.name}"


_STASH = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = config.stash.get(_STASH, [])
    if not results:
        return
    from theory.verdicts import render_table
    tr = terminalreporter
    tr.section("verdicts (claim files)", sep="=")
    for line in render_table([r.record for r in results],
                             header=f"seed {_seed(config)}; statistical claims share each "
                                    f"file's family-wise alpha (Bonferroni)"):
        tr.write_line(line)
    path = config.getoption("--verdicts-json", default=None)
    if path:
        # checks/ writes its own table to the same option; claim files go beside it
        target = path if not _checks_active(config) else path.replace(".json", "") + ".claims.json"
        with open(target, "w") as fh:
            json.dump([r.as_json() for r in results], fh, indent=2, default=str)
        tr.write_line(f"claim verdicts written to {target}")


def _checks_active(config) -> bool:
    """Whether this session also runs ``checks/`` (its conftest writes ``--verdicts-json``
    itself; the claim files' verdicts then go to ``PATH.claims.json`` beside it)."""
    import os
    tail = os.path.join("checks", "conftest.py")
    return any(str(getattr(p, "__file__", "") or "").endswith(tail)
               for p in config.pluginmanager.get_plugins())
