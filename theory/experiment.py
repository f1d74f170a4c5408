"""``theory experiment ntk-vs-width``: the paper-style NTK experiment, reproduced.

Yang & Wang (AISTATS 2023, arXiv 2203.14328; docs/references.md) state that the NTK of
a randomly pruned network converges, as the width grows, to the dense network's limit
times an extra scaling factor, that rescaling the kept weights by ``1/sqrt(1−p)``
removes the factor, and that the width needed depends on the sparsity asymptotically
linearly (in ``1/(1−p)``). This experiment measures, with one resumable sweep
(:mod:`theory.sweep`):

(a) ``‖Θ_d − Θ̃_dense‖/‖Θ̃_dense‖`` against width, several ``p``, not rescaled: it must
    level off at the distance of the pruned limit from the dense one (dotted lines,
    computed from the exact limits ``Θ̃``, ``Θ̃_dense``);
(b) the same, rescaled: it must fall like ``d^{-1/2}`` down to the (small) distance that
    the input-layer mixture leaves at finite ``d0`` (docs/math.md#input-layer);
(c) the width-normalised squared error ``d·E‖Θ_d − Θ̃‖²/‖Θ̃‖²`` at the largest widths
    against ``r = 1/(1−p)``: a width needed for a fixed error scales like this
    quantity, so "asymptotically linear in the sparsity" means affine in ``r``. Least
    squares fits of degree 1 and 2 in ``r`` are reported.

Default grid: ReLU, depth 3, every matrix hard-masked, ``p ∈ {0, 1/2, 3/4, 7/8}``
(``r = 1, 2, 4, 8``), widths 64…2048, 4 seeds × 8 draws, four inputs on the unit
sphere of ``R^16``. About 2 CPU-minutes (``--jobs`` spreads it over processes).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import sweep as S

EXPERIMENTS = ("ntk-vs-width",)

NTK_VS_WIDTH: dict[str, Any] = {
    "widths": [64, 128, 256, 512, 1024, 2048], "p": [0.0, 0.5, 0.75, 0.875], "depth": 3,
    "rescale": [False, True], "draws": 8, "seeds": 4, "seed": 2023,
    "inputs": {"n": 4, "d0": 16, "seed": 1},
}
QUICK: dict[str, Any] = {**NTK_VS_WIDTH, "widths": [16, 32, 64], "p": [0.0, 0.5, 0.75],
                         "draws": 3, "seeds": 2}


def _limit_gap(row: dict[str, Any]) -> float:
    """``‖Θ̃ − Θ̃_dense‖/‖Θ̃_dense‖`` of a row's exact limits (the plateau of panel a/b)."""
    lim = np.asarray(json.loads(row["limit_ntk"]))
    dense = np.asarray(json.loads(row["dense_limit_ntk"]))
    return float(np.linalg.norm(lim - dense) / np.linalg.norm(dense))


