"""Generated blocks of notes/depth_law.md (theory/finite_width.py, theory/variance.py).

The Monte Carlo draws are expensive (≈ 10⁵ networks up to width 512, depth 8), so they are
cached in ``notes/data/depth_law.npz``, written by the explicit, seeded and reproducible

    python -m notes.depth_law --recompute

and :func:`generate` only analyses the cached draws (a few seconds). The cache stores the
configuration it was made with; :func:`load` refuses a cache whose configuration differs
from :data:`CONFIG`, and ``tests/test_notes.py`` re-draws a few networks and checks that
they equal the cached values bit for bit.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from pathlib import Path

import numpy as np

import theory
import theory.finite_width as F

DATA = Path(__file__).resolve().parent / "data" / "depth_law.npz"
CONFIG = dict(
    d0=64, x_seed=0,                    # x: Gaussian in R^64 (seed 0), normalised to |x| = 1
    depths=[1, 2, 4, 8], widths=[64, 128, 256], ps=[0.0, 0.5, 0.8],
    draws=2000,                         # independent networks per (p, L, d, seed)
    seeds=[1, 2],                       # two independent replications of everything
)


def the_input(cfg: dict = CONFIG) -> np.ndarray:
    """The unit input ``x`` (a ``(d0,)`` array) every network is evaluated on."""
    x = np.random.default_rng(cfg["x_seed"]).standard_normal(cfg["d0"])
    return x / np.linalg.norm(x)


def arch(p: float, depth: int) -> theory.Architecture:
    """ReLU, no biases, every matrix (input layer included) masked and rescaled."""
    return theory.Architecture(depth=depth, p=p, rescale=True, pruned="all" if p > 0 else "none")


def draw_seed(seed: int, p: float, depth: int, width: int, i: int) -> np.random.SeedSequence:
    """The seed of network ``i`` of the cell ``(seed, p, L, d)``: a pure function of them."""
    return np.random.SeedSequence([seed, round(1000 * p), depth, width, i])


def simulate_cell(seed: int, p: float, depth: int, width: int, draws: int,
                  cfg: dict = CONFIG) -> np.ndarray:
    """``Θ_d(x, x)`` of ``draws`` independent networks (``theory.sample_kernels``)."""
    X = the_input(cfg)[None, :]
    a = arch(p, depth)
    return np.array([theory.sample_kernels(a, X, width, draw_seed(seed, p, depth, width, i))
                     ["ntk"][0, 0] for i in range(draws)])


def simulate(cfg: dict = CONFIG, seeds: list[int] | None = None, progress: bool = True,
             checkpoint: Path | None = None) -> np.ndarray:
    """All cells: array ``(n_p, n_L, n_d, n_seeds, draws)`` (only ``seeds`` filled, rest NaN).
    With ``checkpoint`` (a directory) every finished cell is stored there and reused."""
    seeds = cfg["seeds"] if seeds is None else seeds
    shape = (len(cfg["ps"]), len(cfg["depths"]), len(cfg["widths"]), len(cfg["seeds"]),
             cfg["draws"])
    theta = np.full(shape, np.nan)
    for s, seed in enumerate(cfg["seeds"]):
        if seed not in seeds:
            continue
        for ip, p in enumerate(cfg["ps"]):
            for iL, L in enumerate(cfg["depths"]):
                for idd, d in enumerate(cfg["widths"]):
                    f = None if checkpoint is None else \
                        Path(checkpoint) / f"cell_{seed}_{p:g}_{L}_{d}_{cfg['draws']}.npy"
                    if f is not None and f.exists():
                        theta[ip, iL, idd, s] = np.load(f)
                        continue
                    theta[ip, iL, idd, s] = simulate_cell(seed, p, L, d, cfg["draws"], cfg)
                    if f is not None:
                        f.parent.mkdir(parents=True, exist_ok=True)
                        np.save(f, theta[ip, iL, idd, s])
                    if progress:
                        print(f"seed {seed} p {p} L {L} d {d} done", file=sys.stderr, flush=True)
    return theta


def save(theta: np.ndarray, path: Path = DATA, cfg: dict = CONFIG) -> None:
    if not np.all(np.isfinite(theta)):
        raise ValueError("incomplete simulation: theta contains NaN")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, theta=theta, config=json.dumps(cfg, sort_keys=True))


@functools.lru_cache(maxsize=1)
def load(path: Path = DATA) -> np.ndarray:
    """The cached draws; ``ValueError`` if the cache was made with another configuration."""
    with np.load(path) as z:
        cfg = json.loads(str(z["config"]))
        theta = z["theta"]
    if cfg != json.loads(json.dumps(CONFIG, sort_keys=True)):
        raise ValueError(f"{path} was made with config {cfg}, the script has {CONFIG}; "
                         "run: python -m notes.depth_law --recompute")
    return theta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m notes.depth_law")
    ap.add_argument("--recompute", action="store_true",
                    help=f"redraw every network and rewrite {DATA.name} (tens of minutes)")
    ap.add_argument("--seed", type=int, action="append",
                    help="with --recompute --out: only this replication seed (repeatable)")
    ap.add_argument("--out", type=Path, default=DATA, help="where --recompute writes")
    ap.add_argument("--checkpoint", type=Path, help="directory for finished cells (resume)")
    ns = ap.parse_args(argv)
    if ns.recompute:
        theta = simulate(seeds=ns.seed, checkpoint=ns.checkpoint)
        if ns.seed:  # partial run: raw array, to be merged with merge_partials
            np.save(ns.out, theta)
        else:
            save(theta, ns.out)
        return 0
    for k, v in generate().items():
        print(f"--- {k}\n{v}\n")
    return 0


def merge_partials(paths: list[Path], out: Path = DATA) -> None:
    """Combine partial ``--recompute --seed S --out F.npy`` runs into the cache."""
    parts = [np.load(p) for p in paths]
    theta = parts[0].copy()
    for t in parts[1:]:
        fill = np.isnan(theta)
        theta[fill] = t[fill]
    save(theta, out)


# ----------------------------------------------------------------------------- analysis
N_BOOT = 400


def x4(cfg: dict = CONFIG) -> float:
    """``‖x‖₄⁴ = Σ_j x_j⁴`` of the input (enters the exact one-layer variance)."""
    return float(np.sum(the_input(cfg) ** 4))


def one_layer_rv(p: float, *, wide: bool = False) -> float:
    """Exact relative variance ``V/(E T)²`` of one neuron term on the diagonal, L = 1
    (theory.variance.diagonal_moments: exact in ``d0``, input mask included), for the input
    actually used; ``wide=True``: the wide-input (flat) form ``4/(1−p) − 1``."""
    from theory import variance as V
    m = V.diagonal_moments(arch(p, 1) if p > 0 else arch(0.0, 1))
    sub = {V.NORM_X: 1, V.X4: 0.0 if wide else x4()}
    return float(m.variance.subs(sub) / m.mean.subs(sub) ** 2)


@functools.lru_cache(maxsize=1)
def cells() -> dict:
    """Per cell and seed: log ratio, bootstrap error, kurtosis of Θ."""
    theta = load()
    shp = theta.shape[:4]
    y, se, kurt = np.empty(shp), np.empty(shp), np.empty(shp)
    for idx in np.ndindex(*shp):
        t = theta[idx]
        y[idx], se[idx] = F.log_ratio_bootstrap(t, n_boot=N_BOOT, seed=sum(
            (k + 1) * 1000 ** n for n, k in enumerate(idx)))
        c = t - t.mean()
        kurt[idx] = float(np.mean(c ** 4) / np.mean(c ** 2) ** 2)
    return dict(y=y, se=se, kurt=kurt)


def _other(s: int) -> int:
    return 1 - s


def _design(model: str, Ls: np.ndarray, ds: np.ndarray, qs: np.ndarray | None = None):
    """Design matrix and parameter names of the per-p models."""
    if model == "beta":        # the old single-β line: a + c·L/d
        return np.stack([np.ones_like(ds), Ls / ds], 1), ("a", "c")
    if model == "lin":         # (a + b L)/d + c/d²
        return np.stack([1 / ds, Ls / ds, 1 / ds ** 2], 1), ("a", "b", "c")
    if model == "lin2":        # (a + b L)/d + (c + e L)/d²
        return np.stack([1 / ds, Ls / ds, 1 / ds ** 2, Ls / ds ** 2], 1), ("a", "b", "c", "e")
    raise ValueError(model)


MODELS = {"beta": "a + c·β (one line in β = L/d)",
          "lin": "(a_p + b_p·L)/d + c_p/d²",
          "lin2": "(a_p + b_p·L)/d + (c_p + e_p·L)/d²"}
MODEL = "lin2"   # the model the findings use (the simplest that fits at both seeds; see fits)


@functools.lru_cache(maxsize=None)
def fit(ip: int, s: int, model: str) -> F.LinearFit:
    """Per-p fit at seed index ``s``; errors from the OTHER seed's bootstrap (independent
    of this seed's values, so a sample that misses its rare large draws is not also given
    a large weight)."""
    c = cells()
    Ls = np.repeat(np.array(CONFIG["depths"], float), len(CONFIG["widths"]))
    ds = np.tile(np.array(CONFIG["widths"], float), len(CONFIG["depths"]))
    A, names = _design(model, Ls, ds)
    return F.weighted_fit(A, c["y"][ip, :, :, s].ravel(), c["se"][ip, :, :, _other(s)].ravel(),
                          names)


def _fits_table() -> str:
    sd = CONFIG["seeds"]
    t = ["| model | p | seed | χ²/dof | P | parameters (± s.e., scaled by S = √max(1, χ²/dof)) |",
         "|---|---|---|---|---|---|"]
    for model in MODELS:
        for ip, p in enumerate(CONFIG["ps"]):
            for s, seed in enumerate(sd):
                f = fit(ip, s, model)
                par = ", ".join(f"{n} = {f.value(n):.3g} ± {f.stderr(n):.2g}" for n in f.names)
                t.append(f"| {MODELS[model]} | {p:g} | {seed} | {f.chi2:.1f}/{f.dof} | "
                         f"{f.p_value:.2g} | {par} |")
    t.append("")
    t.append(f"Fits over the {len(CONFIG['depths']) * len(CONFIG['widths'])} cells of each p "
             f"(L ∈ {CONFIG['depths']}, d ∈ {CONFIG['widths']}); each seed's values weighted by "
             f"the other seed's bootstrap errors.")
    return "\n".join(t)


def _collapse() -> tuple[str, dict]:
    """Equal-β groups: is the log ratio a function of β = L/d alone?"""
    c = cells()
    sd = CONFIG["seeds"]
    groups: dict[float, list[tuple[int, int]]] = {}
    for iL, L in enumerate(CONFIG["depths"]):
        for idd, d in enumerate(CONFIG["widths"]):
            groups.setdefault(L / d, []).append((iL, idd))
    groups = {b: g for b, g in sorted(groups.items()) if len(g) > 1}
    t = ["| p | β = L/d | log ratio by depth, seed " f"{sd[0]}" " (± bootstrap s.e.) | χ²/dof, P (seed "
         f"{sd[0]})" " | χ²/dof, P (seed " f"{sd[1]})" " |", "|---|---|---|---|---|"]
    total = {}
    for ip, p in enumerate(CONFIG["ps"]):
        tot = [[0.0, 0], [0.0, 0]]
        for b, g in groups.items():
            res = []
            for s in range(2):
                v = [c["y"][ip, iL, idd, s] for iL, idd in g]
                e = [c["se"][ip, iL, idd, _other(s)] for iL, idd in g]
                res.append(F.homogeneity_test(v, e))
                tot[s][0] += res[-1][0]
                tot[s][1] += res[-1][1]
            vals = ", ".join(f"L={CONFIG['depths'][iL]}: {c['y'][ip, iL, idd, 0]:.3f} ± "
                             f"{c['se'][ip, iL, idd, 0]:.3f}" for iL, idd in g)
            t.append(f"| {p:g} | 1/{round(1 / b)} | {vals} | {res[0][0]:.1f}/{res[0][1]}, "
                     f"{res[0][2]:.1g} | {res[1][0]:.1f}/{res[1][1]}, {res[1][2]:.1g} |")
        total[p] = [(x, k, float(_chi2_sf(x, k))) for x, k in tot]
        t.append(f"| {p:g} | all | combined | **{tot[0][0]:.1f}/{tot[0][1]}, "
                 f"{total[p][0][2]:.1g}** | **{tot[1][0]:.1f}/{tot[1][1]}, {total[p][1][2]:.1g}** |")
    t.append("")
    t.append("Homogeneity χ² of the cells with equal β (weighted mean; each seed's values with "
             "the other seed's errors). A single β would make every group homogeneous.")
    return "\n".join(t), total


def _chi2_sf(x: float, k: int) -> float:
    from scipy import stats
    return stats.chi2.sf(x, k)


def _records_table() -> str:
    c = cells()
    sd = CONFIG["seeds"]
    t = ["| p | L | d | β = L/d | log(E Θ²/(E Θ)²), seed " f"{sd[0]}" " | seed " f"{sd[1]}"
         " | replication z | kurtosis of Θ |", "|---|---|---|---|---|---|---|---|"]
    zs = []
    for ip, p in enumerate(CONFIG["ps"]):
        for iL, L in enumerate(CONFIG["depths"]):
            for idd, d in enumerate(CONFIG["widths"]):
                y, e = c["y"][ip, iL, idd], c["se"][ip, iL, idd]
                z = (y[0] - y[1]) / math.hypot(e[0], e[1])
                zs.append(z)
                t.append(f"| {p:g} | {L} | {d} | {L / d:.4f} | {y[0]:.4f} ± {e[0]:.4f} | "
                         f"{y[1]:.4f} ± {e[1]:.4f} | {z:+.2f} | {c['kurt'][ip, iL, idd, 0]:.3g} |")
    zs = np.array(zs)
    t.append("")
    t.append(f"Unit input x in R^{CONFIG['d0']} (Gaussian, seed {CONFIG['x_seed']}, ‖x‖₄⁴ = "
             f"{x4():.4f}), ReLU, no biases, all matrices masked (input layer included) and "
             f"rescaled; {CONFIG['draws']} independent networks per cell and seed; errors by "
             f"bootstrap ({N_BOOT} resamples). Check of those errors against the independent "
             f"replication: Σz² = {np.sum(zs ** 2):.1f} over {zs.size} cells "
             f"(P = {_chi2_sf(np.sum(zs ** 2), zs.size):.2g}), largest |z| = "
             f"{np.max(np.abs(zs)):.2f}.")
    return "\n".join(t)


def _one_layer() -> str:
    c = cells()
    sd = CONFIG["seeds"]
    t = ["| p | V/(E T)², wide form (flat input) | exact for this x (‖x‖₄⁴ = " f"{x4():.4f})"
         " | Monte Carlo d·(E Θ²/(E Θ)² − 1), L = 1, seed " f"{sd[0]} / seed {sd[1]}"
         " (all d) | z vs exact (seed " f"{sd[0]} / {sd[1]})" " | z vs wide form |",
         "|---|---|---|---|---|---|"]
    for ip, p in enumerate(CONFIG["ps"]):
        ex, wd = one_layer_rv(p), one_layer_rv(p, wide=True)
        est = [_rv_hat(ip, s) for s in range(2)]
        t.append(f"| {p:g} | {wd:.3f} | {ex:.3f} | {est[0][0]:.2f} ± {est[0][1]:.2f} / "
                 f"{est[1][0]:.2f} ± {est[1][1]:.2f} | "
                 f"{(est[0][0] - ex) / est[0][1]:+.2f} / {(est[1][0] - ex) / est[1][1]:+.2f} | "
                 f"{(est[0][0] - wd) / est[0][1]:+.2f} / {(est[1][0] - wd) / est[1][1]:+.2f} |")
    t.append("")
    t.append("At L = 1, E[Θ²]/E[Θ]² = 1 + V/(d (E T)²) exactly, so d·(ratio − 1) estimates "
             "V/(E T)² at every width; the Monte Carlo value is the inverse-variance mean over "
             f"d ∈ {CONFIG['widths']}.")
    return "\n".join(t)


def _rv_hat(ip: int, s: int) -> tuple[float, float]:
    c = cells()
    iL = CONFIG["depths"].index(1)
    v, w = [], []
    for idd, d in enumerate(CONFIG["widths"]):
        y, e = c["y"][ip, iL, idd, s], c["se"][ip, iL, idd, s]
        v.append(d * math.expm1(y))
        w.append(1 / (d * math.exp(y) * e) ** 2)
    v, w = np.array(v), np.array(w)
    return float(w @ v / w.sum()), float(1 / math.sqrt(w.sum()))


@functools.lru_cache(maxsize=None)
def joint_fit(s: int, anchored: bool = True) -> F.LinearFit:
    """All p at once: ``(a_0 + E_p + b·L)/d + (c_p + e_p·L)/d²`` with ONE per-layer ``b``
    and, if ``anchored``, the depth-independent pruning term ``E_p`` fixed to the exact
    one-hidden-layer excess ``V/(E T)²(p) − 3`` (else a free ``a_p`` per p). Seed index
    ``s``, errors from the other seed."""
    c = cells()
    rows, ys, es = [], [], []
    nP = len(CONFIG["ps"])
    for ip, p in enumerate(CONFIG["ps"]):
        E = one_layer_rv(p) - 3.0 if anchored else 0.0
        for iL, L in enumerate(CONFIG["depths"]):
            for idd, d in enumerate(CONFIG["widths"]):
                a_cols = [1 / d] if anchored else [1 / d * (k == ip) for k in range(nP)]
                cc = [1 / d ** 2 * (k == ip) for k in range(nP)]
                ee = [L / d ** 2 * (k == ip) for k in range(nP)]
                rows.append(a_cols + [L / d] + cc + ee)
                ys.append(c["y"][ip, iL, idd, s] - E / d)
                es.append(c["se"][ip, iL, idd, _other(s)])
    a_names = ["a_0"] if anchored else [f"a_{p:g}" for p in CONFIG["ps"]]
    names = a_names + ["b"] + [f"c_{p:g}" for p in CONFIG["ps"]] + \
        [f"e_{p:g}" for p in CONFIG["ps"]]
    return F.weighted_fit(np.array(rows), ys, es, names)


def _joint_text() -> str:
    sd = CONFIG["seeds"]
    out = []
    for anchored, what in ((False, "free a_p, one b"), (True, "a_p = a_0 + exact one-layer "
                                                              "excess, one b")):
        fs = [joint_fit(s, anchored) for s in range(2)]
        out.append(f"- all p jointly, {what} ({len(fs[0].params)} parameters): " + "; ".join(
            f"seed {sd[s]}: χ²/dof = {f.chi2:.1f}/{f.dof}, P = {f.p_value:.2g}, "
            f"b = {f.value('b'):.2f} ± {f.stderr('b'):.2f}" for s, f in enumerate(fs)))
    return "\n".join(out)


@functools.lru_cache(maxsize=1)
def _layer_terms() -> dict:
    """Per seed: b_p, a_p − a_0 against the exact one-layer excess, b equality."""
    sd = CONFIG["seeds"]
    out = {}
    for s in range(2):
        fs = [fit(ip, s, MODEL) for ip in range(len(CONFIG["ps"]))]
        b = [(f.value("b"), f.stderr("b")) for f in fs]
        w = np.array([1 / e ** 2 for _, e in b])
        bm = float(w @ np.array([v for v, _ in b]) / w.sum())
        chi2 = float(sum((v - bm) ** 2 / e ** 2 for v, e in b))
        # a_p − a_0: the fits are independent across p
        da = [(fs[ip].value("a") - fs[0].value("a"),
               math.hypot(fs[ip].stderr("a"), fs[0].stderr("a"))) for ip in range(len(fs))]
        out[sd[s]] = dict(b=b, b_equal=(chi2, len(b) - 1, float(_chi2_sf(chi2, len(b) - 1))),
                          da=da, fits=fs)
    return out


def _layer_table() -> str:
    lt = _layer_terms()
    sd = CONFIG["seeds"]
    t = ["| p | b_p (per hidden layer) seed " f"{sd[0]} / {sd[1]}" " | b_0/q (effective width)"
         " | a_p − a_0, seed " f"{sd[0]} / {sd[1]}" " | exact one-layer excess V/(ET)² − 3 |",
         "|---|---|---|---|---|"]
    for ip, p in enumerate(CONFIG["ps"]):
        b = [lt[s]["b"][ip] for s in sd]
        da = [lt[s]["da"][ip] for s in sd]
        b0q = [lt[s]["b"][0][0] / (1 - p) for s in sd]
        t.append(f"| {p:g} | {b[0][0]:.2f} ± {b[0][1]:.2f} / {b[1][0]:.2f} ± {b[1][1]:.2f} | "
                 f"{b0q[0]:.2f} / {b0q[1]:.2f} | "
                 + ("—" if p == 0 else f"{da[0][0]:.2f} ± {da[0][1]:.2f} / "
                    f"{da[1][0]:.2f} ± {da[1][1]:.2f}") + f" | {one_layer_rv(p) - 3:.2f} |")
    t.append("")
    t.append("Equality of b_p across p (χ² of the weighted mean): " + "; ".join(
        f"seed {s}: χ²/dof = {lt[s]['b_equal'][0]:.2f}/{lt[s]['b_equal'][1]}, "
        f"P = {lt[s]['b_equal'][2]:.2g}" for s in sd) + f". Model: {MODELS[MODEL]}.")
    t.append("")
    t.append(_joint_text())
    return "\n".join(t)


@functools.lru_cache(maxsize=1)
def findings() -> list:
    from .findings import Finding, Fit, combine
    sd = CONFIG["seeds"]
    c = cells()
    lt = _layer_terms()
    out = []
    reg = (f"ReLU, rescaled masks on every matrix, d ∈ {CONFIG['widths']}, L ∈ "
           f"{CONFIG['depths']}, d0 = {CONFIG['d0']}, {CONFIG['draws']} networks per cell")
    ip8 = CONFIG["ps"].index(0.8)
    # collapse: at β = 1/32 the log ratio falls with depth
    iL2, iL8 = CONFIG["depths"].index(2), CONFIG["depths"].index(8)
    i64, i256 = CONFIG["widths"].index(64), CONFIG["widths"].index(256)
    per = {sd[s]: (c["y"][ip8, iL2, i64, s] - c["y"][ip8, iL8, i256, s],
                   math.hypot(c["se"][ip8, iL2, i64, s], c["se"][ip8, iL8, i256, s]))
           for s in range(2)}
    v, u = combine(per)
    out.append(Finding("no_single_beta", "p = 0.8, β = 1/32: log ratio at (L=2, d=64) minus "
                       "(L=8, d=256); 0 if β alone described pruned nets", "measured", v, u,
                       reg, per))
    for ip, p in enumerate(CONFIG["ps"]):
        per = {s: lt[s]["b"][ip] for s in sd}
        v, u = combine(per)
        out.append(Finding(f"b_p{p:g}", f"per-hidden-layer coefficient b at p = {p:g} "
                           f"({MODELS[MODEL]})", "fit", v, u, reg, per,
                           fits={s: Fit(lt[s]["fits"][ip].chi2, lt[s]["fits"][ip].dof)
                                 for s in sd}))
    js = [joint_fit(s, True) for s in range(2)]
    per = {sd[s]: (js[s].value("b"), js[s].stderr("b")) for s in range(2)}
    v, u = combine(per)
    out.append(Finding("b_joint", "one per-layer b for all p, with the depth-independent "
                       "pruning term fixed to the exact one-layer excess", "fit", v, u, reg,
                       per, fits={sd[s]: Fit(js[s].chi2, js[s].dof) for s in range(2)}))
    per = {s: (lt[s]["da"][ip8][0], lt[s]["da"][ip8][1]) for s in sd}
    v, u = combine(per)
    out.append(Finding("excess_p0.8", f"depth-independent pruning term a_0.8 − a_0 (exact "
                       f"one-layer excess {one_layer_rv(0.8) - 3:.2f})", "fit", v, u, reg, per,
                       fits={s: Fit(lt[s]["fits"][ip8].chi2, lt[s]["fits"][ip8].dof)
                             for s in sd}))
    per = {sd[s]: _rv_hat(ip8, s) for s in range(2)}
    v, u = combine(per)
    out.append(Finding("one_layer_rv_p0.8", f"L = 1, p = 0.8: V/(E T)² from the Monte Carlo "
                       f"(exact for this x: {one_layer_rv(0.8):.2f}; wide form: "
                       f"{one_layer_rv(0.8, wide=True):.0f})", "measured", v, u, reg, per))
    return out


def generate() -> dict[str, str]:
    from .findings import render
    return {"records": _records_table(), "collapse": _collapse()[0], "fits": _fits_table(),
            "layer_terms": _layer_table(), "one_layer_exact": _one_layer(),
            "findings": render(findings())}


if __name__ == "__main__":
    sys.exit(main())
