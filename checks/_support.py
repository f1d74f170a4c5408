"""Machinery shared by the claim modules: run configuration (seed, profile), the verdict
registry, hypothesis settings, strategies, Monte Carlo draws and the acceptance tests.

Nothing in here states a claim; each ``test_NN_*.py`` module does (docstring + checks).
``checks/conftest.py`` fills :data:`RUN` from the command line before any claim module is
imported, and owns the false-alarm allocation (``ALPHA``).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Sequence

import numpy as np
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hyp_seed
from hypothesis import strategies as st
from scipy import stats as _sst

import theory
from theory import Architecture
from theory import stats as tstats
from theory.verdicts import ClaimRecord, VerdictTable


# ============================================================================ run config
@dataclass(frozen=True)
class Profile:
    """How much each kind of check draws.

    ``sym``/``num``: hypothesis examples of the symbolic / float64+mpmath checks.
    ``mc``: hypothesis-drawn configurations per Monte Carlo check (each is expensive).
    ``draws``: multiplier of the number of network draws per Monte Carlo configuration.
    """
    name: str
    sym: int
    num: int
    mc: int
    draws: float


PROFILES = {
    "ci": Profile("ci", sym=12, num=10, mc=2, draws=1.0),
    "thorough": Profile("thorough", sym=120, num=80, mc=12, draws=2.0),
    # benchmarks/calibrate_checks.py: exactly the ci Monte Carlo design (same
    # configurations per claim, m, alpha and draws), few examples of the deterministic checks
    "calibrate": Profile("calibrate", sym=1, num=1, mc=2, draws=1.0),
}


class _Run:
    """Filled by ``checks/conftest.py::pytest_configure`` (before claim modules load)."""
    seed: int = 0
    profile: Profile = PROFILES["ci"]
    alpha: dict = {}
    family_alpha: float = 1e-3


RUN = _Run()


def crc(s: str) -> int:
    return zlib.crc32(s.encode()) & 0xFFFFFFFF


def mc_seed(*parts: Any) -> np.random.SeedSequence:
    """A seed for one Monte Carlo experiment: a pure function of ``--seed`` and ``parts``
    (strings are hashed). Changing ``--seed`` changes every Monte Carlo seed."""
    ent = [int(RUN.seed)] + [crc(p) if isinstance(p, str) else int(p) & 0xFFFFFFFF for p in parts]
    return np.random.SeedSequence(ent)


def hyp(kind: str, **overrides: Any):
    """Settings + seed for a hypothesis check. Apply *above* ``@given``.

    ``kind``: ``"sym"``, ``"num"`` or ``"mc"`` (number of examples from the profile).
    Database-free; the hypothesis seed is derived from ``--seed`` and the test's name, so
    ``--seed N`` changes every draw and the same ``N`` replays them. Monte Carlo checks
    are not shrunk (a shrink would re-run Monte Carlo at other configurations and report
    a different one than the one that failed).
    """
    n = {"sym": RUN.profile.sym, "num": RUN.profile.num, "mc": RUN.profile.mc}[kind]
    frac = overrides.pop("frac", 1.0)      # this check is expensive: a fraction of the profile
    n = overrides.pop("max_examples", max(1, int(round(n * frac))))
    phases = [Phase.explicit, Phase.generate] if kind == "mc" else \
        [Phase.explicit, Phase.generate, Phase.shrink]

    def deco(f):
        s = settings(max_examples=n, deadline=None, database=None, derandomize=False,
                     phases=phases, print_blob=False,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                            HealthCheck.data_too_large],
                     **overrides)
        g = s(f)
        name = getattr(f, "__qualname__", getattr(f, "__name__", "test"))
        return hyp_seed((RUN.seed * 1_000_003 + crc(name)) % (2 ** 63))(g)
    return deco


def n_draws(base: int) -> int:
    return max(10, int(round(base * RUN.profile.draws)))


# ============================================================================ verdicts
# The record and the table live in the package (theory.verdicts) and are shared with
# user claim files; here they only learn the run's seed, profile and alpha allocation.
class Claim(ClaimRecord):
    def as_json(self, **run: Any) -> dict:  # type: ignore[override]
        return super().as_json(seed=RUN.seed, profile=RUN.profile.name, **run)


CLAIMS = VerdictTable()


def claim(key: str, title: str, statistic: str, *, source: str = "", stochastic: bool = True,
          higher_is_worse: bool = True, control_higher_is_stronger: bool = True,
          finding: bool = False) -> Claim:
    if key not in CLAIMS.records:
        CLAIMS.records[key] = Claim(key, title, statistic, source=source, stochastic=stochastic,
                                    finding=finding or key.endswith("'"),
                                    alpha=RUN.alpha.get(key) if stochastic else None,
                                    higher_is_worse=higher_is_worse,
                                    control_higher_is_stronger=control_higher_is_stronger)
    return CLAIMS.records[key]


def _ctx(cfg: Any) -> str:
    return (f"config={cfg}; run --seed {RUN.seed} --profile {RUN.profile.name} "
            f"(replay: pytest checks/ --seed {RUN.seed} --profile {RUN.profile.name})")


def expect_holds(c: Claim, stat: float, crit: float, reject: bool, what: str, cfg: Any,
                 detectable: float | None = None) -> None:
    """Record a comparison of the claim's prediction (with the smallest relative effect it
    detects at 80 % power, for statistical comparisons); fail the test if it is rejected."""
    c.observe(stat, crit, reject, f"{what} [{cfg}]", detectable=detectable)
    assert not reject, (f"[{c.key}] REFUTED: {what}: statistic {stat:.4g} beyond critical "
                        f"{crit:.4g}. {_ctx(cfg)}")


def expect_rejects(c: Claim, stat: float, crit: float, reject: bool, what: str, cfg: Any,
                   near: bool = False) -> None:
    """Record a negative control (a deliberately wrong prediction; ``near=True`` for one
    off by about 1.5× the detectable effect); fail if NOT rejected."""
    c.control(stat, crit, reject, f"{what} [{cfg}]", near=near)
    assert reject, (f"[{c.key}] NEGATIVE CONTROL DID NOT REJECT (check has no power): {what}: "
                    f"statistic {stat:.4g} vs critical {crit:.4g}. {_ctx(cfg)}")


def record_pvalues(key: str, pvalues: Iterable[float], alpha_each: float, kind: str,
                   config: Any = None) -> None:
    """Calibration mode (``benchmarks/calibrate_checks.py``): append the p-values of the
    claim's own comparisons (under the claimed truth) to the JSON-lines file named by the
    environment variable ``CHECKS_PVALUES``; nothing otherwise. ``config`` (optional)
    names the configuration the p-values share draws with (the calibration counts
    per-configuration minima to bound the effect of that dependence)."""
    import json
    import os
    path = os.environ.get("CHECKS_PVALUES")
    if not path:
        return
    ps = [float(p) for p in np.ravel(np.asarray(list(pvalues), dtype=float))]
    with open(path, "a") as fh:
        rec = {"claim": key, "kind": kind, "seed": RUN.seed, "alpha_each": float(alpha_each),
               "p": ps}
        if config is not None:
            rec["config"] = str(config)
        fh.write(json.dumps(rec) + "\n")


def claim_alpha(key: str) -> float:
    return RUN.alpha[key]


# ============================================================================ strategies
ACTS_SMOOTH = ("erf", "tanh", "callable")


def smooth_fn(z):
    """A user callable, neither odd nor even nor homogeneous: ``sin z + z/2``."""
    return np.sin(z) + 0.5 * z


def smooth_dfn(z):
    return np.cos(z) + 0.5


def make_arch(depth: int, act: str, p: Any, pruned: Any, rescale: bool, model: str = "mask"
              ) -> Architecture:
    """``act``: "relu", "erf", "tanh" or "callable" (the user callable ``smooth_fn`` passed
    as a plain function with its derivative). "tanh" is the engine's named tanh."""
    if act == "callable":
        return Architecture(depth=depth, activation=smooth_fn, activation_derivative=smooth_dfn,
                            p=p, pruned=pruned, rescale=rescale, model=model)
    return Architecture(depth=depth, activation=act, p=p, pruned=pruned, rescale=rescale,
                        model=model)


