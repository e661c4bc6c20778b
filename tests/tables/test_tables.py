"""Tests of regression, descriptive and correlation tables (content, options, errors)."""

from __future__ import annotations

import csv
import io
import warnings
from html.parser import HTMLParser

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from support.hand_results import (
    LABELS,
    bayes_result,
    cox_result,
    describe_frame,
    fe_result,
    hazard_result,
)

import sustain
from sustain.diagnostics.headline import headline_problems
from sustain.errors import SpecError
from sustain.presentation.labels import load_labels, parse_codebook, term_label
from sustain.results import BayesianResults, ModelInfo
from sustain.tables.model_columns import format_number, significance_stars

# Printed cells are rounded to 3 decimals, so a recomputed number agrees to half a unit of
# the last printed digit.
PRINTED_TOL = 0.0005
# describe() and correlation_table() return unrounded numbers: only float round-off differs.
EXACT_TOL = 1e-12


def rows_of(csv_text: str) -> dict[str, list[str]]:
    """First CSV row for each label (estimate rows), keyed by label."""
    out: dict[str, list[str]] = {}
    for row in csv.reader(io.StringIO(csv_text)):
        if row and row[0] and row[0] not in out:
            out[row[0]] = row[1:]
    return out


def all_rows(csv_text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(csv_text)))


def detail_after(csv_text: str, label: str) -> list[str]:
    rows = all_rows(csv_text)
    i = next(k for k, r in enumerate(rows) if r[0] == label)
    assert rows[i + 1][0] == ""
    return rows[i + 1][1:]


# ---------------------------------------------------------------- labels


def test_codebook_section_is_parsed_and_other_sections_ignored():
    text = (
        "# Data\n| variable | label |\n|---|---|\n| x | not this |\n\n"
        "## Variable labels\n\nSome words.\n\n| variable | label | description |\n"
        "|---|---|---|\n| `hhi` | HHI | squared shares |\n| quality | Quality (0-100) | |\n\n"
        "## Other\n| variable | label |\n|---|---|\n| y | nor this |\n"
    )
    assert parse_codebook(text) == {"hhi": "HHI", "quality": "Quality (0-100)"}
    assert parse_codebook("# nothing here\n") == {}


def test_load_labels_layers_defaults_codebook_and_user(tmp_path):
    book = tmp_path / "README.md"
    book.write_text("## Variable labels\n| variable | label | d |\n|-|-|-|\n| hhi | Conc. | |\n")
    from_path = load_labels(book)
    assert from_path["hhi"] == "Conc."
    assert from_path["gov_share"]  # defaults remain for the rest
    assert load_labels(tmp_path)["hhi"] == "Conc."  # a data folder holding README.md
    assert load_labels({"hhi": "Mine"})["hhi"] == "Mine"


def test_load_labels_errors_and_fallback(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        load_labels(tmp_path / "missing.md")
    empty = tmp_path / "empty.md"
    empty.write_text("# A codebook without labels\n")
    with pytest.warns(UserWarning, match="no '## Variable labels'"):
        labels = load_labels(empty)
    assert labels["hhi"] == "Funding concentration (HHI)"


def test_example_codebook_is_read():
    labels = load_labels()
    assert labels["quality"] == "Service quality (evaluation score)"


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("hhi", "HHI"),
        ("hhi_lag2", "HHI (t-2)"),
        ("C(main_tier)[T.subdistrict]", "Main tier: subdistrict"),
        ("main_tier[T.district]", "Main tier: district"),
        ("hhi:gov_share", "HHI × Gov"),
        ("C(main_tier)[T.district]:hhi", "Main tier: district × HHI"),
        ("np.log(hhi)", "log(HHI)"),
        ("sd(1|district:agency_id)", "SD(intercept | District:Agency)"),
        ("sd(hhi|main_tier)", "SD(HHI | Main tier)"),
        ("Intercept", "Constant"),
        ("sigma", "Residual SD (σ)"),
        ("bs(age, df=3)[1]", "bs(age, df=3)[1]"),
    ],
)
def test_term_labels(term, expected):
    labels = {
        "hhi": "HHI",
        "gov_share": "Gov",
        "main_tier": "Main tier",
        "district": "District",
        "agency_id": "Agency",
    }
    assert term_label(term, labels) == expected


# ---------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("p", "expected"), [(0.2, ""), (0.09, "*"), (0.05, "*"), (0.049, "**"), (0.001, "***")]
)
def test_stars_use_strict_thresholds(p, expected):
    assert significance_stars(p, (0.1, 0.05, 0.01)) == expected


