"""Generated blocks of notes/bound_slack.md (theory/finite_width.py, theory/bounds.py,
theory/variance.py).

The networks (up to width 4·10⁴ at ``L = 1``, 512 at ``L = 4``) are drawn once by the
explicit, seeded and reproducible

    python -m notes.bound_slack --recompute

which writes ``notes/data/bound_slack.npz`` (the raw ``Θ_d`` of every draw and the
configuration); :func:`generate` only analyses that cache. :func:`load` refuses a cache
made with another configuration and ``tests/test_notes.py`` redraws a few networks and
compares them with the cache bit for bit.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy import stats as _st

import theory
import theory.finite_width as F
from theory import bounds as B
from theory import variance as V

from .findings import Finding, combine, render

DATA = Path(__file__).resolve().parent / "data" / "bound_slack.npz"
CONFIG = dict(
    d0=8, rho=0.5, x_seed=0, eps=0.1, delta=0.1, ps=[0.0, 0.5, 0.9],
    deep_depths=[2, 3, 4], deep_widths=[128, 512], deep_draws=300,
    one_layer_draws=1000,
    # L = 1 widths: the old note's measured width for the ρ = 0.5 pair, then the CLT width
    # of the ρ = 0.5 pair and of the worst diagonal entry (from the exact V, see below)
    one_layer_old=[272, 1090, 14400],
    seeds=[1, 2],
)
ENTRIES = ((0, 0), (0, 1), (1, 1))
ENTRY_NAMES = ("Θ(x,x)", "Θ(x,x') (ρ = 0.5)", "Θ(x',x')")


def inputs(cfg: dict = CONFIG) -> np.ndarray:
    return F.sphere_pair(cfg["d0"], cfg["rho"], cfg["x_seed"])


def arch(p: float, depth: int) -> theory.Architecture:
    return theory.Architecture(depth=depth, p=p, rescale=True, pruned="all" if p > 0 else "none")


def tolerance(depth: int, cfg: dict = CONFIG) -> float:
    return (depth + 1) * cfg["eps"]


@functools.lru_cache(maxsize=None)
def exact_one_layer(p: float) -> np.ndarray:
    """Exact ``V`` (enumerating the 2^8 input-mask rows, theory.variance) per entry."""
    m = V.neuron_moments(arch(p, 1), inputs())
    return np.array([m.variance[i, j] for i, j in ENTRIES])


def clt_width(Ve: float, cfg: dict = CONFIG) -> float:
    return float(V.required_width(float(Ve), tolerance(1, cfg), cfg["delta"]))


def one_layer_widths(ip: int, cfg: dict = CONFIG) -> list[int]:
    """Widths measured at ``L = 1``: old quoted, CLT of the ρ = 0.5 pair, CLT worst entry."""
    Ve = exact_one_layer(cfg["ps"][ip])
    return [cfg["one_layer_old"][ip], round(clt_width(Ve[1], cfg)), round(clt_width(Ve.max(), cfg))]


def draw_seed(seed: int, p: float, depth: int, width: int, i: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, depth, round(1000 * p), width, i])


def simulate_cell(seed: int, p: float, depth: int, width: int, draws: int,
                  cfg: dict = CONFIG) -> np.ndarray:
    """``(draws, 3)``: the entries :data:`ENTRIES` of ``Θ_d`` for independent networks."""
    X, a = inputs(cfg), arch(p, depth)
    out = np.empty((draws, len(ENTRIES)))
    for i in range(draws):
        K = theory.sample_kernels(a, X, width, draw_seed(seed, p, depth, width, i))["ntk"]
        out[i] = [K[e] for e in ENTRIES]
    return out


def _cell(seed, p, L, d, draws, cfg, checkpoint):
    f = None if checkpoint is None else \
        Path(checkpoint) / f"cell_{seed}_{p:g}_{L}_{d}_{draws}.npy"
    if f is not None and f.exists():
        return np.load(f)
    out = simulate_cell(seed, p, L, d, draws, cfg)
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        np.save(f, out)
    return out


def simulate(cfg: dict = CONFIG, progress: bool = True,
             checkpoint: Path | None = None) -> dict[str, np.ndarray]:
    """Every cell, seed after seed; with ``checkpoint`` (a directory) finished cells are
    stored there and reused."""
    nP, nS = len(cfg["ps"]), len(cfg["seeds"])
    deep = np.empty((len(cfg["deep_depths"]), nP, len(cfg["deep_widths"]), nS,
                     cfg["deep_draws"], len(ENTRIES)))
    one = np.empty((nP, 3, nS, cfg["one_layer_draws"], len(ENTRIES)))
    for s, seed in enumerate(cfg["seeds"]):
        for ip, p in enumerate(cfg["ps"]):
            for iw, d in enumerate(one_layer_widths(ip, cfg)):
                one[ip, iw, s] = _cell(seed, p, 1, d, cfg["one_layer_draws"], cfg, checkpoint)
                if progress:
                    print(f"seed {seed} L 1 p {p} d {d}", file=sys.stderr, flush=True)
            for iL, L in enumerate(cfg["deep_depths"]):
                for iw, d in enumerate(cfg["deep_widths"]):
                    deep[iL, ip, iw, s] = _cell(seed, p, L, d, cfg["deep_draws"], cfg,
                                                checkpoint)
                    if progress:
                        print(f"seed {seed} L {L} p {p} d {d}", file=sys.stderr, flush=True)
    return dict(deep=deep, one=one)


def _cfg_json(cfg: dict) -> str:
    return json.dumps(cfg, sort_keys=True)


def save(data: dict[str, np.ndarray], path: Path = DATA, cfg: dict = CONFIG) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, config=_cfg_json(cfg), **data)


@functools.lru_cache(maxsize=1)
def load(path: Path = DATA) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        if str(z["config"]) != _cfg_json(CONFIG):
            raise ValueError(f"{path} was made with config {str(z['config'])}, the script has "
                             f"{CONFIG}; run: python -m notes.bound_slack --recompute")
        return {k: z[k] for k in ("deep", "one")}


# ----------------------------------------------------------------------------- analysis
def _limits(p: float, depth: int) -> np.ndarray:
    K = theory.limit_ntk(arch(p, depth), inputs())
    return np.array([K[e] for e in ENTRIES])


def _needed(err: np.ndarray, d: int, tol: float, delta: float) -> tuple[float, float, float]:
    """``d·(Q/tol)²`` from the (1−δ)-quantile ``Q`` of ``|err|`` and its order-statistic
    95 % interval (theory.finite_width's ``d^{-1/2}`` extrapolation)."""
    a = np.sort(np.abs(err))
    q = float(np.quantile(a, 1 - delta))
    lo, hi = F._order_ci(a, 1 - delta, 0.05)
    f = lambda t: d * (t / tol) ** 2
    return f(q), f(lo), f(hi)


def _log_se(lo: float, hi: float) -> float:
    """A 95 % interval [lo, hi] of a positive quantity as a standard error of its log."""
    return (math.log(hi) - math.log(lo)) / (2 * 1.96)


@functools.lru_cache(maxsize=1)
def analysis() -> dict:
    cfg, data = CONFIG, load()
    ar, yw = B.arora_bound(), B.yang_wang_bound()
    out = {"one": [], "deep": []}
    # ---- L = 1: exact CLT widths and direct coverage
    for ip, p in enumerate(cfg["ps"]):
        lim = _limits(p, 1)
        Ve = exact_one_layer(p)
        ws = one_layer_widths(ip, cfg)
        cov = {}   # (iw, entry, seed) -> (frac, lo, hi)
        need = {}  # (entry, seed) -> needed width from the largest measured width
        for iw, d in enumerate(ws):
            for s in range(len(cfg["seeds"])):
                for e in range(len(ENTRIES)):
                    err = data["one"][ip, iw, s, :, e] - lim[e]
                    cov[iw, e, s] = F.coverage(err, tolerance(1, cfg))
                    if iw == 2:
                        need[e, s] = _needed(err, d, tolerance(1, cfg), cfg["delta"])
        out["one"].append(dict(p=p, widths=ws, clt=[clt_width(v) for v in Ve], cov=cov,
                               need=need, V=Ve))
    # ---- L >= 2: extrapolation from two widths, every entry
    for iL, L in enumerate(cfg["deep_depths"]):
        for ip, p in enumerate(cfg["ps"]):
            lim = _limits(p, L)
            est = {}
            for iw, d in enumerate(cfg["deep_widths"]):
                for s in range(len(cfg["seeds"])):
                    for e in range(len(ENTRIES)):
                        err = data["deep"][iL, ip, iw, s, :, e] - lim[e]
                        est[iw, e, s] = _needed(err, d, tolerance(L, cfg), cfg["delta"])
            out["deep"].append(dict(L=L, p=p, est=est))
    out["arora"] = {L: float(B.required_width(ar, L=L, eps=cfg["eps"], delta=cfg["delta"], C=1))
                    for L in [1] + cfg["deep_depths"]}
    out["yw"] = {(L, p): float(B.required_width(yw, L=L, eps=cfg["eps"], delta=cfg["delta"],
                                                p=p, C=1))
                 for L in [1] + cfg["deep_depths"] for p in cfg["ps"]}
    return out


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x < 1e4 else f"{x:.2e}"


def _worst(est: dict, iw: int, seed_idx: int) -> tuple[int, tuple[float, float, float]]:
    e = max(range(len(ENTRIES)), key=lambda k: est[iw, k, seed_idx][0])
    return e, est[iw, e, seed_idx]


def measured_width(row: dict, seed_idx: int) -> tuple[float, float, float]:
    """The width the worst entry needs (value, 95 % interval) at one seed."""
    if "need" in row:     # L = 1: from the width nearest to it
        e = max(range(len(ENTRIES)), key=lambda k: row["need"][k, seed_idx][0])
        return row["need"][e, seed_idx]
    return _worst(row["est"], len(CONFIG["deep_widths"]) - 1, seed_idx)[1]


def _one_layer_table() -> str:
    a = analysis()
    t = ["| p | entry | exact V | CLT width z²V/tol² | P(\\|err\\| ≤ 0.2) at the old width | "
         "at the CLT width of ρ = 0.5 | at the CLT width of the worst entry |",
         "|---|---|---|---|---|---|---|"]
    for r in a["one"]:
        for e, name in enumerate(ENTRY_NAMES):
            cells = []
            for iw, d in enumerate(r["widths"]):
                c = [r["cov"][iw, e, s] for s in range(len(CONFIG["seeds"]))]
                cells.append(f"d = {_fmt(d)}: " + " / ".join(f"{f:.3f} [{lo:.3f}, {hi:.3f}]"
                                                             for f, lo, hi in c))
            t.append(f"| {r['p']:g} | {name} | {r['V'][e]:.4g} | {_fmt(r['clt'][e])} | "
                     + " | ".join(cells) + " |")
    t.append("")
    t.append(f"Unit inputs x, x' in R^{CONFIG['d0']} with x·x' = {CONFIG['rho']} (seed "
             f"{CONFIG['x_seed']}), L = 1, all matrices masked and rescaled; tol = 2ε = 0.2, "
             f"δ = {CONFIG['delta']} (target coverage 0.9); exact V by enumerating the 2^8 input-"
             f"mask rows (theory.variance); {CONFIG['one_layer_draws']} independent networks "
             f"per width and seed; coverage at seed {CONFIG['seeds'][0]} / seed "
             f"{CONFIG['seeds'][1]} with 95 % Wilson intervals.")
    return "\n".join(t)


def _slack_table() -> str:
    a = analysis()
    sd = CONFIG["seeds"]
    t = ["| L | p | d needed, worst entry (seed " + f"{sd[0]} / seed {sd[1]})" +
         " | 95 % CI (seed " + f"{sd[0]})" + " | worst entry | from the smaller width "
         "(seed " + f"{sd[0]})" + " | ρ = 0.5 pair alone (seed " + f"{sd[0]})" +
         " | Arora (C=1) | slack Arora | YW default (C=1) | slack YW |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in a["one"] + a["deep"]:
        L = r.get("L", 1)
        m = [measured_width(r, s) for s in range(len(sd))]
        if L == 1:
            e = max(range(3), key=lambda k: r["need"][k, 0][0])
            small = "— (direct)"
            pair = r["need"][1, 0][0]
        else:
            e, _ = _worst(r["est"], len(CONFIG["deep_widths"]) - 1, 0)
            small = _fmt(_worst(r["est"], 0, 0)[1][0])
            pair = r["est"][len(CONFIG["deep_widths"]) - 1, 1, 0][0]
        ar, yw = a["arora"][L], a["yw"][L, r["p"]]
        t.append(f"| {L} | {r['p']:g} | **{_fmt(m[0][0])}** / {_fmt(m[1][0])} | "
                 f"[{_fmt(m[0][1])}, {_fmt(m[0][2])}] | {ENTRY_NAMES[e]} | {small} | "
                 f"{_fmt(pair)} | {_fmt(ar)} | **{_fmt(ar / m[0][0])}** | {_fmt(yw)} | "
                 f"**{_fmt(yw / m[0][0])}** |")
    t.append("")
    t.append(f"Error |Θ_d − Θ̃| ≤ (L+1)ε, ε = {CONFIG['eps']}, δ = {CONFIG['delta']}, every "
             f"entry of the 2×2 kernel of x, x' (unit, R^{CONFIG['d0']}, x·x' = "
             f"{CONFIG['rho']}); ReLU, all L+1 matrices masked and rescaled; Θ̃ = limit_ntk "
             f"with the exact input layer. L = 1: quantile at the CLT width of the worst entry "
             f"({CONFIG['one_layer_draws']} networks). L ≥ 2: d·(Q(d)/tol)² from d = "
             f"{CONFIG['deep_widths'][-1]} (and, for comparison, d = {CONFIG['deep_widths'][0]}), "
             f"{CONFIG['deep_draws']} networks per (L, p, d, seed). Slacks use seed {sd[0]}.")
    return "\n".join(t)


@functools.lru_cache(maxsize=1)
def findings() -> list[Finding]:
    a = analysis()
    sd = CONFIG["seeds"]
    out = []

    def per_seed_width(r):
        res = {}
        for s, seed in enumerate(sd):
            v, lo, hi = measured_width(r, s)
            res[seed] = (v, v * _log_se(lo, hi))
        return res

    one = {r["p"]: r for r in a["one"]}
    # p = 0.9, L = 1: coverage at the old width and the needed width
    r9 = one[0.9]
    cov_old = {seed: (r9["cov"][0, 1, s][0], (r9["cov"][0, 1, s][2] - r9["cov"][0, 1, s][1]) / 3.92)
               for s, seed in enumerate(sd)}
    v, u = combine(cov_old)
    out.append(Finding("old_width_coverage", f"L = 1, p = 0.9: P(|err| ≤ 0.2) for the ρ = 0.5 "
                       f"pair at the old note's width {r9['widths'][0]} (target 0.9)",
                       "measured", v, u, "d0 = 8, x·x' = 0.5, ε = 0.1", cov_old, fmt=".3f"))
    for p in (0.0, 0.9):
        r = one[p]
        ps = per_seed_width(r)
        v, u = combine(ps)
        out.append(Finding(f"L1_p{p:g}_width", f"L = 1, p = {p:g}: width the worst entry "
                           f"(the diagonal) needs; exact CLT value {_fmt(max(r['clt']))}",
                           "measured", v, u, "d0 = 8, ε = 0.1, δ = 0.1, C = 1 bounds",
                           ps, fmt=".3g", uncertainty_kind="s.e. from the 95 % order-statistic CI"))
    for L, p in ((1, 0.0), (1, 0.9)):
        r = one[p]
        ps = {k: (a["yw"][L, p] / w, a["yw"][L, p] / w * (u_ / w)) for k, (w, u_) in
              per_seed_width(r).items()}
        v, u = combine(ps)
        out.append(Finding(f"L1_p{p:g}_slack_YW", f"L = 1, p = {p:g}: slack of the Yang–Wang "
                           "default at C = 1 (bound / measured width, worst entry)",
                           "measured", v, u, "d0 = 8, ε = 0.1, δ = 0.1, C = 1", ps, fmt=".3g"))
    deep = {(r["L"], r["p"]): r for r in a["deep"]}
    r = deep[4, 0.0]
    ps = {k: (a["arora"][4] / w, a["arora"][4] / w * (u_ / w)) for k, (w, u_) in
          per_seed_width(r).items()}
    v, u = combine(ps)
    out.append(Finding("L4_p0_slack_Arora", "L = 4, p = 0: slack of Arora's bound at C = 1 "
                       "(worst entry, d^(-1/2) extrapolation from d = 512)", "measured", v, u,
                       "d0 = 8, ε = 0.1, δ = 0.1, C = 1; extrapolation error not included",
                       ps, fmt=".3g"))
    return out


def generate() -> dict[str, str]:
    return {"one_layer": _one_layer_table(), "slack_table": _slack_table(),
            "findings": render(findings())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m notes.bound_slack")
    ap.add_argument("--recompute", action="store_true",
                    help=f"redraw every network and rewrite {DATA.name} (several minutes)")
    ap.add_argument("--out", type=Path, default=DATA)
    ap.add_argument("--checkpoint", type=Path, help="directory for finished cells (resume)")
    ns = ap.parse_args(argv)
    if ns.recompute:
        save(simulate(checkpoint=ns.checkpoint), ns.out)
        return 0
    for k, v in generate().items():
        print(f"--- {k}\n{v}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