P_GRID = 256


@st.composite
def pruning(draw, depth: int, p_lo: float = 0.05, p_hi: float = 0.9, min_pruned: int = 1,
            allow: Sequence[int] | None = None, same_p: bool | None = None):
    """(p tuple, pruned index tuple): a subset of the matrices (at least ``min_pruned``),
    each with its own p in [p_lo, p_hi] (or one shared p when ``same_p``). Every p is an
    exact rational k/256 (a sympy Rational, exactly representable in float64), so the
    symbolic, mpmath and float64 evaluations see the very same number."""
    import sympy
    idx = list(range(depth + 1)) if allow is None else list(allow)
    pruned = draw(st.lists(st.sampled_from(idx), min_size=min(min_pruned, len(idx)),
                           max_size=len(idx), unique=True))
    if same_p is None:
        same_p = draw(st.booleans())
    lo, hi = max(1, math.ceil(p_lo * P_GRID)), math.floor(p_hi * P_GRID)
    shared = sympy.Rational(draw(st.integers(lo, hi)), P_GRID)
    ps = [sympy.Integer(0)] * (depth + 1)
    for h in pruned:
        ps[h] = shared if same_p else sympy.Rational(draw(st.integers(lo, hi)), P_GRID)
    return tuple(ps), tuple(sorted(pruned))


