"""Generated LaTeX tables compile with pdflatex into a PDF (needs TeX Live, see docs/tables.md).

CI installs the Debian packages texlive-latex-base, texlive-latex-recommended (booktabs) and
texlive-latex-extra (threeparttable, standalone); without ``pdflatex`` these tests fail
rather than skip, so a missing TeX installation is noticed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings

import pytest
from support.hand_results import LABELS, bayes_result, describe_frame, golden_models

import sustain

pytestmark = pytest.mark.latex
COMPILE_TIMEOUT_S = 120  # pdflatex on a cold font cache can take a while on a shared machine


def compile_pdf(tex: str, directory, name: str = "table"):
    pdflatex = shutil.which("pdflatex")
    assert pdflatex, "pdflatex not found: install texlive-latex-recommended and texlive-latex-extra"
    source = directory / f"{name}.tex"
    source.write_text(tex, encoding="utf-8")
    run = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", source.name],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_S,
        check=False,
    )
    log = run.stdout
    assert run.returncode == 0, log[-3000:]
    # only the Type 1 Computer Modern fonts of texlive-base: no bitmap (pk) fallbacks
    assert not re.search(r"\d+pk>", log) and "mktexpk" not in log, "bitmap fonts were needed"
    pdf = directory / f"{name}.pdf"
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    return log


def test_regression_table_compiles(tmp_path):
    tex = sustain.regression_table(
        golden_models(),
        "latex",
        labels={**LABELS, "hhi": "HHI & 50% of $ #1 {x} ~ ^ \\"},
        exponentiate=[False, True, True, False],
        standalone=True,
        caption="Funding & survival",
        notes="Escaped: 100% of _all_ #1 {x} ~ ^ \\ <3 | $.",
    )
    log = compile_pdf(tex, tmp_path)
    assert "Overfull" not in log  # the standalone page is cropped to the table


def test_failed_model_dagger_and_float_compile(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the failing model warns; tested elsewhere
        table = sustain.regression_table(
            [golden_models()[0], bayes_result(fail=True)],
            "latex",
            labels=LABELS,
            caption="In a float",
            latex_label="tab:float",
        )
    document = (
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{threeparttable}\n"
        f"\\begin{{document}}\n{table}\\end{{document}}\n"
    )
    compile_pdf(document, tmp_path)


def test_descriptive_and_correlation_tables_compile(tmp_path):
    frame = describe_frame()
    describe = sustain.describe(
        frame, by="main_tier", format="latex", labels=LABELS, standalone=True
    )
    compile_pdf(describe, tmp_path, "describe")
    corr = sustain.correlation_table(
        frame,
        ["hhi", "gov_share", "quality"],
        "latex",
        labels=LABELS,
        stars=(0.1,),
        standalone=True,
    )
    compile_pdf(corr, tmp_path, "correlation")
