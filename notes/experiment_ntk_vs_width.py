"""Generated blocks of notes/experiment_ntk_vs_width.md: ``theory experiment ntk-vs-width``
(theory.experiment). The sweep's rows live in notes/data/ntk_vs_width.sqlite; generate()
resumes that database, so it recomputes only missing tasks (all of them, about two
CPU-minutes, if the file is deleted — with bit-identical results)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt  # noqa: E402

from theory import experiment as E  # noqa: E402
from theory import plots as P  # noqa: E402

from notes.regen import figures_dir  # noqa: E402

HERE = Path(__file__).resolve().parent
DB = HERE / "data" / "ntk_vs_width.sqlite"


def _g(x, d: int = 3) -> str:
    return "–" if x is None else f"{x:.{d}g}"


def generate() -> dict[str, str]:
    rep, spec = E.run_experiment("ntk-vs-width", db=str(DB), jobs=1, quiet=True)
    fig, res = E.figure(rep.rows)
    P.save(fig, figures_dir(), formats=("png",))
    plt.close(fig.fig)
    grid = (f"Grid: widths {spec['widths']}, p {spec['p']}, depth {spec['depth']}, ReLU, "
            f"every matrix hard-masked, rescale {spec['rescale']}, {spec['seeds']} seeds × "
            f"{spec['draws']} draws per point, {spec['inputs']['n']} inputs on the unit sphere "
            f"of R^{spec['inputs']['d0']} (seed {spec['inputs']['seed']}), master seed "
            f"{spec['seed']}: {rep.total} tasks.")
    figure = f"![NTK difference against width](figures/ntk_vs_width.png)\n\n*{fig.caption}*"
    widths = res["lines"][0]["widths"]
    t = ["| rescaled | p | " + " | ".join(f"d = {w}" for w in widths)
         + " | exact-limit gap (plateau) | slope vs own limit [95 % CI] |",
         "|---|---|" + "---|" * len(widths) + "---|---|"]
    for ln in res["lines"]:
        cells = [f"{_g(m)} ± {_g(s, 1)}" for m, s in zip(ln["dist_dense"], ln["dist_dense_se"])]
        ci = (f"{ln['slope']:.3f} [{ln['slope_ci'][0]:.3f}, {ln['slope_ci'][1]:.3f}]"
              if ln["slope"] is not None else "–")
        t.append(f"| {'yes' if ln['rescale'] else 'no'} | {ln['p']:g} | " + " | ".join(cells)
                 + f" | {_g(ln['plateau'], 4)} | {ci} |")
    cis = [ln["slope_ci"] for ln in res["lines"] if ln["slope_ci"] is not None]
    t += ["", f"Slope intervals that contain −1/2: {sum(lo <= -0.5 <= hi for lo, hi in cis)} "
          f"of {len(cis)}."]
    law = ["| p | r = 1/(1−p) | d·E[rel. error²] | se |", "|---|---|---|---|"]
    for x in res["law"]:
        law.append(f"| {x['p']:g} | {x['r']:g} | {_g(x['d_msq'], 4)} | {_g(x['se'], 2)} |")
    law.append("")
    for deg, f in sorted(res["law_fits"].items()):
        c = ", ".join(f"{v:.4g}" for v in f["coefficients_high_first"])
        law.append(f"- degree {deg} in r (coefficients, highest power first: {c}): "
                   f"χ² = {f['chi2']:.2f} on {f['dof']} dof")
    law.append(f"- widths averaged: {res['law_widths']}")
    return {"grid": grid, "figure": figure, "table": "\n".join(t), "law": "\n".join(law)}


if __name__ == "__main__":
    for k, v in generate().items():
        print(f"--- {k}\n{v}\n")