def _special_pair(X: np.ndarray, kind: str, rho: float | None) -> None:
    """Make the second row of the unit-row ``X`` (in place) correlated with the first
    (cosine ``rho``), a repeat, the antipode, or orthogonal to it; ``"generic"`` leaves it."""
    if kind == "correlated":
        X[1] = _unit(rho * X[0] + math.sqrt(1 - rho * rho) * _unit(X[1] - (X[1] @ X[0]) * X[0]))
    elif kind == "repeat":
        X[1] = X[0]
    elif kind == "antipodal":
        X[1] = -X[0]
    elif kind == "orthogonal" and X.shape[1] >= 2:
        X[1] = _unit(X[1] - (X[1] @ X[0]) * X[0])


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 0, n, 1.0)


@st.composite
def inputs(draw, d0: int, n_min: int = 2, n_max: int = 4, sphere: bool | None = None,
           special: bool = True, norm_range: tuple = (0.3, 3.0)):
    """(n, d0) inputs: gaussian directions, optionally with special pairs (a repeated
    input ρ = 1, an antipodal ρ = -1, an orthogonal one), on the unit sphere or with
    norms drawn from ``norm_range``."""
    n = draw(st.integers(n_min, n_max))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    X = _unit(rng.standard_normal((n, d0)))
    if special and n >= 2:
        kind = draw(st.sampled_from(["generic", "generic", "correlated", "repeat", "antipodal",
                                     "orthogonal"]))
        _special_pair(X, kind, draw(st.floats(0.5, 0.99)) if kind == "correlated" else None)
    on_sphere = draw(st.booleans()) if sphere is None else sphere
    if not on_sphere:
        lo, hi = norm_range
        norms = [draw(st.floats(lo, hi)) for _ in range(n)]
        X = X * np.asarray(norms)[:, None]
    return X


# ============================================================================ Monte Carlo
_DRAW_CACHE: dict = {}

# A near control (the prediction off by the effect the test detects with probability
# NEAR_POWER, about 1.7-1.9x the 80 % detectable effect at the checks' Bonferroni levels)
# fails to reject under a correct implementation with probability <= 1 - NEAR_POWER each;
# conftest.py counts these misses in the run's failure budget.
NEAR_MISS = 5e-7
NEAR_POWER = 1.0 - NEAR_MISS


def _arch_key(arch: Architecture) -> tuple:
    return (repr(arch.describe()), id(arch.act) if arch.act.name not in ("relu", "erf", "tanh",
                                                                          "relu2") else arch.act.name)


def draw_ntks(arch: Architecture, X: np.ndarray, width: Any, n: int,
              seed: np.random.SeedSequence, per_layer: bool = False) -> np.ndarray:
    """``n`` independent finite networks (weights *and* masks redrawn), their empirical
    NTKs stacked: ``(n, N, N)`` (or ``(n, L+1, N, N)`` with ``per_layer``), drawn as one
    batch (``theory.empirical_ntk(..., draws=n)``: the first ``n`` networks of the batch
    sequence of ``seed``). Cached per session, so checks that ask for the very same draws
    share them."""
    key = (_arch_key(arch), X.tobytes(), X.shape, repr(width), n, tuple(np.atleast_1d(seed.entropy)),
           seed.spawn_key, per_layer)
    if key in _DRAW_CACHE:
        return _DRAW_CACHE[key]
    A = np.asarray(theory.empirical_ntk(arch, X, width, seed, per_layer=per_layer, draws=n),
                   dtype=np.float64)
    _DRAW_CACHE[key] = A
    return A


def mean_is_exact(arch: Architecture, diagonal: bool) -> bool:
    """Whether ``E Θ_d`` of an entry equals its infinite-width limit at every width, so
    that a single width can be compared with the limit without finite-width bias:

    * depth 1: ``Θ_d`` is an average of iid neuron terms plus the input-layer term (the
      mask-mixture limit is exact at every width, docs/math.md#input-layer,
      docs/math.md#finite-width);
    * the diagonal of a ReLU network (claim 6; docs/references.md, Arora et al.
      [derived]; Hanin & Nica 2020).

    Everything else (off-diagonal entries at depth >= 2; smooth activations at depth >= 2)
    has an O(L/d) bias and is compared through :func:`mc_entry_stats`'s ``a + b/d`` fit."""
    return arch.depth <= 1 or (diagonal and arch.act.name == "relu")


@lru_cache(maxsize=4096)
def _nc(alpha: float, m: int, df: float, power: float) -> float:
    """Detectable effect in standard errors (noncentrality) of a two-sided t test."""
    return tstats.detectable_effect(1.0, alpha=alpha, m=m, power=power,
                                    df=None if df > 1e6 else float(round(df, 1)))