def test_number_formatting():
    assert format_number(-0.0001, 3) == "-1.0e-04"
    assert format_number(-0.0, 2) == "0.00"  # no negative zero
    assert format_number(1234.5678, 1) == "1234.6"


def test_diagnostic_thresholds():
    assert headline_problems({"rhat_max": 1.01, "ess_bulk_min": 400, "divergences": 0}) == ()
    failed = headline_problems({"rhat_max": 1.02, "ess_bulk_min": 399, "divergences": 1})
    assert len(failed) == 3 and "1 divergent transition" in failed[2]


# ---------------------------------------------------------------- regression_table content


def test_frequentist_cells_match_the_results():
    fe = fe_result()
    rows = rows_of(sustain.regression_table(fe, "csv", labels=LABELS))
    estimate = rows["Funding concentration (HHI)"][0]
    assert estimate.endswith("***")
    assert abs(float(estimate.rstrip("*")) - fe.params["hhi"]) < PRINTED_TOL
    table = sustain.regression_table(fe, "csv", labels=LABELS)
    assert detail_after(table, "Funding concentration (HHI)") == [f"({fe.bse['hhi']:.3f})"]
    p = float(fe.pvalues["gov_share"])
    assert p > 0.1 and rows["Government share"][0] == "2.500"


def test_t_statistics_and_confidence_intervals():
    fe = fe_result()
    t_table = sustain.regression_table(fe, "csv", labels=LABELS, statistic="t")
    t = float(detail_after(t_table, "Log revenue")[0].strip("()"))
    assert abs(t - fe.tvalues["log_revenue"]) < 0.005
    ci_table = sustain.regression_table(fe, "csv", labels=LABELS, statistic="ci", alpha=0.1)
    low, high = (float(v) for v in detail_after(ci_table, "Log revenue")[0].strip("[]").split(","))
    ci = fe.conf_int(0.1).loc["log_revenue"]
    assert abs(low - ci["lower"]) < PRINTED_TOL and abs(high - ci["upper"]) < PRINTED_TOL
    assert "90% confidence intervals in brackets" in ci_table


def test_hazard_ratios_exponentiate_estimate_and_interval():
    hz = hazard_result()
    table = sustain.regression_table(hz, "csv", labels=LABELS, exponentiate=True)
    hr = rows_of(table)["Funding concentration (HHI)"][0].rstrip("*")
    assert abs(float(hr) - np.exp(hz.params["hhi"])) < PRINTED_TOL
    low, high = (
        float(v)
        for v in detail_after(table, "Funding concentration (HHI)")[0].strip("[]").split(",")
    )
    ci = np.exp(hz.conf_int().loc["hhi"])
    assert abs(low - ci["lower"]) < PRINTED_TOL and abs(high - ci["upper"]) < PRINTED_TOL
    assert "Constant" not in rows_of(table)  # exp(intercept) is not a ratio
    assert all_rows(table)[2] == ["", "HR"]  # scale header row


def test_exponentiate_flags_per_model_and_errors():
    table = sustain.regression_table(
        [fe_result(), hazard_result()], "csv", labels=LABELS, exponentiate=True
    )
    rows = rows_of(table)
    assert rows["Log revenue"][0] == "0.840***"  # linear model left on its scale
    assert rows["Log revenue"][1].startswith("0.705")
    with pytest.raises(SpecError, match="no hazard or odds ratio"):
        sustain.regression_table([fe_result(), hazard_result()], "csv", exponentiate=[True, True])
    with pytest.raises(SpecError, match="2 entries for 1 models"):
        sustain.regression_table(hazard_result(), "csv", exponentiate=[True, False])


def test_custom_stars_and_no_stars():
    fe = fe_result()
    strict = rows_of(sustain.regression_table(fe, "csv", labels=LABELS, stars=(0.01, 0.001)))
    assert strict["Log revenue"][0] == "0.840*"  # p = 0.007: below 0.01, above 0.001
    plain = sustain.regression_table(fe, "csv", labels=LABELS, stars=())
    assert "*" not in plain
    with pytest.raises(SpecError, match="stars"):
        sustain.regression_table(fe, "csv", stars=(0.5, 1.5))


