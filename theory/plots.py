"""Publication figures from sweep results (matplotlib, Agg backend, PNG and PDF).

One function per figure; each returns a :class:`Figure` holding the matplotlib figure and
the plotted numbers (``table``), so that notes can print exactly what is drawn:

1. :func:`error_vs_width` — relative NTK error ``‖Θ_d − Θ̃‖/‖Θ̃‖`` against width,
   log–log, one line per configuration, with the fitted slope (Student-t interval,
   :func:`theory.sweep.width_rates`) and the predicted ``d^{-1/2}`` (docs/math.md#finite-width);
2. :func:`ratio_vs_p` — the pruned/dense ratio ``⟨Θ_d, Θ̃_dense⟩/‖Θ̃_dense‖²`` against
   ``p``, with the factor derived by :func:`theory.scaling_factor` (docs/math.md#pruning);
3. :func:`variance_vs_p` — ``d·Var Θ_d`` of a one-hidden-layer network against
   ``p/(1−p)``, with the exact ``V`` of :func:`theory.variance.neuron_moments` and its
   wide-input form (docs/math.md#finite-width, docs/math.md#input-layer);
4. :func:`mixture_vs_angle` — the exact input-layer mixture against the scaled dense
   kernel along a great circle, for several ``d0`` (docs/math.md#input-layer).

Figures are readable in greyscale: every line has its own marker and line style, and the
colours (viridis) decrease monotonically in lightness. Error bars are one standard error
over seeds (:func:`theory.sweep.aggregate`).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import sweep as S

__all__ = ["Figure", "error_vs_width", "ratio_vs_p", "variance_vs_p", "mixture_vs_angle",
           "save", "KINDS", "plot_kind"]

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
KINDS = ("error-vs-width", "ratio-vs-p", "variance-vs-p", "mixture-vs-angle")


@dataclass
class Figure:
    """A drawn figure and the numbers it shows (one dict per plotted point/curve)."""
    fig: Any
    name: str
    table: list[dict[str, Any]] = field(default_factory=list)
    caption: str = ""


def _mpl():
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - matplotlib is a core dependency
        raise S.SweepError("figures need matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "legend.fontsize": 7.5,
                         "axes.labelsize": 9, "lines.linewidth": 1.3, "lines.markersize": 5,
                         "savefig.bbox": "tight", "figure.dpi": 100,
                         "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.5})
    return plt


def _style(i: int, n: int) -> dict[str, Any]:
    import matplotlib
    c = matplotlib.colormaps["viridis"](0.85 * i / max(n - 1, 1))
    return {"color": c, "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def save(fig: Figure, out_dir: str | Path, formats: Sequence[str] = ("png", "pdf"),
         dpi: int = 150) -> list[Path]:
    """Write ``out_dir/NAME.{png,pdf}`` without time stamps (same numbers → same file)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        meta = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None,
                                                   "Creator": None}}.get(fmt, {})
        p = out / f"{fig.name}.{fmt}"
        fig.fig.savefig(p, format=fmt, dpi=dpi, metadata=meta)
        paths.append(p)
    return paths


# ----------------------------------------------------------------------------- grouping
_LABEL_FIELDS = (("p_list", "p"), ("depth", "L"), ("rescale", "rescaled"), ("model", "model"),
                 ("activation", "σ"), ("pruned", "pruned"), ("input_layer", "input layer"),
                 ("draws", "draws"))


def _fmt_value(k: str, v: Any) -> str:
    if k in ("p_list", "pruned"):
        v = json.loads(v)
        if isinstance(v, list):
            return ",".join(str(x) for x in v)
        return f"{v:g}" if isinstance(v, float) else str(v)
    if k == "rescale":
        return "yes" if v else "no"
    return str(v)


def _labels(groups: Sequence[dict[str, Any]], skip: Sequence[str] = ()) -> list[str]:
    """A short label per group naming only the fields that differ between groups."""
    varying = [(k, name) for k, name in _LABEL_FIELDS
               if k not in skip and len({g[k] for g in groups}) > 1]
    return [", ".join(f"{name} = {_fmt_value(k, g[k])}" for k, name in varying) or "all"
            for g in groups]


