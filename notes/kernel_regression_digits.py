"""Generated blocks of notes/kernel_regression_digits.md (about 40 s on an idle 2-core machine; needs scikit-learn,
the optional extra ``.[data]``, for ``sklearn.datasets.load_digits`` — shipped with the
library, no download).

Infinite-width kernel regression (theory.regression) on the 8×8 digits: dense,
pruned-unrescaled, pruned-rescaled and variance-model ReLU kernels, input layer wide or
the mask mixture, at infinite and finite training time.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

import theory
from theory.input_layer import MixtureSampledWarning
from theory.limits import limit_kernels
from theory.regression import fit, predict

from notes.regen import figures_dir

DEPTH = 2
PS = [0.0, 0.5, 0.8, 0.9]
N_TRAIN, N_TEST = 300, 200
SEED = 0
JITTER = 1e-8            # ridge λ·mean(diag), the same for every kernel
FIG = Path(__file__).resolve().parent / "figures" / "kernel_regression_digits.png"


def data():
    from sklearn.datasets import load_digits
    d = load_digits()
    X = d.data / 16.0
    y = d.target
    rng = np.random.default_rng(SEED)
    idx = rng.permutation(len(y))
    tr, te = idx[:N_TRAIN], idx[N_TRAIN:N_TRAIN + N_TEST]
    Y = np.eye(10)[y] - 0.1          # centred one-hot targets
    return X[tr], Y[tr], y[tr], X[te], Y[te], y[te]


def variants(p: float):
    a = theory.Architecture(depth=DEPTH, p=p)
    return {"dense": a.dense(), "pruned": a, "pruned-rescaled": a.with_(rescale=True),
            "variance": a.with_(model="variance")}


def kernels(arch, Xtr, Xte, input_layer):
    info: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MixtureSampledWarning)   # reported via info
        K = limit_kernels(arch, Xtr, input_layer=input_layer, mixture_method="expansion",
                          kernels=("ntk",), info=info).ntk
        Ks = limit_kernels(arch, Xte, X2=Xtr, input_layer=input_layer,
                           mixture_method="expansion", kernels=("ntk",)).ntk
    return K, Ks, info


def evaluate():
    Xtr, Ytr, ytr, Xte, Yte, yte = data()
    Kd, _, _ = kernels(theory.Architecture(depth=DEPTH), Xtr, Xte, "wide")
    lam_max = float(np.linalg.eigvalsh(Kd)[-1])
    t_fin = 20.0 / lam_max            # η = 1: the top modes are trained, small ones not
    rows, preds = [], {}
    for p in PS:
        for name, arch in variants(p).items():
            if (p == 0.0) != (name == "dense"):
                continue
            for il in ("wide", "exact"):
                if il == "exact" and (p == 0.0 or name == "variance"):
                    continue       # no mixture exists there
                K, Ks, info = kernels(arch, Xtr, Xte, il)
                f = fit(K, Ytr, jitter=JITTER, eig=True)
                P_inf = predict(f, Ks)
                P_fin = predict(f, Ks, time=t_fin)
                preds[(p, name, il)] = (P_inf, P_fin, np.mean(np.diag(K)))
                rows.append(dict(p=p, kernel=name, input_layer=il,
                                 acc_inf=float(np.mean(P_inf.argmax(1) == yte)),
                                 mse_inf=float(np.mean((P_inf - Yte) ** 2)),
                                 acc_fin=float(np.mean(P_fin.argmax(1) == yte)),
                                 mse_fin=float(np.mean((P_fin - Yte) ** 2)),
                                 scale=float(np.mean(np.diag(K))), route=info.get("route"),
                                 est=info.get("error_estimate")))
    return rows, preds, t_fin


def figure(rows) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    styles = {("pruned", "wide"): ("C1", "-", "pruned, wide"),
              ("pruned", "exact"): ("C1", "--", "pruned, mixture"),
              ("pruned-rescaled", "wide"): ("C2", "-", "rescaled, wide"),
              ("pruned-rescaled", "exact"): ("C2", "--", "rescaled, mixture"),
              ("variance", "wide"): ("C3", ":", "variance model")}
    dense = next(r for r in rows if r["kernel"] == "dense")
    for ax, key, title in ((axes[0], "mse_inf", "infinite time"), (axes[1], "mse_fin", "finite time t")):
        ax.axhline(dense[key], color="k", lw=1, label="dense")
        for (k, il), (c, ls, lab) in styles.items():
            pts = [(r["p"], r[key]) for r in rows if r["kernel"] == k and r["input_layer"] == il]
            if pts:
                ax.plot(*zip(*pts), color=c, ls=ls, marker="o", ms=3, label=lab)
        ax.set_xlabel("p (fraction pruned)")
        ax.set_title(f"test MSE, {title}")
    axes[0].set_ylabel("test MSE (10 outputs)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    out = figures_dir() / FIG.name
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def generate() -> dict[str, str]:
    rows, preds, t_fin = evaluate()
    figure(rows)
    lines = ["| p | kernel | input layer | acc ∞ | MSE ∞ | acc t | MSE t | mean diag Θ | mixture route (estimate) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        route = "—" if r["input_layer"] == "wide" else f"{r['route']} ({r['est']:.0e})"
        lines.append(f"| {r['p']} | {r['kernel']} | {r['input_layer']} | {r['acc_inf']:.3f} | "
                     f"{r['mse_inf']:.4f} | {r['acc_fin']:.3f} | {r['mse_fin']:.4f} | "
                     f"{r['scale']:.3f} | {route} |")
    # what the scalar factor does: wide pruned = c · dense exactly (ReLU)
    d_inf, d_fin, d_scale = preds[(0.0, "dense", "wide")]
    sc = []
    for p in PS[1:]:
        P_inf, P_fin, s = preds[(p, "pruned", "wide")]
        c = float(theory.scaling_factor(theory.Architecture(depth=DEPTH, p=p)))
        M_inf, M_fin, _ = preds[(p, "pruned", "exact")]
        sc.append(f"| {p} | {c:.4g} | {np.max(np.abs(P_inf - d_inf)):.1e} | "
                  f"{np.max(np.abs(P_fin - d_fin)):.2f} | {np.max(np.abs(M_inf - d_inf)):.1e} |")
    scale = ["| p | factor c = (1−p)^{L+1} | max abs diff ∞, pruned wide vs dense | "
             "… at finite t | max abs diff ∞, pruned mixture vs dense |",
             "|---|---|---|---|---|"] + sc
    return {"setup": f"`load_digits` (1797 images, d0 = 64, pixels/16), {N_TRAIN} training and "
                     f"{N_TEST} test images (seed {SEED}), centred one-hot targets, ReLU, "
                     f"L = {DEPTH}, jitter {JITTER:g}·mean(diag Θ); finite time "
                     f"t = 20/λ_max(Θ_dense) with η = 1 (t = {t_fin:.3g}).",
            "results": "\n".join(lines), "scaling": "\n".join(scale)}
