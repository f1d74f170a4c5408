"""Generated blocks of notes/path_kernel.md (see theory/paths.py).

``python -m notes.path_kernel`` prints the random-vs-SynFlow table and writes the figure
``notes/figures/path_kernel_random_vs_synflow.png`` (the same numbers as the note's block);
``python -m notes.regen path_kernel`` regenerates the note.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import sympy

import theory
from theory import stats as tstats
from theory.network import draw_network, forward_backward, ntk_contributions
from notes.regen import figures_dir
from theory.paths import (expected_path_traces, masked_network, path_trace_variance,
                          path_traces, synflow_prune)

FIG = Path(__file__).resolve().parent / "figures" / "path_kernel_random_vs_synflow.png"
SEEDS = (0, 1)            # every finding at two seeds
LAW_DRAWS = 2000
LAW_ALPHA = 1e-3          # family-wise over the law table (Bonferroni over its rows)
# random vs SynFlow: depth 3, d0 = 16, width 128, 12 inputs, 3 nets per seed
CMP = dict(depth=3, d0=16, width=128, n=12, nets=3, densities=(0.5, 0.1, 0.01), iterations=100)


def _s(e: sympy.Expr) -> str:
    return "`" + sympy.sstr(e) + "`"


# ----------------------------------------------------------------------------- laws
def _laws() -> str:
    p, q, d, d0 = sympy.symbols("p q d d0", positive=True)

    def show(e: sympy.Expr) -> str:  # in the keep probability q = 1 − p
        return _s(sympy.factor(sympy.simplify(e.subs(p, 1 - q))))

    rows = ["| model | rescale | E[R₂] | E[tr Π] | E[tr Π]/E[R₂] |", "|---|---|---|---|---|"]
    L = 2
    for model in ("mask", "variance"):
        for resc in (False, True):
            a = theory.Architecture(depth=L, activation="relu", p=p, rescale=resc, model=model)
            e = expected_path_traces(a, d0, d)
            rows.append(f"| {model} | {resc} | {show(e['R2'])} | {show(e['trace'])} | "
                        f"{show(e['trace'] / e['R2'])} |")
    a1 = theory.Architecture(depth=1, activation="relu", p=p)
    v = path_trace_variance(a1, d0, d)
    m = expected_path_traces(a1, d0, d)["R2"]
    rows.append("")
    rows.append(f"(`q = 1 − p`.) Depth 1, both matrices masked with one `p`, unrescaled: "
                f"Var R₂ = {show(v)}, so the relative variance is {show(v / m ** 2)}.")
    return "\n".join(rows)


_LAW_CONFIGS = [
    dict(depth=1, p=[0.35, 0.6], pruned="all", model="mask", rescale=False, d0=8, width=32),
    dict(depth=2, p=[0.0, 0.45, 0.3], pruned=[1, 2], model="mask", rescale=True, d0=16, width=16),
    dict(depth=3, p=0.4, pruned="all", model="variance", rescale=False, d0=8, width=16),
]


def _law_table() -> str:
    m = len(_LAW_CONFIGS) * 2 * len(SEEDS)
    crit = tstats.critical_value(LAW_ALPHA, m, df=LAW_DRAWS - 1)
    rows = [f"| configuration | seed | quantity | exact law | Monte Carlo mean ± se | t |",
            "|---|---|---|---|---|---|"]
    worst = 0.0
    for c in _LAW_CONFIGS:
        arch = theory.Architecture(depth=c["depth"], activation="relu", p=c["p"],
                                   pruned=c["pruned"], rescale=c["rescale"], model=c["model"])
        law = expected_path_traces(arch, c["d0"], c["width"])
        desc = (f"L={c['depth']} p={c['p']} pruned={c['pruned']} {c['model']} "
                f"rescale={c['rescale']} d0={c['d0']} d={c['width']}")
        for seed in SEEDS:
            vals = np.array([[t.R2, t.trace] for t in
                             (path_traces(draw_network(arch, c["d0"], c["width"], ch))
                              for ch in np.random.SeedSequence([7, seed]).spawn(LAW_DRAWS))])
            for k, (name, key) in enumerate((("R₂", "R2"), ("tr Π", "trace"))):
                pred = float(law[key])
                r = tstats.mean_test(vals[:, k], pred, alpha=LAW_ALPHA, m=m, power=None)
                worst = max(worst, abs(r.statistic))
                rows.append(f"| {desc} | {seed} | {name} | {pred:.6g} | {r.estimate:.6g} ± "
                            f"{r.stderr:.2g} | {r.statistic:+.2f} |")
    rows.append("")
    rows.append(f"{LAW_DRAWS} independent networks (weights and masks) per row; Student-t with "
                f"family-wise α = {LAW_ALPHA:g} over the {m} rows: critical |t| = {crit:.2f}; "
                f"largest |t| = {worst:.2f} → {'no row rejects' if worst <= crit else 'REJECTED'}.")
    return "\n".join(rows)


# ----------------------------------------------------------------------------- random vs SynFlow
def _dense_limit(X: np.ndarray) -> np.ndarray:
    return theory.limit_ntk(theory.Architecture(depth=CMP["depth"], activation="relu", p=0.0,
                                                pruned="none"), X)


def _metrics(net, X: np.ndarray, K_inf: np.ndarray) -> dict:
    K = ntk_contributions(net, forward_backward(net, X)).sum(axis=0)
    ev = np.linalg.eigvalsh(K)
    nrm = np.linalg.norm(K_inf)
    # scale-free distance: best scalar multiple c·K (c = <K, K_inf>/|K|²); a disconnected
    # net (Θ = 0) is at distance 1
    kk = float(np.sum(K * K))
    c = float(np.sum(K * K_inf)) / kk if kk > 0 else 0.0
    return {
        "trPi": path_traces(net).trace,  # 0 when the masks cut every path
        "trK": float(np.trace(K)),
        "cond": float(ev[-1] / ev[0]) if ev[0] > 0 else math.inf,
        "dist": float(np.linalg.norm(K - K_inf) / nrm),
        "shape": float(np.linalg.norm(c * K - K_inf) / nrm),
    }


@functools.lru_cache(maxsize=1)
def comparison() -> dict:
    """{(method, density): {metric: (values over seeds × nets)}} plus the dense reference."""
    L, d0, w = CMP["depth"], CMP["d0"], CMP["width"]
    rng = np.random.default_rng(123)
    X = rng.standard_normal((CMP["n"], d0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    K_inf = _dense_limit(X)
    dense_arch = theory.Architecture(depth=L, activation="relu", p=0.0, pruned="none")
    out: dict = {}
    for seed in SEEDS:
        for k, ss in enumerate(np.random.SeedSequence([11, seed]).spawn(CMP["nets"])):
            s_dense, s_mask = ss.spawn(2)
            net = draw_network(dense_arch, d0, w, s_dense)
            rec = out.setdefault(("dense", 1.0), {})
            for key, v in _metrics(net, X, K_inf).items():
                rec.setdefault(key, []).append((seed, v))
            for dens in CMP["densities"]:
                variants = {}
                for resc in (False, True):
                    arch = theory.Architecture(depth=L, activation="relu", p=1 - dens,
                                               rescale=resc)
                    # same weights as the dense net, fresh random masks
                    rnd = draw_network(arch, d0, w, s_mask)
                    Ms = [M for M in rnd.masks]
                    variants[f"random{' rescaled' if resc else ''}"] = masked_network(
                        net, Ms, rescale=resc)
                # (rescaling SynFlow's layers by their densities would multiply a ReLU NTK
                # by one scalar, Π_h 1/density_h: the scale-free column would not change)
                variants["SynFlow"] = synflow_prune(net, dens, iterations=CMP["iterations"])
                for name, nt in variants.items():
                    rec = out.setdefault((name, dens), {})
                    for key, v in _metrics(nt, X, K_inf).items():
                        rec.setdefault(key, []).append((seed, v))
    return out


def _fmt_stat(vals: list, seed: int | None = None, log: bool = False) -> str:
    v = np.array([x for s, x in vals if seed is None or s == seed], dtype=float)
    if np.any(~np.isfinite(v)):
        return f"∞ ({int(np.sum(~np.isfinite(v)))}/{v.size})"
    if log and np.any(v <= 0):
        return f"0 ({int(np.sum(v <= 0))}/{v.size} disconnected)"
    if log:
        lv = np.log10(v)
        return f"10^{lv.mean():.2f}±{lv.std(ddof=1) / math.sqrt(v.size):.2f}"
    return f"{v.mean():.3g} ± {v.std(ddof=1) / math.sqrt(v.size):.2g}"


def _comparison_table() -> str:
    data = comparison()
    rows = ["| method | density | seed | tr Π | tr Θ_d | cond(Θ_d) | ‖Θ_d − Θ∞‖/‖Θ∞‖ | "
            "min_c ‖cΘ_d − Θ∞‖/‖Θ∞‖ |", "|---|---|---|---|---|---|---|---|"]
    for (name, dens), rec in data.items():
        for seed in SEEDS:
            rows.append(f"| {name} | {dens:g} | {seed} | {_fmt_stat(rec['trPi'], seed, log=True)} | "
                        f"{_fmt_stat(rec['trK'], seed)} | {_fmt_stat(rec['cond'], seed, log=True)} | "
                        f"{_fmt_stat(rec['dist'], seed)} | {_fmt_stat(rec['shape'], seed)} |")
    rows.append("")
    rows.append(f"Depth {CMP['depth']}, d0 = {CMP['d0']}, width {CMP['width']}, {CMP['n']} unit "
                f"inputs, {CMP['nets']} networks per seed (mean ± standard error over them; "
                f"log-scale columns give log10). Θ∞ is the dense limit NTK. SynFlow: "
                f"{CMP['iterations']} iterations, global ranking, pruned weights frozen. The "
                f"random masks keep each weight of every matrix with probability = density.")
    return "\n".join(rows)


def _seed_mean(data: dict, name: str, dens: float, seed: int) -> float:
    return float(np.mean([v for sd, v in data[(name, dens)]["shape"] if sd == seed]))


def _verdict() -> str:
    data = comparison()
    floor = np.array([v for _, v in data[("dense", 1.0)]["shape"]])
    lines = [f"- finite-width floor: the unpruned network itself is at scale-free distance "
             f"{floor.mean():.3f} ± {floor.std(ddof=1) / math.sqrt(floor.size):.3f} from Θ∞ "
             f"at width {CMP['width']}"]
    for dens in CMP["densities"]:
        r = np.array([v for _, v in data[("random", dens)]["shape"]])
        s = np.array([v for _, v in data[("SynFlow", dens)]["shape"]])
        diff = s - r
        se = diff.std(ddof=1) / math.sqrt(diff.size)
        lines.append(f"- density {dens:g}: scale-free distance to Θ∞, random {r.mean():.3f} vs "
                     f"SynFlow {s.mean():.3f} (paired difference {diff.mean():+.3f} ± {se:.3f} "
                     f"over {diff.size} networks, {len(SEEDS)} seeds; per seed: " +
                     ", ".join(f"{_seed_mean(data, 'SynFlow', dens, k) - _seed_mean(data, 'random', dens, k):+.3f}"
                               for k in SEEDS) + ")")
    return "\n".join(lines)


def figure(path: Path | None = None) -> Path:
    """Two panels against density: tr Π (log) and the scale-free distance to Θ∞."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path = figures_dir() / FIG.name if path is None else path
    data = comparison()
    dens = list(CMP["densities"])
    styles = {"random": ("o", "-", "0.0"), "random rescaled": ("s", "--", "0.4"),
              "SynFlow": ("^", "-.", "0.2")}
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.4), constrained_layout=True)
    for name, (mk, ls, col) in styles.items():
        for ax, key in zip(axes, ("trPi", "shape")):
            xs, ys, es = [], [], []
            for dd in dens:
                v = np.array([x for _, x in data[(name, dd)][key]], dtype=float)
                if key == "trPi" and np.any(v <= 0):
                    continue  # a disconnected net has tr Π = 0: not on a log axis (noted)
                xs.append(dd)
                ys.append(v.mean())
                es.append(v.std(ddof=1) / math.sqrt(v.size))
            ax.errorbar(xs, ys, yerr=es, marker=mk, ls=ls, color=col, label=name, capsize=3)
    dense = data[("dense", 1.0)]
    axes[0].axhline(np.mean([v for _, v in dense["trPi"]]), color="0.6", lw=0.8,
                    label="dense")
    axes[1].axhline(np.mean([v for _, v in dense["shape"]]), color="0.6", lw=0.8, label="dense")
    dead = [dd for dd in dens if any(x <= 0 for _, x in data[("random", dd)]["trPi"])]
    if dead:
        axes[0].annotate(f"random: nets disconnected\nat density {', '.join(f'{x:g}' for x in dead)}"
                         f" (tr Π = 0)", xy=(0.03, 0.05), xycoords="axes fraction", fontsize=7)
    axes[0].set(xscale="log", yscale="log", xlabel="density (fraction of weights kept)",
                ylabel=r"$\mathrm{tr}\,\Pi$ (path-kernel trace)")
    axes[1].set(xscale="log", xlabel="density (fraction of weights kept)",
                ylabel=r"$\min_c\,\|c\,\Theta_d-\Theta_\infty\|_F\,/\,\|\Theta_\infty\|_F$")
    axes[1].annotate("random and random rescaled coincide here:\nrescaling multiplies a ReLU "
                     "NTK by a scalar", xy=(0.03, 0.9), xycoords="axes fraction", fontsize=7)
    for ax in axes:
        ax.set_xticks(dens, [f"{100 * x:g} %" for x in dens])
        ax.minorticks_off()
        ax.invert_xaxis()
        ax.grid(True, which="both", lw=0.3, color="0.85")
    axes[1].legend(fontsize=8, frameon=False, loc="lower right")
    fig.suptitle(f"Random pruning vs SynFlow, ReLU depth {CMP['depth']}, width {CMP['width']}",
                 fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, metadata={"Software": None})
    plt.close(fig)
    return path


def generate() -> dict[str, str]:
    figure()
    return {"laws": _laws(), "law_table": _law_table(), "comparison": _comparison_table(),
            "verdict": _verdict(),
            "figure": f"![random vs SynFlow](figures/{FIG.name})"}


if __name__ == "__main__":
    print(_comparison_table())
    print()
    print(_verdict())
    print(f"figure: {figure()}")
