"""theory.latex: formulas printed from the code, and a standalone document that compiles.

The compile test needs pdflatex: it FAILS when the environment variable CI is set and
pdflatex is missing (CI installs texlive), and is skipped otherwise."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import sympy

import theory
from theory import latex as TL


@pytest.mark.parametrize("model", ["generic", "mask", "variance"])
@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4])
def test_typed_recursion_matches_code(depth: int, model: str) -> None:
    """The general formula printed in recursion_fragment (docs/math.md#pruning) equals the expansion
    of theory.recursion.run_recursion."""
    assert sympy.expand(TL.derived_ntk(depth, model) - TL.template_ntk(depth, model)) == 0


def test_arccos_kernels_match_math_md() -> None:
    k = TL.arccos_kernels()
    rho = TL.RHO
    kappa1 = (sympy.sqrt(1 - rho ** 2) + (sympy.pi - sympy.acos(rho)) * rho) / sympy.pi
    kappa0 = (sympy.pi - sympy.acos(rho)) / sympy.pi
    assert sympy.simplify(k["kappa1"] - kappa1) == 0
    assert sympy.simplify(k["kappa0"] - kappa0) == 0
    assert sympy.simplify(sympy.diff(k["kappa1"], rho) - k["kappa0"]) == 0  # κ1' = κ0
    assert k["c_relu"] == 2


def test_scaling_fragment_is_the_derived_factor() -> None:
    frag = TL.latex_fragment("scaling", depth=3, p=0.5)
    f = theory.scaling_factor(theory.Architecture(depth=3, p=TL.P))
    assert sympy.latex(f) in frag
    assert r"\frac{1}{16}" in frag  # (1 - 1/2)^4
    frag2 = TL.latex_fragment("scaling", depth=2)
    assert sympy.latex((1 - TL.P) ** 3) in frag2


def test_bounds_fragment_uses_to_latex() -> None:
    from theory import bounds as tb
    frag = TL.latex_fragment("bounds")
    assert tb.to_latex(tb.arora_bound(), with_guarantee=True) in frag
    assert tb.to_latex(tb.yang_wang_bound(), with_guarantee=True) in frag


def test_variance_fragment() -> None:
    frag = TL.latex_fragment("variance")
    c = TL.variance_constants()
    if c is None:
        assert "HOOK" in frag
    else:
        assert r"\frac{p}{1-p}" in frag and "(1-p)^{4}" in frag


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        TL.latex_fragment("nope")
    with pytest.raises(ValueError):
        TL.latex_fragment("scaling", depth=-1)
    with pytest.raises(ValueError):
        TL.export_latex("/nonexistent-unused", depth=2, p=1.5)
    with pytest.raises(SystemExit):
        TL.cli_main(["--p", "1.2"])
    with pytest.raises(SystemExit):
        TL.cli_main(["--depth", "x"])


def test_cli_prints_fragment(capsys: pytest.CaptureFixture) -> None:
    assert TL.cli_main(["--fragment", "kernels"]) == 0
    out = capsys.readouterr().out
    assert r"\kappa_1(\rho)" in out and r"\arccos" in out


def test_export_writes_fragments(tmp_path) -> None:
    paths = TL.export_latex(tmp_path, depth=2, p="1/2")
    assert set(paths) == set(TL.FRAGMENTS) | {"document"}
    doc = paths["document"].read_text()
    for name in TL.FRAGMENTS:
        body = paths[name].read_text().rstrip("\n")
        assert body in doc  # the document inlines every fragment
    assert doc.count(r"\begin{document}") == 1 and doc.rstrip().endswith(r"\end{document}")


def test_document_compiles_with_pdflatex(tmp_path) -> None:
    exe = shutil.which("pdflatex")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex not found but CI is set: CI must install texlive "
                        "(texlive-latex-base, texlive-latex-recommended)")
        pytest.skip("pdflatex not installed")
    assert TL.cli_main(["--out", str(tmp_path), "--depth", "3", "--p", "0.5"]) == 0
    proc = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", "pruned_ntk.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = proc.stdout[-3000:]
    assert proc.returncode == 0, log
    pdf = tmp_path / "pruned_ntk.pdf"
    assert pdf.exists() and pdf.stat().st_size > 1000, log
