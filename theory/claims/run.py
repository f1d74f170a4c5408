"""Checking a claim: symbolic, high-precision and Monte Carlo comparisons → a verdict.

Every kind records its comparisons in a :class:`theory.verdicts.ClaimRecord`, whose rules
give the verdict (``proved | holds | refuted | inconclusive``); the statistical tests,
critical values, Bonferroni split and power computations are those of
:mod:`theory.stats`. See ``docs/guide/claims.md`` for what each verdict promises.

Controls (negative controls, run through the very same test):

* gross — the prediction × 1.3 (``rate``: the exponent ± 1/2);
* near (statistical kinds) — the prediction × (1 + 1.5·D), ``D`` the claim's largest
  relative detectable effect (``rate``: the exponent ± 1.5·D).

A statistical claim ``holds`` only if no comparison rejected, both controls were rejected,
and ``D`` is at most the claim's ``resolution``.
"""
from __future__ import annotations

import math
import shlex
import zlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import mpmath
import numpy as np
import sympy

from .. import stats as tstats
from ..input_layer import EXACT_MAX_D0, needs_mixture
from ..limits import limit_kernels
from ..verdicts import ClaimRecord, VerdictTable
from .inputs import Inputs, PConfig, make_inputs, p_configs, pair_geometry, symbolic_p
from .schema import DEFAULT_FILE_ALPHA, INPUT_NAMES, STAT_KINDS, Claim, load_file

GROSS = 1.3           # the gross control's factor
NEAR = 1.5            # the near control: 1 + NEAR × detectable effect
MP_DPS = 50
MP_CONFIGS = 2        # configurations also checked at 50 digits (limit claims)
F64_FLOOR = 1e-13     # float64 comparisons use max(rtol, F64_FLOOR)


# ============================================================================ result
@dataclass
class ClaimResult:
    """The outcome of :func:`check` for one claim."""
    claim: Claim
    record: ClaimRecord
    seed: int
    replay: str
    reason: str = ""
    details: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.claim.name

    @property
    def verdict(self) -> str:
        return self.record.verdict

    @property
    def expect(self) -> str:
        return self.claim.expect

    @property
    def matches(self) -> bool:
        """The verdict agrees with ``expect`` (``proved`` counts as ``holds``)."""
        return self.record.matches_expectation

    @property
    def statistic(self) -> float:
        return self.record.worst

    @property
    def critical(self) -> float:
        return self.record.crit

    @property
    def detectable_effect(self) -> float:
        return self.record.detectable_effect

    def as_json(self) -> dict:
        return self.record.as_json(seed=self.seed, replay=self.replay, reason=self.reason)

    def summary(self) -> str:
        return f"{self.verdict}: {self.reason}"


# ============================================================================ helpers
def _crc(s: str) -> int:
    return zlib.crc32(s.encode()) & 0xFFFFFFFF


def _seed(seed: int, claim: Claim) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, _crc(claim.name)])


def replay_command(claim: Claim, seed: int) -> str:
    if claim.source:
        return (f"theory check {shlex.quote(str(claim.source))} --seed {seed} "
                f"--claim {shlex.quote(claim.name)}")
    return f"theory.claims.check(claim, seed={seed})  # claim {claim.name!r} built in Python"


def draw_kernels(arch, X: np.ndarray, width: int, draws: int, seed: np.random.SeedSequence,
                 kernel: str) -> np.ndarray:
    """``draws`` independent finite networks (weights *and* masks redrawn) at ``width``:
    their empirical kernels on ``X`` stacked, ``(draws, n, n)``. The one place claims
    draw networks: batched (``sample_kernels(..., draws=K)``) where the installed
    :mod:`theory.network` offers it, else one network at a time (draw ``k`` seeded by
    ``seed.spawn_key + (k,)``)."""
    import inspect
    from ..network import sample_kernels
    if "draws" in inspect.signature(sample_kernels).parameters:
        return np.asarray(sample_kernels(arch, X, width, seed, draws=draws)[kernel],
                          dtype=np.float64)
    out = np.empty((draws, len(X), len(X)))
    for k in range(draws):
        ss = np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key) + (k,))
        out[k] = sample_kernels(arch, X, width, ss)[kernel]
    return out


