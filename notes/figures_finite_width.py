"""Generated blocks of notes/figures_finite_width.md: the four figures of theory.plots,
each from a small fixed-seed sweep (theory.sweep, in memory), written to notes/figures/."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt  # noqa: E402

from theory import plots as P  # noqa: E402
from theory import sweep as S  # noqa: E402

from notes.regen import figures_dir  # noqa: E402


INPUTS = {"n": 3, "d0": 8, "seed": 0}
ERROR_SWEEP = {"widths": [32, 64, 128, 256, 512], "p": [0.0, 0.5, 0.8], "depth": 3,
               "draws": 12, "seeds": 4, "seed": 1, "inputs": INPUTS}
RATIO_SWEEP = {"widths": [256], "p": [0.0, 0.2, 0.4, 0.6, 0.8], "depth": 2,
               "model": ["mask", "variance"], "rescale": [False, True], "draws": 4,
               "seeds": 6, "seed": 2, "inputs": INPUTS}
VARIANCE_SWEEP = {"widths": [64], "p": [0.0, 0.3, 0.5, 0.7, 0.8, 0.9], "depth": 1,
                  "rescale": True, "pruned": ["all", "all_but_input"], "draws": 400,
                  "seeds": 8, "seed": 3, "inputs": {"n": 2, "d0": 4, "seed": 4}}
MIXTURE = {"d0s": (2, 4, 8, 12), "p": 0.5, "depth": 3, "rescale": False, "n_angles": 49}


def _g(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    return f"{x:.{digits}g}"


def _rows(spec: dict) -> list[dict]:
    return S.run_sweep(S.config_from_dict(spec), db=None, jobs=1, quiet=True).rows


def _image(fig: P.Figure, alt: str) -> str:
    P.save(fig, figures_dir(), formats=("png",))
    plt.close(fig.fig)
    return f"![{alt}](figures/{fig.name}.png)\n\n*{fig.caption}*"


def _error() -> str:
    f = P.error_vs_width(_rows(ERROR_SWEEP))
    lines = [_image(f, "relative NTK error against width"), "",
             "| line | width | mean relative error | se (seeds) | fitted slope [95 % t-interval] |",
             "|---|---|---|---|---|"]
    for r in f.table:
        ci = f"{r['slope']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]" if r["slope"] is not None else "–"
        lines.append(f"| {r['label']} | {r['width']} | {_g(r['mean'])} | {_g(r['stderr'], 2)} | {ci} |")
    fits = {r["label"]: r["ci"] for r in f.table if r["ci"] is not None}
    inside = sum(lo <= -0.5 <= hi for lo, hi in fits.values())
    lines += ["", f"Slope intervals that contain −1/2: {inside} of {len(fits)}."]
    return "\n".join(lines)


def _ratio() -> str:
    f = P.ratio_vs_p(_rows(RATIO_SWEEP))
    lines = [_image(f, "pruned/dense NTK ratio against p"), "",
             "| configuration | p | measured ratio | se (seeds) | derived factor | value | (measured − derived)/se | exact-limit ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for r in f.table:
        lines.append(f"| {r['label']} | {r['p']:g} | {_g(r['mean'], 4)} | {_g(r['stderr'], 2)} | "
                     f"`{r['factor']}` | {_g(r['derived'], 4)} | "
                     f"{'–' if r['z'] is None else format(r['z'], '+.1f')} | {_g(r['limit'], 4)} |")
    return "\n".join(lines)


def _variance() -> str:
    f = P.variance_vs_p(_rows(VARIANCE_SWEEP))
    lines = [_image(f, "d times Var of the NTK against p/(1-p)"), "",
             "| entry | configuration | p | p/(1−p) | d·Var (MC) | se (seeds) | exact V | wide-input V |",
             "|---|---|---|---|---|---|---|---|"]
    for r in f.table:
        lines.append(f"| {r['entry']} | {r['label']} | {r['p']:g} | {r['p_over_q']:.3g} | "
                     f"{_g(r['d_var'], 4)} | {_g(r['stderr'], 2)} | {_g(r['exact'], 4)} | "
                     f"{_g(r['wide'], 4)} |")
    return "\n".join(lines)


def _variance_tail() -> str:
    """The largest-p point of figure 3 against a long run and the kurtosis-based error."""
    import math

    import numpy as np

    import theory
    from theory.variance import neuron_moments
    spec = {**VARIANCE_SWEEP, "p": 0.9, "pruned": "all", "widths": 64}
    cfg = S.config_from_dict(spec)
    X = np.asarray(cfg.X)
    arch = theory.Architecture(depth=1, p=0.9, rescale=True)
    n_long = 40_000
    y = theory.empirical_ntk(arch, X, 64, np.random.SeedSequence([99, 64]), draws=n_long)[:, 0, 0] * math.sqrt(64)  # d·Var Θ = Var(sqrt(d)·Θ)
    d = y - y.mean()
    kurt = float(np.mean(d ** 4) / np.mean(d ** 2) ** 2)
    exact = float(neuron_moments(arch, X).variance[0, 0])
    rows = S.run_sweep(cfg, db=None, jobs=1, quiet=True).rows
    n_fig = sum(r["draws"] for r in rows)
    fig_v = float(np.mean([r["width"] * __import__("json").loads(r["var_ntk"])[0][0] for r in rows]))
    se = exact * math.sqrt((kurt - 1) / n_fig)
    return (f"At p = 0.9 (input layer masked, diagonal entry): exact V = {exact:.4g}; "
            f"{n_long} further draws give d·Var = {float(y.var(ddof=1)):.4g} with kurtosis "
            f"κ = {kurt:.3g}. The figure's point pools {n_fig} draws: {fig_v:.4g}, i.e. "
            f"{(fig_v - exact) / se:+.1f} standard errors V·sqrt((κ−1)/N) = {se:.3g} from V.")


def _mixture() -> str:
    f = P.mixture_vs_angle(**MIXTURE)
    lines = [_image(f, "input-layer mixture against the scaled dense kernel"), "",
             "| d0 | θ = 0 | π/4 | π/2 | 3π/4 | π | max abs gap |", "|---|---|---|---|---|---|---|"]
    n = MIXTURE["n_angles"]
    for d0 in MIXTURE["d0s"]:
        rs = [r for r in f.table if r["d0"] == d0]
        picks = [rs[round(k * (n - 1) / 4)]["gap"] for k in range(5)]
        worst = max(abs(r["gap"]) for r in rs)
        # a gap that rounds to 0.00 % is printed unsigned: its sign is rounding noise
        lines.append(f"| {d0} | " + " | ".join(
            "0.00 %" if abs(100 * g) < 0.005 else f"{100 * g:+.2f} %" for g in picks)
                     + f" | {100 * worst:.2f} % |")
    return "\n".join(lines)


def generate() -> dict[str, str]:
    return {"error_vs_width": _error(), "ratio_vs_p": _ratio(),
            "variance_vs_p": _variance(), "variance_tail": _variance_tail(),
            "mixture_vs_angle": _mixture()}


if __name__ == "__main__":
    for k, v in generate().items():
        print(f"--- {k}\n{v}\n")