def test_bayesian_columns_have_intervals_and_never_stars():
    bm = bayes_result()
    table = sustain.regression_table(bm, "csv", labels=LABELS, stars=(0.5, 0.1, 0.05))
    assert "*" not in "".join(r[1] for r in all_rows(table) if len(r) > 1)
    mean = float(rows_of(table)["Funding concentration (HHI)"][0])
    assert abs(mean - bm.params["hhi"]) < PRINTED_TOL
    for kind in ("eti", "hdi"):
        table = sustain.regression_table(bm, "csv", labels=LABELS, interval=kind)
        low, high = (
            float(v)
            for v in detail_after(table, "Funding concentration (HHI)")[0].strip("[]").split(",")
        )
        ci = bm.conf_int(kind=kind).loc["hhi"]
        assert abs(low - ci["lower"]) < PRINTED_TOL and abs(high - ci["upper"]) < PRINTED_TOL
    assert "highest-density credible intervals" in table


def test_bottom_block_rows_only_when_a_model_has_them():
    rows = rows_of(sustain.regression_table(fe_result(), "csv", labels=LABELS))
    assert rows["Agency FE"] == ["Yes"] and rows["Year FE"] == ["Yes"]
    assert rows["Standard errors"] == ["Cluster (Agency)"]
    assert rows["Within R²"] == ["0.071"] and rows["Log-likelihood"] == ["-8,123.5"]
    for absent in ("AIC", "Max R-hat", "Events", "R²", "Years", "Duration dependence"):
        assert absent not in rows
    mixed = rows_of(sustain.regression_table([cox_result(), bayes_result()], "csv", labels=LABELS))
    assert mixed["Standard errors"] == ["Conventional", ""]
    assert mixed["Max R-hat"] == ["", "1.002"] and mixed["Divergences"] == ["", "0"]
    chosen = rows_of(sustain.regression_table(fe_result(), "csv", labels=LABELS, stats=["loglik"]))
    assert "Within R²" not in chosen and "Log-likelihood" in chosen


def test_duration_terms_hidden_unless_asked():
    rows = rows_of(sustain.regression_table(hazard_result(), "csv", labels=LABELS))
    assert "Age: 1" not in rows and rows["Duration dependence"] == ["Dummies"]
    shown = rows_of(
        sustain.regression_table(hazard_result(), "csv", labels=LABELS, show_duration=True)
    )
    assert shown["Age: 2-4"] == ["0.500**"] and "Duration dependence" not in shown


def test_order_keep_drop_rename_and_blocks():
    table = sustain.regression_table(
        fe_result(),
        "csv",
        labels=LABELS,
        order=["log_revenue"],
        drop=["share_.*"],
        rename={"hhi": "Concentration"},
        blocks=False,
    )
    labels = [r[0] for r in all_rows(table) if r[0]]
    assert labels[:3] == ["Log revenue", "Concentration", "Government share"]
    assert "Funding" not in labels and "Share single-source" not in labels
    kept = rows_of(sustain.regression_table(fe_result(), "csv", labels=LABELS, keep=["hhi"]))
    assert "Government share" not in kept and "Funding concentration (HHI)" in kept
    mine = sustain.regression_table(
        fe_result(), "csv", labels=LABELS, blocks={"Structure": ["hhi", "gov_share"]}
    )
    titles = [r[0] for r in all_rows(mine) if r[0] and all(c == "" for c in r[1:])]
    assert titles[:2] == ["Structure", "Controls"] and titles[2].startswith("Standard errors")


def test_model_names_and_header_spans():
    table = sustain.regression_table(
        [hazard_result(), cox_result()], "latex", labels=LABELS, model_names=["DT", "Cox"]
    )
    assert r"\multicolumn{2}{c}{Exit}" in table and r"\cmidrule(lr){2-3}" in table
    assert " & DT & Cox \\\\" in table
    nested = sustain.regression_table(
        [fe_result(), fe_result(), hazard_result()], "latex", labels=LABELS, model_names=["FE"] * 3
    )
    assert r" & \multicolumn{2}{c}{FE} & FE \\" in nested  # no span across the depvar boundary
    with pytest.raises(SpecError, match="model_names has 1"):
        sustain.regression_table([fe_result(), cox_result()], "csv", model_names=["x"])


