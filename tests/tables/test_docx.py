"""Word output: the .docx is reopened with python-docx and its cells, merges and notes checked."""

from __future__ import annotations

import zipfile

import docx
import pytest
from support.hand_results import (
    LABELS,
    bayes_result,
    cox_result,
    describe_frame,
    fe_result,
    hazard_result,
)

import sustain


@pytest.fixture(scope="module")
def regression_docx(tmp_path_factory):
    path = tmp_path_factory.mktemp("docx") / "table.docx"
    models = [fe_result(), hazard_result(), cox_result(), bayes_result()]
    written = sustain.regression_table(
        models,
        "docx",
        path,
        labels=LABELS,
        exponentiate=[False, True, True, False],
        caption="Funding and survival",
        notes="A user note.",
    )
    assert written == str(path)
    return path


def cell_texts(table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def test_docx_reopens_with_the_expected_cells(regression_docx):
    document = docx.Document(str(regression_docx))
    assert len(document.tables) == 1
    rows = cell_texts(document.tables[0])
    assert rows[0] == [
        "",
        "Service quality",
        "Exit",
        "Exit",
        "Service quality",
    ]  # merged cells repeat
    assert rows[1] == ["", "Two-way FE", "Hazard (cloglog)", "Cox PH", "Bayesian multilevel"]
    assert rows[2] == ["", "Coef.", "HR", "HR", "Mean"]
    assert rows[3] == ["", "(1)", "(2)", "(3)", "(4)"]
    by_label = {r[0]: r[1:] for r in rows if r[0]}
    assert by_label["Funding concentration (HHI)"] == [
        "-4.213***",
        "2.484***",
        "2.411***",
        "-3.943",
    ]
    assert by_label["Agency FE"] == ["Yes", "No", "No", "No"]
    assert by_label["Observations"] == ["2,400", "2,600", "2,600", "2,400"]
    assert by_label["Max R-hat"] == ["", "", "", "1.002"]
    assert rows[-1][0] == "Divergences"


def test_docx_merges_caption_notes_and_superscripts(regression_docx):
    document = docx.Document(str(regression_docx))
    table = document.tables[0]
    first = table.rows[0].cells
    assert first[2]._tc is first[3]._tc  # "Exit" spans the hazard and Cox columns
    block = table.rows[4].cells
    assert block[0].text == "Funding" and block[0]._tc is block[-1]._tc
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "Funding and survival"
    assert "A user note." in paragraphs and any(p.startswith("Standard errors") for p in paragraphs)
    estimate = table.rows[5].cells[1].paragraphs[0].runs
    assert [r.text for r in estimate] == ["-4.213", "***"] and estimate[1].font.superscript


def test_docx_bytes_are_reproducible(tmp_path):
    paths = [tmp_path / "a.docx", tmp_path / "b.docx"]
    for path in paths:
        sustain.regression_table([fe_result(), cox_result()], "docx", path, labels=LABELS)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    with zipfile.ZipFile(paths[0]) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_descriptive_and_correlation_tables_in_word(tmp_path):
    sustain.describe(describe_frame(), format="docx", path=tmp_path / "d.docx", labels=LABELS)
    rows = cell_texts(docx.Document(str(tmp_path / "d.docx")).tables[0])
    assert rows[0] == ["Variable", "N", "Mean", "SD", "Min", "Max", "Missing (%)"]
    hhi = describe_frame()["hhi"]
    expected = [f"{hhi.mean():.2f}", f"{hhi.std():.2f}", "0.34", "1.00", "16.7"]
    assert rows[1] == ["Funding concentration (HHI)", "5", *expected]
    sustain.correlation_table(
        describe_frame(), ["hhi", "quality"], "docx", tmp_path / "c.docx", labels=LABELS
    )
    rows = cell_texts(docx.Document(str(tmp_path / "c.docx")).tables[0])
    assert rows[1][:3] == ["1. Funding concentration (HHI)", "1", ""]
