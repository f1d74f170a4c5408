"""Claim-by-claim verification of the NTK theory of randomly pruned networks.

Run ``pytest checks/``; see ``checks/conftest.py`` for the options (``--seed``,
``--profile``, ``--verdicts-json``) and the false-alarm budget.
"""