def _check_mixture(claim: Claim, arch, X: np.ndarray) -> None:
    if claim.input_layer == "exact" and needs_mixture(arch) and X.shape[1] > EXACT_MAX_D0:
        raise ValueError(
            f"claim {claim.name!r}, key 'd0': the input matrix is hard-masked and "
            f"input_layer = 'exact', whose limit is enumerated exactly only for d0 <= "
            f"{EXACT_MAX_D0} (got d0 = {X.shape[1]}); use smaller inputs or input_layer = 'wide'")


def _limit(claim: Claim, arch, X, backend: str = "numpy") -> np.ndarray:
    r = limit_kernels(arch, X, input_layer=claim.input_layer, backend=backend, dps=MP_DPS)
    return np.asarray(r.ntk if claim.kernel == "ntk" else r.nngp)


def _names_env(claim: Claim, arch, cfg: PConfig, inp: Inputs, backend: str,
               engine: np.ndarray | None) -> dict:
    """Values of every name ``predict`` uses, one entry per selected pair."""
    e = claim.expression
    used = e.used
    env: dict = {}
    conv = (lambda v: float(v)) if backend == "numpy" else (lambda v: mpmath.mpf(sympy.Rational(v).p) / sympy.Rational(v).q)
    pvals = cfg.p
    for h in range(arch.n_matrices):
        if f"p{h}" in used:
            env[f"p{h}"] = conv(arch.p_of(h))
    if "p" in used:
        env["p"] = conv(pvals)
    if "L" in used:
        env["L"] = arch.depth
    if "d0" in used:
        env["d0"] = inp.X.shape[1]
    if used & {"nx", "nxp", "rho", "theta"}:
        g = pair_geometry(inp.X, inp.pairs, claim.name, bool(used & {"rho", "theta"}), backend)
        env.update({k: v for k, v in g.items() if k in used})
    ii = [a for a, _ in inp.pairs]
    jj = [b for _, b in inp.pairs]
    if "dense" in used:
        D = _limit(claim, arch.dense(), inp.X, backend)
        env["dense"] = D[ii, jj]
    if "limit" in used:
        env["limit"] = (engine if engine is not None else _limit(claim, arch, inp.X, backend))[ii, jj]
    return env


def _predict(claim: Claim, env: dict, backend: str = "numpy") -> np.ndarray:
    return claim.expression.evaluate(env, backend=backend, dps=MP_DPS)


def _pair_text(inp: Inputs, k: int) -> str:
    i, j = inp.pairs[k]
    return f"pair ({i}, {j}) [{inp.labels[i]} | {inp.labels[j]}]"


# ============================================================================ limit
def _symbolic_limit(claim: Claim, rec: ClaimRecord) -> None:
    """``proved`` when predict = F · dense with F equal to the derived factor."""
    from ..scaling import derive_scaling_factor
    e = claim.expression
    if claim.kernel != "ntk":
        rec.note("symbolic route: only for the NTK (the factor is derived for the NTK)")
        return
    if not e.uses("dense"):
        rec.note("symbolic route: not tried (predict does not have the form F · dense)")
        return
    if e.used & set(INPUT_NAMES):
        rec.note("symbolic route: not tried (the factor F in predict depends on the inputs)")
        return
    psym, names = symbolic_p(claim)
    arch = claim.architecture_for(psym)
    if claim.input_layer == "exact" and needs_mixture(arch):
        rec.note("symbolic route: not applicable (the derived factor belongs to the wide-input "
                 "recursion; with a hard-masked input matrix and input_layer = 'exact' the limit "
                 "is the mask mixture, not a scalar multiple off the diagonal); numerics decide")
        return
    dense = sympy.Symbol("dense", positive=True)
    subs = dict(names)
    subs.update({f"p{h}": arch.p_of(h) for h in range(arch.n_matrices)})
    subs.update({"L": sympy.Integer(arch.depth), "dense": dense})
    expr = e.to_sympy(subs)
    F = sympy.diff(expr, dense)
    if F.has(dense) or sympy.simplify(expr - F * dense) != 0:
        rec.note("symbolic route: not tried (predict is not linear in dense)")
        return
    der = derive_scaling_factor(arch)
    if der.factor is None:
        rec.note(f"symbolic route: the engine has no scalar factor here ({der.reason[:160]})")
        return
    diff = sympy.simplify(F - der.factor)
    rec.details["symbolic"] = {"predicted_factor": str(F), "derived_factor": str(der.factor),
                               "difference": str(diff)}
    if diff == 0:
        rec.proved = True
        rec.note(f"symbolic: predict/dense = {F} equals the factor derived from the recursion "
                 f"({der.factor}) identically in p")
    else:
        rec.note(f"symbolic: predict/dense − derived factor = {diff} ≠ 0 "
                 f"(derived factor {der.factor})")


