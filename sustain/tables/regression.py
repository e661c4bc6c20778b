"""``regression_table``: several fitted models side by side, in any of sustain's formats.

Tables take only fitted results (they never refit): each result becomes a column of cells
(:mod:`sustain.tables.model_columns`), the columns are arranged into labelled, blocked rows
with a bottom block of model statistics (:mod:`sustain.tables.layout`) and the table is
rendered (:mod:`sustain.tables.output`).

Why not maketables? maketables 0.2.0 (installed as a pyfixest dependency) was evaluated
first, through its plug-in extractor interface with our result objects. It cannot be the
renderer here: one cell format and one set of star thresholds apply to the whole table, so a
Bayesian column (posterior mean and credible interval, no stars) cannot stand next to a
frequentist one; its LaTeX leaves labels unescaped (``gov_share``, ``&``, ``%`` break the
compile) and needs ``makecell`` and ``tabularx``; its HTML (great_tables) carries a random
element id, so output is not reproducible; it has no Markdown or CSV output. The table model
and the five renderers here are small and fully tested instead (see ``docs/tables.md``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from sustain._typing import PathLikeStr
from sustain.diagnostics.headline import ESS_BULK_MIN, RHAT_MAX, RULE_TEXT
from sustain.errors import SpecError
from sustain.options import IntervalKind, TableFormat
from sustain.presentation.labels import LabelSource, load_labels, term_label
from sustain.presentation.language import Language, check_language
from sustain.presentation.terms import exp_name
from sustain.tables.inference_columns import (
    MARGIN_SCALES,
    inference_notes,
    margin_options,
    margins_column,
    match_bootstraps,
    wild_column,
)
from sustain.tables.layout import (
    DEFAULT_STATS,
    LayoutOptions,
    coefficient_sections,
    header_rows,
    stat_section,
)
from sustain.tables.model_columns import ColumnOptions, ModelColumn, build_column
from sustain.tables.output import RenderOptions, check_format, render
from sustain.tables.table import Table
from sustain.tables.translate import translate_table

_STATISTICS = ("se", "t", "ci", "p")
_INFERENCE = ("sandwich", "wild")
_INTERVALS = ("eti", "hdi")
# what estimate rows hold when nothing is exponentiated: coefficients, posterior means, effects
_PLAIN_SCALES = {"Coef.", "Mean", *MARGIN_SCALES.values()}


def _check_results(results: Any) -> list[Any]:
    items = [results] if hasattr(results, "info") else list(results)
    items = _by_cause(items)
    if not items:
        raise SpecError("regression_table needs at least one fitted result")
    for i, item in enumerate(items, 1):
        if not all(hasattr(item, a) for a in ("info", "inference", "tidy", "nobs")):
            raise SpecError(
                f"regression_table takes fitted sustain results; item {i} is a "
                f"{type(item).__name__} (tables never refit: pass the result of a fit_* call)"
            )
    return items


def _check_inference(
    inference: str, bootstrap: Sequence[Any], margins: Any, results: Sequence[Any]
) -> list[Any]:
    """The bootstrap results to use (none unless ``inference="wild"``)."""
    if inference not in _INFERENCE:
        raise SpecError(f"inference={inference!r} is not one of 'sandwich', 'wild'")
    boots = list(bootstrap or [])
    if inference == "sandwich":
        if boots:
            raise SpecError("bootstrap= results are shown with inference='wild'")
        return []
    if margins is not None:
        raise SpecError(
            "inference='wild' tests coefficients; it cannot be combined with margins=True"
        )
    if not boots:
        raise SpecError("inference='wild' needs bootstrap= (the wild_bootstrap results)")
    return boots


def _by_cause(items: list[Any]) -> list[Any]:
    """Competing-risks fits become one column per cause (a block of adjacent columns)."""
    out: list[Any] = []
    for item in items:
        if hasattr(item, "cause_result") and hasattr(item, "causes"):
            out.extend(item.cause_result(cause) for cause in item.causes)
        else:
            out.append(item)
    return out


def _exponentiate_flags(results: Sequence[Any], exponentiate: bool | Sequence[bool]) -> list[bool]:
    if isinstance(exponentiate, bool):
        return [exponentiate and exp_name(r.info) is not None for r in results]
    flags = [bool(f) for f in exponentiate]
    if len(flags) != len(results):
        raise SpecError(f"exponentiate has {len(flags)} entries for {len(results)} models")
    for i, (result, flag) in enumerate(zip(results, flags, strict=True), 1):
        if flag and exp_name(result.info) is None:
            raise SpecError(
                f"exponentiate: model ({i}) {result.info.model!r} has no hazard or odds ratio "
                f"scale (link {result.info.link!r})"
            )
    return flags


def column_options(
    statistic: str,
    stars: Sequence[float],
    alpha: float,
    interval: str,
    digits: int,
    show_duration: bool = False,
) -> ColumnOptions:
    """Validate the cell options of a regression table.

    Examples
    --------
    >>> column_options("se", (0.05, 0.1), 0.05, "hdi", 2).stars
    (0.1, 0.05)
    """
    if statistic not in _STATISTICS:
        raise SpecError(f"statistic={statistic!r} is not one of 'se', 't', 'ci', 'p'")
    if interval not in _INTERVALS:
        raise SpecError(f"interval={interval!r} is not one of 'eti', 'hdi'")
    thresholds = tuple(sorted((float(s) for s in stars), reverse=True))
    if any(not 0 < s < 1 for s in thresholds) or len(set(thresholds)) != len(thresholds):
        raise SpecError(f"stars={tuple(stars)!r} must be distinct p-values between 0 and 1")
    if not 0 < alpha < 1:
        raise SpecError(f"alpha={alpha!r} must lie between 0 and 1")
    if not isinstance(digits, int) or not 0 <= digits <= 10:
        raise SpecError(f"digits={digits!r} must be an integer between 0 and 10")
    return ColumnOptions(
        statistic,  # type: ignore[arg-type]
        thresholds,
        alpha,
        interval,  # type: ignore[arg-type]
        digits,
        bool(show_duration),
    )


def table_notes(
    columns: Sequence[ModelColumn],
    options: ColumnOptions,
    language: Language = "en",
    labels: Mapping[str, str] | None = None,
) -> list[str]:
    """The automatic notes: what is in parentheses, star thresholds, Bayesian intervals.

    Examples
    --------
    >>> from sustain.tables.table import Cell
    >>> col = ModelColumn("FE", "y", "frequentist", "Coef.", {}, (), (), "", {}, 10, {})
    >>> table_notes([col], ColumnOptions())
    ['Standard errors in parentheses.', '* p < 0.1, ** p < 0.05, *** p < 0.01.']
    >>> table_notes([col], ColumnOptions(), "zh")
    ['括号内为标准误。', '* p < 0.1，** p < 0.05，*** p < 0.01。']
    """
    if language == "zh":
        return _notes_zh(columns, options, labels or {})
    pct = f"{100 * (1 - options.alpha):g}%"
    frequentist = [c for c in columns if c.inference != "bayesian"]
    notes = []
    if frequentist:
        z = {c.z_statistic for c in frequentist}
        stat = "z" if z == {True} else "t" if z == {False} else "t/z"
        ratio = any(c.scale not in _PLAIN_SCALES for c in frequentist)
        notes.append(
            {
                "se": "Standard errors in parentheses"
                + (f" ({pct} confidence intervals in brackets for ratios)" if ratio else ""),
                "t": f"{stat} statistics in parentheses",
                "ci": f"{pct} confidence intervals in brackets",
                "p": "p-values in brackets",
            }[options.statistic]
            + "."
        )
        if options.stars:
            stars = ", ".join(f"{'*' * (i + 1)} p < {t:g}" for i, t in enumerate(options.stars))
            notes.append(stars + ".")
    if any(c.inference == "bayesian" for c in columns):
        kind = "equal-tailed" if options.interval == "eti" else "highest-density"
        notes.append(
            f"Bayesian models: posterior means with {pct} {kind} credible intervals in "
            "brackets; no significance stars."
        )
    scales = sorted({c.scale for c in columns} - _PLAIN_SCALES)
    if scales:
        names = {"HR": "hazard ratio", "OR": "odds ratio"}
        spelled = "; ".join(f"{s}: {names.get(s, 'exponentiated coefficient')}" for s in scales)
        notes.append(f"{spelled} (intervals exponentiated from the log scale).")
    if any(c.problems for c in columns):
        notes.append(f"† Failed convergence diagnostics ({RULE_TEXT}): interpret with caution.")
    return notes


def _notes_zh(
    columns: Sequence[ModelColumn], options: ColumnOptions, labels: Mapping[str, str]
) -> list[str]:
    """The automatic notes in Chinese, in the wording of Chinese-language journals."""
    pct = f"{100 * (1 - options.alpha):g}%"
    frequentist = [c for c in columns if c.inference != "bayesian"]
    notes = []
    if frequentist:
        z = {c.z_statistic for c in frequentist}
        stat = "z" if z == {True} else "t" if z == {False} else "t/z"
        covs = {(c.cov_type, c.cluster) for c in frequentist}
        se = "标准误"
        if len(covs) == 1:
            cov_type, cluster = next(iter(covs))
            if cluster:
                by = "、".join(term_label(c, labels) for c in cluster)
                se = f"以{by}聚类的稳健标准误"
            elif cov_type == "robust":
                se = "稳健标准误"
            elif cov_type == "driscoll_kraay":
                se = "Driscoll-Kraay 标准误"
        ratio = any(c.scale not in _PLAIN_SCALES for c in frequentist)
        notes.append(
            {
                "se": f"括号内为{se}" + (f"（比值的方括号内为 {pct} 置信区间）" if ratio else ""),
                "t": f"括号内为 {stat} 统计量",
                "ci": f"方括号内为 {pct} 置信区间",
                "p": "方括号内为 p 值",
            }[options.statistic]
            + "。"
        )
        if options.stars:
            stars = "，".join(f"{'*' * (i + 1)} p < {t:g}" for i, t in enumerate(options.stars))
            notes.append(stars + "。")
    if any(c.inference == "bayesian" for c in columns):
        kind = "等尾" if options.interval == "eti" else "最高密度"
        notes.append(f"贝叶斯模型报告后验均值，方括号内为 {pct} {kind}可信区间，不标注显著性星号。")
    scales = sorted({c.scale for c in columns} - _PLAIN_SCALES)
    if scales:
        names = {"HR": "风险比", "OR": "优势比"}
        spelled = "；".join(f"{s}：{names.get(s, '指数化系数')}" for s in scales)
        notes.append(f"{spelled}（区间由对数尺度取指数得到）。")
    if any(c.problems for c in columns):
        notes.append(
            f"† 未通过收敛诊断（R-hat > {RHAT_MAX:g}、bulk ESS < {ESS_BULK_MIN:.0f} 或存在发散转移），"
            "请谨慎解读。"
        )
    return notes


def _warn_failures(columns: Sequence[ModelColumn]) -> None:
    for i, column in enumerate(columns, 1):
        if column.problems:
            warnings.warn(
                f"regression_table: model ({i}) {column.title!r} failed convergence "
                f"diagnostics ({'; '.join(column.problems)}); it is marked † in the table",
                UserWarning,
                stacklevel=3,
            )


def _layout_options(
    labels: LabelSource,
    rename: Mapping[str, str] | None,
    order: Sequence[str] | None,
    keep: Sequence[str] | None,
    drop: Sequence[str] | None,
    blocks: Mapping[str, Sequence[str]] | bool,
    model_names: Sequence[str] | None,
    stats: Sequence[str] | None,
    n_models: int,
    language: Language = "en",
) -> LayoutOptions:
    if model_names is not None and len(model_names) != n_models:
        raise SpecError(f"model_names has {len(model_names)} entries for {n_models} models")
    if not isinstance(blocks, bool | Mapping):
        raise SpecError("blocks must be True, False or a mapping {title: [variables or terms]}")
    return LayoutOptions(
        labels=load_labels(labels, language),
        rename=dict(rename or {}),
        order=tuple(order or ()),
        keep=tuple(keep or ()),
        drop=tuple(drop or ()),
        blocks=None if blocks is True else ({} if blocks is False else dict(blocks)),
        show_block_titles=blocks is not False,
        model_names=tuple(model_names or ()),
        stats=tuple(stats) if stats is not None else DEFAULT_STATS,
    )


def regression_table(
    results: Any,
    format: TableFormat = "latex",
    path: PathLikeStr | None = None,
    *,
    labels: LabelSource = None,
    rename: Mapping[str, str] | None = None,
    order: Sequence[str] | None = None,
    keep: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
    blocks: Mapping[str, Sequence[str]] | bool = True,
    model_names: Sequence[str] | None = None,
    statistic: str = "se",
    stars: Sequence[float] = (0.1, 0.05, 0.01),
    alpha: float = 0.05,
    interval: IntervalKind = "eti",
    exponentiate: bool | Sequence[bool] = False,
    stats: Sequence[str] | None = None,
    show_duration: bool = False,
    digits: int = 3,
    notes: str | Sequence[str] | None = None,
    default_notes: bool = True,
    caption: str | None = None,
    latex_label: str | None = None,
    environment: str | None = "table",
    standalone: bool = False,
    language: Language = "en",
    margins: bool | Mapping[str, Any] = False,
    inference: Literal["sandwich", "wild"] = "sandwich",
    bootstrap: Sequence[Any] = (),
    data: pd.DataFrame | None = None,
) -> str:
    """Several fitted models side by side in one publication table.

    Parameters
    ----------
    results : result or sequence of results
        Fitted sustain results of any family (fixed effects, hazard, Cox, Bayesian).
    format : {"latex", "markdown", "html", "csv", "docx"}
    path : path, optional
        Also write the table there (atomically); required for ``"docx"``.
    labels : mapping, path, "en" or "zh", optional
        Variable labels; default: built-in labels overlaid with the example codebook, in the
        table's language (``"zh"``: the codebook's Chinese labels).
    rename : mapping, optional
        ``{term: label}`` for individual terms (wins over ``labels``).
    order, keep, drop : sequence of str, optional
        Terms to show first; terms to keep or drop (exact names or regular expressions).
    blocks : bool or mapping
        ``True``: funding / contract type / tier / controls blocks; ``False``: no titles;
        a mapping ``{title: [variables or term patterns]}`` defines your own.
    model_names : sequence of str, optional
        Column titles (default: each model's ``info.model``).
    statistic : {"se", "t", "ci", "p"}
        Beneath frequentist estimates: standard error, t/z statistic, confidence interval or
        p-value.
    stars : sequence of float
        P-value thresholds for ``*``, ``**``, ``***``; ``()`` for none. Never on Bayesian
        columns.
    alpha : float
        Intervals have mass ``1 - alpha``.
    interval : {"eti", "hdi"}
        Bayesian interval: equal-tailed or highest-density.
    exponentiate : bool or sequence of bool
        Hazard/odds ratios: ``True`` for every model that has them, or one flag per model.
    stats : sequence of str, optional
        Bottom-block statistics (keys of ``info.stats``), default ``DEFAULT_STATS``.
    show_duration : bool
        Show the duration terms of discrete-time hazard models instead of hiding them behind
        a *Duration dependence* row.
    digits : int
        Decimal places of estimates.
    notes : str or sequence of str, optional
        Extra note lines, after the automatic ones (``default_notes=False`` drops those).
    caption, latex_label, environment : optional
        Caption (all formats); LaTeX ``\\label`` and float environment (``None``: bare
        threeparttable).
    standalone : bool
        LaTeX: a complete document (with ``language="zh"``, for XeLaTeX with xeCJK); HTML: a
        complete page.
    language : {"en", "zh"}
        Language of the fixed text (观测值, 机构固定效应, notes such as
        括号内为以机构聚类的稳健标准误) and of the default variable labels. HTML carries the
        matching ``lang``; Word sets the East Asian font.
    margins : bool or mapping
        Show marginal effects (:func:`sustain.margins`: average marginal effects on the
        probability scale for hazards, the response scale for linear fits, posterior effects
        for Bayesian fits) instead of coefficients; a mapping passes options to
        ``margins`` (``variables``, ``kind``, ``at``, ``groups``, ``random_seed``).
    inference : {"sandwich", "wild"}
        ``"wild"``: stars, p-values (``statistic="p"``) and intervals (``statistic="ci"``)
        of the terms in ``bootstrap`` come from the wild cluster bootstrap; other terms carry
        no stars. A note says which.
    bootstrap : sequence of WildBootstrapResult
        :func:`sustain.wild_bootstrap` results of the table's models (matched to them by
        model and term).
    data : DataFrame, optional
        The data the Bayesian models were fitted on (their margins need them).

    Returns
    -------
    str
        The rendered table (for ``"docx"`` the path written). HTML and Markdown strings
        display as tables in Jupyter.

    Warns
    -----
    UserWarning
        When a Bayesian model fails its convergence checks; its column is marked †.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.results import FrequentistResults, ModelInfo
    >>> p = pd.Series({"hhi": -2.0, "log_revenue": 0.5})
    >>> cov = pd.DataFrame([[0.64, 0], [0, 0.04]], index=p.index, columns=p.index)
    >>> info = ModelInfo("Two-way FE", "within", "quality", "quality ~ hhi + log_revenue", 800,
    ...                  groups={"agency_id": 120}, effects=("agency_id", "year"),
    ...                  cov_type="clustered", cluster=("agency_id",), stats={"r2_within": 0.08})
    >>> labels = {"quality": "Quality", "hhi": "HHI", "log_revenue": "Log revenue"}
    >>> fe = FrequentistResults(p, cov, info, df_resid=119)
    >>> print(regression_table(fe, "markdown", labels=labels), end="")
    |  | Quality<br>Two-way FE<br>(1) |
    | :--- | :---: |
    | **Funding** |  |
    | HHI | -2.000\\*\\* |
    |  | (0.800) |
    | **Controls** |  |
    | Log revenue | 0.500\\*\\* |
    |  | (0.200) |
    | Observations | 800 |
    | Agencies | 120 |
    | Agency FE | Yes |
    | Year FE | Yes |
    | Standard errors | Cluster (Agency) |
    | Within R² | 0.080 |
    <BLANKLINE>
    Standard errors in parentheses.
    <BLANKLINE>
    \\* p \\< 0.1, \\*\\* p \\< 0.05, \\*\\*\\* p \\< 0.01.
    """
    check_format(format, path)
    language = check_language(language)
    items = _check_results(results)
    col_opts = column_options(statistic, stars, alpha, interval, digits, show_duration)
    lay_opts = _layout_options(
        labels, rename, order, keep, drop, blocks, model_names, stats, len(items), language
    )
    flags = _exponentiate_flags(items, exponentiate)
    settings = margin_options(margins)
    boots = _check_inference(inference, bootstrap, settings, items)
    if settings is not None:
        columns = [margins_column(r, col_opts, settings, data) for r in items]
    else:
        columns = [build_column(r, col_opts, f) for r, f in zip(items, flags, strict=True)]
    if inference == "wild":
        matched = match_bootstraps(items, boots)
        columns = [
            wild_column(r, c, b, col_opts) if b else c
            for r, c, b in zip(items, columns, matched, strict=True)
        ]
    _warn_failures(columns)
    extra = [notes] if isinstance(notes, str) else list(notes or [])
    auto = table_notes(columns, col_opts, language, lay_opts.labels) if default_notes else []
    if default_notes:
        auto += inference_notes(settings, columns, boots, language, lay_opts.labels)
    table = Table(
        header=header_rows(columns, lay_opts),
        sections=(*coefficient_sections(columns, lay_opts), stat_section(columns, lay_opts)),
        notes=tuple(auto + extra),
        caption=caption,
    )
    user_text = [*(model_names or ()), *(rename or {}).values()]
    table = translate_table(table, language, keep=user_text)
    options = RenderOptions(standalone, environment, latex_label, language)
    return render(table, format, path, options)
