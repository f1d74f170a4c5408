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
    11b path kernel, Monte Carlo           1e-4
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
from theory.verdicts import render_table

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
    "11b": 1e-4,
}
assert math.fsum(ALPHA.values()) <= FAMILY_ALPHA * (1 + 1e-12)  # fsum: no rounding drift


def pytest_addoption(parser):
    # --seed and --verdicts-json are shared with the claim-file plugin (theory.pytest_plugin,
    # a pytest11 entry point): defined once, whichever registers first
    from theory.pytest_plugin import add_shared_options
    add_shared_options(parser)
    g = parser.getgroup("checks", "claim-by-claim verification (checks/)")
    g.addoption("--profile", action="store", default=None, choices=sorted(S.PROFILES),
                help="ci (fast, default) or thorough; env CHECKS_PROFILE also works")


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


def verdict_rows():
    return list(S.CLAIMS.values())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    claims = verdict_rows()
    if not claims:
        return
    tr = terminalreporter
    tr.section("verdicts (checks/)", sep="=")
    header = (f"seed {S.RUN.seed}  profile {S.RUN.profile.name}  family-wise alpha "
              f"{FAMILY_ALPHA:g}; stochastic statistics are |z| (or t) against the "
              f"Bonferroni critical value 'crit'.")
    for line in render_table(claims, header=header):
        tr.write_line(line)
    path = config.getoption("--verdicts-json")
    if path:
        with open(path, "w") as fh:
            json.dump([c.as_json() for c in claims], fh, indent=2, default=str)
        tr.write_line(f"verdicts written to {path}")
