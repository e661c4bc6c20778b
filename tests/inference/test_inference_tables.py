"""regression_table with margins=True and with inference="wild"."""

from __future__ import annotations

import warnings

import pytest

import sustain
from sustain.errors import SpecError
from sustain.tables.model_columns import format_number


@pytest.fixture(scope="module")
def fits(example_panel):
    quality = example_panel.dropna(subset=["quality"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 11 districts
        fe = sustain.fit_fe(quality, "quality ~ hhi + gov_share + share_single_source",
                            cluster="district")  # fmt: skip
    hz = sustain.fit_hazard(example_panel, "exit ~ hhi + gov_share + C(main_tier)", duration="age")
    boots = [sustain.wild_bootstrap(fe, t, reps=9999) for t in ("hhi", "gov_share")]
    return fe, hz, boots


def test_margins_columns_show_the_effects(fits):
    fe, hz, _ = fits
    text = sustain.regression_table([hz, fe], "csv", margins=True, labels={})
    me = sustain.margins(hz).set_index("term")
    for term in ("hhi", "main_tier[T.municipal]"):
        assert format_number(me.loc[term, "estimate"], 3) in text
    assert "AME" in text and "Average marginal effects (AMEs)" in text
    means = sustain.regression_table(hz, "markdown", margins={"kind": "at_means"})
    assert "MEM" in means and "Marginal effects at the means" in means
    zh = sustain.regression_table(hz, "markdown", margins=True, language="zh")
    assert "平均边际效应" in zh


def test_wild_inference_takes_stars_and_intervals_from_the_bootstrap(fits):
    fe, _, boots = fits
    text = sustain.regression_table(fe, "csv", inference="wild", bootstrap=boots,
                                    statistic="ci", labels={})  # fmt: skip
    lower, upper = boots[0].conf_int
    assert f"[{format_number(lower, 3)}, {format_number(upper, 3)}]" in text
    assert "restricted wild cluster bootstrap (Rademacher weights, all 2,048 sign vectors" in text
    rows = text.splitlines()
    single = next(i for i, r in enumerate(rows) if r.startswith("Share single source"))
    assert "*" not in rows[single] and rows[single + 1].strip(", ") == ""  # untested: bare
    pvalues = sustain.regression_table(fe, "markdown", inference="wild", bootstrap=boots,
                                       statistic="p")  # fmt: skip
    assert "p-values in brackets" in pvalues


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"inference": "wild"}, "needs bootstrap="), ({"inference": "bayes"}, "not one of"),
     ({"bootstrap": "boots"}, "inference='wild'"),
     ({"inference": "wild", "bootstrap": "boots", "margins": True}, "cannot be combined"),
     ({"margins": {"by": "district"}}, "unknown option")],
)  # fmt: skip
def test_bad_combinations_are_refused(fits, kwargs, message):
    fe, _, boots = fits
    options = {k: (boots if v == "boots" else v) for k, v in kwargs.items()}
    with pytest.raises(SpecError, match=message):
        sustain.regression_table(fe, "markdown", **options)


def test_bootstraps_of_other_models_are_refused(fits):
    fe, hz, boots = fits
    with pytest.raises(SpecError, match="belongs to none of the table's models"):
        sustain.regression_table(hz, "markdown", inference="wild", bootstrap=boots)
    with pytest.raises(SpecError, match="alpha"):
        sustain.regression_table(fe, "markdown", inference="wild", bootstrap=boots, alpha=0.1)