def _rel_err(a: np.ndarray, b: np.ndarray, floor: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=object if a.dtype == object else np.float64)
    out = np.empty(len(a))
    for k in range(len(a)):
        d = abs(a[k] - b[k])
        s = max(abs(a[k]), abs(b[k]), floor[k])
        out[k] = float(d / s) if s > 0 else (0.0 if d == 0 else math.inf)
    return out


def _check_limit(claim: Claim, seed: np.random.SeedSequence, rec: ClaimRecord) -> dict:
    rng = np.random.default_rng(seed)
    inp = make_inputs(claim, rng, monte_carlo=False)
    cfgs = p_configs(claim, rng, n_default=5)
    rtol = float(claim.rtol)
    try:
        _symbolic_limit(claim, rec)
    except (ValueError, TypeError, NotImplementedError) as e:  # pragma: no cover - sympy edge
        rec.note(f"symbolic route failed ({type(e).__name__}: {str(e)[:120]}); numerics decide")
    details: dict = {"inputs": inp.X.tolist(), "pairs": len(inp.pairs), "configs": []}
    for k, cfg in enumerate(cfgs):
        arch = claim.architecture_for(cfg.p)
        _check_mixture(claim, arch, inp.X)
        for backend in ("numpy", "mpmath") if k < MP_CONFIGS else ("numpy",):
            with mpmath.workdps(MP_DPS if backend == "mpmath" else mpmath.mp.dps):
                _compare_limit(claim, rec, inp, cfg, arch, backend, rtol, details)
    return details


def _compare_limit(claim: Claim, rec: ClaimRecord, inp: Inputs, cfg: PConfig, arch,
                   backend: str, rtol: float, details: dict) -> None:
    """One configuration in one arithmetic (mpmath: called inside ``workdps``)."""
    ii = np.array([a for a, _ in inp.pairs])
    jj = np.array([b for _, b in inp.pairs])
    E = _limit(claim, arch, inp.X, backend)
    env = _names_env(claim, arch, cfg, inp, backend, E)
    pred = _predict(claim, env, backend)
    pred = np.broadcast_to(np.asarray(pred, dtype=object if backend == "mpmath" else float),
                           (len(inp.pairs),))
    diag = np.array([abs(E[i, i]) for i in range(len(E))], dtype=object)
    tol_floor = 1e-6 if backend == "numpy" else 1e-30
    floor = [tol_floor * (mpmath.sqrt(diag[i] * diag[j]) if backend == "mpmath"
                          else math.sqrt(float(diag[i]) * float(diag[j])))
             for i, j in inp.pairs]
    eng = E[ii, jj]
    err = _rel_err(eng, pred, floor)
    label = "float64" if backend == "numpy" else f"{MP_DPS} digits"
    # float64 cannot judge below its own rounding: there it is a screen at 1e-13
    # and the 50-digit comparison holds the claim to rtol
    tol = max(rtol, F64_FLOOR) if backend == "numpy" else rtol
    where = rec.config(f"{cfg.label} ({label})")
    w = int(np.argmax(err))
    rec.observe(float(err[w]), tol, bool(err[w] > tol),
                f"{where}: relative error {float(err[w]):.3g} at {_pair_text(inp, w)}")
    if err[w] > tol and "counterexample" not in rec.details:
        i, j = inp.pairs[w]
        rec.details["counterexample"] = {
            "architecture": arch.describe(), "p": cfg.label, "arithmetic": label,
            "pair": [i, j], "x": inp.X[i].tolist(), "x_prime": inp.X[j].tolist(),
            "engine": str(eng[w]), "predict": str(pred[w]),
            "relative_error": float(err[w])}
    ctl = _rel_err(eng, np.array([v * GROSS for v in pred], dtype=pred.dtype), floor)
    c = float(np.max(ctl))
    rec.control(c, tol, c > tol, f"{where}: predict × {GROSS}")
    details["configs"].append({"p": cfg.label, "arithmetic": label,
                               "max_relative_error": float(err[w])})


