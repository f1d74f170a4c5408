"""Break the engine on purpose and watch the claim checks see it.

    python benchmarks/inject_faults.py [--checks checks/test_10_sampler_equivalence.py]
                                       [--seed 0] [--faults a,b,c,d]

For each fault, a copy of the committed tree (``git archive HEAD``) is patched in
``theory/`` and the given checks run on it (default profile); the script prints, per
fault, each claim's verdict, statistic and critical value (``--verdicts-json``). The
faults (the calibration review's, plus mis-scaled normals):

* ``a`` every neuron of a layer shares one mask row (the batched draws' masks), mean
  unchanged, variances ×1.4–1.7;
* ``b`` keep probability ``⌊256 q⌋/256`` (the exact Bernoulli sampler's tie-break dropped);
* ``n`` every normal weight ×1.03 (Box–Muller output);
* ``d`` the backward pass normalised by ``d + 1`` instead of ``d`` (the batched trace).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FAULTS = {
    "a": ("theory/batched.py",
          "            _fill_segment(_BITGEN(kid), subs, W_flat, M_flat, bern, ws)\n    return W, M\n",
          "            _fill_segment(_BITGEN(kid), subs, W_flat, M_flat, bern, ws)\n"
          "    _rng = np.random.default_rng(g0 + 12345)  # FAULT a: shared mask rows\n"
          "    for h, m in enumerate(M):\n"
          "        if m is not None:\n"
          "            m[:] = m[:, :1, :]\n"
          "            W[h][:] = m * _rng.standard_normal(W[h].shape)\n"
          "    return W, M\n"),
    "b": ("theory/network.py",
          "            self.thr = int(frac * 2.0 ** 64) if frac > 0 else None",
          "            self.thr = None  # FAULT b: keep probability floor(256 q)/256"),
    "n": ("theory/network.py",
          "    out[:] = z[:K]  # float32 -> float64: exact",
          "    out[:] = 1.03 * z[:K]  # FAULT n: normals scaled by 1.03"),
    "d": ("theory/batched.py",
          "        back *= scales[h] * np.sqrt(c_sigma / widths[h - 1])",
          "        back *= scales[h] * np.sqrt(c_sigma / (widths[h - 1] + 1))  # FAULT d"),
}


def run_fault(fault: str, checks: list[str], seed: int, tmp: str) -> list[dict]:
    tree = Path(tmp) / fault
    tree.mkdir()
    arch = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True,
                          check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=arch, check=True)
    if fault != "none":
        path, old, new = FAULTS[fault]
        f = tree / path
        src = f.read_text()
        if old not in src:
            raise SystemExit(f"inject_faults: fault {fault}: patch site not found in {path}")
        f.write_text(src.replace(old, new))
    out = tree / "verdicts.json"
    subprocess.run([sys.executable, "-m", "pytest", *checks, "-q", "-p", "no:cacheprovider",
                    "--seed", str(seed), "--verdicts-json", str(out)], cwd=tree,
                   env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True)
    return json.loads(out.read_text()) if out.exists() else []


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checks", default="checks/test_10_sampler_equivalence.py")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--faults", default="none,a,b,n,d")
    ns = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for fault in ns.faults.split(","):
            for v in run_fault(fault, ns.checks.split(","), ns.seed, tmp):
                rej = "; ".join(str(r)[:160] for r in v["details"]["rejections"][:2])
                print(f"fault {fault}: claim {v['claim'][:40]}: {v['verdict']}, statistic "
                      f"{v['statistic']:.3g} vs critical {v['critical']:.3g}  {rej}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
