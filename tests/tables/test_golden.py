"""Golden-file tests: fixed, hand-built results rendered in every text format.

The results below are built by hand (not fitted), so the expected files in ``tests/golden/``
only change when the rendering changes. To accept an intended change, regenerate them with
``SUSTAIN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/tables/test_golden.py`` and review the diff.
The hand-built results live in ``tests/support/hand_results.py``.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest
from support.hand_results import (
    LABELS,
    describe_frame,
    golden_models,
)

import sustain

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("SUSTAIN_UPDATE_GOLDEN") == "1"


def regression(fmt: str, **kwargs) -> str:
    options = {
        "labels": LABELS,
        "exponentiate": [False, True, True, False],
        "caption": "Funding concentration, quality and exit",
        "notes": "Hand-built results for the golden-file tests.",
    }
    options.update(kwargs)
    return sustain.regression_table(golden_models(), fmt, **options)


CASES = {
    "regression.tex": lambda: regression("latex", latex_label="tab:golden"),
    "regression.md": lambda: regression("markdown"),
    "regression.html": lambda: regression("html"),
    "regression.csv": lambda: regression("csv"),
    "regression_ci_hdi.md": lambda: regression(
        "markdown", statistic="ci", interval="hdi", exponentiate=False, stars=(0.05, 0.01)
    ),
    "describe.tex": lambda: sustain.describe(describe_frame(), format="latex", labels=LABELS),
    "describe_by.md": lambda: sustain.describe(
        describe_frame(), ["hhi", "quality"], by="main_tier", format="markdown", labels=LABELS
    ),
    "correlation.csv": lambda: sustain.correlation_table(
        describe_frame(), ["hhi", "gov_share", "quality"], "csv", labels=LABELS, stars=(0.1,)
    ),
    "correlation.html": lambda: sustain.correlation_table(
        describe_frame(), ["hhi", "gov_share", "quality"], "html", labels=LABELS
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # golden fixtures converge: no warning expected
        text = str(CASES[name]())
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its golden file; see the module docstring"


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_carries_no_timestamp_or_path(name):
    text = str(CASES[name]())
    assert not re.search(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", text)
    assert str(Path.home()) not in text and "/tmp" not in text and "/work" not in text


@pytest.mark.parametrize("fmt", ["latex", "markdown", "html", "csv"])
def test_same_inputs_give_identical_output(fmt):
    first = regression(fmt)
    second = regression(fmt)
    assert first.encode("utf-8") == second.encode("utf-8")