# ============================================================================ statistics
def _stat_setup(claim: Claim, seed: np.random.SeedSequence):
    rng = np.random.default_rng(seed)
    inp = make_inputs(claim, rng, monte_carlo=True)
    cfgs = p_configs(claim, rng, n_default=2)
    return inp, cfgs


def _family(claim: Claim, alpha: float | None) -> float:
    if alpha is not None:
        return float(alpha)
    return float(claim.alpha) if claim.alpha is not None else DEFAULT_FILE_ALPHA


def _check_moment(claim: Claim, seed: np.random.SeedSequence, rec: ClaimRecord,
                  alpha: float) -> dict:
    """``mean`` and ``variance`` claims: per configuration × width × pair."""
    inp, cfgs = _stat_setup(claim, seed)
    widths = claim.width_list
    m = len(cfgs) * len(widths) * len(inp.pairs)
    N = int(claim.draws)
    runs = []   # (cfg label, width, samples per pair, predictions per pair)
    for k, cfg in enumerate(cfgs):
        arch = claim.architecture_for(cfg.floats())
        if claim.expression.uses("limit"):
            _check_mixture(claim, arch, inp.X)
        env0 = _names_env(claim, arch, cfg, inp, "numpy", None)
        for w in widths:
            env = dict(env0)
            if claim.expression.uses("d"):
                env["d"] = w
            pred = np.broadcast_to(_predict(claim, env), (len(inp.pairs),)).astype(float)
            ss = np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key) + (k, w))
            S = draw_kernels(arch, inp.X, w, N, ss, claim.kernel)
            samples = np.stack([S[:, i, j] for i, j in inp.pairs])   # (pairs, N)
            # the natural size of entry (i, j): sqrt(Θ(x,x)Θ(x',x')) (Cauchy–Schwarz), which
            # is |predict| on the diagonal and does not vanish where an entry does
            dm = np.abs(S.mean(axis=0).diagonal())
            scale = np.array([math.sqrt(dm[i] * dm[j]) for i, j in inp.pairs])
            if claim.kind == "variance":
                scale = np.abs(pred)
            runs.append((cfg.label, w, samples, pred, arch, scale))
    tests = []
    worst_de, worst_info = -1.0, None
    for label, w, samples, pred, arch, scale in runs:
        where = rec.config(f"{label} width={w} draws={N}")
        for k in range(len(inp.pairs)):
            r = _moment_test(claim.kind, samples[k], pred[k], alpha, m, scale=scale[k])
            rel = r["rel_de"]
            rec.observe(abs(r["stat"]), r["crit"], r["reject"],
                        f"{where} {_pair_text(inp, k)}: estimate {r['estimate']:.6g} vs predict "
                        f"{pred[k]:.6g}", detectable=rel)
            if rel is not None and math.isfinite(rel) and rel > worst_de:
                worst_de, worst_info = rel, (samples[k], scale[k])
            if r["reject"] and "counterexample" not in rec.details:
                i, j = inp.pairs[k]
                rec.details["counterexample"] = {
                    "architecture": arch.describe(), "p": label, "width": w, "draws": N,
                    "pair": [i, j], "x": inp.X[i].tolist(), "x_prime": inp.X[j].tolist(),
                    "estimate": r["estimate"], "predict": float(pred[k]),
                    "statistic": r["stat"], "critical": r["crit"]}
            tests.append(r)
    de = worst_de if worst_de >= 0 else 0.0
    near = NEAR * de
    for label, w, samples, pred, arch, scale in runs:
        where = f"{label} width={w}"
        gross = pred * GROSS
        # near: off by 1.5 × the detectable effect (in the units the effect is stated in)
        shifted = pred + near * scale
        for wrong, is_near, what in ((gross, False, f"predict × {GROSS}"),
                                     (shifted, True, f"predict + {near:.3g} × scale")):
            live = [k for k in range(len(inp.pairs)) if np.ptp(samples[k]) > 0] or \
                list(range(len(inp.pairs)))
            rs = [_moment_test(claim.kind, samples[k], wrong[k], alpha, m, power=None)
                  for k in live]
            norm = [abs(r["stat"]) / r["crit"] for r in rs]
            if is_near:
                # every entry that fluctuates must reject a shift of 1.5 × the (largest)
                # detectable effect: that is the stated power, checked
                stat, rej = min(norm) * rs[0]["crit"], all(r["reject"] for r in rs)
            else:
                # the wrong prediction is refuted if any entry rejects it
                stat, rej = max(norm) * rs[0]["crit"], any(r["reject"] for r in rs)
            rec.control(stat, rs[0]["crit"], rej, f"{where}: {what}", near=is_near)
    details = {"inputs": inp.X.tolist(), "pairs": len(inp.pairs), "comparisons": m,
               "alpha_claim": alpha, "draws": N, "widths": widths,
               "near_control_shift": near,
               "relative_to": "sqrt(Θ(x,x)Θ(x',x')) for means, the predicted variance for variances"}
    if rec.too_coarse and worst_info is not None:
        x, sc = worst_info
        target = claim.resolution * sc
        if claim.kind == "mean":
            need = tstats.draws_for_effect(float(np.std(x, ddof=1)), target, alpha=alpha, m=m)
        else:
            need = tstats.draws_for_variance_effect(_kurtosis(x), claim.resolution, alpha=alpha, m=m)
        details["draws_needed"] = int(need)
        rec.note(f"about {need} draws per width would detect a {100 * claim.resolution:.3g} % "
                 f"deviation with 80 % power", key="draws")
    return details