def analyse(rows: Sequence[dict[str, Any]], *, tail: int = 2) -> dict[str, Any]:
    """Numbers of the three panels: per (rescale, p) the seed-mean distance to the dense
    limit at each width, the plateau ``‖Θ̃ − Θ̃_dense‖/‖Θ̃_dense‖``, the fitted slope of the
    error against its own limit; and, rescaled, ``d·E[rel_err²]`` averaged over the
    ``tail`` largest widths with degree-1 and degree-2 fits in ``r = 1/(1−p)``."""
    dense = S.aggregate(rows, "rel_err_dense")
    rates = {(e["rescale"], e["p"]): e for e in S.width_rates(rows, "rel_err")}
    lines = []
    for (resc, p) in sorted({(a["rescale"], a["p"]) for a in dense}):
        pts = sorted((a for a in dense if a["rescale"] == resc and a["p"] == p),
                     key=lambda a: a["width"])
        row = next(r for r in rows if r["rescale"] == resc and r["p"] == p)
        fit = rates[(resc, p)]["fit"]
        lines.append({"rescale": bool(resc), "p": p, "widths": [a["width"] for a in pts],
                      "dist_dense": [a["mean"] for a in pts],
                      "dist_dense_se": [a["stderr"] for a in pts],
                      "plateau": _limit_gap(row),
                      "slope": fit["slope"] if fit else None,
                      "slope_ci": [fit["ci_low"], fit["ci_high"]] if fit else None})
    # (c): d·E[e²] with E[e²] = mean² + sd² (the draws' second moment), rescaled rows
    wmax = sorted({r["width"] for r in rows})[-tail:]
    law = []
    for p in sorted({r["p"] for r in rows if r["rescale"]}):
        vals = [r["width"] * (r["rel_err_mean"] ** 2 + (r["rel_err_sd"] or 0.0) ** 2
                              * (r["draws"] - 1) / r["draws"])
                for r in rows if r["rescale"] and r["p"] == p and r["width"] in wmax]
        law.append({"p": p, "r": 1 / (1 - p), "d_msq": float(np.mean(vals)),
                    "se": float(np.std(vals, ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 else None})
    fits = {}
    if len(law) >= 3:
        r = np.array([x["r"] for x in law])
        y = np.array([x["d_msq"] for x in law])
        w = np.array([1 / x["se"] ** 2 if x["se"] else 1.0 for x in law])
        for deg in (1, 2):
            if len(law) > deg:
                c = np.polyfit(r, y, deg, w=np.sqrt(w))
                res = y - np.polyval(c, r)
                chi2 = float(np.sum(w * res * res))
                fits[deg] = {"coefficients_high_first": c.tolist(), "chi2": chi2,
                             "dof": len(law) - deg - 1}
    return {"lines": lines, "law_widths": wmax, "law": law, "law_fits": fits}


def figure(rows: Sequence[dict[str, Any]]):
    """The three-panel figure (:class:`theory.plots.Figure`) and :func:`analyse`'s numbers."""
    from .plots import Figure, _mpl, _plain_log_ticks, _style
    plt = _mpl()
    res = analyse(rows)
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.4))
    ps = sorted({ln["p"] for ln in res["lines"]})
    for k, resc in enumerate((False, True)):
        ax = axes[k]
        for ln in (x for x in res["lines"] if x["rescale"] == resc):
            i = ps.index(ln["p"])
            st = _style(i, len(ps))
            ax.errorbar(ln["widths"], ln["dist_dense"],
                        yerr=[s or 0.0 for s in ln["dist_dense_se"]], color=st["color"],
                        marker=st["marker"], linestyle=st["linestyle"], capsize=2,
                        label=f"p = {ln['p']:g}")
            if ln["plateau"] > 1e-12:
                ax.axhline(ln["plateau"], color=st["color"], linestyle=":", linewidth=1.0)
        w = np.array(sorted({x for ln in res["lines"] for x in ln["widths"]}), dtype=float)
        ref = [ln for ln in res["lines"] if ln["rescale"] == resc and ln["p"] == 0.0]
        if ref:
            y0 = ref[0]["dist_dense"][0]
            ax.plot(w, y0 * (w / w[0]) ** -0.5, color="0.3", linestyle=(0, (1, 2)),
                    linewidth=1.0, label=r"$\propto d^{-1/2}$")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
        ax.set_xlabel("hidden-layer width $d$ (neurons)")
        ax.set_ylabel(r"$\|\Theta_d-\tilde\Theta_{\rm dense}\|_F/\|\tilde\Theta_{\rm dense}\|_F$")
        ax.set_title(("(b) rescaled by $1/\\sqrt{1-p}$" if resc else "(a) not rescaled")
                     + "; dotted: exact-limit gap", fontsize=8)
        ax.legend(frameon=False, fontsize=7)
    ax = axes[2]
    law = res["law"]
    r = np.array([x["r"] for x in law])
    ax.errorbar(r, [x["d_msq"] for x in law], yerr=[x["se"] or 0 for x in law], marker="o",
                color="black", linestyle="none", capsize=2,
                label=f"Monte Carlo, d ∈ {{{', '.join(map(str, res['law_widths']))}}}")
    rr = np.linspace(1, r.max(), 100)
    for deg, ls in ((1, "--"), (2, "-.")):
        f = res["law_fits"].get(deg)
        if f:
            ax.plot(rr, np.polyval(f["coefficients_high_first"], rr), color="0.4", linestyle=ls,
                    label=f"degree-{deg} fit in r (χ² = {f['chi2']:.1f}, {f['dof']} dof)")
    ax.set_xlabel(r"$r = 1/(1-p)$ (dimensionless)")
    ax.set_ylabel(r"$d\cdot E\|\Theta_d-\tilde\Theta\|_F^2/\|\tilde\Theta\|_F^2$")
    ax.set_title("(c) width-normalised squared error, rescaled", fontsize=8)
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return Figure(fig, "ntk_vs_width", [], "NTK difference against width (paper-style), "
                  "rescaled and not; error bars one standard error over seeds."), res