def _df_key(df: float) -> float:
    """``df`` rounded DOWN to two significant digits (fewer df = a larger, conservative
    detectable effect), so that the cached noncentralities are reused."""
    if not math.isfinite(df) or df > 1e6:
        return 1e9
    q = 10 ** max(0, math.floor(math.log10(max(df, 1.0))) - 1)
    return float(max(1.0, math.floor(df / q) * q))


def kernel_scale(P: np.ndarray) -> np.ndarray:
    """``sqrt(|P_ii P_jj|)``: the magnitude against which a kernel entry's error is
    measured (relative detectable effects, near controls); ``max |P|`` where that is 0."""
    d = np.sqrt(np.abs(np.diag(P)))
    sc = np.outer(d, d)
    fb = float(np.max(np.abs(P))) or 1.0
    return np.where(sc > 0, sc, fb)


@dataclass
class EntryStats:
    """Per compared entry: the estimate of the limit, its standard error and degrees of
    freedom (Welch–Satterthwaite), from one width (plain mean) or two widths (intercept
    ``a`` of ``a + b/d``), and the finite-width bias measured at the larger width."""
    entries: list
    est: np.ndarray
    se: np.ndarray
    df: np.ndarray
    scale: np.ndarray            # kernel scale of each entry (kernel_scale of the limit)
    extrapolated: np.ndarray     # bool per entry
    bias: np.ndarray             # b/d_max per entry (nan where not extrapolated)
    bias_se: np.ndarray
    widths: tuple
    n: tuple

    def test(self, predicted: np.ndarray, *, alpha: float, m: int) -> "EntryTest":
        """Two-sided t tests of every entry against ``predicted`` (Bonferroni over ``m``)."""
        predicted = np.asarray(predicted, dtype=np.float64)
        ts, ps, crits, det, near = [], [], [], [], []
        a = tstats.bonferroni(alpha, m)
        for k, (i, j) in enumerate(self.entries):
            pred = float(predicted[i, j])
            df = float(self.df[k])
            crit = tstats.critical_value(alpha, m, df)
            if self.se[k] == 0.0:  # degenerate entry (e.g. identically zero): exact comparison
                sc = max(abs(self.est[k]), abs(pred), float(self.scale[k]))
                ok = abs(self.est[k] - pred) <= 64 * np.finfo(np.float64).eps * sc
                ts.append(0.0 if ok else math.inf)
                ps.append(1.0 if ok else 0.0)
                det.append(0.0)
                near.append(0.0)
            else:
                t = (float(self.est[k]) - pred) / float(self.se[k])
                ts.append(t)
                ps.append(float(2 * _sst.t.sf(abs(t), df)))
                dq = _df_key(df)
                det.append(_nc(alpha, m, dq, 0.8) * self.se[k] / self.scale[k])
                near.append(_nc(alpha, m, dq, NEAR_POWER) * self.se[k] / self.scale[k])
            crits.append(crit)
        t = np.asarray(ts)
        crits = np.asarray(crits)
        ratio = np.abs(t) / crits
        w = int(np.argmax(ratio)) if t.size else 0
        return EntryTest(t, np.asarray(ps), float(abs(t[w])) if t.size else 0.0,
                         float(crits[w]) if t.size else math.inf,
                         bool(np.any(ratio > 1)), self.entries, float(max(det, default=0.0)),
                         float(max(near, default=0.0)), a)

    def bias_note(self) -> str:
        """The finite-width bias measured at the largest width, relative to the kernel
        scale and in standard errors of the extrapolated estimate."""
        if not np.any(self.extrapolated):
            return f"widths {self.widths}: all compared entries unbiased at every width"
        b = np.abs(self.bias[self.extrapolated]) / self.scale[self.extrapolated]
        z = np.abs(self.bias[self.extrapolated]) / self.se[self.extrapolated]
        return (f"measured bias b/d at width {self.widths[-1]}: max {100 * b.max():.2f}% of "
                f"the kernel scale ({z.max():.1f} SE of the a + b/d intercept)")


@dataclass
class EntryTest:
    """Entrywise t tests of Monte Carlo estimates against a prediction."""
    z: np.ndarray          # t statistic per compared entry
    p: np.ndarray
    worst: float           # |t| of the entry with the largest |t|/crit
    crit: float            # its critical value
    reject: bool
    entries: list
    detect: float = math.nan   # largest relative effect detected with 80 % power
    near: float = math.nan     # relative shift detected with probability NEAR_POWER
    alpha_each: float = math.nan

    def describe(self) -> str:
        i = int(np.argmax(np.abs(self.z)))
        return (f"max|t| = {self.worst:.3g} at entry {self.entries[i]} (p = {self.p[i]:.3g}), "
                f"critical {self.crit:.3g}, detects {100 * self.detect:.2g}% at 80 % power")