def _kurtosis(x: np.ndarray) -> float:
    d = x - x.mean()
    s2 = float(np.mean(d * d))
    return float(np.mean(d ** 4)) / (s2 * s2) if s2 > 0 else 3.0


def _moment_test(kind: str, x: np.ndarray, pred: float, alpha: float, m: int,
                 power: float | None = 0.8, scale: float | None = None) -> dict:
    if kind == "mean":
        r = tstats.mean_test(x, pred, alpha=alpha, m=m, power=power, scale=scale)
        rel = None
        if r.detectable_effect is not None and scale:
            rel = r.detectable_effect / scale
        return {"stat": r.statistic, "crit": r.critical, "reject": r.reject, "estimate": r.estimate,
                "rel_de": rel}
    s2 = float(np.var(x, ddof=1))
    crit = tstats.critical_value(alpha, m)
    if s2 == 0.0 or pred <= 0:
        ok = abs(s2 - pred) <= 64 * np.finfo(float).eps * max(abs(s2), abs(pred))
        return {"stat": 0.0 if ok else math.inf, "crit": crit, "reject": not ok,
                "estimate": s2, "rel_de": 0.0 if ok else None}
    r = tstats.variance_test(x, pred, alpha=alpha, m=m)
    rel = None if power is None else tstats.variance_detectable_effect(
        len(x), _kurtosis(x), alpha=alpha, m=m, power=power)
    return {"stat": r.statistic, "crit": r.critical, "reject": r.reject, "estimate": s2,
            "rel_de": rel}


