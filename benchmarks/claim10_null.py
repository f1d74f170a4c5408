"""Claim 10's two-sample tests on two samples of the SAME sampler (engine vs engine).

    python benchmarks/claim10_null.py [--configs 150] [--out notes/data/calibration/claim10_null.json]

Separates the two possible causes of an excess of small p-values in claim 10 (engine vs
plain reference): a miscalibrated test (Welch t on skewed per-draw features, KS with ties,
dependent comparisons) shows up here too, where both samples come from
``theory.empirical_ntk``; a real difference between the engine and the reference sampler
does not. Random configurations as claim 10 draws them (depth 2–3, ReLU/erf/tanh, both
pruning models, rescaled or not, non-dyadic p, three unit or off-sphere inputs), for two
designs: the earlier one (width 8–16, 6000 + 6000 draws) and the current one (width 32,
10000 + 30000 draws; second moments on 10000 + 10000). Writes, per design and kind of
test, the counts of p below 0.05, 0.01 and 0.001 and the per-draw skewness of the mean
features, for notes/calibration.py.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import theory  # noqa: E402
from checks.test_10_sampler_equivalence import two_sample_pvalues, N_INPUTS  # noqa: E402

DESIGNS = {"earlier: width 8-16, N 6000 vs 6000": ((8, 16), 6000, 6000),
           "current: width 32, N 10000 vs 30000": ((32,), 10000, 30000)}


def random_config(rng: np.random.Generator, widths: tuple) -> tuple:
    depth = int(rng.integers(2, 4))
    act = str(rng.choice(["relu", "erf", "tanh"]))
    model = str(rng.choice(["mask", "variance"]))
    pruned = sorted(set(rng.choice(depth + 1, size=int(rng.integers(1, depth + 2)),
                                   replace=False).tolist()))
    if model == "mask" and not any(h < depth for h in pruned):
        pruned = sorted(set(pruned) | {0})
    ps = [1 - (int(rng.integers(76, 179)) + rng.uniform(0.3, 0.7)) / 256 if h in pruned else 0.0
          for h in range(depth + 1)]
    arch = theory.Architecture(depth=depth, activation=act, p=ps, pruned=pruned,
                               rescale=bool(rng.integers(2)), model=model)
    d0 = int(rng.choice([3, 6]))
    X = rng.standard_normal((N_INPUTS, d0))
    X /= np.linalg.norm(X, axis=1)[:, None]
    if rng.integers(2):
        X *= rng.uniform(0.3, 3.0, size=(N_INPUTS, 1))
    return arch, X, int(rng.choice(widths))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=150)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--designs", default="earlier,current",
                    help="which designs: earlier, current or both (comma-separated)")
    ap.add_argument("--out", default=str(ROOT / "notes" / "data" / "calibration" /
                                         "claim10_null.json"))
    ns = ap.parse_args(argv)
    t0 = time.time()
    res = {}
    chosen = [d.strip() for d in ns.designs.split(",")]
    for di, (name, (widths, na, nb)) in enumerate(DESIGNS.items()):
        if name.split(":")[0] not in chosen:
            continue
        rng = np.random.default_rng([ns.seed, di])
        counts: dict = {}
        skews = []
        for c in range(ns.configs):
            arch, X, width = random_config(rng, widths)
            ss = np.random.SeedSequence([ns.seed, di, c])
            a, b = ss.spawn(2)
            A = np.asarray(theory.empirical_ntk(arch, X, width, a, per_layer=True, draws=na))
            B = np.asarray(theory.empirical_ntk(arch, X, width, b, per_layer=True, draws=nb))
            r = two_sample_pvalues(A, B, int(rng.integers(2 ** 31)))
            iu = np.triu_indices(N_INPUTS)
            F = B[:, :, iu[0], iu[1]].reshape(nb, -1)
            sd = F.std(axis=0)
            ok = sd > 0
            skews.append(float(np.max(np.abs(((F[:, ok] - F[:, ok].mean(0)) ** 3).mean(0)
                                             / sd[ok] ** 3))))
            for kind, p in (("welch mean", r["mean"][3]), ("welch second moment", r["moment"]),
                            ("KS", r["ks"])):
                row = counts.setdefault(kind, {"n": 0, "clusters": [], "0.05": 0, "0.01": 0,
                                               "0.001": 0})
                p = np.asarray(p)
                row["n"] += int(p.size)
                row["clusters"].append([int(p.size), int(np.sum(p < 0.05)),
                                        int(np.sum(p < 0.01)), int(np.sum(p < 0.001))])
                for lev in ("0.05", "0.01", "0.001"):
                    row[lev] += int(np.sum(p < float(lev)))
        res[name] = {"configs": ns.configs, "counts": counts,
                     "max_skewness_median": float(np.median(skews)),
                     "max_skewness_max": float(np.max(skews))}
        print(name, {k: (v["n"], v["0.05"], v["0.01"], v["0.001"]) for k, v in counts.items()},
              f"skewness of the worst mean feature: median {np.median(skews):.1f}, "
              f"max {np.max(skews):.1f}", flush=True)
    res["provenance"] = {"command": f"python benchmarks/claim10_null.py --configs {ns.configs} "
                         f"--seed {ns.seed} --designs {ns.designs}", "wall_seconds": round(time.time() - t0)}
    Path(ns.out).parent.mkdir(parents=True, exist_ok=True)
    Path(ns.out).write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
