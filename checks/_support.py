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
from typing import Any, Iterable, Sequence

import numpy as np
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hyp_seed
from hypothesis import strategies as st

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


def expect_holds(c: Claim, stat: float, crit: float, reject: bool, what: str, cfg: Any) -> None:
    """Record a comparison of the claim's prediction; fail the test if it is rejected."""
    c.observe(stat, crit, reject, f"{what} [{cfg}]")
    assert not reject, (f"[{c.key}] REFUTED: {what}: statistic {stat:.4g} beyond critical "
                        f"{crit:.4g}. {_ctx(cfg)}")


def expect_rejects(c: Claim, stat: float, crit: float, reject: bool, what: str, cfg: Any) -> None:
    """Record a negative control (a deliberately wrong prediction); fail if NOT rejected."""
    c.control(stat, crit, reject, f"{what} [{cfg}]")
    assert reject, (f"[{c.key}] NEGATIVE CONTROL DID NOT REJECT (check has no power): {what}: "
                    f"statistic {stat:.4g} vs critical {crit:.4g}. {_ctx(cfg)}")


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
        if kind == "correlated":
            rho = draw(st.floats(0.5, 0.99))
            X[1] = _unit(rho * X[0] + math.sqrt(1 - rho * rho) * _unit(X[1] - (X[1] @ X[0]) * X[0]))
        elif kind == "repeat":
            X[1] = X[0]
        elif kind == "antipodal":
            X[1] = -X[0]
        elif kind == "orthogonal" and d0 >= 2:
            X[1] = _unit(X[1] - (X[1] @ X[0]) * X[0])
    on_sphere = draw(st.booleans()) if sphere is None else sphere
    if not on_sphere:
        lo, hi = norm_range
        norms = [draw(st.floats(lo, hi)) for _ in range(n)]
        X = X * np.asarray(norms)[:, None]
    return X


# ============================================================================ Monte Carlo
_DRAW_CACHE: dict = {}


def _arch_key(arch: Architecture) -> tuple:
    return (repr(arch.describe()), id(arch.act) if arch.act.name not in ("relu", "erf", "tanh",
                                                                          "relu2") else arch.act.name)


def draw_ntks(arch: Architecture, X: np.ndarray, width: Any, n: int,
              seed: np.random.SeedSequence, per_layer: bool = False) -> np.ndarray:
    """``n`` independent finite networks (weights *and* masks redrawn), their empirical
    NTKs stacked: ``(n, N, N)`` (or ``(n, L+1, N, N)`` with ``per_layer``). Draw ``k``
    uses ``SeedSequence(seed.entropy, spawn_key=seed.spawn_key + (k,))``. Cached per
    session, so checks that ask for the very same draws share them."""
    key = (_arch_key(arch), X.tobytes(), X.shape, repr(width), n, tuple(np.atleast_1d(seed.entropy)),
           seed.spawn_key, per_layer)
    if key in _DRAW_CACHE:
        return _DRAW_CACHE[key]
    out = []
    for k in range(n):
        ss = np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key) + (k,))
        out.append(theory.empirical_ntk(arch, X, width, ss, per_layer=per_layer))
    A = np.asarray(out)
    _DRAW_CACHE[key] = A
    return A


@dataclass
class EntryTest:
    """Entrywise z-tests of a Monte Carlo mean against a prediction."""
    z: np.ndarray          # per compared entry
    p: np.ndarray
    worst: float           # max |z|
    crit: float
    reject: bool
    entries: list

    def describe(self) -> str:
        i = int(np.argmax(np.abs(self.z)))
        return (f"max|z| = {self.worst:.3g} at entry {self.entries[i]} (p = {self.p[i]:.3g}), "
                f"critical {self.crit:.3g}")


def mean_test(S: np.ndarray, predicted: np.ndarray, entries: Iterable[tuple], *, alpha: float,
              m: int) -> EntryTest:
    """z-test of the mean over draws ``S[:, i, j]`` against ``predicted[i, j]`` for each
    entry; standard errors from the independent draws; Bonferroni over ``m`` comparisons
    (all entries of all configurations of the claim)."""
    entries = list(entries)
    zs, ps = [], []
    crit = tstats.z_critical(alpha, m)
    for (i, j) in entries:
        r = tstats.z_test_mean(S[:, i, j], float(predicted[i, j]), alpha=alpha, m=m)
        zs.append(r.statistic)
        ps.append(r.p_value)
    z = np.asarray(zs)
    worst = float(np.max(np.abs(z))) if z.size else 0.0
    return EntryTest(z, np.asarray(ps), worst, crit, worst > crit, entries)


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