def _lincomb(means, variances, ns, coef):
    est = float(sum(c * mu for c, mu in zip(coef, means)))
    parts = [c * c * v / n for c, v, n in zip(coef, variances, ns)]
    var = float(sum(parts))
    if var <= 0:
        return est, 0.0, float(sum(n - 1 for n in ns))
    den = sum(p * p / (n - 1) for p, n in zip(parts, ns))
    return est, math.sqrt(var), float(var * var / den) if den > 0 else 1e9


def mc_entry_stats(samples: Sequence[tuple[int, np.ndarray]], entries: Iterable[tuple],
                   exact: Iterable[bool], limit_scale: np.ndarray) -> EntryStats:
    """Estimates of the infinite-width limit per entry from draws at one or two widths.

    ``samples``: ``[(d, S_d), ...]`` with ``S_d`` of shape ``(N_d, n, n)``. ``exact[k]``:
    whether entry ``k``'s mean is exact at every width (:func:`mean_is_exact`); then the
    draws of all widths are pooled with fixed weights ``∝ N_d d`` (inverse-variance for
    ``Var ∝ 1/d``). Otherwise the limit is the intercept ``a`` of ``E Θ_d = a + b/d``
    (docs/math.md#finite-width: the mean's finite-width correction is O(1/d)) through two
    widths ``d1 < d2``: ``a = (d2 m2 − d1 m1)/(d2 − d1)``, whose variance carries the
    bias term's uncertainty (``Var a = (d2² v2 + d1² v1)/(d2 − d1)²``); the residual
    O(1/d²) term is ``d1``-times smaller than the bias removed. Standard errors from the
    draws, Welch–Satterthwaite degrees of freedom."""
    entries = list(entries)
    exact = list(exact)
    ds = [int(d) for d, _ in samples]
    ns = [int(np.asarray(S).shape[0]) for _, S in samples]
    mean = [np.asarray(S).mean(axis=0) for _, S in samples]
    var = [np.asarray(S).var(axis=0, ddof=1) for _, S in samples]
    scale = kernel_scale(limit_scale)
    est, se, df, sc, ex, bias, bse = [], [], [], [], [], [], []
    for (i, j), is_exact in zip(entries, exact):
        mu = [m_[i, j] for m_ in mean]
        v = [v_[i, j] for v_ in var]
        if is_exact or len(ds) == 1:
            w = np.asarray([n * d for n, d in zip(ns, ds)], dtype=float)
            coef = list(w / w.sum())
            extr = False
            b = bs = math.nan
        else:
            d1, d2 = ds[0], ds[-1]
            coef = [0.0] * len(ds)
            coef[0], coef[-1] = -d1 / (d2 - d1), d2 / (d2 - d1)
            extr = True
            # b/d2 = d1 (m1 − m2)/(d2 − d1): the bias at the largest width
            cb = [0.0] * len(ds)
            cb[0], cb[-1] = d1 / (d2 - d1), -d1 / (d2 - d1)
            b, bs, _ = _lincomb(mu, v, ns, cb)
        e, s, f = _lincomb(mu, v, ns, coef)
        est.append(e)
        se.append(s)
        df.append(f)
        sc.append(scale[i, j])
        ex.append(extr)
        bias.append(b)
        bse.append(bs)
    return EntryStats(entries, np.asarray(est), np.asarray(se), np.asarray(df),
                      np.asarray(sc), np.asarray(ex, dtype=bool), np.asarray(bias),
                      np.asarray(bse), tuple(ds), tuple(ns))


def mc_estimates(arch: Architecture, X: np.ndarray, widths: Sequence[int], n: int,
                 seed: np.random.SeedSequence, entries: Iterable[tuple],
                 limit: np.ndarray) -> EntryStats:
    """Draw ``n`` networks at each width needed and estimate the limit per entry: one
    width (the largest) if every entry's mean is exact (:func:`mean_is_exact`), else two
    widths for the ``a + b/d`` fit (:func:`mc_entry_stats`)."""
    entries = list(entries)
    exact = [mean_is_exact(arch, i == j) for (i, j) in entries]
    use = [max(widths)] if all(exact) else [min(widths), max(widths)]
    samples = [(w, draw_ntks(arch, X, w, n, np.random.SeedSequence(
        seed.entropy, spawn_key=tuple(seed.spawn_key) + (int(w),)))) for w in use]
    return mc_entry_stats(samples, entries, exact, limit)


def mean_test(S: np.ndarray, predicted: np.ndarray, entries: Iterable[tuple], *, alpha: float,
              m: int, width: int = 1) -> EntryTest:
    """Student-t test (``n − 1`` df) of the mean over draws ``S[:, i, j]`` against
    ``predicted[i, j]`` for each entry (one width, no bias correction); Bonferroni over
    ``m`` comparisons (all entries of all configurations of the claim)."""
    entries = list(entries)
    st_ = mc_entry_stats([(width, S)], entries, [True] * len(entries), predicted)
    return st_.test(predicted, alpha=alpha, m=m)


