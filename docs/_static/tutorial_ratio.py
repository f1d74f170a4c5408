"""The pruned/dense NTK ratio against p, from the limit and from finite networks.

Run from the repository root:  python docs/_static/tutorial_ratio.py  (about a minute)
Writes docs/_static/tutorial_ratio.png.
"""
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import sympy

import theory

L = 3                                            # hidden layers, L + 1 = 4 weight matrices
theta = np.pi / 3                                # two unit inputs at 60 degrees


def pair(d0: int) -> np.ndarray:
    X = np.zeros((2, d0))
    X[0, :] = 1 / np.sqrt(d0)                    # delocalised: every coordinate used
    v = np.tile([1.0, -1.0], d0)[:d0] / np.sqrt(d0)
    X[1] = np.cos(theta) * X[0] + np.sin(theta) * v
    return X


def diag_ratio(arch, X, input_layer="exact"):
    """Diagonal entry Θ̃(x, x) of the pruned limit over the dense limit."""
    return (theory.limit_ntk(arch, X, input_layer)[0, 0]
            / theory.limit_ntk(arch.dense(), X)[0, 0])


ps = np.linspace(0, 0.9, 37)
X4, X16 = pair(4), pair(16)
p_sym = sympy.Symbol("p")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
seq = np.random.SeedSequence(0)

# (a) all L + 1 matrices pruned at one p: the derived factor of each model, and finite nets
for kw, label, colour in [(dict(model="mask"), "hard masks", "C0"),
                          (dict(model="variance"), "variance model", "C1"),
                          (dict(rescale=True), "rescaled", "C2")]:
    factor = theory.scaling_factor(theory.Architecture(depth=L, p=p_sym, **kw))
    r = [diag_ratio(theory.Architecture(depth=L, p=p, **kw), X16) for p in ps]
    ax1.plot(ps, r, color=colour, label=f"{label}: limit, derived factor {factor}")
    for p in (0.2, 0.4, 0.6, 0.8):
        arch = theory.Architecture(depth=L, p=p, **kw)
        vals = [theory.empirical_ntk(arch, X16, width=256, seed=s)[0, 0] for s in seq.spawn(40)]
        dense = theory.limit_ntk(arch.dense(), X16)[0, 0]
        ax1.errorbar(p, np.mean(vals) / dense, fmt="o", ms=4, capsize=3, color=colour,
                     yerr=np.std(vals, ddof=1) / np.sqrt(len(vals)) / dense)
ax1.plot([], [], "ok", ms=4, label="finite nets, width 256, 40 draws (mean ± SE)")
ax1.set_yscale("log")
ax1.set_xlabel("pruning probability p")
ax1.set_ylabel("Θ̃(x, x) / Θ(x, x)")
ax1.set_title(f"(a) ReLU, L = {L}, all {L + 1} matrices pruned")
ax1.legend(fontsize=7)

# (b) the input layer: exact mask mixture over the wide formula (rescaled nets)
for X, d0 in [(X4, 4), (X16, 16)]:
    r = [theory.limit_ntk(theory.Architecture(depth=L, p=p, rescale=True), X)[0, 1]
         / theory.limit_ntk(theory.Architecture(depth=L, p=p, rescale=True), X, "wide")[0, 1]
         for p in ps]
    ax2.plot(ps, r, label=f"exact limit / wide limit, d0 = {d0}")
for p in (0.3, 0.5, 0.7, 0.9):
    arch = theory.Architecture(depth=L, p=p, rescale=True)
    vals = [theory.empirical_ntk(arch, X4, width=256, seed=s)[0, 1] for s in seq.spawn(300)]
    wide = theory.limit_ntk(arch, X4, "wide")[0, 1]
    ax2.errorbar(p, np.mean(vals) / wide, yerr=np.std(vals, ddof=1) / np.sqrt(len(vals)) / wide,
                 fmt="o", color="k", ms=4, capsize=3)
ax2.plot([], [], "ok", ms=4, label="finite nets, d0 = 4, width 256, 300 draws")
ax2.axhline(1, color="gray", lw=0.8)
ax2.set_xlabel("pruning probability p")
ax2.set_ylabel("Θ̃(x, x') / wide-formula Θ̃(x, x')")
ax2.set_title("(b) masked input layer (rescaled), off the diagonal")
ax2.legend(fontsize=7)

fig.tight_layout()
out = Path(__file__).with_suffix(".png")
fig.savefig(out, dpi=110)
print(f"wrote {out}")
