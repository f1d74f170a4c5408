"""Claim 10 — the fast sampler equals a naive one in distribution.

In words: the finite networks that every Monte Carlo check draws (``theory.empirical_ntk``
with ``draws=K``: the compiled batched sampler of ``theory.fastdraw`` — SFC64 streams,
byte-threshold Bernoulli masks with exact tie words, ziggurat normals drawn only where a
mask keeps a weight — and stacked matrix products; docs/design.md) have the same joint
distribution of empirical-kernel entries as a deliberately plain sampler written
independently in ``checks/_reference.py::reference_ntk`` (``numpy`` ``standard_normal``
and ``binomial``, one matrix at a time, a plain forward/backward pass, the NTK from the
explicit per-weight gradient). Source: docs/math.md#network, docs/math.md#pruning (the
network both samplers implement).

This is the check that sees what the mean checks cannot: correlated masks, wrong keep
probabilities, truncated or mis-scaled normals and variance errors at any depth.

Per configuration (depth 2–3, width 32 (:data:`WIDTH`), both pruning models, rescaled or
not, ReLU/erf/tanh, keep probabilities non-dyadic with the fractional part of 256 q in
[0.3, 0.7] so that a quantised keep probability is visible), ``N`` = 20000 draws of the
plain reference sampler and ``3 N`` of the engine (the engine is ~3× cheaper per draw;
:data:`N_REFERENCE`, :data:`ENGINE_FACTOR`); the features are the per-matrix terms
``Θ_h(x, x')`` of the 6 entries of 3 inputs, and the total ``Θ_d``:

10a means — Welch t of every per-matrix feature ((L+1)·6);
10b second moments — Welch t of the centred products of every pair of total-kernel entries
    (21: the 6 variances and 15 covariances), on ``N`` draws of each sampler: with equal
    sizes the difference of two iid means is symmetric under the null, so the skewness of
    the products does not enter the t tails at first order;
10c distribution-free — two-sample Kolmogorov–Smirnov on each total-kernel entry and on
    4 random projections of the standardised per-matrix features (a Cramér–Wold check of
    the joint law; the KS null is exact whatever the distribution, conservative with
    ties);
10d masks — the kept fraction of the engine's masks (``theory.batched.draw_networks`` at
    width 1024, 8 networks), of 2^24 draws of the batched mask sampler
    (``theory.fastdraw.fill_piece``) and of 2^24 draws of the single-draw mask sampler
    (``theory.network._Bernoulli``, used by ``empirical_ntk`` without ``draws``) against
    the exact keep probability q (exact binomial tests; 3 per masked matrix).

Acceptance: every p-value above ``ALPHA["10"]/m`` with ``m`` = (configurations) × the
number of comparisons per configuration (``per_config``; at most 24 + 21 + 10 + 12 = 67 at
depth 3), Bonferroni. Statistic: the smallest p-value as ``-log10 p`` (against
``-log10(alpha/m)``). Detectable effect: the mean tests' 80 % detectable relative effect.

Controls, on the same engine draws (each must reject):

* gross: the reference sampler with every mask row shared within a matrix (fault a of the
  review; variance ×1.4–1.7; ``N/4`` draws) and with the backward pass normalised by
  ``d + 1`` (fault d; a bias of 3–9 % at width 32, ``N`` draws);
* the keep-rate test against the quantised probability ``⌊256 q⌋/256`` (fault b) must
  reject;
* near: each mean feature's prediction (the reference mean) shifted by the effect the
  Welch test detects with probability 1 − 5e-7 (:data:`checks._support.NEAR_MISS`).
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy import stats as sst

import theory
from theory.network import draw_network
from checks import _reference as R
from checks import _support as S
from checks._support import claim, expect_holds, expect_rejects, fmt_arch

C10 = claim("10", "fast sampler = plain reference sampler in distribution", "-log10 of "
            "the smallest two-sample p-value (means, second moments, KS, keep rate)",
            source="docs/math.md#network, docs/math.md#pruning")

N_INPUTS = 3
ENTRIES = S.upper_entries(N_INPUTS)
N_PROJ = 4
WIDTH = 32
"""Hidden width of every configuration: the features' relative spread falls as ~1/width
(0.77 → 0.29 of the kernel scale and skewness 15 → 5 from width 8 to 32, ReLU depth 2)
while the plain sampler's cost per draw only doubles, so 32 buys the most power per
second and keeps the per-draw features close enough to normal for the t tails."""
N_REFERENCE = 20000
"""Draws of the plain reference sampler per configuration (ci profile); it is the slow
sample (~100–200 µs per draw at width 32) and sets the power."""
ENGINE_FACTOR = 3
"""The engine draws ``ENGINE_FACTOR × N`` networks (~3× cheaper per draw than the
reference at width 32; the reference effectively costs 2.25 N draws, with the d + 1
control's sample, so sqrt(2.25 × 3) ≈ 2.6 is the cost-optimal ratio for the Welch tests of
the means)."""
FAULT_DIVISOR = 4
"""The shared-mask-row control's faulty reference sampler draws ``N / FAULT_DIVISOR``
networks (the d + 1 control draws ``N``: its bias is only a few per cent at width 32)."""
MAX_PER_CONFIG = 4 * 6 + 21 + (6 + N_PROJ) + 3 * 4


def per_config() -> int:
    return MAX_PER_CONFIG


def _features(A: np.ndarray) -> np.ndarray:
    """(N, L+1, n, n) → (N, (L+1)·6) per-matrix upper-triangular entries."""
    iu = np.triu_indices(N_INPUTS)
    return A[:, :, iu[0], iu[1]].reshape(A.shape[0], -1)


def _total(A: np.ndarray) -> np.ndarray:
    iu = np.triu_indices(N_INPUTS)
    return A.sum(axis=1)[:, iu[0], iu[1]]


def _welch(a: np.ndarray, b: np.ndarray):
    """Welch t per column: (t, df, se)."""
    na, nb = a.shape[0], b.shape[0]
    va, vb = a.var(axis=0, ddof=1) / na, b.var(axis=0, ddof=1) / nb
    se = np.sqrt(va + vb)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, (a.mean(axis=0) - b.mean(axis=0)) / np.where(se > 0, se, 1), 0.0)
        df = np.where(se > 0, (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)), 1e9)
    return t, df, se


def _centred_products(T: np.ndarray) -> np.ndarray:
    n = T.shape[0]
    C = T - T.mean(axis=0)
    k = T.shape[1]
    cols = [C[:, i] * C[:, j] * (n / (n - 1)) for i in range(k) for j in range(i, k)]
    return np.stack(cols, axis=1)


ROUNDING = 1e-10  # a feature below this fraction of its kernel scale is zero up to rounding


def two_sample_pvalues(E: np.ndarray, Rf: np.ndarray, proj_seed: int) -> dict:
    """All two-sample p-values of one configuration: ``{"mean": (t, df, se, p, mean_R),
    "moment": p, "ks": p, "moment_se": (se, df, second moment_R)}`` (E, Rf: ``(N, L+1,
    n, n)`` per-matrix draws of the two samplers; the sizes may differ).

    A feature that is zero up to rounding in both samplers (e.g. the input-layer term of
    two orthogonal inputs, ``x·x' ≈ 1e-17``: its value is a rounding constant of each
    implementation times a random factor) carries no information and would compare the
    two implementations' rounding: it is compared exactly instead (``|mean_E − mean_R| ≤
    ROUNDING × kernel scale``, else p = 0) and left out of the projections."""
    fe, fr = _features(E), _features(Rf)
    n_mats = E.shape[1]
    Tm = Rf.sum(axis=1).mean(axis=0)
    scale = np.tile(S.kernel_scale(Tm)[np.triu_indices(N_INPUTS)], n_mats)
    sd = np.concatenate([fe, fr]).std(axis=0)
    live = sd > ROUNDING * scale
    t, df, se = _welch(fe, fr)
    p_mean = 2 * sst.t.sf(np.abs(t), df)
    dead_ok = np.abs(fe.mean(axis=0) - fr.mean(axis=0)) <= ROUNDING * scale
    p_mean = np.where(live, p_mean, np.where(dead_ok, 1.0, 0.0))
    t = np.where(live, t, 0.0)
    te, tr = _total(E), _total(Rf)
    # second moments on equal-size samples (the first len(Rf) engine draws): the statistic
    # is then exactly symmetric under the null, so the skewness of the centred products
    # (up to ~10 here) does not enter the t tails at first order
    nm = min(te.shape[0], tr.shape[0])
    cr = _centred_products(tr[:nm])
    tm, dm, sm = _welch(_centred_products(te[:nm]), cr)
    p_mom = 2 * sst.t.sf(np.abs(tm), dm)
    sdl = np.where(live, sd, 1.0)
    dirs = np.random.default_rng(proj_seed).standard_normal((fe.shape[1], N_PROJ))
    dirs[~live] = 0.0
    pe, pr = (fe / sdl) @ dirs, (fr / sdl) @ dirs
    p_ks = [sst.ks_2samp(te[:, i], tr[:, i]).pvalue for i in range(te.shape[1])]
    p_ks += [sst.ks_2samp(pe[:, i], pr[:, i]).pvalue for i in range(N_PROJ)]
    return {"mean": (t, df, np.where(live, se, 0.0), p_mean, fr.mean(axis=0)),
            "moment": p_mom, "ks": np.asarray(p_ks),
            "moment_se": (sm, dm, cr.mean(axis=0))}


def keep_rate_counts(arch, d0: int, seed: np.random.SeedSequence) -> list:
    """Kept counts per masked matrix ``h``: (i) the masks of 8 engine networks
    (``theory.batched.draw_networks`` at width 1024), (ii) 2^24 draws of the batched mask
    sampler (``theory.fastdraw.fill_piece``) and (iii) 2^24 draws of the single-draw mask
    sampler (``theory.network._Bernoulli``) for that matrix's keep probability — (ii) and
    (iii) give the power against a quantised keep probability even when only the small
    input matrix is masked. Rows ``(h, kept, total)``."""
    from theory import fastdraw
    from theory.batched import draw_networks
    from theory.network import _Bernoulli
    out = []
    nets = draw_networks(arch, d0, 1024, np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, 0)), 8)
    E = 1 << 24
    piece = 1 << 22   # four pieces: 32 MiB buffers, one stream
    for h, M in enumerate(nets.masks):
        if M is None:
            continue
        out.append((h, int(np.count_nonzero(M)), M.size))
        q = float(arch.q_of(h))
        mode, t, T, F = fastdraw.keep_thresholds(q)
        state = fastdraw.sfc64_state(np.random.SeedSequence(
            seed.entropy, spawn_key=(*seed.spawn_key, 2000 + h)))
        W, Mb = np.empty(piece), np.empty(piece)
        kept = 0
        for _ in range(E // piece):
            fastdraw.fill_piece(state, W, Mb, mode, t, T, F)
            kept += int(np.count_nonzero(Mb))
        out.append((h, kept, E))
        bg = np.random.PCG64(np.random.SeedSequence(seed.entropy,
                                                    spawn_key=(*seed.spawn_key, 1000 + h)))
        out.append((h, int(np.count_nonzero(_Bernoulli(q).draw(bg, E))), E))
    return out


def keep_rate_pvalue(arch, d0: int, seed: np.random.SeedSequence, q_test=None,
                     counts: list | None = None) -> list:
    """Exact binomial p-values of the kept fractions of :func:`keep_rate_counts` (or the
    given ``counts``) against ``q`` (or ``q_test(h)``). Rows ``(h, kept, total, q, p)``."""
    counts = keep_rate_counts(arch, d0, seed) if counts is None else counts
    out = []
    for h, k, t in counts:
        q = float(arch.q_of(h)) if q_test is None else q_test(h)
        out.append((h, k, t, q, sst.binomtest(k, t, q).pvalue))
    return out


def _lp(p: float) -> float:
    return float(-math.log10(max(p, 1e-300)))


def _nonquantised_p(D: S.Design, name: str) -> float:
    """p ∈ [0.3, 0.7] with 256·q at least 0.3 away from an integer (q = 1 − p)."""
    base = D.integer(name + ".k", int(0.3 * 256), int(0.7 * 256) - 1)
    frac = D.uniform(name + ".frac", 0.3, 0.7)
    q = (base + frac) / 256
    return 1.0 - q


@pytest.mark.parametrize("k", S.designs("10"))
def test_sampler_equivalence(k):
    D = S.Design("10", k, S.n_mc())
    depth = D.choice("depth", [2, 3])
    act = D.choice("act", ["relu", "erf", "tanh"])
    model = D.choice("model", ["mask", "variance"])
    rescale = D.choice("rescale", [False, True])
    width = WIDTH
    pruned = D.subset("pruned", list(range(depth + 1)))
    if model == "mask" and not any(h < depth for h in pruned):
        pruned = tuple(sorted(set(pruned) | {0}))   # a masked matrix with several rows
    ps = [_nonquantised_p(D, f"p{h}") if h in pruned else 0.0 for h in range(depth + 1)]
    d0 = D.choice("d0", [3, 6])
    X = D.inputs("X", d0, N_INPUTS)
    arch = theory.Architecture(depth=depth, activation=act, p=ps, pruned=pruned,
                               rescale=rescale, model=model)
    N = S.n_draws(N_REFERENCE)
    NE, NF = ENGINE_FACTOR * N, max(10, N // FAULT_DIVISOR)
    cfg = C10.config(f"{fmt_arch(arch)} d0={d0} width={width} N={N} (engine {NE}) {D!r}")
    alpha, m = S.claim_alpha("10"), S.n_mc() * per_config()
    a_each = tstats_bonf(alpha, m)
    crit = _lp(a_each)
    E = S.draw_ntks(arch, X, width, NE, S.mc_seed("10", "engine", k), per_layer=True)
    Rf = R.reference_draws(arch, X, width, N, S.mc_seed("10", "reference", k))
    res = two_sample_pvalues(E, Rf, int(S.mc_seed("10", "proj", k).generate_state(1)[0]))
    t, df, se, p_mean, rmean = res["mean"]
    # detectable relative effect of the mean tests (80 % power), against the kernel scale
    # sqrt(Θ(x,x) Θ(x',x')) of each feature's entry (reference means)
    Tm = Rf.sum(axis=1).mean(axis=0)
    sc1 = S.kernel_scale(Tm)[np.triu_indices(N_INPUTS)]
    scale = np.tile(sc1, depth + 1)
    det = max(S._nc(alpha, m, S._df_key(float(d)), 0.8) * s / sc
              for d, s, sc in zip(df, se, scale) if s > 0)
    # the same for the second moments, relative to sqrt(Var_i Var_j) of the reference
    sm, dm, mom_r = res["moment_se"]
    var_r = np.diag(np.cov(_total(Rf), rowvar=False))
    vscale = np.array([math.sqrt(var_r[i] * var_r[j]) for i in range(len(var_r))
                       for j in range(i, len(var_r))])
    det_var = max(S._nc(alpha, m, S._df_key(float(d)), 0.8) * s / v
                  for d, s, v in zip(dm, sm, vscale) if s > 0 and v > 0)
    _DETECT_VAR.append(det_var)
    C10.note(f"detectable relative effect (80 % power) of the second-moment tests: "
             f"{max(_DETECT_VAR):.1%} of sqrt(Var_i Var_j) (worst configuration; "
             f"{N} draws per sampler for these)", key="detect_var")
    pmin = {"means": float(p_mean.min()), "second moments": float(res["moment"].min()),
            "KS": float(res["ks"].min())}
    counts = keep_rate_counts(arch, d0, S.mc_seed("10", "keep", k)) if model == "mask" else []
    keep = keep_rate_pvalue(arch, d0, None, counts=counts) if counts else []
    if keep:
        pmin["keep rate"] = min(r[-1] for r in keep)
    S.record_pvalues("10", p_mean, a_each, "welch mean", config=k)
    S.record_pvalues("10", res["moment"], a_each, "welch second moment", config=k)
    S.record_pvalues("10", res["ks"], a_each, "KS", config=k)
    if keep:
        S.record_pvalues("10", [r[-1] for r in keep], a_each, "binomial keep rate", config=k)
    worst_name = min(pmin, key=pmin.get)
    stat = _lp(pmin[worst_name])
    expect_holds(C10, stat, crit, stat > crit, f"engine vs reference: smallest p-value "
                 f"{pmin[worst_name]:.3g} ({worst_name}); " + ", ".join(
                     f"{kk} {v:.2g}" for kk, v in pmin.items()), cfg, detectable=det)
    if S.RUN.profile.name == "calibrate" and os.environ.get("CHECKS_PVALUES"):
        return  # calibration runs record the null p-values only (the controls draw 1.25 N
        # more reference networks from their own seeds: they change no recorded p-value)
    # near control: the mean features shifted by the effect detected with prob. 1 − 5e-7
    near = np.array([S._nc(alpha, m, S._df_key(float(d)), S.NEAR_POWER) for d in df])
    sign = 1.0 if S.crc(cfg) % 2 else -1.0
    live = se > 0
    tn = (t - sign * near)[live]
    pn = float((2 * sst.t.sf(np.abs(tn), df[live])).min())
    expect_rejects(C10, _lp(pn), crit, _lp(pn) > crit, "near control: the reference means "
                   "shifted by the 1 − 5e-7 power effect", cfg, near=True)
    # gross controls: faulty reference samplers against the same engine draws
    faults = (["shared_mask_row"] if model == "mask" else []) + ["backward_d_plus_1"]
    for fault in faults:
        # d + 1 is a 3–6 % bias at width 32 (about 1.5–2.5× the detectable effect): it
        # needs the full sample; shared mask rows change the variances by 40–70 %
        nf = N if fault == "backward_d_plus_1" else NF
        Fr = R.reference_draws(arch, X, width, nf, S.mc_seed("10", fault, k), fault=fault)
        rf = two_sample_pvalues(E, Fr, int(S.mc_seed("10", "proj", k).generate_state(1)[0]))
        pf = min(float(rf["mean"][3].min()), float(rf["moment"].min()), float(rf["ks"].min()))
        _FAULT_P.setdefault(fault, []).append(pf)
        expect_rejects(C10, _lp(pf), crit, _lp(pf) > crit, f"reference sampler with fault "
                       f"{fault}: smallest p-value {pf:.3g}", cfg)
    if keep:
        qq = lambda h: math.floor(256 * float(arch.q_of(h))) / 256  # noqa: E731
        kq = keep_rate_pvalue(arch, d0, None, q_test=qq, counts=counts)
        pq = min(r[-1] for r in kq)
        _FAULT_P.setdefault("quantised_keep", []).append(pq)
        expect_rejects(C10, _lp(pq), crit, _lp(pq) > crit, f"keep rate vs the quantised "
                       f"⌊256q⌋/256: smallest p-value {pq:.3g}", cfg)
    C10.note("controls' smallest p-values: " + "; ".join(
        f"{f} {max(v):.2g}" for f, v in _FAULT_P.items()) + " (worst over configurations)",
        key="faults")


def tstats_bonf(alpha: float, m: int) -> float:
    from theory import stats as tstats
    return tstats.bonferroni(alpha, m)


_FAULT_P: dict = {}
_DETECT_VAR: list = []