def observe_mean(c: "Claim", es: EntryStats, predicted: np.ndarray, what: str, cfg: Any, *,
                 alpha: float, m: int) -> EntryTest:
    """Test the claim's prediction and record it with its detectable effect."""
    r = es.test(predicted, alpha=alpha, m=m)
    record_pvalues(c.key, r.p, r.alpha_each, "mean t")
    expect_holds(c, r.worst, r.crit, r.reject, f"{what}: {r.describe()}", cfg,
                 detectable=r.detect)
    return r


def near_control(c: "Claim", es: EntryStats, predicted: np.ndarray, r: EntryTest, cfg: Any, *,
                 alpha: float, m: int, sign: float | None = None) -> EntryTest:
    """The NEAR control: the prediction shifted on every compared entry by ``r.near``
    times the entry's kernel scale — the shift each entry's test detects with probability
    ``NEAR_POWER`` (about 1.7–1.9× the 80 % detectable effect) — must be rejected.
    Under a correct implementation it fails with probability ≤ ``NEAR_MISS``. The sign is
    drawn from the configuration (both directions are exercised across a run)."""
    if sign is None:
        sign = 1.0 if crc(repr(cfg)) % 2 else -1.0
    shifted = np.array(predicted, dtype=np.float64, copy=True)
    for k, (i, j) in enumerate(es.entries):
        shifted[i, j] = predicted[i, j] + sign * r.near * es.scale[k]
    rc = es.test(shifted, alpha=alpha, m=m)
    expect_rejects(c, rc.worst, rc.crit, rc.reject,
                   f"near control: prediction {'+' if sign > 0 else '−'}{100 * r.near:.2g}% of "
                   f"the kernel scale ({r.near / r.detect:.2f}× the detectable effect): "
                   f"{rc.describe()}", cfg, near=True)
    return rc


def mean_check(c: "Claim", arch: Architecture, X: np.ndarray, *, widths: Sequence[int], n: int,
               seed: np.random.SeedSequence, predicted: np.ndarray, entries: Iterable[tuple],
               cfg: Any, what: str, controls: Sequence[tuple[str, np.ndarray]],
               alpha: float, m: int, limit: np.ndarray | None = None,
               sizing: "Sizing | None" = None
               ) -> tuple[EntryStats, EntryTest]:
    """The Monte Carlo mean check shared by the claims: estimate the limit per entry
    (:func:`mc_estimates`: exact entries from one width, the others by the ``a + b/d``
    fit), t-test it against ``predicted`` (recorded with its detectable effect), then the
    near control (:func:`near_control`) and the gross controls ``controls`` (name,
    wrong prediction) — the weakest gross control must still reject. With ``sizing``
    the draws come from :func:`sized_estimates` (a pilot fixes their number; ``n`` is
    unused and ``widths``, if one width, overrides ``sizing.exact_width``)."""
    entries = list(entries)
    if sizing is None:
        es = mc_estimates(arch, X, widths, n, seed, entries, predicted if limit is None else limit)
    else:   # draws sized by a pilot (sized_estimates); ``n`` and ``widths`` unused
        es = sized_estimates(arch, X, seed, entries, predicted if limit is None else limit,
                             sizing=sizing, alpha=alpha, m=m,
                             width=widths[0] if len(widths) == 1 else None)
        what = (f"{what} (widths {es.widths}, final draws {es.n}; pilot {es.sizing[0]} "
                f"asked for {es.sizing[2]} at the larger width)")
    r = observe_mean(c, es, predicted, what, cfg, alpha=alpha, m=m)
    near_control(c, es, predicted, r, cfg, alpha=alpha, m=m)
    weakest = None
    for name, wrong in controls:
        rc = es.test(wrong, alpha=alpha, m=m)
        if weakest is None or rc.worst / rc.crit < weakest[1].worst / weakest[1].crit:
            weakest = (name, rc)
    if weakest is not None:
        name, rc = weakest
        expect_rejects(c, rc.worst, rc.crit, rc.reject, f"{name}: {rc.describe()}", cfg)
    _BIAS.setdefault(c.key, []).append(es)
    ext = [e for e in _BIAS[c.key] if np.any(e.extrapolated)]
    if ext:
        b = max(float(np.nanmax(np.abs(e.bias[e.extrapolated]) / e.scale[e.extrapolated]))
                for e in ext)
        z = max(float(np.nanmax(np.abs(e.bias[e.extrapolated]) / e.se[e.extrapolated]))
                for e in ext)
        c.note(f"finite-width bias removed by the a + b/d fit (two widths) where the mean is "
               f"not exact: measured |b/d| at the larger width up to {100 * b:.2g}% of the "
               f"kernel scale ({z:.1f} SE)", key="bias")
    return es, r