def _check_rate(claim: Claim, seed: np.random.SeedSequence, rec: ClaimRecord,
                alpha: float) -> dict:
    """Exponent of the fluctuation, ``log sd(Θ_d) = a + γ log d (+ b/d)``, with the same
    statistics as claim 7 of ``checks/``: per width the log of the root-mean-square sd of
    the selected entries with its standard error from the draws
    (:func:`theory.stats.log_pooled_sd`: kurtosis and correlation between entries carried),
    then a weighted fit (:func:`theory.stats.rate_fit`) whose ``b/d`` term (depth ≥ 2 with
    at least three widths; at depth 1 ``Var Θ_d = V/d`` holds at every width) models the
    O(1/d) correction with its uncertainty carried into ``se(γ)``; Student t with the
    draws' degrees of freedom, Bonferroni over configurations. The fit's χ² is reported as
    a goodness-of-fit note."""
    inp, cfgs = _stat_setup(claim, seed)
    widths = sorted(set(claim.widths))
    m = len(cfgs)
    N = int(claim.draws)
    e0 = float(claim.exponent)
    fits = []
    for k, cfg in enumerate(cfgs):
        arch = claim.architecture_for(cfg.floats())
        ys, ses, sds = [], [], []
        for w in widths:
            ss = np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key) + (k, w))
            S = draw_kernels(arch, inp.X, w, N, ss, claim.kernel)
            cols = np.stack([S[:, i, j] for i, j in inp.pairs], axis=1)
            cols = cols[:, np.std(cols, axis=0) > 0]  # exactly constant entries carry no rate
            if cols.shape[1] == 0:
                raise ValueError(f"claim {claim.name!r}, key 'pairs': every selected kernel entry "
                                 f"is constant across draws at width {w}; no rate to fit")
            y, se = tstats.log_pooled_sd(cols)
            ys.append(y)
            ses.append(se)
            sds.append(float(math.exp(y)))
        correction = arch.depth >= 2 and len(widths) >= 3
        f = tstats.rate_fit(widths, ys, ses, correction=correction, df=float(N - 1))
        tcrit = tstats.critical_value(alpha, m, f.df)
        lo_, hi_ = f.exponent - tcrit * f.stderr, f.exponent + tcrit * f.stderr
        fit = tstats.SlopeFit(f.exponent, float(f.coef[0]), f.stderr, lo_, hi_, f.dof, alpha / m)
        de = tstats.detectable_effect(f.stderr, alpha=alpha, m=m, df=f.df)
        rel = de / abs(e0) if e0 != 0 else de
        model = "a + γ log d + b/d" if correction else "a + γ log d"
        gof = "" if f.dof == 0 else f", fit χ² {f.chi2:.2f} on {f.dof} dof (p = {f.chi2_p:.2g})"
        where = rec.config(f"{cfg.label} widths={widths} draws={N}")
        stat = abs(fit.slope - e0) / fit.stderr if fit.stderr > 0 else (0.0 if fit.slope == e0 else math.inf)
        rec.observe(stat, tcrit, not fit.contains(e0),
                    f"{where}: {model}: γ̂ {fit.slope:.4f} ± {fit.stderr:.4f}, CI "
                    f"[{fit.ci_low:.4f}, {fit.ci_high:.4f}] vs exponent {e0:g}{gof}",
                    detectable=rel)
        fits.append((where, fit, tcrit, de, arch, sds))
        if not fit.contains(e0) and "counterexample" not in rec.details:
            rec.details["counterexample"] = {"architecture": arch.describe(), "p": cfg.label,
                                             "widths": widths, "sd": sds, "slope": fit.slope,
                                             "ci": [fit.ci_low, fit.ci_high]}
    de_max = max(f[3] for f in fits)
    for where, fit, tcrit, de, arch, sds in fits:
        for shift, near in ((0.5, False), (NEAR * de_max, True)):
            lo, hi = e0 - shift, e0 + shift
            stat = min(abs(fit.slope - lo), abs(fit.slope - hi)) / fit.stderr if fit.stderr > 0 else math.inf
            rec.control(stat, tcrit, not fit.contains(lo) and not fit.contains(hi),
                        f"{where}: exponents {lo:.4g} and {hi:.4g}", near=near)
    details = {"inputs": inp.X.tolist(), "pairs": len(inp.pairs), "alpha_claim": alpha,
               "fits": [{"config": w, "slope": f.slope, "stderr": f.stderr, "ci": [f.ci_low, f.ci_high],
                         "sd": sds} for w, f, _, _, _, sds in fits]}
    rec.note("slopes: " + ", ".join(f"{f.slope:.3f} ± {f.stderr:.3f}" for _, f, *_ in fits), key="slopes")
    if rec.too_coarse:
        target = claim.resolution * (abs(e0) if e0 != 0 else 1.0)
        need = int(math.ceil(N * (de_max / target) ** 2))
        details["draws_needed"] = need
        rec.note(f"about {need} draws per width (same widths) would detect a slope error of "
                 f"{target:.3g} with 80 % power (se ∝ draws^-1/2)", key="draws")
    return details


# ============================================================================ entry points
_STATISTIC = {
    "limit": "max relative error |engine − predict| / |engine| over pairs and p, vs rtol",
    "mean": "|t| of the mean over draws vs predict (Student t, Bonferroni)",
    "variance": "|z| of the sample variance vs predict (Wilson–Hilferty, Bonferroni)",
    "rate": "|γ̂ − exponent| / se, log sd(Θ_d) = a + γ log d (+ b/d), se from the draws (Student t)",
}


