"""Claim 11 — the path kernel under random pruning (Gebhart, Saxena & Schrater 2021).

In words: for a bias-free ReLU network the NTK factors as ``Θ = J_v Π J_vᵀ`` through the
path values ``v_P`` (products of weights along input→output paths); the *path kernel*
``Π = (∂v/∂θ)(∂v/∂θ)ᵀ`` depends on the weights only. Its trace and the squared ℓ2 path
norm ``R₂ = Σ_P v_P²`` come out of one pass of squared weights. Under random pruning
(notes/path_kernel.md, ``theory.paths.expected_path_traces``), with ``N = d_0 Π d_h``
paths and ``s_h`` the effective weight variance of matrix ``h`` (docs/math.md#pruning):

    E[R₂]   = N Π_h s_h
    E[tr Π] = N Σ_h γ_h Π_{k≠h} s_k,   γ_h = s_h (hard masks), 1 (variance model)

so hard masks scale ``E[tr Π]`` by ``(L+1) Π s_h`` — the NTK's factor — and the variance
model by one power fewer per term. Source: docs/math.md#path-kernel; derivation in
notes/path_kernel.md.

11a (deterministic): on tiny nets the explicit path enumeration reproduces the empirical
NTK (``J_v Π J_vᵀ``), the output (``Σ_P v_P J_P``), ``tr Π`` and ``R₂`` of the one-pass
formulas, to 1e-10 relative (float64 rounding is ~1e-15). Control: dropping the layer
constant ``sqrt(c_σ/d)`` from ``J_v`` (the factor the decomposition must carry) must break
the identity.

11b (Monte Carlo): max(2, profile.mc) configurations per run (ci: 2, thorough: 12), drawn
from ``--seed`` (depth 1–3, d0 ∈ {8, 16}, width ∈ {16, 32}, per-matrix p in [0.2, 0.7] —
non-dyadic —, a random non-empty set of pruned matrices) and stratified over (model,
rescale) so that every run has an unrescaled hard-mask net and a variance-model net;
N independent networks each, N sized by an independent pilot of 1000 networks for a
detectable effect of 1.7 % (4000 ≤ N ≤ 40000, ×2 in the thorough profile); the means of ``R₂`` and
``tr Π`` against the exact laws by Student-t tests (``theory.stats.mean_test``),
Bonferroni m = configurations × 2 within ALPHA["11b"]. Gross
control: the law with one extra power of the smallest keep probability (rescaled nets:
the unrescaled law), which is ≥ 20 % off. Near control: the prediction moved by the
effect this test detects with probability 1 − 1e-7, so a correct implementation makes a
near control fail to reject with probability ≤ 1e-7 per comparison; the tests get 97 % of
ALPHA["11b"] and the (at most 24) near controls the remaining 3 % (≥ 2.4e-6).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import theory
from checks import _support as S
from checks._support import claim, expect_holds, expect_rejects, fmt_arch
from theory import stats as tstats
from theory.batched import draw_networks
from theory.network import draw_network, forward_backward, network_kernels
from theory.paths import expected_path_traces, path_decomposition, path_traces

C11a = claim("11a", "path kernel: Θ = J_v Π J_vᵀ, tr Π and R₂ by one pass", "max relative "
             "error of the enumeration vs empirical NTK / one-pass traces (tol 1e-10)",
             source="Gebhart et al. 2021; docs/math.md#path-kernel", stochastic=False)
C11b = claim("11b", "path kernel: E[tr Π], E[R₂] under random pruning", "max |t| of the mean "
             "of tr Π and R₂ vs the exact law", source="notes/path_kernel.md")

TOL = 1e-10


# Stratified: (model, rescale) cycles through these, so the default run (2 configurations)
# always has an unrescaled hard-mask net (where γ_h = s_h ≠ 1 matters) and a variance-model
# net; the rest of each configuration is drawn from --seed.
_STRATA = [("mask", False), ("variance", False), ("mask", True), ("variance", True)]


def n_configs() -> int:
    return max(2, S.RUN.profile.mc)


def _design(tag: str, n: int) -> list[dict]:
    """Configurations drawn from --seed (no fixed first example), stratified over
    (model, rescale)."""
    rng = np.random.default_rng(S.mc_seed("11", tag))
    out = []
    for k in range(n):
        model, rescale = _STRATA[k % len(_STRATA)]
        depth = int(rng.integers(1, 4))
        pruned = [h for h in range(depth + 1) if rng.random() < 0.6] or [int(rng.integers(0, depth + 1))]
        p = [round(float(rng.uniform(0.2, 0.7)), 6) if h in pruned else 0.0 for h in range(depth + 1)]
        out.append(dict(depth=depth, p=p, pruned=pruned, d0=int(rng.choice([8, 16])),
                        width=int(rng.choice([16, 32])), model=model, rescale=rescale,
                        seed=int(rng.integers(2 ** 31))))
    return out


def _rel(a, b) -> float:
    """max |a − b| / max |b| (a net whose masks cut every path has both sides exactly 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = float(np.max(np.abs(b)))
    diff = float(np.max(np.abs(a - b)))
    return diff / scale if scale > 0 else diff


def test_decomposition_identities():
    rng = np.random.default_rng(S.mc_seed("11a"))
    for k in range(4):
        depth = 1 + k % 3
        model = ["mask", "variance"][k % 2]
        p = [float(rng.uniform(0.1, 0.4)) for _ in range(depth + 1)]
        arch = theory.Architecture(depth=depth, activation="relu", p=p, rescale=bool(k & 2),
                                   model=model)
        # widths ≥ 3 so that the control's constant C = Π sqrt(2/d_h) differs from 1
        widths = [int(rng.integers(3, 6)) for _ in range(depth)]
        X = rng.standard_normal((3, 3))
        for _ in range(100):  # a net whose masks cut every active path has Θ = 0: redraw
            net = draw_network(arch, 3, widths, int(rng.integers(2 ** 31)))
            if np.any(network_kernels(net, X)["ntk"] != 0):
                break
        cfg = C11a.config(f"{fmt_arch(arch)} d0=3 widths={widths}")
        dec = path_decomposition(net, X)
        ker = network_kernels(net, X)
        tr = path_traces(net)
        errs = {
            "J Π Jᵀ vs empirical NTK": _rel(dec.ntk, ker["ntk"]),
            "Σ v_P J_P vs output": _rel(dec.J @ dec.values, ker["output"]),
            "tr Π enumeration vs one pass": _rel(np.trace(dec.kernel), tr.trace),
            "Σ v_P² vs R₂ one pass": _rel(dec.values @ dec.values, tr.R2),
        }
        for what, e in errs.items():
            expect_holds(C11a, e, TOL, e > TOL, what, cfg)
        # control: J_v without the layer constants C = Π sqrt(c_σ/d_h)
        C = math.prod(math.sqrt(net.c_sigma / d) for d in net.widths)
        J0 = dec.J / C
        bad = _rel(J0 @ dec.kernel @ J0.T, ker["ntk"])
        expect_rejects(C11a, bad, TOL, bad > TOL, "J_v without sqrt(c_σ/d_h)", cfg)


def _samples(arch, d0: int, width: int, n: int, seed: Any) -> tuple[np.ndarray, np.ndarray]:
    """``n`` independent networks (the batch sequence of ``theory.draw_networks``, drawn
    in chunks of 2000), ``R₂`` and ``tr Π`` of each by ``path_traces``."""
    ss = np.random.SeedSequence(seed)
    R2, tr = np.empty(n), np.empty(n)
    for c0 in range(0, n, _CHUNK):
        batch = draw_networks(arch, d0, width, ss.spawn(1)[0], min(_CHUNK, n - c0))
        for k in range(batch.draws):
            t = path_traces(batch.network(k))
            R2[c0 + k], tr[c0 + k] = t.R2, t.trace
    return R2, tr


_CHUNK = 2000


# Draws sized by an independent pilot (as checks/_support.py::sized_estimates): PILOT
# networks from their own seed estimate the relative standard deviation of R₂ and tr Π,
# which fixes the final N for a detectable effect of TARGET; the final draws are fresh,
# so N does not depend on the data tested.
PILOT, TARGET, N_MIN, N_MAX = 1000, 0.017, 4000, 40000


def _sized_draws(arch, c: dict, law: dict, *, alpha: float, m: int) -> tuple[int, int]:
    R2, tr = _samples(arch, c["d0"], c["width"], PILOT, [c["seed"], 0x50494C54])
    nc = tstats.detectable_effect(1.0, alpha=alpha, m=m)
    rel = max(float(np.std(x, ddof=1)) / abs(float(law[k])) for x, k in
              ((R2, "R2"), (tr, "trace")) if float(law[k]) != 0)
    need = int(math.ceil((nc * rel / TARGET) ** 2))
    return int(min(max(need, N_MIN), S.n_draws(N_MAX))), need


# 11b's share of the budget covers its near controls too: each misses with probability
# ≤ NEAR_MISS_11, and at most 24 are run (thorough), so 3 % of the share is set aside
NEAR_MISS_11 = 1e-7


def test_random_pruning_law():
    alpha = S.claim_alpha("11b") * 0.97
    m = n_configs() * 2
    for c in _design("mc", n_configs()):
        arch = theory.Architecture(depth=c["depth"], activation="relu", p=c["p"],
                                   pruned=c["pruned"], rescale=c["rescale"], model=c["model"])
        law = expected_path_traces(arch, c["d0"], c["width"])
        N, need = _sized_draws(arch, c, law, alpha=alpha, m=m)
        cfg = C11b.config(f"{fmt_arch(arch)} d0={c['d0']} width={c['width']} N={N} (pilot "
                          f"asked for {need}) seed={c['seed']}")
        R2, tr = _samples(arch, c["d0"], c["width"], N, c["seed"])
        q = [1 - float(arch.p_of(h)) for h in arch.pruned_matrices()]
        wrong = float(np.prod(q)) if c["rescale"] else min(q)
        for name, x in (("R₂", R2), ("tr Π", tr)):
            pred = float(law["R2" if name == "R₂" else "trace"])
            r = tstats.mean_test(x, pred, alpha=alpha, m=m)
            S.record_pvalues("11b", [r.p_value], alpha / m, "mean t", config=c["seed"])
            what = f"mean {name} vs exact law {pred:.6g}: t = {r.statistic:.3g}"
            C11b.observe(abs(r.statistic), r.critical, r.reject, f"{what} [{cfg}]",
                         detectable=r.relative_detectable_effect)
            assert not r.reject, f"[11b] REFUTED: {what}; {cfg}; replay: pytest checks/ --seed {S.RUN.seed}"
            g = tstats.mean_test(x, wrong * pred, alpha=alpha, m=m, power=None)
            expect_rejects(C11b, abs(g.statistic), g.critical, g.reject,
                           f"{name}: law × {wrong:.3g} (one more power of q)", cfg)
            shift = tstats.detectable_effect(r.stderr, alpha=alpha, m=m, power=1 - NEAR_MISS_11,
                                             df=r.df)
            nr = tstats.mean_test(x, pred + shift, alpha=alpha, m=m, power=None)
            C11b.control(abs(nr.statistic), nr.critical, nr.reject,
                         f"{name}: law + {shift / pred:.2%} (near)", near=True)
            assert nr.reject, (f"[11b] near control did not reject: {name} shifted by "
                               f"{shift / pred:.2%}; {cfg}")
