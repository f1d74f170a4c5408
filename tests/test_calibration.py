"""The calibration statistics of notes/calibration.py and the claim selection of
benchmarks/calibrate_checks.py."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from notes import calibration as NC

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("calibrate_checks",
                                                  ROOT / "benchmarks" / "calibrate_checks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cluster_bound_matches_binomial_for_singletons():
    # clusters of one p-value each: the sandwich variance is the binomial r(1-r)/n
    rng = np.random.default_rng(0)
    hits = (rng.random(4000) < 0.05).astype(int).tolist()
    r = sum(hits) / len(hits)
    want = r + 1.96 * math.sqrt(r * (1 - r) / len(hits) * len(hits) / (len(hits) - 1))
    assert NC.cluster_upper(hits, [1] * len(hits)) == pytest.approx(want, rel=1e-12)


def test_cluster_bound_widens_for_dependent_clusters():
    # 100 clusters of 20 identical p-values (perfect dependence): the effective sample is
    # 100, not 2000, and the cluster bound must be wider than Clopper–Pearson's
    rng = np.random.default_rng(1)
    k = (rng.random(100) < 0.05).astype(int) * 20
    hi_cp = NC.clopper_pearson(int(k.sum()), 2000)[1]
    assert NC.cluster_upper(k.tolist(), [20] * 100) > hi_cp


def test_aggregate_uniform_pvalues_is_calibrated():
    rng = np.random.default_rng(2)
    recs = [{"claim": "1c", "kind": "mean t", "seed": s, "alpha_each": 1e-6, "config": str(c),
             "p": rng.random(10).tolist()} for s in range(200) for c in range(2)]
    res = NC.aggregate(recs, include_unmeasured=False)
    kind = res["kinds"]["mean t"]
    assert kind["rate_0.05"][1] <= 0.05 <= kind["rate_0.05"][2]
    assert 0.05 <= kind["inflation_bound"] * 0.05 <= 0.08
    c = res["claims"]["1c"]
    assert c["runs"] == 200 and c["per_run"] == 20
    assert c["claim_level_0.05"][1] <= 0.05 <= c["claim_level_0.05"][2]
    # the bound uses max(1, r̄) per kind: at least the nominal 20 × 1e-6
    assert c["family_share"][1] >= c["nominal"] == pytest.approx(2e-5)


def test_aggregate_sees_inflated_pvalues():
    rng = np.random.default_rng(3)
    recs = [{"claim": "8", "kind": "variance z", "seed": s, "alpha_each": 1e-6,
             "p": (rng.random(10) ** 1.5).tolist()} for s in range(300)]  # P(p<.05) = 0.136
    kind = NC.aggregate(recs)["kinds"]["variance z"]
    assert kind["rate_0.05"][1] > 0.1 and kind["inflation"] > 2


def test_unmeasured_claims_enter_at_their_nominal_level():
    recs = [{"claim": "10", "kind": "KS", "seed": s, "alpha_each": 1e-7, "p": [0.5, 0.7]}
            for s in range(50)]
    res = NC.aggregate(recs)
    from checks.conftest import ALPHA
    assert set(res["unmeasured"]) == set(ALPHA) - {"10"}
    assert res["family_wise_estimate"][0] >= sum(a for k, a in ALPHA.items() if k != "10")


def test_claim_files():
    cc = _bench()
    assert cc.claim_files(["10"]) == ["checks/test_10_sampler_equivalence.py"]
    assert cc.claim_files(["1c", "7"]) == ["checks/test_01_scaling.py", "checks/test_07_rate.py"]
    with pytest.raises(ValueError, match="claim"):
        cc.claim_files(["x"])
    with pytest.raises(ValueError, match="test_99"):
        cc.claim_files(["99"])