_BIAS: dict = {}


# ============================================================================ sized designs
# Issue 13 (power): a mean check that spends its draws where they buy precision. Two
# independent stages: a small PILOT estimates each entry's per-draw variance, which fixes
# the number of FINAL draws needed for a target detectable effect; the test uses only the
# final draws (fresh seeds), so their number is independent of the data tested and the
# t test keeps its level. Widths: an entry set whose mean is exact at every width
# (:func:`mean_is_exact`) is drawn at one width chosen for variance per CPU second (the
# variance falls like 1/d, the cost of a hidden layer grows like d²); otherwise the
# ``a + b/d`` fit uses a wide width pair ``(d, 4d)`` (variance inflation of the intercept
# 9 per unit budget against 14.6 for ``(d, 2d)``) with ``n_d : n_4d = ratio : 1``
# (optimal ``ratio = 2`` for cost ∝ d²: n ∝ d^(−1/2)).
@dataclass(frozen=True)
class Sizing:
    """How :func:`sized_estimates` spends draws.

    ``exact_width``: the width when every compared entry's mean is exact; ``fit_widths``
    ``(d1, d2)`` and ``fit_ratio`` (``n_d1 / n_d2``) for the ``a + b/d`` fit; ``target``:
    the detectable relative effect (80 % power) the final draws are sized for; ``pilot``:
    pilot draws (at the larger width); ``n_min``/``n_max``: bounds on the final draws at
    one width, ``n_max_fit`` at the larger width of a fit (``d2²`` costs more per draw),
    so that a run's time is bounded (the table shows the detectable effect reached)."""
    exact_width: int
    fit_widths: tuple
    fit_ratio: float = 2.0
    target: float = 0.017
    pilot: int = 400
    n_min: int = 1000
    n_max: int = 100000
    n_max_fit: int = 8000


_PILOT_TAG, _FINAL_TAG = 0x50494C54, 0x46494E4C   # "PILT", "FINL": distinct draw streams


def _stage(arch: Architecture, X: np.ndarray, seed: np.random.SeedSequence, tag: int,
           widths: Sequence[int], ns: Sequence[int], entries: list, exact: list,
           limit: np.ndarray) -> EntryStats:
    samples = [(int(w), draw_ntks(arch, X, int(w), int(n), np.random.SeedSequence(
        seed.entropy, spawn_key=tuple(seed.spawn_key) + (tag, int(w))))) for w, n in zip(widths, ns)]
    return mc_entry_stats(samples, entries, exact, limit)


def sized_estimates(arch: Architecture, X: np.ndarray, seed: np.random.SeedSequence,
                    entries: Iterable[tuple], limit: np.ndarray, *, sizing: Sizing,
                    alpha: float, m: int, width: int | None = None) -> EntryStats:
    """Estimates of the limit per entry (as :func:`mc_estimates`) from draws sized by a
    pilot (block comment above): the final draw count at the larger width is
    ``n = n_pilot · (nc · se_pilot / (scale · target))²`` for the worst entry (``nc``: the
    80 %-power noncentrality at this Bonferroni level), clipped to ``[n_min, n_max]``.
    ``width`` overrides ``sizing.exact_width`` (a claim whose design draws the width)."""
    entries = list(entries)
    exact = [mean_is_exact(arch, i == j) for (i, j) in entries]
    if all(exact):
        widths, ratio = (int(width or sizing.exact_width),), (1.0,)
        n_max = sizing.n_max
    else:
        widths, ratio = tuple(int(w) for w in sizing.fit_widths), (float(sizing.fit_ratio), 1.0)
        n_max = sizing.n_max_fit

    def counts(n: int) -> list:
        return [max(10, int(math.ceil(n * r))) for r in ratio]

    pilot = _stage(arch, X, seed, _PILOT_TAG, widths, counts(sizing.pilot), entries, exact, limit)
    nc = _nc(alpha, m, 1e9, 0.8)
    live = pilot.se > 0
    need = sizing.n_min
    if np.any(live):
        rel = float(np.max(pilot.se[live] / pilot.scale[live]))
        need = int(math.ceil(sizing.pilot * (nc * rel / sizing.target) ** 2))
    n = int(min(max(need, sizing.n_min), n_draws(n_max)))   # thorough: larger cap
    es = _stage(arch, X, seed, _FINAL_TAG, widths, counts(n), entries, exact, limit)
    es.sizing = (counts(sizing.pilot), counts(n), need)   # for the configuration note
    return es