def run_experiment(name: str, *, quick: bool = False, db: str | None = None,
                   jobs: int | None = None, scheduler: str | None = None,
                   quiet: bool = False) -> tuple[S.SweepReport, dict[str, Any]]:
    """Run (resume) the experiment's sweep; returns the report and the sweep config."""
    if name not in EXPERIMENTS:
        raise S.SweepError(f"unknown experiment {name!r}; available: {list(EXPERIMENTS)}")
    spec = QUICK if quick else NTK_VS_WIDTH
    cfg = S.config_from_dict(spec)
    return S.run_sweep(cfg, db=db, jobs=jobs, scheduler=scheduler, quiet=quiet), spec


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from .sweep_cli import add_run_options
    ap = sub.add_parser("experiment", help="reproduce the paper-style NTK-vs-width figure "
                        "(resumable sweep + figure + JSON numbers)", description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=EXPERIMENTS, help="which experiment")
    ap.add_argument("--out", default="experiment_out",
                    help="directory for the figure (PNG, PDF) and, by default, the database")
    ap.add_argument("--quick", action="store_true",
                    help="a tiny grid (seconds) to try the pipeline; not the real experiment")
    add_run_options(ap)
    ap.set_defaults(run=run)
    return ap


def run(ns: argparse.Namespace) -> int:
    from .plots import save
    from .sweep_cli import fail, print_json
    try:
        if ns.jobs is not None and ns.jobs < 1:
            raise S.SweepError(f"--jobs must be an integer >= 1, got {ns.jobs}")
        out = Path(ns.out)
        out.mkdir(parents=True, exist_ok=True)
        db = ns.db or str(out / f"{ns.name.replace('-', '_')}{'_quick' if ns.quick else ''}.sqlite")
        rep, spec = run_experiment(ns.name, quick=ns.quick, db=db, jobs=ns.jobs,
                                   scheduler=ns.scheduler, quiet=ns.quiet)
        if not ns.quiet:
            print(f"theory experiment: {rep.total} tasks: {rep.skipped} skipped (already in "
                  f"{rep.db}), {rep.computed} computed in {rep.seconds:.1f} s", file=sys.stderr)
        if ns.export:
            S.export(rep.db, ns.export)
        fig, res = figure(rep.rows)
        paths = save(fig, out)
        import matplotlib.pyplot as plt
        plt.close(fig.fig)
        print_json({"experiment": ns.name, "quick": ns.quick, "db": rep.db,
                    "figure": [str(p) for p in paths], "grid": spec, **res})
    except KeyboardInterrupt:
        print("theory experiment: interrupted; finished tasks are stored, run the same "
              "command again to resume", file=sys.stderr)
        return 130
    except (S.SweepError, ValueError, TypeError, OSError) as exc:
        return fail("experiment", str(exc))
    return 0
