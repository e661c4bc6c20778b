"""Regression-table columns of marginal effects, and wild bootstrap p-values and intervals.

``regression_table(..., margins=True)`` shows each model's marginal effects
(:func:`sustain.margins`) instead of its coefficients: frequentist columns with their
delta-method standard errors and stars, Bayesian ones with posterior intervals.
``inference="wild"`` keeps the coefficients but takes the stars, p-values and confidence
intervals of the terms that have a :func:`sustain.wild_bootstrap` result from the bootstrap;
terms without one carry no stars. Both add a note saying what the table shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sustain.errors import SpecError
from sustain.tables.model_columns import (
    ColumnOptions,
    ModelColumn,
    bayesian_cells,
    build_column,
    frequentist_cells,
)
from sustain.tables.table import Cell

#: Header of a margins column, by kind of margins.
MARGIN_SCALES = {"average": "AME", "at_means": "MEM"}
#: Options of ``margins=`` in a table (``by=`` would need one column per group).
MARGIN_OPTIONS = frozenset({"variables", "kind", "at", "groups", "random_seed"})


def margin_options(margins: bool | Mapping[str, Any]) -> dict[str, Any] | None:
    """``None`` for coefficient tables, else the options passed to :func:`sustain.margins`.

    Examples
    --------
    >>> margin_options(True), margin_options(False), margin_options({"kind": "at_means"})
    ({}, None, {'kind': 'at_means'})
    """
    if margins is False:
        return None
    if margins is True:
        return {}
    if not isinstance(margins, Mapping):
        raise SpecError("margins must be true, false or a table of options of sustain.margins")
    unknown = sorted(set(margins) - MARGIN_OPTIONS)
    if unknown:
        raise SpecError(
            f"margins: unknown option(s) {', '.join(unknown)} (allowed: "
            f"{', '.join(sorted(MARGIN_OPTIONS))})"
        )
    return dict(margins)


def margins_column(
    result: Any,
    options: ColumnOptions,
    settings: Mapping[str, Any],
    data: pd.DataFrame | None,
) -> ModelColumn:
    """The column of a result's marginal effects (see :func:`sustain.margins`)."""
    from sustain.inference import margins

    base = build_column(result, options, exponentiate=False)
    table = margins(result, alpha=options.alpha, data=data, **settings)
    tidy = table.rename(columns={"se": "std_error", "lower": "conf_low", "upper": "conf_high"})
    if result.inference == "bayesian":
        cells = bayesian_cells(tidy, options.digits)
    else:
        cells = frequentist_cells(tidy, options)
    kind = str(settings.get("kind", "average"))
    return dataclasses.replace(base, cells=cells, scale=MARGIN_SCALES[kind])


def match_bootstraps(results: Sequence[Any], bootstraps: Sequence[Any]) -> list[list[Any]]:
    """The bootstrap results of each model (matched by model description and estimate).

    Raises
    ------
    SpecError
        For a bootstrap result of none of the models, or a model column that is Bayesian.
    """
    out: list[list[Any]] = [[] for _ in results]
    for wb in bootstraps:  # a model shown twice gets its bootstraps in both columns
        if not hasattr(wb, "model") or not hasattr(wb, "pvalue"):
            raise SpecError(f"bootstrap= takes wild_bootstrap results, not {type(wb).__name__}")
        found = [
            i
            for i, r in enumerate(results)
            if r.inference == "frequentist"
            and r.info == wb.model
            and wb.term in r.params.index
            and np.isclose(float(r.params[wb.term]), wb.estimate, rtol=1e-12, atol=0)
        ]
        if not found:
            raise SpecError(
                f"the wild bootstrap of {wb.term!r} ({wb.model.model}, {wb.model.formula!r}) "
                "belongs to none of the table's models"
            )
        for i in found:
            out[i].append(wb)
    return out


