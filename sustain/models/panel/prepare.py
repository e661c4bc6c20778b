"""Validation and data preparation of :func:`sustain.fit_fe`.

Checks the panel and the options, builds the complete-case response and design matrix with the
variables that effects, clusters and weights need, and drops regressors that the estimator
cannot identify (absorbed by the effects, or collinear), naming them.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import FloatArray
from sustain.errors import DataError, FitError, SpecError, problem_rows
from sustain.formula import check_columns, design, parse_formula, variables
from sustain.models.panel import absorb as fe_fast
from sustain.options import CovType, Estimator, check_choice

# within fits with at least this many observations use the numpy path when fast=None
FAST_MIN_NOBS = 100_000
# duplicate (entity, time) pairs are counted with a dense bincount up to this many cells
DENSE_PAIR_CELLS = 100_000_000


@dataclass(frozen=True)
class Options:
    """The validated options of one :func:`sustain.fit_fe` call.

    Attributes
    ----------
    estimator : str
        Estimator name.
    entity, time : str
        Names of the two index levels.
    cov_type : str
        Covariance estimator.
    clusters : tuple of str
        Cluster variables (filled with the entity for ``clustered`` without ``cluster``).
    absorbed : tuple of str
        Absorbed effects (within only).
    constant : bool
        The within formula asks for Stata's ``_cons`` with an explicit ``1 +``.
    """

    estimator: str
    entity: str
    time: str
    cov_type: str
    clusters: tuple[str, ...]
    absorbed: tuple[str, ...]
    constant: bool


@dataclass(frozen=True)
class Prepared:
    """Complete-case response, design and the variables that effects/clusters/weights use.

    Attributes
    ----------
    y : Series
        Response on the panel's (entity, time) index.
    X : DataFrame
        Regressors (``Intercept`` only for estimators with a constant).
    codes : mapping of str to Effect
        Integer codes of the index levels, absorbed effects and cluster variables.
    weights : ndarray or None
        Observation weights.
    entity, time : str
        Index level names.
    spec : object
        formulaic model spec of the design (with its intercept), to encode new values the way
        the fit did (margins and predictions).
    """

    y: pd.Series
    X: pd.DataFrame
    codes: Mapping[str, fe_fast.Effect]
    weights: FloatArray | None
    entity: str
    time: str
    spec: Any = None


def resolve_options(
    data: pd.DataFrame,
    formula: str,
    effects: str | Sequence[str] | None,
    estimator: str,
    cov_type: str | None,
    cluster: str | Sequence[str] | None,
    bandwidth: float | None,
) -> Options:
    """Check the panel and options of :func:`sustain.fit_fe` and fill in the defaults.

    Raises
    ------
    SpecError
        Naming the bad option; :class:`~sustain.errors.DataError` for duplicate rows.

    Examples
    --------
    >>> idx = pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["agency_id", "year"])
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 1, 3]}, index=idx)
    >>> o = resolve_options(df, "y ~ x", None, "within", None, "agency_id", None)
    >>> o.absorbed, o.cov_type, o.clusters
    (('agency_id', 'year'), 'clustered', ('agency_id',))
    """
    estimator = check_choice("estimator", estimator, Estimator)
    entity, time = _check_frame(data)
    cov, clusters = covariance_options(cov_type, cluster, bandwidth, entity)
    return Options(
        estimator=estimator,
        entity=entity,
        time=time,
        cov_type=cov,
        clusters=clusters,
        absorbed=_effects(effects, estimator, entity, time),
        constant=_explicit_constant(formula, estimator),
    )


def _check_frame(data: pd.DataFrame) -> tuple[str, str]:
    if not isinstance(data, pd.DataFrame):
        raise SpecError(f"fit_fe takes a DataFrame, not {type(data).__name__}")
    index = data.index
    if not isinstance(index, pd.MultiIndex) or index.nlevels != 2:
        raise SpecError(
            "fit_fe takes a frame indexed (entity, time), e.g. "
            "panel.set_index(['agency_id', 'year'])"
        )
    names = [str(n) if n is not None else "" for n in index.names]
    if not all(names):
        raise SpecError("both index levels of the panel need names, e.g. agency_id and year")
    if not _unique_pairs(index):
        dup = index.duplicated(keep=False)
        rows = np.flatnonzero(dup)
        column, values = f"({names[0]}, {names[1]})", [str(index[i]) for i in rows]
        rule = "each (entity, time) pair must appear once"
        raise DataError(problem_rows("panel", rows, column, rule, values))
    return names[0], names[1]


def _unique_pairs(index: pd.MultiIndex) -> bool:
    """Whether no (entity, time) pair repeats; counts cells with bincount when affordable."""
    sizes = [len(level) for level in index.levels]
    if sizes[0] * sizes[1] > DENSE_PAIR_CELLS or any((c < 0).any() for c in index.codes):
        return bool(index.is_unique)
    pairs = index.codes[0].astype(np.int64) * sizes[1] + index.codes[1]
    return bool(np.bincount(pairs, minlength=1).max(initial=0) <= 1)


def covariance_options(
    cov_type: str | None, cluster: str | Sequence[str] | None, bandwidth: float | None, entity: str
) -> tuple[str, tuple[str, ...]]:
    clusters: tuple[str, ...] = ()
    if cluster is not None:
        clusters = (cluster,) if isinstance(cluster, str) else tuple(cluster)
        if not 1 <= len(clusters) <= 2:
            raise SpecError(f"cluster takes one or two variables, got {len(clusters)}")
    if cov_type is None:
        cov_type = "clustered" if clusters else "unadjusted"
    cov = check_choice("cov_type", cov_type, CovType)
    if clusters and cov != "clustered":
        raise SpecError(f"cluster={cluster!r} needs cov_type='clustered', not {cov!r}")
    if cov == "clustered" and not clusters:
        clusters = (entity,)
    if bandwidth is not None and cov != "driscoll_kraay":
        raise SpecError("bandwidth is only used with cov_type='driscoll_kraay'")
    if bandwidth is not None and not bandwidth >= 0:
        raise SpecError(f"bandwidth must be >= 0, got {bandwidth!r}")
    return cov, clusters


def _effects(
    effects: str | Sequence[str] | None, estimator: str, entity: str, time: str
) -> tuple[str, ...]:
    if isinstance(effects, str):
        effects = (effects,)
    if estimator != "within":
        if effects:
            raise SpecError(
                f"only the within estimator absorbs effects; estimator={estimator!r} "
                f"got effects={tuple(effects)!r}"
            )
        return ()
    names = (entity, time) if effects is None else tuple(dict.fromkeys(effects))
    if not names:
        raise SpecError("the within estimator needs at least one effect; use estimator='pooled'")
    return names


def _explicit_constant(formula: str, estimator: str) -> bool:
    fixed = parse_formula(formula).fixed
    explicit = bool(re.search(r"(^|\+)\s*1\s*(\+|$)", fixed))
    if explicit and estimator == "first_difference":
        raise SpecError("first differences remove the constant; drop '1 +' from the formula")
    return explicit and estimator == "within"


def use_fast(fast: bool | None, options: Options, weights: str | None, nobs: int) -> bool:
    """Whether the fit goes through sustain's numpy within path.

    ``fast=None`` chooses it for unweighted within fits without a constant that have at
    least ``FAST_MIN_NOBS`` rows or more than two absorbed effects (linearmodels allows two).

    Examples
    --------
    >>> o = Options("within", "i", "t", "unadjusted", (), ("i", "t"), False)
    >>> use_fast(None, o, None, 500), use_fast(None, o, None, 500_000)
    (False, True)
    """
    estimator, constant, absorbed = options.estimator, options.constant, options.absorbed
    blockers = [
        why
        for why, bad in (
            ("it is only for the within estimator", estimator != "within"),
            ("it does not take weights", weights is not None),
            ("it does not report a constant", constant),
        )
        if bad
    ]
    if fast and blockers:
        raise SpecError(f"fast=True is not possible: {'; '.join(blockers)}")
    if len(absorbed) > 2 and (fast is False or blockers):
        raise SpecError("more than two absorbed effects need the fast path (fast=None)")
    if fast is not None:
        return fast
    return not blockers and (nobs >= FAST_MIN_NOBS or len(absorbed) > 2)


# --------------------------------------------------------------------------- data


def prepare(
    data: pd.DataFrame, formula: str, options: Options, weights: str | None = None
) -> Prepared:
    """Complete-case response and design with the effect, cluster and weight variables.

    Rows with a missing value in any variable used are dropped.

    Examples
    --------
    >>> idx = pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["agency_id", "year"])
    >>> df = pd.DataFrame({"y": [1.0, 2, None, 4], "x": [0.0, 1, 1, 3]}, index=idx)
    >>> o = resolve_options(df, "y ~ x", None, "within", None, None, None)
    >>> p = prepare(df, "y ~ x", o)
    >>> len(p.y), list(p.X.columns), sorted(p.codes)
    (3, ['x'], ['agency_id', 'year'])
    """
    estimator, constant, entity, time = (
        options.estimator,
        options.constant,
        options.entity,
        options.time,
    )
    names = [*options.absorbed, *options.clusters, *([weights] if weights else [])]
    extras = tuple(dict.fromkeys(names))
    check_columns(data, formula, extra=extras)
    used = (variables(formula) | set(extras)) - {entity, time}
    mask = data[sorted(used)].notna().all(axis=1).to_numpy() if used else np.ones(len(data), bool)
    frame = data[mask] if not mask.all() else data
    if len(frame) == 0:
        raise FitError(f"no complete rows for {formula!r} and {', '.join(extras) or 'the model'}")
    # Build with an intercept so that categorical terms get reference coding (as in R and
    # Stata), then drop it where the estimator has no constant.
    d = design(frame, formula, intercept=True)
    keep_intercept = constant or estimator in ("random", "between", "pooled")
    if len(d.rows) != len(frame):
        frame = frame.iloc[frame.index.get_indexer(d.rows)]
    variables_ = dict.fromkeys([entity, time, *options.absorbed, *options.clusters])
    codes = {name: _variable_codes(frame, name) for name in variables_}
    assert d.y is not None
    y = pd.Series(d.y.to_numpy(dtype=float), index=frame.index, name=d.y.name)
    columns = [c for c in d.X.columns if keep_intercept or c != "Intercept"]
    X = pd.DataFrame(d.X[columns].to_numpy(dtype=float), index=frame.index, columns=columns)
    w = frame[weights].to_numpy(dtype=float) if weights else None
    return Prepared(y=y, X=X, codes=codes, weights=w, entity=entity, time=time, spec=d.spec)


def _variable_codes(frame: pd.DataFrame, name: str) -> fe_fast.Effect:
    if name in frame.index.names:
        codes = np.asarray(frame.index.codes[frame.index.names.index(name)])
        if (codes < 0).any():
            raise FitError(f"index level {name} has missing values")
        return fe_fast.effect_from_codes(name, codes)
    return fe_fast.effect_from_values(name, frame[name].to_numpy())


def effect_codes(p: Prepared, name: str) -> fe_fast.Effect:
    """Integer codes of an index level, absorbed effect or cluster variable of the rows.

    Examples
    --------
    >>> idx = pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["agency_id", "year"])
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 1, 3]}, index=idx)
    >>> p = prepare(df, "y ~ x", resolve_options(df, "y ~ x", None, "within", None, None, None))
    >>> effect_codes(p, "agency_id").codes.tolist()
    [0, 0, 1, 1]
    """
    return p.codes[name]


def _transformed(
    p: Prepared, names: list[str], estimator: str, absorbed: tuple[str, ...]
) -> np.ndarray:
    """The regressors as the estimator sees them (for collinearity checks)."""
    X = p.X[names].to_numpy()
    if estimator == "within":
        return fe_fast.absorb(X, [effect_codes(p, n) for n in absorbed]).values
    entity = p.codes[p.entity]
    if estimator == "between":
        return fe_fast.group_means(X, entity)
    if estimator == "first_difference":
        # As linearmodels' FirstDifferenceOLS: a row is differenced with the same entity's row
        # in the preceding time label present in the data, never across a gap of the entity.
        period = pd.factorize(p.y.index.get_level_values(p.time), sort=True)[0]
        order = np.lexsort((period, entity.codes))
        same = entity.codes[order][1:] == entity.codes[order][:-1]
        adjacent = np.diff(period[order]) == 1
        return (X[order][1:] - X[order][:-1])[same & adjacent]
    return X


def drop_collinear(
    p: Prepared, options: Options, transformed: FloatArray | None = None
) -> tuple[Prepared, tuple[str, ...]]:
    """Drop regressors the estimator cannot identify, with a warning and a note naming them.

    A regressor is dropped when the estimator's transform (absorbing the effects,
    differencing, averaging) leaves nothing of it, or when it is a linear combination of
    regressors before it. The intercept of estimators with a constant is never dropped.
    ``transformed`` may pass the already absorbed columns of ``p.X`` (within, no constant).

    Raises
    ------
    FitError
        When no regressor is left.

    Examples
    --------
    >>> import warnings
    >>> idx = pd.MultiIndex.from_product([["a", "b", "c"], [1, 2]], names=["agency_id", "year"])
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 5, 4, 7], "x": [0.0, 1, 1, 3, 2, 2],
    ...                    "tier": [1.0, 1, 0, 0, 1, 1]}, index=idx)
    >>> o = resolve_options(df, "y ~ x + tier", "agency_id", "within", None, None, None)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     p, notes = drop_collinear(prepare(df, "y ~ x + tier", o), o)
    >>> list(p.X.columns), notes[0][:12]
    (['x'], 'Dropped tier')
    """
    estimator, absorbed = options.estimator, options.absorbed
    within_like = estimator in ("within", "first_difference")
    names = [c for c in p.X.columns if not (within_like and c == "Intercept")]
    if not [c for c in names if c != "Intercept"]:
        raise FitError("the formula has no regressors to estimate")
    X = p.X[names].to_numpy()
    if transformed is None:
        transformed = _transformed(p, names, estimator, absorbed)
    gone, dependent = fe_fast.collinear(transformed, X)
    notes = []
    if gone:
        what = f"the {', '.join(absorbed)} effects" if absorbed else estimator
        dropped = ", ".join(names[j] for j in gone)
        notes.append(f"Dropped {dropped}: absorbed by {what} (no variation left to estimate).")
    if dependent:
        dropped = ", ".join(names[j] for j in dependent)
        notes.append(f"Dropped {dropped}: collinear with the other regressors.")
    for note in notes:
        warnings.warn(note, stacklevel=3)
    drop = [names[j] for j in (*gone, *dependent)]
    if not [c for c in names if c not in drop and c != "Intercept"]:
        raise FitError(f"nothing left to estimate: {' '.join(notes)}")
    return dataclasses.replace(p, X=p.X.drop(columns=drop)), tuple(notes)
