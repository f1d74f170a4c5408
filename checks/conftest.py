"""Options, seeds, profiles, the false-alarm budget and the verdict table of ``checks/``.

Options
-------
``--seed N``            (default 0) changes every Monte Carlo seed and every hypothesis draw;
                        ``--seed 1``, ``--seed 2``, … are independent replications, and the
                        same ``N`` replays a run exactly.
``--profile ci|thorough`` (default ``ci``, or env ``CHECKS_PROFILE``): ``thorough`` draws
                        many more hypothesis examples and Monte Carlo configurations.
``--verdicts-json PATH`` write the verdict table as JSON (list of objects with keys
                        ``claim, configs, statistic, control_statistic, verdict`` and a
                        ``details`` object).

False-alarm budget (both profiles)
----------------------------------
Every Monte Carlo comparison is a hypothesis test. The whole suite gets a family-wise
false-alarm probability ``FAMILY_ALPHA = 1e-3``: each claim with a Monte Carlo part gets the
share in ``ALPHA`` below, and *within* a claim that share is split by Bonferroni over all
its comparisons (configurations × compared kernel entries / widths / models), the count
``m`` being fixed in advance from the profile (the maximum number of configurations
hypothesis may draw, times the maximum number of comparisons per configuration) and
written in each module's docstring. Bonferroni needs no independence, so sharing draws
between checks is allowed. The symbolic and high-precision checks are deterministic (exact
equality, or tolerances far above the arithmetic's error) and spend no alpha.

    claim                                  alpha
    01 scaling, Monte Carlo                1e-4
    02 rescaling, Monte Carlo              1e-4
    03 non-homogeneous, Monte Carlo        1e-4
    04 pruning model, Monte Carlo          1e-4
    05 input layer, Monte Carlo            1e-4
    06 diagonal mean, Monte Carlo          1e-4
    07 width rate (slope CI)               1e-4
    08 sparsity dependence (fit tests)     1e-4
    09 p = 0, Monte Carlo                  1e-4
    unallocated                            1e-4
    total                                  1e-3

So a run in which the theory holds raises a false alarm with probability ≤ 1e-3, and 20
replications with probability ≤ 2e-2. Negative controls are designed with power: their
expected statistic is many times the critical value (each module says how).
"""
from __future__ import annotations

import json
import math
import os

import pytest
from hypothesis import HealthCheck, settings

from checks import _support as S

FAMILY_ALPHA = 1e-3
ALPHA = {
    "1c": 1e-4,
    "2c": 1e-4,
    "3c": 1e-4,
    "4c": 1e-4,
    "5c": 1e-4,
    "6": 1e-4,
    "7": 1e-4,
    "8": 1e-4,
    "9c": 1e-4,
}
assert sum(ALPHA.values()) <= FAMILY_ALPHA


def pytest_addoption(parser):
    g = parser.getgroup("checks", "claim-by-claim verification (checks/)")
    g.addoption("--seed", action="store", type=int, default=None,
                help="master seed of every Monte Carlo draw and hypothesis example (default 0)")
    g.addoption("--profile", action="store", default=None, choices=sorted(S.PROFILES),
                help="ci (fast, default) or thorough; env CHECKS_PROFILE also works")
    g.addoption("--verdicts-json", action="store", default=None, metavar="PATH",
                help="write the verdict table to PATH as JSON")


def pytest_configure(config):
    seed = config.getoption("--seed")
    seed = 0 if seed is None else int(seed)
    if seed < 0:
        raise pytest.UsageError("--seed must be a non-negative integer")
    prof = config.getoption("--profile") or os.environ.get("CHECKS_PROFILE", "ci")
    if prof not in S.PROFILES:
        raise pytest.UsageError(f"unknown profile {prof!r}; choose from {sorted(S.PROFILES)}")
    S.RUN.seed = seed
    S.RUN.profile = S.PROFILES[prof]
    S.RUN.alpha = dict(ALPHA)
    S.RUN.family_alpha = FAMILY_ALPHA
    # A database-free hypothesis profile keyed on the seed: nothing is replayed from
    # earlier runs, so each --seed is a fresh, reproducible replication.
    name = f"checks-{prof}-seed{seed}"
    settings.register_profile(name, database=None, deadline=None, derandomize=False,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(name)


def pytest_report_header(config):
    return (f"checks: seed {S.RUN.seed}, profile {S.RUN.profile.name}, family-wise alpha "
            f"{FAMILY_ALPHA:g} (see checks/conftest.py)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        rep.sections.append(("checks replay", f"seed {S.RUN.seed}, profile "
                             f"{S.RUN.profile.name}: pytest '{item.nodeid}' --seed "
                             f"{S.RUN.seed} --profile {S.RUN.profile.name}"))


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    ax = abs(x)
    if ax != 0 and (ax < 1e-3 or ax >= 1e5):
        return f"{x:.2e}"
    return f"{x:.3g}"


def verdict_rows():
    return [c for c in S.CLAIMS.values()]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    claims = verdict_rows()
    if not claims:
        return
    tr = terminalreporter
    tr.section("verdicts (checks/)", sep="=")
    tr.write_line(f"seed {S.RUN.seed}  profile {S.RUN.profile.name}  family-wise alpha "
                  f"{FAMILY_ALPHA:g}; stochastic statistics are |z| (or t) against the "
                  f"Bonferroni critical value 'crit'.")
    head = (f"{'claim':<58} {'configs':>7} {'statistic':>10} {'crit':>9} {'control':>10} "
            f"{'ctl crit':>9} {'verdict':>12}")
    tr.write_line(head)
    tr.write_line("-" * len(head))
    for c in claims:
        title = f"{c.key:<3} {c.title}"
        if len(title) > 58:
            title = title[:57] + "…"
        tr.write_line(f"{title:<58} {len(c.configs):>7} {_fmt(c.worst):>10} {_fmt(c.crit):>9} "
                      f"{_fmt(c.control_worst):>10} {_fmt(c.control_crit):>9} {c.verdict:>12}")
    tr.write_line("")
    tr.write_line("statistic = worst value over all comparisons; control = weakest negative "
                  "control (must be beyond its critical value):")
    for c in claims:
        tr.write_line(f"  {c.key:<3} statistic: {c.statistic}")
        for n in c.notes:
            tr.write_line(f"        note: {n}")
        for r in c.rejections[:3]:
            tr.write_line(f"        REJECTED: {r}")
        for r in c.control_misses[:3]:
            tr.write_line(f"        CONTROL MISS: {r}")
        if not c.configs:
            tr.write_line("        (not run in this session)")
    path = config.getoption("--verdicts-json")
    if path:
        with open(path, "w") as fh:
            json.dump([c.as_json() for c in claims], fh, indent=2, default=str)
        tr.write_line(f"verdicts written to {path}")
