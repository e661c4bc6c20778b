"""Tables and figures in Chinese (DESIGN: "Output languages")."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.figures.style import cjk_font, has_cjk
from sustain.pipeline.trends import trend_plot
from sustain.presentation.labels import DEFAULT_LABELS, load_labels

DISTRICTS = ("越秀区", "海珠区", "荔湾区", "天河区", "白云区", "黄埔区", "番禺区", "花都区",
             "南沙区", "从化区", "增城区")  # fmt: skip
COMPILE_TIMEOUT_S = 180  # XeLaTeX loads the CJK fonts on its first run


@pytest.fixture(scope="module")
def fits(example_panel):
    panel = example_panel.dropna(subset=["quality", "hhi", "gov_share", "log_revenue"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fe = sustain.fit_fe(
            panel, "quality ~ hhi + gov_share", effects=("agency_id", "year"), cluster="agency_id"
        )
        hz = sustain.fit_hazard(panel, "exit ~ hhi + log_revenue", link="cloglog", duration="age")
    return fe, hz


def test_regression_table_in_chinese(fits):
    out = sustain.regression_table(list(fits), format="markdown", language="zh")
    for text in ("观测值", "机构固定效应", "年份固定效应", "资金集中度（HHI）", "政府资金占比",
                 "双向固定效应", "离散时间风险（cloglog）", "按机构聚类", "是", "否", "常数项"):  # fmt: skip
        assert text in out, text
    assert "括号内为以机构聚类的稳健标准误。" in out
    for english in ("Observations", "Agency FE", "Standard errors", "Funding"):
        assert english not in out, english


def test_english_stays_the_default(fits):
    out = sustain.regression_table(list(fits), format="markdown")
    assert "Observations" in out and "观测值" not in out


def test_chinese_labels_cover_every_english_default():
    zh = load_labels("zh")
    missing = [name for name in DEFAULT_LABELS if not has_cjk(zh.get(name, ""))]
    assert not missing, missing


def test_labels_zh_with_english_fixed_text(fits):
    out = sustain.regression_table(fits[0], format="markdown", labels="zh")
    assert "资金集中度（HHI）" in out and "Observations" in out


def test_describe_and_correlations_in_chinese(example_panel):
    cols = ["hhi", "gov_share", "quality"]
    text = sustain.describe(example_panel, cols, by="main_tier", format="markdown", language="zh")
    for word in ("变量", "观测值", "均值", "标准差", "最小值", "最大值", "主要购买层级：区级"):
        assert word in text, word
    corr = sustain.correlation_table(example_panel, cols, format="csv", language="zh")
    assert "Pearson 相关系数" in corr and "资金集中度（HHI）" in corr


def test_html_carries_lang(fits):
    page = sustain.regression_table(fits[0], format="html", language="zh", standalone=True)
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    fragment = sustain.regression_table(fits[0], format="html", language="zh")
    assert 'lang="zh-CN"' in fragment
    english = sustain.regression_table(fits[0], format="html", standalone=True)
    assert '<html lang="en">' in english


def test_word_sets_the_east_asian_font(fits, tmp_path):
    import docx
    from docx.oxml.ns import qn

    path = sustain.regression_table(
        list(fits), format="docx", path=tmp_path / "t.docx", language="zh"
    )
    document = docx.Document(path)
    fonts = document.styles["Normal"].element.rPr.rFonts
    assert fonts.get(qn("w:eastAsia")) == "SimSun" and fonts.get(qn("w:ascii")) == "Times New Roman"
    cells = [c.text for row in document.tables[0].rows for c in row.cells]
    assert "观测值" in cells and "机构固定效应" in cells


@pytest.mark.latex
def test_chinese_latex_table_compiles_with_xelatex(fits, tmp_path):
    xelatex = shutil.which("xelatex")
    assert xelatex, "xelatex not found: `make tex` installs texlive-xetex and texlive-lang-chinese"
    tex = sustain.regression_table(list(fits), format="latex", language="zh", standalone=True)
    assert "\\usepackage[UTF8]{ctex}" in tex and "观测值" in tex
    (tmp_path / "t.tex").write_text(tex, encoding="utf-8")
    run = subprocess.run(
        [xelatex, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_S,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Missing character" not in run.stdout
    assert (tmp_path / "t.pdf").stat().st_size > 1000


# ---------------------------------------------------------------- figures


def _district_panel() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = [
        {"year": y, "district": d, "hhi": rng.uniform(), "gov_share": rng.uniform()}
        for d in DISTRICTS
        for y in range(2012, 2024)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_eleven_district_names_render_without_missing_glyphs(language, tmp_path):
    assert cjk_font() is not None, "no CJK font: `make install` installs fonts-noto-cjk"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font" fails the test
        fig = trend_plot(
            _district_panel(),
            ["hhi", "gov_share"],
            by="district",
            language=language,
            path=tmp_path / "districts.png",
        )
    legend = fig.legends[0]
    names = [t.get_text() for t in legend.get_texts()]
    assert names == sorted(DISTRICTS)
    styles = {(h.get_color(), h.get_linestyle(), h.get_marker()) for h in legend.legend_handles}
    assert len(styles) == len(DISTRICTS)  # every district distinguishable
    png = (tmp_path / "districts.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_chinese_figure_text(example_data, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = sustain.km_plot(
            sustain.build_panel(example_data), by="main_tier", language="zh", path=tmp_path / "km"
        )
    ax = fig.axes[0]
    assert ax.get_ylabel() == "仍在运营的机构比例" and ax.get_xlabel() == "机构年龄（年）"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"市级", "区级", "街道（镇）"} <= set(legend)


def test_pdf_embeds_the_cjk_font(tmp_path):
    import matplotlib.pyplot as plt

    from sustain.figures.style import figure_style, save_figure

    with figure_style("zh"):
        fig, ax = plt.subplots()
        ax.set_title("海珠区")
    save_figure(fig, tmp_path / "f", formats=("pdf",))
    plt.close(fig)
    data = (tmp_path / "f.pdf").read_bytes()
    fonts = set(re.findall(rb"/BaseFont /[A-Z]{6}\+([^\s/]+)", data))
    expected = cjk_font().replace(" ", "").encode()  # e.g. NotoSansCJKsc-Regular
    assert any(f.lower().startswith(expected.lower()[: len(b"NotoSansCJK")]) for f in fonts), fonts