def test_failed_diagnostics_mark_the_model_and_warn():
    with pytest.warns(UserWarning, match=r"model \(2\) 'Bayesian multilevel' failed"):
        table = sustain.regression_table(
            [fe_result(), bayes_result(fail=True)], "csv", labels=LABELS
        )
    assert "(2)†" in table and "(1)†" not in table
    assert "Failed convergence diagnostics" in table
    with pytest.warns(UserWarning):
        latex = sustain.regression_table(bayes_result(fail=True), "latex", labels=LABELS)
    assert r"(1)$^{\dagger}$" in latex


def test_diagnostics_are_computed_when_the_fit_did_not_record_them():
    rng = np.random.default_rng(7)
    shifted = rng.normal(0, 1, (4, 300)) + np.array([[0.0], [0.0], [3.0], [3.0]])
    idata = az.from_dict({"posterior": {"hhi": shifted}})
    info = ModelInfo("Bayes", "bayes", "quality", "quality ~ hhi", 100)
    with pytest.warns(UserWarning, match="R-hat"):
        table = sustain.regression_table(BayesianResults(idata, ("hhi",), info), "csv")
    assert float(rows_of(table)["Max R-hat"][0]) > 1.5
    good = az.from_dict({"posterior": {"hhi": rng.normal(0, 1, (4, 1000))}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sustain.regression_table(BayesianResults(good, ("hhi",), info), "csv")


def test_latex_escapes_labels_and_notes():
    table = sustain.regression_table(
        fe_result(),
        "latex",
        labels={"hhi": "HHI & 50% of $ #1 {x} ~ ^ \\ <a|b>"},
        notes="see_this",
    )
    assert (
        r"HHI \& 50\% of $\$$ \#1 \{x\} \textasciitilde{} \textasciicircum{} \textbackslash{} \textless{}a\textbar{}b\textgreater{}"
        in table
    )
    assert r"see\_this" in table
    assert r"\begin{threeparttable}" in table and r"\toprule" in table
    assert r"$-$4.213$^{***}$" in table


def test_markdown_and_html_escape_their_special_characters():
    md = sustain.regression_table(fe_result(), "markdown", labels={"hhi": "a|b *c* <d>"})
    assert r"a\|b \*c\* \<d\>" in md
    html = sustain.regression_table(fe_result(), "html", labels={"hhi": "a<b & c"})
    assert "a&lt;b &amp; c" in html and "<sup>***</sup>" in html
    assert html.isascii()  # non-ASCII written as character references


class _TagChecker(HTMLParser):
    VOID = {"br", "meta"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"


@pytest.mark.parametrize("standalone", [False, True])
def test_html_is_well_formed_and_displays_in_notebooks(standalone):
    html = sustain.regression_table(
        [fe_result(), bayes_result()], "html", labels=LABELS, standalone=standalone
    )
    checker = _TagChecker()
    checker.feed(html)
    assert checker.stack == []
    assert html.startswith("<!DOCTYPE html>") == standalone
    assert html._repr_html_() == str(html)
    md = sustain.regression_table(fe_result(), "markdown")
    assert md._repr_markdown_() == str(md) and md._repr_html_() is None


def test_written_files_match_the_returned_text(tmp_path):
    for fmt, name in [("latex", "t.tex"), ("markdown", "t.md"), ("html", "t.html")]:
        text = sustain.regression_table(fe_result(), fmt, tmp_path / name, labels=LABELS)
        assert (tmp_path / name).read_text(encoding="utf-8") == text
    text = sustain.regression_table(fe_result(), "csv", tmp_path / "t.csv", labels=LABELS)
    raw = (tmp_path / "t.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw[3:].decode("utf-8") == text
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_input_is_refused_clearly(tmp_path):
    with pytest.raises(SpecError, match="not one of"):
        sustain.regression_table(fe_result(), "rtf")
    with pytest.raises(SpecError, match="pass path="):
        sustain.regression_table(fe_result(), "docx")
    with pytest.raises(SpecError, match="item 2 is a DataFrame"):
        sustain.regression_table([fe_result(), pd.DataFrame()], "csv")
    with pytest.raises(SpecError, match="at least one"):
        sustain.regression_table([], "csv")
    for bad in ({"statistic": "z"}, {"interval": "hpd"}, {"alpha": 1.2}, {"digits": -1}):
        with pytest.raises(SpecError):
            sustain.regression_table(fe_result(), "csv", **bad)


# ---------------------------------------------------------------- real fits (example panel)


@pytest.fixture(scope="module")
def fitted(example_panel):
    fe = sustain.fit_fe(
        example_panel,
        "quality ~ hhi + gov_share + log_revenue",
        effects=("agency_id", "year"),
        cluster="agency_id",
    )
    hz = sustain.fit_hazard(
        example_panel,
        "exit ~ hhi + gov_share + log_revenue",
        link="cloglog",
        duration="age",
        cluster="agency_id",
    )
    spells = sustain.to_spells(example_panel, covariates=["hhi", "gov_share", "log_revenue"])
    cx = sustain.fit_cox(spells, "hhi + gov_share + log_revenue", cluster="agency_id")
    return fe, hz, cx


def test_table_of_real_fits(fitted):
    fe, hz, cx = fitted
    table = sustain.regression_table([fe, hz, cx], "csv", exponentiate=True)
    rows = rows_of(table)
    estimate = float(rows["Funding concentration (HHI)"][0].rstrip("*"))
    assert abs(estimate - fe.params["hhi"]) < PRINTED_TOL
    for column, result in ((1, hz), (2, cx)):
        hr = float(rows["Funding concentration (HHI)"][column].rstrip("*"))
        assert abs(hr - np.exp(result.params["hhi"])) < PRINTED_TOL
    assert rows["Observations"] == [f"{r.nobs:,}" for r in (fe, hz, cx)]
    assert rows["Agency FE"] == ["Yes", "No", "No"]
    assert rows["Duration dependence"] == ["", "Dummies", ""]
    assert rows["Events"][1:] == [f"{r.info.stats['n_events']:,.0f}" for r in (hz, cx)]
    assert not any(t.startswith("Age:") for t in rows)
    assert all_rows(table)[2] == ["", "Coef.", "HR", "HR"]


# ---------------------------------------------------------------- describe / correlation


def test_describe_numbers_match_pandas():
    frame = describe_frame()
    numbers = sustain.describe(frame, ["hhi", "quality"])
    for col in ("hhi", "quality"):
        values = frame[col]
        assert numbers.loc[col, "n"] == values.notna().sum()
        assert abs(numbers.loc[col, "mean"] - values.mean()) < EXACT_TOL
        assert abs(numbers.loc[col, "sd"] - values.std()) < EXACT_TOL
        assert numbers.loc[col, "missing_pct"] == pytest.approx(100 * values.isna().mean())
    default = sustain.describe(frame)
    assert list(default.index) == ["hhi", "gov_share", "quality"]  # numeric, not year/ids


def test_describe_by_group_and_formats(tmp_path):
    frame = describe_frame()
    by = sustain.describe(frame, ["quality"], by="main_tier")
    assert by.loc[("district", "quality"), "n"] == 3
    table = sustain.describe(frame, ["quality"], by="main_tier", format="csv", labels=LABELS)
    assert "Main tier: municipal" in table
    latex = sustain.describe(frame, format="latex", labels=LABELS, caption="Descriptives")
    assert r"\caption{Descriptives}" in latex and "Missing (\\%)" in latex
    with pytest.raises(SpecError, match="not numeric"):
        sustain.describe(frame, ["main_tier"])
    with pytest.raises(SpecError, match="not in the panel: nope"):
        sustain.describe(frame, ["nope"])
    with pytest.raises(SpecError, match="by='nope'"):
        sustain.describe(frame, by="nope")


def test_correlation_numbers_and_stars():
    frame = describe_frame()
    cols = ["hhi", "gov_share", "quality"]
    r = sustain.correlation_table(frame, cols)
    pair = frame[["hhi", "quality"]].dropna()
    expected, p = stats.pearsonr(pair["hhi"], pair["quality"])
    assert abs(r.loc["hhi", "quality"] - expected) < EXACT_TOL
    table = sustain.correlation_table(frame, cols, "csv", labels=LABELS, stars=(0.1, 0.05))
    row = rows_of(table)["3. Service quality"]
    assert row[0] == f"{expected:.2f}" + significance_stars(p, (0.1, 0.05)) and row[2] == "1"
    assert row[1] != "" and rows_of(table)["1. Funding concentration (HHI)"][1:] == ["", ""]
    spearman = sustain.correlation_table(frame, cols, method="spearman")
    assert (
        abs(
            spearman.loc["hhi", "gov_share"]
            - frame[["hhi", "gov_share"]].corr("spearman").iloc[0, 1]
        )
        < EXACT_TOL
    )
    with pytest.raises(SpecError, match="at least two"):
        sustain.correlation_table(frame, ["hhi"])
    with pytest.raises(SpecError, match="method"):
        sustain.correlation_table(frame, cols, method="kendall")
