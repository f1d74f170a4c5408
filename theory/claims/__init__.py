"""User claims: a claim file (TOML) checked symbolically, at high precision and by
Monte Carlo, each with a stated false-alarm rate and power (``docs/guide/claims.md``)::

    claims = theory.claims.load("examples/paper.claims.toml")
    result = theory.claims.check(claims[0], seed=0)
    result.verdict, result.statistic, result.detectable_effect, result.replay
"""
from .schema import Claim, ClaimError, PRange, load, load_file, parse_claims
from .run import (ClaimResult, allocate_alpha, check, check_claims, check_file, draw_kernels,
                  replay_command, table)

__all__ = ["Claim", "ClaimError", "ClaimResult", "PRange", "load", "load_file", "parse_claims",
           "check", "check_claims", "check_file", "allocate_alpha", "draw_kernels",
           "replay_command", "table"]
