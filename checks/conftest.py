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
Every Monte Carlo comparison is a hypothesis test. The stated family-wise rate is
``FAMILY_ALPHA = 1e-3``: a run in which the theory and the code are right fails with
probability at most 1e-3 *as measured* (notes/calibration.md). The nominal allocation
below sums to only ``NOMINAL_ALPHA`` ≈ 5.4e-4: a test's real tail can exceed its nominal
level (Student t on skewed draws, the variance z, …), so the nominal Bonferroni sum is
the stated rate divided by the largest average tail inflation the calibration is allowed
to find (≈ 1.85); ``benchmarks/calibrate_checks.py`` measures each kind of test's
inflation and the note checks that the nominal levels multiplied by their measured
inflations (upper 95 % bounds) stay below 1e-3. Each
claim with a Monte Carlo part gets the share in ``ALPHA``, and *within* a claim that share
is split by Bonferroni over all its comparisons (configurations × compared kernel entries
/ widths / models / tests), the count ``m`` being fixed in advance from the profile and
written in each module's docstring. Bonferroni needs no independence, so sharing draws
between checks is allowed. Standard errors estimated from the draws use Student-t
critical values (``n − 1`` or Welch–Satterthwaite degrees of freedom). The symbolic and
high-precision checks are deterministic (exact equality, or tolerances far above the
arithmetic's error) and spend no alpha.

    claim                                          alpha    m (ci profile; thorough)
    01 scaling, Monte Carlo                        4e-5     2 × 6        (12 × 6)
    02 rescaling, Monte Carlo                      4e-5     2 × 6        (12 × 6)
    03 non-homogeneous, Monte Carlo                4e-5     2 × 10       (12 × 10)
    04 pruning model, Monte Carlo                  4e-5     2 × 2 × 6    (12 × 2 × 6)
    05 input layer, Monte Carlo                    4e-5     2 × 6        (12 × 6)
    06 diagonal mean, Monte Carlo                  4e-5     4 × 3        (24 × 3)
    07 width rate (exponent fit)                   4e-5     2            (12)
    08 sparsity dependence (variance, fit tests)   4e-5     3 × 30 × 4   (13 × 30 × 4)
    09 p = 0, Monte Carlo                          4e-5     2 × 6        (12 × 6)
    10 fast sampler = plain sampler                5e-5     2 × 67       (12 × 67)
    11b path kernel, Monte Carlo (incl. its near)  5e-5     2 × 2        (12 × 2)
    near controls (misses, see below)              8e-5
    nominal total (NOMINAL_ALPHA)                  5.4e-4
    stated family-wise rate, with measured inflation  1e-3

Power. Every Monte Carlo comparison reports in the verdict table's ``detect`` column the
smallest relative error it detects with 80 % power (``theory.stats.detectable_effect``:
noncentral t; relative to the kernel scale ``sqrt(Θ(x,x) Θ(x',x'))`` of each entry), and
besides the gross negative control (a wrong exponent, model, depth…) carries a NEAR
control: the prediction shifted by the effect that each entry's test detects with
probability ``1 − NEAR_MISS`` (``checks/_support.py``: ``NEAR_MISS = 5e-7``), about
1.7–1.9 × the 80 % detectable effect. Under a correct implementation a near control fails
to reject with probability ≤ 5e-7; the ci profile has 24 near controls and the
thorough profile about 140 (≤ 7e-5), within ``NEAR_BUDGET = 8e-5``.

So a correct run fails with probability ≤ 1e-3 (nominally ≤ 5.4e-4; with the measured
inflations, notes/calibration.md), and 20 replications with probability ≤ 2e-2.
``benchmarks/calibrate_checks.py`` measures these rates.
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
# Nominal levels: half of the earlier 1e-3 allocation, so that the stated FAMILY_ALPHA holds
# with the tail inflations the calibration measures (module docstring, notes/calibration.md)
ALPHA = {
    "1c": 4e-5,
    "2c": 4e-5,
    "3c": 4e-5,
    "4c": 4e-5,
    "5c": 4e-5,
    "6": 4e-5,
    "7": 4e-5,
    "8": 4e-5,
    "9c": 4e-5,
    "10": 5e-5,
    "11b": 5e-5,                 # the path-kernel claim (checks/test_11_path_kernel.py)
}
NEAR_BUDGET = 8e-5               # near controls: each misses with prob. S.NEAR_MISS
NOMINAL_ALPHA = math.fsum(ALPHA.values()) + NEAR_BUDGET   # 5.4e-4 (fsum: no drift)
MAX_MEAN_INFLATION = 1.85        # the calibration must find a smaller (bounded) inflation
assert NOMINAL_ALPHA * MAX_MEAN_INFLATION <= FAMILY_ALPHA * (1 + 1e-12)


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
              f"{FAMILY_ALPHA:g}; stochastic statistics are |t| (Student/Welch; z where "
              f"said) against the Bonferroni critical value 'crit'.")
    for line in render_table(claims, header=header):
        tr.write_line(line)
    path = config.getoption("--verdicts-json")
    if path:
        with open(path, "w") as fh:
            json.dump([c.as_json() for c in claims], fh, indent=2, default=str)
        tr.write_line(f"verdicts written to {path}")