def _group(agg: Sequence[dict[str, Any]], fields: Sequence[str]) -> list[list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for a in agg:
        groups.setdefault(tuple(a[k] for k in fields), []).append(a)
    return list(groups.values())


def _plain_log_ticks(axis: Any) -> None:
    """Decimal tick labels (0.2, 0.3, …) on a log axis instead of ``2×10⁻¹``."""
    from matplotlib.ticker import FuncFormatter, LogLocator
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    lo, hi = axis.get_view_interval()
    wide = lo > 0 and hi / lo > 300  # more than 2.5 decades: label powers of ten only
    axis.set_major_locator(LogLocator(base=10, subs=(1.0,) if wide else (1.0, 2.0, 3.0, 5.0)))
    axis.set_major_formatter(fmt)
    axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def _need(rows: Sequence[dict[str, Any]], what: str) -> None:
    if not rows:
        raise S.SweepError(f"no sweep rows for the {what} figure (check --from and --select)")


# ----------------------------------------------------------------------------- figure 1
def error_vs_width(rows: Sequence[dict[str, Any]], *, metric: str = "rel_err",
                   alpha: float = 0.05) -> Figure:
    """Figure 1: ``metric`` (default ``rel_err`` = ``‖Θ_d − Θ̃‖_F/‖Θ̃‖_F``, mean over the
    draws of a task) against width on log–log axes; per configuration the seed mean ± one
    standard error, the fitted power law (slope and ``1 − alpha`` t-interval) and a
    dotted ``d^{-1/2}`` reference through the fit at the geometric-mean width."""
    _need(rows, "error-vs-width")
    plt = _mpl()
    rates = [r for r in S.width_rates(rows, metric, alpha=alpha)]
    agg = S.aggregate(rows, metric)
    fields = S._CONFIG_FIELDS
    groups = _group(agg, fields)
    labels = _labels([g[0] for g in groups])
    fig, ax = plt.subplots(figsize=(4.6, 3.5))
    table = []
    for i, (g, lab) in enumerate(zip(groups, labels)):
        g = sorted((a for a in g if a["mean"] is not None), key=lambda a: a["width"])
        st = _style(i, len(groups))
        w = np.array([a["width"] for a in g], dtype=float)
        y = np.array([a["mean"] for a in g])
        se = np.array([a["stderr"] or 0.0 for a in g])
        rate = next(r for r in rates if all(r[k] == g[0][k] for k in fields))
        fit = rate["fit"]
        if fit:
            lab = (f"{lab}: slope {fit['slope']:.2f} "
                   f"[{fit['ci_low']:.2f}, {fit['ci_high']:.2f}]")
        ax.errorbar(w, y, yerr=se, color=st["color"], marker=st["marker"], linestyle="none",
                    capsize=2, label=lab, zorder=3)
        if fit:
            ww = np.geomspace(w.min(), w.max(), 50)
            ax.plot(ww, np.exp(fit["intercept"]) * ww ** fit["slope"], color=st["color"],
                    linestyle=st["linestyle"], linewidth=1.0)
            wm = math.exp(np.mean(np.log(w)))
            y0 = math.exp(fit["intercept"]) * wm ** fit["slope"]
            ax.plot(ww, y0 * (ww / wm) ** -0.5, color="0.35", linestyle=":", linewidth=0.9,
                    label="predicted slope −1/2" if i == 0 else None)
        for a in g:
            table.append({"label": _labels([g[0] for g in groups])[i], "width": a["width"],
                          "mean": a["mean"], "stderr": a["stderr"], "seeds": a["seeds"],
                          "slope": fit["slope"] if fit else None,
                          "ci": (fit["ci_low"], fit["ci_high"]) if fit else None})
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    names = {"rel_err": r"relative NTK error $\|\Theta_d-\tilde\Theta\|_F/\|\tilde\Theta\|_F$",
             "rel_err_dense": r"$\|\Theta_d-\tilde\Theta_{\rm dense}\|_F/\|\tilde\Theta_{\rm dense}\|_F$"}
    ax.set_xlabel("hidden-layer width $d$ (neurons)")
    ax.set_ylabel(names.get(metric, metric.replace("_", " ")) + " (dimensionless)")
    ax.legend(loc="best", frameon=False)
    fig.tight_layout()
    return Figure(fig, "error_vs_width", table,
                  f"Mean {metric} over draws; error bars one standard error over seeds; "
                  f"lines are least-squares fits in log–log with {1 - alpha:.0%} t-intervals "
                  "for the slope; dotted: slope −1/2.")


# ----------------------------------------------------------------------------- figure 2
@lru_cache(maxsize=64)
def _factor_fn(depth: int, activation: str, rescale: bool, pruned: Any, model: str):
    """The derived ``Θ̃/Θ_dense`` as a numpy function of a common ``p`` (or ``None``)."""
    import sympy
    from .architecture import Architecture
    from .scaling import scaling_factor
    p = sympy.Symbol("p", nonnegative=True)
    arch = Architecture(depth=depth, activation=activation, p=p, rescale=rescale,
                        pruned=pruned, model=model)
    f = scaling_factor(arch)
    if f is None:
        return None, None, None
    return sympy.lambdify(p, f, "numpy"), sympy.sstr(f), sympy.latex(f)


def ratio_vs_p(rows: Sequence[dict[str, Any]], *, width: int | None = None) -> Figure:
    """Figure 2: ``⟨Θ_d, Θ̃_dense⟩/‖Θ̃_dense‖²`` (seed mean ± se) at one width (default:
    the largest in ``rows``) against ``p``, one marker style per (model, rescale, …), with
    the scaling factor that :func:`theory.scaling_factor` derives symbolically (e.g.
    ``(1−p)^(L+1)`` for hard masks) drawn as a line of the same style."""
    _need(rows, "ratio-vs-p")
    rows = [r for r in rows if r["p"] is not None]
    width = width or max(r["width"] for r in rows)
    rows = [r for r in rows if r["width"] == width]
    _need(rows, "ratio-vs-p (at that width)")
    plt = _mpl()
    agg = S.aggregate(rows, "ratio_dense")
    fields = tuple(k for k in S._CONFIG_FIELDS if k != "p_list")
    groups = _group(agg, fields)
    labels = _labels([g[0] for g in groups], skip=("p_list",))
    fig, ax = plt.subplots(figsize=(4.6, 3.5))
    table = []
    pp = np.linspace(0, 0.9, 200)
    for i, (g, lab) in enumerate(zip(groups, labels)):
        g = sorted(g, key=lambda a: a["p"])
        st = _style(i, len(groups))
        fn, expr, tex = _factor_fn(g[0]["depth"], g[0]["activation"], bool(g[0]["rescale"]),
                                   _pruned(g[0]["pruned"]), g[0]["model"])
        lab_f = f"{lab}: derived ${tex}$" if fn else f"{lab}: no scalar factor"
        dx = 0.008 * (i - (len(groups) - 1) / 2)  # side by side, so error bars stay apart
        ax.errorbar([a["p"] + dx for a in g], [a["mean"] for a in g],
                    yerr=[a["stderr"] or 0.0 for a in g], color=st["color"],
                    marker=st["marker"], linestyle="none", capsize=2, zorder=3,
                    markerfacecolor="white" if i % 2 else st["color"])
        if fn:
            ax.plot(pp, np.broadcast_to(fn(pp), pp.shape), color=st["color"],
                    linestyle=st["linestyle"], marker=st["marker"], markevery=[0],
                    label=lab_f, markerfacecolor="white" if i % 2 else st["color"])
        for a in g:
            pred = float(fn(a["p"])) if fn else None
            lim = [r["limit_ratio_dense"] for r in rows
                   if all(r[k] == a[k] for k in fields) and r["p"] == a["p"]][0]
            table.append({"label": lab, "p": a["p"], "mean": a["mean"], "stderr": a["stderr"],
                          "derived": pred, "factor": expr, "limit": lim,
                          "z": ((a["mean"] - pred) / a["stderr"]) if pred is not None and a["stderr"] else None})
    ax.set_xlabel("pruning probability $p$ (fraction of weights removed)")
    ax.set_ylabel(r"$\langle\Theta_d,\tilde\Theta_{\rm dense}\rangle/\|\tilde\Theta_{\rm dense}\|^2$"
                  " (dimensionless)")
    ax.set_xlim(-0.03, 0.93)
    ax.set_yscale("log")
    ax.autoscale_view()
    _plain_log_ticks(ax.yaxis)
    ax.legend(loc="lower left", frameon=False)
    ax.set_title(f"width d = {width}")
    fig.tight_layout()
    return Figure(fig, "ratio_vs_p", table,
                  f"Markers: Monte Carlo at width {width} (seed mean ± se; open and filled "
                  "markers alternate between configurations); lines: the factor derived "
                  "symbolically by theory.scaling_factor (wide-input recursion).")


def _pruned(v: str) -> Any:
    x = json.loads(v)
    return tuple(x) if isinstance(x, list) else x


# ----------------------------------------------------------------------------- figure 3
def variance_vs_p(rows: Sequence[dict[str, Any]], *, entries: Sequence[tuple[int, int]] = ((0, 0), (0, 1)),
                  n_curve: int = 60) -> Figure:
    """Figure 3: ``d·Var Θ_d(x_i, x_j)`` (sample variance over the draws of a task, times
    the width; seed mean ± se) of one-hidden-layer networks against ``p/(1−p)``, one panel
    per entry, one style per configuration (e.g. masked vs unmasked input layer); lines:
    the exact ``V`` (:func:`theory.variance.neuron_moments`, exact in ``d0``) and, for a
    masked input layer, its wide-input form (dashed grey, no ``1/(1−p)²`` term)."""
    from .architecture import Architecture
    from .variance import neuron_moments
    rows = [r for r in rows if r["depth"] == 1 and r["p"] is not None and r["var_ntk"]]
    _need(rows, "variance-vs-p (depth-1 rows with draws >= 2)")
    plt = _mpl()
    fields = tuple(k for k in S._CONFIG_FIELDS if k != "p_list")
    by: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:  # one point per (configuration, p, width): its seeds
        by.setdefault(tuple(r[k] for k in fields + ("p_list", "width")), []).append(r)
    groups: dict[tuple, list[list[dict[str, Any]]]] = {}
    for key, rs in by.items():  # one line per configuration (and width)
        groups.setdefault(key[:len(fields)] + key[-1:], []).append(rs)
    glist = list(groups.values())
    heads = [g[0][0] for g in glist]
    labels = _labels(heads, skip=("p_list",))
    fig, axes = plt.subplots(1, len(entries), figsize=(3.3 * len(entries), 3.3), squeeze=False)
    table = []
    for e, (i, j) in enumerate(entries):
        ax = axes[0, e]
        for k, (g, lab) in enumerate(zip(glist, labels)):
            st = _style(k, len(glist))
            h = g[0][0]
            X = np.asarray(json.loads(h["X"]), dtype=np.float64)
            pts = []
            for rs in g:
                vals = [r["width"] * json.loads(r["var_ntk"])[i][j] for r in rs]
                m = float(np.mean(vals))
                se = float(np.std(vals, ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 else None
                pts.append((rs[0]["p"], m, se, rs[0]["width"], len(rs) * rs[0]["draws"]))
            pts.sort()
            arch_of = lambda p: Architecture(depth=1, activation=h["activation"], p=p,
                                             rescale=bool(h["rescale"]),
                                             pruned=_pruned(h["pruned"]), model=h["model"])
            pmax = max(p for p, *_ in pts)
            pc = np.linspace(0, pmax, n_curve)
            exact = np.array([neuron_moments(arch_of(p), X).variance[i, j] for p in pc])
            masked = h["model"] == "mask" and 0 in arch_of(0.5).pruned_matrices()
            lab = f"{lab} (input layer {'masked' if masked else 'unmasked'})"
            x = [p / (1 - p) for p, *_ in pts]
            ax.errorbar(x, [m for _, m, *_ in pts], yerr=[se or 0 for _, _, se, *_ in pts],
                        color=st["color"], marker=st["marker"], linestyle="none", capsize=2,
                        zorder=3, markerfacecolor="white" if k % 2 else st["color"])
            ax.plot(pc / (1 - pc), exact, color=st["color"], linestyle=st["linestyle"],
                    label=f"{lab}: exact V" if e == 0 else None)
            if masked:
                wide = np.array([neuron_moments(arch_of(p), X, method="wide").variance[i, j]
                                 for p in pc])
                ax.plot(pc / (1 - pc), wide, color="0.6", linestyle="-", linewidth=4, alpha=0.5,
                        zorder=1,
                        label=f"{lab}: wide-input V (no 1/(1−p)² term)" if e == 0 else None)
            for (p, m, se, w, n), xv in zip(pts, x):
                a = arch_of(p)
                vx = float(neuron_moments(a, X).variance[i, j])
                table.append({"entry": (i, j), "label": lab, "p": p, "p_over_q": xv,
                              "d_var": m, "stderr": se, "exact": vx, "width": w, "draws": n,
                              "wide": float(neuron_moments(a, X, method="wide").variance[i, j])
                              if masked else None})
        ax.set_xlabel(r"$p/(1-p)$ (dimensionless)")
        ax.set_ylabel(rf"$d\cdot\mathrm{{Var}}\,\Theta_d(x_{i+1},x_{j+1})$ (dimensionless)")
        ax.set_title("diagonal entry" if i == j else "off-diagonal entry")
    fig.legend(loc="lower center", ncol=1, frameon=False, bbox_to_anchor=(0.5, -0.02 - 0.05 * len(glist)))
    fig.tight_layout()
    return Figure(fig, "variance_vs_p", table,
                  "Markers: d × sample variance over draws (seed mean ± se); lines: exact "
                  "V = d·Var Θ_d of theory.variance (exact in d0); wide grey band: the wide-input "
                  "form of the masked input layer, which lacks its 1/(1−p)² term.")


# ----------------------------------------------------------------------------- figure 4
def mixture_vs_angle(*, d0s: Sequence[int] = (2, 4, 8, 12), p: float = 0.5, depth: int = 3,
                     rescale: bool = False, n_angles: int = 25, seed: int = 0) -> Figure:
    """Figure 4: the exact limit ``Θ̃(x, x')`` (input-layer mask mixture,
    docs/math.md#input-layer) against the wide-input kernel ``(1−p)^K Θ̃_dense`` (for
    ReLU the scaled dense kernel) as functions of the angle ``θ`` between unit inputs;
    ``x' = cos θ·u + sin θ·w`` runs along one great circle through ``x = u``
    (:func:`theory.finite_width.sphere_pair` orientation ``seed``). Left: the kernels;
    right: the relative gap ``(exact − wide)/wide``."""
    from .architecture import Architecture
    from .finite_width import sphere_pair
    from .limits import limit_ntk
    plt = _mpl()
    arch = Architecture(depth=depth, p=p, rescale=rescale)
    th = np.linspace(0, np.pi, n_angles)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.2, 3.2))
    table = []
    wide = None
    for k, d0 in enumerate(d0s):
        st = _style(k, len(d0s) + 1)
        ex, wd = [], []
        for t in th:
            X = sphere_pair(d0, float(np.cos(t)), seed=seed)
            ex.append(float(limit_ntk(arch, X, input_layer="exact")[0, 1]))
            wd.append(float(limit_ntk(arch, X, input_layer="wide")[0, 1]))
        ex, wd = np.array(ex), np.array(wd)
        wide = wd if wide is None else wide
        a1.plot(th, ex, color=st["color"], marker=st["marker"], linestyle=st["linestyle"],
                markevery=4, label=f"exact mixture, $d_0$ = {d0}")
        a2.plot(th, (ex - wd) / wd, color=st["color"], marker=st["marker"],
                linestyle=st["linestyle"], markevery=4, label=f"$d_0$ = {d0}")
        for t, e, w in zip(th, ex, wd):
            table.append({"d0": d0, "theta": float(t), "exact": e, "wide": w,
                          "gap": (e - w) / w})
    a1.plot(th, wide, color="black", linestyle="-", linewidth=2.2, alpha=0.35,
            label=r"$(1-p)^{L+1}\,\tilde\Theta_{\rm dense}$ (wide input)")
    for ax in (a1, a2):
        ax.set_xlabel(r"angle $\theta$ between $x$ and $x'$ (rad)")
        ax.set_xticks([0, np.pi / 4, np.pi / 2, 3 * np.pi / 4, np.pi],
                      ["0", "π/4", "π/2", "3π/4", "π"])
    a1.set_ylabel(r"limit NTK $\tilde\Theta(x,x')$ (unit-norm inputs)")
    a2.set_ylabel("relative gap (exact − wide)/wide")
    a2.axhline(0, color="black", linewidth=0.8)
    a1.legend(frameon=False)
    a2.legend(frameon=False)
    a1.set_title(f"L = {depth}, p = {p}, {'rescaled' if rescale else 'not rescaled'}")
    a2.set_title("input-layer mixture vs scaled dense")
    fig.tight_layout()
    return Figure(fig, "mixture_vs_angle", table,
                  "Exact limit with the input-layer mask mixture (enumerated over all "
                  "2^d0 masks) vs the wide-input kernel, along one great circle.")


# ----------------------------------------------------------------------------- CLI
def plot_kind(kind: str, rows: Sequence[dict[str, Any]] | None, **kw: Any) -> Figure:
    """Dispatch a ``theory plot`` KIND to its figure function."""
    if kind == "mixture-vs-angle":
        return mixture_vs_angle(**kw)
    if rows is None:
        raise S.SweepError(f"plot {kind} needs --from RESULTS.sqlite")
    return {"error-vs-width": error_vs_width, "ratio-vs-p": ratio_vs_p,
            "variance-vs-p": variance_vs_p}[kind](rows, **kw)


_SELECTABLE = {"width": int, "p": float, "depth": int, "rescale": int, "model": str,
               "activation": str, "input_layer": str, "draws": int, "pruned": json.dumps}


def _where(selects: Sequence[str]) -> tuple[str, list[Any]]:
    parts, params = [], []
    for s in selects:
        if "=" not in s:
            raise S.SweepError(f"--select: expected KEY=VALUE, got {s!r}")
        k, v = (t.strip() for t in s.split("=", 1))
        if k not in _SELECTABLE:
            raise S.SweepError(f"--select: unknown key {k!r}; allowed: {sorted(_SELECTABLE)}")
        try:
            val = _SELECTABLE[k](({"true": 1, "false": 0}.get(v.lower(), v)) if k == "rescale" else v)
        except ValueError:
            raise S.SweepError(f"--select: {k} needs a number, got {v!r}") from None
        parts.append(f"{k} = ?")
        params.append(val)
    return " AND ".join(parts), params


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``theory plot``."""
    ap = sub.add_parser("plot", help="figures (PNG and PDF) from a sweep database",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=KINDS + ("all",), help="which figure")
    ap.add_argument("--from", dest="db", metavar="RESULTS.sqlite",
                    help="sweep database (not needed for mixture-vs-angle)")
    ap.add_argument("--out", default=".", help="output directory (created if missing)")
    ap.add_argument("--select", action="append", default=[], metavar="KEY=VALUE",
                    help="only rows with this value (repeatable), e.g. depth=3, rescale=true")
    ap.add_argument("--format", default="png,pdf", help="comma-separated: png, pdf, svg")
    ap.set_defaults(run=run)
    return ap


def run(ns: argparse.Namespace) -> int:
    try:
        formats = [f.strip() for f in ns.format.split(",") if f.strip()]
        if not formats or any(f not in ("png", "pdf", "svg") for f in formats):
            raise S.SweepError(f"--format: choose from png, pdf, svg, got {ns.format!r}")
        kinds = KINDS if ns.kind == "all" else (ns.kind,)
        rows = None
        if ns.db is not None:
            where, params = _where(ns.select)
            rows = S.read_rows(ns.db, where, params)
        elif ns.select:
            raise S.SweepError("--select needs --from")
        written = []
        for kind in kinds:
            if kind != "mixture-vs-angle" and rows is None:
                raise S.SweepError(f"plot {kind} needs --from RESULTS.sqlite")
            fig = plot_kind(kind, rows)
            written += save(fig, ns.out, formats)
            import matplotlib.pyplot as plt
            plt.close(fig.fig)
    except (S.SweepError, ValueError, TypeError, OSError) as exc:
        print(f"theory plot: error: {exc}", file=sys.stderr)
        return 2
    for p in written:
        print(p)
    return 0