def wild_column(
    result: Any, column: ModelColumn, boots: Sequence[Any], options: ColumnOptions
) -> ModelColumn:
    """The column with bootstrap p-values (stars) and intervals for the bootstrapped terms."""
    for wb in boots:
        if not np.isclose(wb.alpha, options.alpha):
            raise SpecError(
                f"the wild bootstrap of {wb.term!r} has alpha={wb.alpha:g}, the table "
                f"alpha={options.alpha:g}; run it with the table's alpha"
            )
    tidy = result.tidy(options.alpha).set_index("term")
    tested = {wb.term for wb in boots}
    # untested terms: no stars, and no p-value or interval (those would be the sandwich's)
    tidy.loc[[t for t in tidy.index if t not in tested], ["p_value", "conf_low", "conf_high"]] = (
        np.nan
    )
    for wb in boots:
        tidy.loc[wb.term, ["p_value", "conf_low", "conf_high"]] = [wb.pvalue, *wb.conf_int]
    cells = frequentist_cells(tidy.reset_index(), options)
    if options.statistic == "ci":
        cells = {t: (e, Cell("") if t not in tested else d) for t, (e, d) in cells.items()}
    hidden = set(result.params.index) - set(column.cells)
    return dataclasses.replace(column, cells={t: c for t, c in cells.items() if t not in hidden})


def inference_notes(
    margins: Mapping[str, Any] | None,
    columns: Sequence[ModelColumn],
    bootstraps: Sequence[Any],
    language: str,
    labels: Mapping[str, str] | None = None,
) -> list[str]:
    """Notes saying what the table shows: marginal effects, or wild bootstrap inference.

    Examples
    --------
    >>> inference_notes({}, [], [], "en")[0][:31]
    'Average marginal effects (AMEs)'
    """
    notes = []
    if margins is not None:
        notes.append(_margins_note(str(margins.get("kind", "average")), columns, language))
    if bootstraps:
        notes.append(_wild_note(bootstraps, language, labels or {}))
    return notes


def _margins_note(kind: str, columns: Sequence[ModelColumn], language: str) -> str:
    bayes = any(c.inference == "bayesian" for c in columns)
    if language == "zh":
        what = "平均边际效应（AME）" if kind == "average" else "均值处边际效应（MEM）"
        text = (
            f"表中为{what}：风险模型为对年度退出概率的效应，线性模型为对因变量的效应；"
            "连续变量为导数，虚拟变量与分类变量为相对参照组的离散变化；标准误由 delta 方法"
            "根据各模型的协方差矩阵计算"
        )
        return text + ("；贝叶斯模型报告效应的后验均值与可信区间。" if bayes else "。")
    what = (
        "Average marginal effects (AMEs)"
        if kind == "average"
        else "Marginal effects at the means (MEMs)"
    )
    text = (
        f"{what}: on the annual exit probability for hazard models and on the response for "
        "linear models; derivatives for continuous variables, discrete changes from the "
        "reference for dummies and categories; delta-method standard errors from each model's "
        "covariance"
    )
    return text + (
        "; Bayesian models: posterior mean and interval of the effect." if bayes else "."
    )


def _wild_note(bootstraps: Sequence[Any], language: str, labels: Mapping[str, str]) -> str:
    from sustain.presentation.labels import term_label

    names = dict.fromkeys(term_label(wb.term, labels) for wb in bootstraps)
    if language == "zh":
        how = "；".join(sorted({_describe_zh(wb, labels) for wb in bootstraps}))
        return (
            f"{'、'.join(names)}的显著性星号、p 值与置信区间来自{how}；未作自助检验的变量不标注星号，"
            "也不报告 p 值与置信区间。"
        )
    kinds = "; ".join(sorted({wb.describe() for wb in bootstraps}))
    return (
        f"Stars, p-values and confidence intervals of {', '.join(names)}: {kinds}; terms "
        "without a bootstrap test carry no stars, p-value or interval."
    )


def _describe_zh(wb: Any, labels: Mapping[str, str]) -> str:
    """The bootstrap in Chinese (as :meth:`WildBootstrapResult.describe`)."""
    kind = "限制性" if wb.impose_null else "非限制性"
    method = "野聚类自助法" if wb.method == "wild cluster" else "得分自助法"
    weights = "Rademacher 权重" if wb.weights == "rademacher" else "Webb 权重"
    draws = f"全部 {wb.reps:,} 个权重向量" if wb.enumerated else f"{wb.reps:,} 次抽样"
    from sustain.presentation.labels import term_label

    cluster = term_label(wb.cluster, labels)
    return f"{kind}{method}（{weights}，{draws}，按{cluster}的 {wb.n_clusters} 个聚类）"