def check(claim: Claim, seed: int = 0, alpha: float | None = None) -> ClaimResult:
    """Check one claim and return its :class:`ClaimResult`.

    ``seed`` fixes every random choice (inputs, drawn ``p``, networks); the claim's name is
    hashed into the seed so claims in one file draw independently. ``alpha``: the claim's
    family-wise false-alarm probability (default: the claim's own ``alpha``, else
    ``1e-3``); :func:`check_file` splits the file's budget over its statistical claims.
    """
    if not isinstance(claim, Claim):
        raise TypeError(f"claim must be a theory.claims.Claim, got {type(claim).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    stochastic = claim.kind in STAT_KINDS
    fam = _family(claim, alpha) if stochastic else None
    rec = ClaimRecord("", claim.name, _STATISTIC[claim.kind], source=claim.source or "",
                      stochastic=stochastic, kind=claim.kind, expect=claim.expect,
                      resolution=claim.resolution if stochastic else None, alpha=fam)
    ss = _seed(seed, claim)
    if claim.kind == "limit":
        details = _check_limit(claim, ss, rec)
    elif claim.kind in ("mean", "variance"):
        details = _check_moment(claim, ss, rec, fam)
    else:
        details = _check_rate(claim, ss, rec, fam)
    rec.details.update({k: v for k, v in details.items() if k != "inputs"})
    rec.details["inputs"] = details.get("inputs")
    rec.details["architecture"] = dict(claim.architecture)
    rec.details["predict"] = claim.predict if claim.kind != "rate" else f"exponent {claim.exponent}"
    replay = replay_command(claim, int(seed))
    return ClaimResult(claim, rec, int(seed), replay, _reason(claim, rec), rec.details)


def _reason(claim: Claim, rec: ClaimRecord) -> str:
    v = rec.verdict
    if v == "refuted":
        return rec.rejections[0]
    if v == "proved":
        return (f"symbolically equal to the engine's factor; numerics agree (worst relative "
                f"error {rec.worst:.3g} ≤ rtol {rec.crit:.3g})")
    if v == "inconclusive":
        if rec.control_misses:
            return f"a control was not rejected: {rec.control_misses[0]}"
        if rec.too_coarse:
            return (f"detectable effect {100 * rec.detectable_effect:.3g} % exceeds the "
                    f"resolution {100 * rec.resolution:.3g} %")
        return "nothing was compared"
    if claim.kind == "limit":
        return (f"worst relative error {rec.worst:.3g} ≤ rtol {rec.crit:.3g} over "
                f"{len(rec.configs)} configurations; gross control rejected")
    return (f"no comparison rejected at family-wise alpha {rec.alpha:.3g}; a relative "
            f"deviation of {100 * rec.detectable_effect:.3g} % would be detected with 80 % "
            f"power; gross and near controls rejected")


def allocate_alpha(claims: Sequence[Claim], file_alpha: float = DEFAULT_FILE_ALPHA) -> list:
    """Per-claim family-wise alpha: a claim's own ``alpha`` if set, else an equal
    Bonferroni share of ``file_alpha`` among the statistical claims without one
    (``None`` for ``limit`` claims, which spend none)."""
    shared = [c for c in claims if c.kind in STAT_KINDS and c.alpha is None]
    share = file_alpha / len(shared) if shared else None
    return [None if c.kind not in STAT_KINDS else (c.alpha if c.alpha is not None else share)
            for c in claims]


def check_claims(claims: Sequence[Claim], seed: int = 0, file_alpha: float = DEFAULT_FILE_ALPHA,
                 only: Sequence[str] | None = None) -> list[ClaimResult]:
    """Check several claims with the file's alpha split between them. ``only``: names to
    run (the split is still over all claims, so a single replayed claim sees the same
    critical values)."""
    alphas = allocate_alpha(claims, file_alpha)
    out = []
    for c, a in zip(claims, alphas):
        if only and c.name not in only:
            continue
        out.append(check(c, seed=seed, alpha=a))
    return out


def check_file(path: Any, seed: int = 0, only: Sequence[str] | None = None) -> list[ClaimResult]:
    """Load a claim file and check its claims (see :func:`check_claims`)."""
    claims, fam = load_file(path)
    if only:
        missing = sorted(set(only) - {c.name for c in claims})
        if missing:
            raise ValueError(f"{path}: no claim named {', '.join(map(repr, missing))}")
    return check_claims(claims, seed=seed, file_alpha=fam, only=only)


def table(results: Sequence[ClaimResult]) -> VerdictTable:
    t = VerdictTable()
    for r in results:
        t.records[r.name] = r.record
    return t