# ============================================================================ designs
class Design:
    """One Monte Carlo configuration of a stratified design drawn from ``--seed``.

    Each factor is stratified over the run's ``n`` configurations of the claim (a Latin
    hypercube: a random permutation of the strata from ``--seed`` and the claim's tag, so
    that the ``n`` configurations cover the levels evenly and ``--seed N`` changes which
    configuration gets which level); within a stratum continuous values are uniform. No
    configuration is privileged (hypothesis's first example is always the simplest one,
    which is why Monte Carlo checks do not use it)."""

    def __init__(self, tag: str, k: int, n: int):
        self.tag, self.k, self.n = tag, int(k), int(n)
        self.seed = mc_seed("design", tag, k)
        self.rng = np.random.default_rng(self.seed)
        self.values: dict = {}

    def _perm(self, name: str, size: int) -> np.ndarray:
        return np.random.default_rng(mc_seed("design", self.tag, name)).permutation(size)

    def choice(self, name: str, levels: Sequence[Any]) -> Any:
        """Level ``perm[k mod len]``: across ``len(levels)`` consecutive configurations
        every level occurs once."""
        levels = list(levels)
        reps = -(-max(self.n, len(levels)) // len(levels))
        perm = self._perm(name, len(levels) * reps) % len(levels)
        v = levels[int(perm[self.k % len(perm)])]
        if not name.startswith("_"):
            self.values[name] = v
        return v

    def uniform(self, name: str, lo: float, hi: float) -> float:
        """Uniform on ``[lo, hi]``, stratified into ``n`` equal intervals."""
        n = max(self.n, 1)
        stratum = int(self._perm(name, n)[self.k % n])
        u = (stratum + np.random.default_rng(mc_seed("design", self.tag, name, self.k)).random()) / n
        v = float(lo + (hi - lo) * u)
        self.values[name] = v
        return v

    def integer(self, name: str, lo: int, hi: int) -> int:
        return self.choice(name, list(range(lo, hi + 1)))

    def subset(self, name: str, items: Sequence[Any], min_size: int = 1) -> tuple:
        """A non-empty subset (at least ``min_size``): stratified over the subset size."""
        items = list(items)
        size = self.choice(name + ".size", list(range(min_size, len(items) + 1)))
        pick = np.random.default_rng(mc_seed("design", self.tag, name, self.k)).permutation(len(items))[:size]
        v = tuple(sorted(items[i] for i in pick))
        self.values[name] = v
        return v

    def inputs(self, name: str, d0: int, n: int, *, sphere: bool | None = None,
               special: bool = True, norm_range: tuple = (0.3, 3.0)) -> np.ndarray:
        """``(n, d0)`` inputs as the hypothesis strategy :func:`inputs` draws them."""
        rng = np.random.default_rng(mc_seed("design", self.tag, name, self.k))
        X = _unit(rng.standard_normal((n, d0)))
        kind = "generic"
        if special and n >= 2:
            kind = self.choice("_" + name + ".kind", ["generic", "correlated", "repeat", "antipodal",
                                                "orthogonal"])
            _special_pair(X, kind, float(rng.uniform(0.5, 0.99)) if kind == "correlated" else None)
        on_sphere = self.choice("_" + name + ".sphere", [True, False]) if sphere is None else sphere
        if not on_sphere:
            X = X * rng.uniform(*norm_range, size=n)[:, None]
        if not name.startswith("_"):
            self.values[name] = f"{kind}{'' if on_sphere else ' off-sphere'}"
        return X

    def __repr__(self) -> str:
        return f"design {self.tag}#{self.k}/{self.n} " + " ".join(
            f"{k}={v}" for k, v in self.values.items() if not isinstance(v, np.ndarray))


def designs(tag: str, frac: float = 1.0) -> list:
    """``pytest.mark.parametrize`` ids for the ``n`` configurations of a claim."""
    return list(range(n_mc(frac)))


def n_mc(frac: float = 1.0) -> int:
    """Monte Carlo configurations of a claim in this run's profile."""
    return max(1, int(round(RUN.profile.mc * frac)))


def upper_entries(n: int, diagonal: bool = True, off: bool = True) -> list:
    return [(i, j) for i in range(n) for j in range(i, n)
            if (i == j and diagonal) or (i != j and off)]


def fmt_arch(arch: Architecture) -> str:
    d = arch.describe()
    ps = ",".join(f"{v:.3g}" if isinstance(v, float) else v for v in d["p"])
    return (f"L={d['depth']} act={d['activation']} p=[{ps}] pruned={d['pruned_matrices']} "
            f"rescale={d['rescale']} model={d['model']}")


def rel_err(a: np.ndarray, b: np.ndarray, scale: float | None = None) -> float:
    """max |a − b| / scale, scale = max |b| (the kernel's magnitude) unless given."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    s = float(np.max(np.abs(b))) if scale is None else scale
    if s == 0:
        return float(np.max(np.abs(a - b)))
    return float(np.max(np.abs(a - b)) / s)
