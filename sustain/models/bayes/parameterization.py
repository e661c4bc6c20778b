"""Centred or non-centred group effects: one rule for ``fit_bayes`` and ``fit_joint``.

A group effect ``r_j ~ N(0, tau^2)`` can be sampled centred (``r_j`` itself) or non-centred
(``r_j = tau z_j``, ``z_j ~ N(0, 1)``). Which one NUTS explores well depends on how strongly
the level's own data pin ``r_j`` down compared with its prior (Betancourt and Girolami 2015;
Papaspiliopoulos, Roberts and Sköld 2007): with data information ``I_j`` (the precision of
``r_j`` from its level's rows alone) the posterior of ``r_j`` given ``tau`` has variance
``1 / (I_j + 1/tau^2)``; when ``I_j tau^2`` is large the data dominate, the centred
``(r_j, tau)`` are nearly independent, and the non-centred ``(z_j, tau)`` are strongly
correlated (``z_j ~ r_hat_j / tau``); when it is small the roles swap and the centred form has
the funnel. The rule here centres a level when its *information ratio* ``I_j tau^2 >= 1``
with ``tau^2`` at a lower 95% confidence bound: the posterior of ``tau`` reaches down to about
that bound, and there every centred level with a smaller ratio sits in a funnel. Measured: on
the example panel's district hazard, centring the two districts whose point-estimate ratio was
just above one gave 90 divergent transitions where the non-centred model gave 2; on the
recovery test's simulated hazard (11 districts, ``tau`` detectable at p = 0.01), centring the
7 districts with point ratios 1.4-1.8 gave 10 divergences where the non-centred model gave 0.

The ratio is estimated before sampling, from a pooled fit without group effects: for the
Gaussian families the residuals ``r_i`` of least squares and the weight ``1 / sigma^2`` with
``sigma^2`` the within-level residual variance; for the other families the working residuals
and weights of the pooled generalised linear model (statsmodels GLM, IRLS). For a varying
coefficient with values ``z_i``, ``I_j = sum_{i in j} w_i z_i^2``, the level's one-step estimate
is ``u_j = sum w_i z_i r_i / I_j`` with sampling variance ``1 / I_j``, and ``tau^2`` is the
DerSimonian-Laird moment estimate ``max((Q - (J - 1)) / (S_1 - S_2 / S_1), 0)`` over the ``J``
levels with data, with Cochran's ``Q = sum I_j (u_j - u_bar)^2``, ``u_bar`` the
``I_j``-weighted mean, ``S_1 = sum I_j`` and ``S_2 = sum I_j^2`` (for equal-sized Gaussian
intercepts: the one-way ANOVA estimate). Weighting by ``I_j`` keeps levels with little data
from drowning the others (an unweighted moment estimate is dominated by their noisy ``u_j``).
The lower bound replaces the mean ``J - 1`` of ``Q`` under ``tau = 0`` by its 95% quantile
``chi2_{0.95}(J - 1)``; it is positive (``tau > 0`` *detectable*) when ``Q / (J - 1)`` (the
ANOVA F statistic for equal sizes) exceeds ``chi2_{0.95}(J - 1) / (J - 1)``. With many levels
the bound is close to the estimate (397 agencies: 0.99 of it), with few it is much smaller.
A level of a correlated factor is centred only when every coefficient qualifies.

For discrete responses the one-step estimates are only approximately normal when the level has
several events: a level with no events has a one-sided likelihood (its effect can go to minus
infinity), and one event pins the log rate down to about +-1 whatever the pooled information
says (the observed information of a Poisson level's log rate at its maximum is its event
count). Such levels also have heavy-tailed one-step estimates that inflate the moment estimate
of ``tau^2`` (measured: a bernoulli cloglog ``(1 | agency_id)`` on the example panel, at most
one exit per agency, gave ``tau^2 = 42`` and "ratios" up to 8). So for the bernoulli, binomial
and Poisson families only the levels with at least :data:`MIN_EVENTS` of their rarer outcome
(events or non-events; counts for Poisson) enter the moments and can be centred.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
from scipy import stats

from sustain._typing import BoolArray, FloatArray
from sustain.errors import SpecError
from sustain.models.bayes.families import FamilySpec
from sustain.models.bayes.terms import GroupFactor, ModelTerms

Parameterization: TypeAlias = Literal["auto", "centred", "non_centred"]
#: Accepted spellings of each form.
FORMS = {"auto": "auto", "centred": "centred", "non_centred": "non_centred"}
FORMS["noncentred"] = "non_centred"
#: A level is centred under "auto" when its information ratio, computed with a lower
#: confidence bound for ``tau^2`` ...
RATIO_THRESHOLD = 1.0
#: ... at this one-sided level (``tau > 0`` is "detectable" when that bound is positive), reaches
#: :data:`RATIO_THRESHOLD`.
TEST_LEVEL = 0.05
#: Levels of a discrete-response model with fewer of their rarer outcome are never centred.
MIN_EVENTS = 5
#: Families whose levels are judged on Gaussian residuals (no event count).
CONTINUOUS = ("gaussian", "student_t")


@dataclass(frozen=True)
class LevelInformation:
    """How well the data pin down each level's effect of one varying coefficient.

    Attributes
    ----------
    ratio : ndarray, shape (n_levels,)
        Information ratio ``I_j tau^2`` of every level (0 for levels without data).
    f_statistic : float
        Cochran's ``Q / df`` over the levels with data (the one-way ANOVA F statistic for
        equal-sized Gaussian levels; about 1 when ``tau = 0``).
    df : int
        Its numerator degrees of freedom (levels with data minus one).

    Examples
    --------
    >>> info = LevelInformation(np.array([3.0, 0.2]), f_statistic=1.2, df=1)
    >>> info.detectable, info.centred().tolist()
    (False, [False, False])
    >>> info = LevelInformation(np.array([3.0, 1.5]), f_statistic=5.0, df=10)
    >>> info.lower_ratio().round(2).tolist(), info.centred().tolist()
    ([2.38, 1.19], [True, True])
    """

    ratio: FloatArray
    f_statistic: float
    df: int

    @property
    def detectable(self) -> bool:
        """Whether ``tau > 0`` is detectable: F beyond its ``1 - TEST_LEVEL`` quantile under
        ``tau = 0`` (``chi2(df) / df``, the sampling variances being treated as known)."""
        if self.df < 1:
            return False
        return bool(self.f_statistic > self._critical())

    def _critical(self) -> float:
        return float(stats.chi2.ppf(1.0 - TEST_LEVEL, self.df) / self.df)

    def lower_ratio(self) -> FloatArray:
        """``I_j tau_lo^2`` with ``tau_lo^2`` the lower ``1 - TEST_LEVEL`` bound of ``tau^2``.

        ``tau_lo^2 = (Q - chi2_{1-TEST_LEVEL}(df)) / (S_1 - S_2 / S_1)``: the moment estimate
        with the upper quantile of ``Q`` under ``tau = 0`` in place of its mean ``df``, so
        ``lower_ratio = ratio * (F - c) / (F - 1)`` with ``c = chi2_{1-TEST_LEVEL}(df) / df``
        (0 when ``tau > 0`` is not detectable).
        """
        if not self.detectable:
            return np.zeros_like(self.ratio)
        shrink = (self.f_statistic - self._critical()) / (self.f_statistic - 1.0)
        return np.asarray(self.ratio * shrink, dtype=np.float64)

    def centred(self) -> BoolArray:
        """Levels to centre: :meth:`lower_ratio` >= :data:`RATIO_THRESHOLD`."""
        return np.asarray(self.lower_ratio() >= RATIO_THRESHOLD, dtype=bool)


def moment_information(
    resid: FloatArray,
    weight: FloatArray,
    z: FloatArray,
    index: np.ndarray,
    n_levels: int,
    usable: BoolArray | None = None,
) -> LevelInformation:
    """Information ratios of every level from pooled (working) residuals and weights.

    Parameters
    ----------
    resid, weight, z : ndarray, shape (n,)
        Working residuals, working weights and the values multiplying the coefficient.
    index : ndarray of int, shape (n,)
        Level of each row.
    n_levels : int
    usable : ndarray of bool, shape (n_levels,), optional
        Levels whose one-step estimates may be treated as normal (default: all); the others
        are left out of the moments and get ratio 0.

    Notes
    -----
    ``I_j = sum_{i in j} w_i z_i^2``, ``u_j = sum w_i z_i r_i / I_j`` (the level's one-step
    estimate, with sampling variance ``1 / I_j``) and the DerSimonian-Laird estimate
    ``tau^2 = max((Q - (J - 1)) / (S_1 - S_2 / S_1), 0)`` over the ``J`` usable levels with
    data (module docstring).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> level = np.repeat(np.arange(40), 10)
    >>> r = np.repeat(rng.normal(0, 1, 40), 10) + rng.normal(0, 1, 400)
    >>> info = moment_information(r, np.ones(400), np.ones(400), level, 40)
    >>> bool(5 < np.median(info.ratio) < 20), info.detectable
    (True, True)
    """
    info = np.bincount(index, weights=weight * z**2, minlength=n_levels)
    if usable is not None:
        info = np.where(usable, info, 0.0)
    seen = info > 0
    if seen.sum() < 2:
        return LevelInformation(np.zeros(n_levels), 0.0, 0)
    score = np.bincount(index, weights=weight * z * resid, minlength=n_levels)
    estimate = score[seen] / info[seen]
    weight_j = info[seen]
    s1 = float(weight_j.sum())
    centre = float(weight_j @ estimate) / s1
    q = float(weight_j @ (estimate - centre) ** 2)  # Cochran's Q
    df = int(seen.sum()) - 1
    tau2 = max((q - df) / (s1 - float(weight_j @ weight_j) / s1), 0.0)
    return LevelInformation(np.asarray(info * tau2, dtype=np.float64), q / df, df)


def gaussian_information(
    y: FloatArray, X: FloatArray, index: np.ndarray, n_levels: int
) -> LevelInformation:
    """:class:`LevelInformation` of a Gaussian random intercept.

    The residuals of ``y`` on its population-level design ``X`` (least squares) and the weight
    ``1 / sigma^2``, with ``sigma^2`` their within-level variance: the ratio of level ``j`` is
    ``n_j tau^2 / sigma^2`` with the moment estimates of :func:`moment_information`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> agency = np.repeat(np.arange(50), 8)
    >>> y = np.repeat(rng.normal(0, 2, 50), 8) + rng.normal(0, 1, 400)
    >>> info = gaussian_information(y, np.ones((400, 1)), agency, 51)
    >>> bool(20 < np.median(info.ratio[:50]) < 60), float(info.ratio[50]), int(info.centred().sum())
    (True, 0.0, 50)
    """
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    weight = np.full(len(y), 1.0 / max(_within_variance(resid, index, n_levels), 1e-12))
    return moment_information(resid, weight, np.ones(len(y)), index, n_levels)


def check_form(form: object, factor: str | None = None) -> str:
    """The canonical spelling of one parameterisation (``"noncentred"`` -> ``"non_centred"``).

    Raises
    ------
    SpecError
        ``form`` is not ``"auto"``, ``"centred"`` or ``"non_centred"``.

    Examples
    --------
    >>> check_form("noncentred")
    'non_centred'
    """
    if not isinstance(form, str) or form not in FORMS:
        where = f" for {factor!r}" if factor is not None else ""
        raise SpecError(
            f"parameterization={form!r}{where} is not one of 'auto', 'centred', 'non_centred'"
        )
    return FORMS[form]


def centred_intercepts(
    y: FloatArray, X: FloatArray, index: np.ndarray, n_levels: int, form: str = "auto"
) -> BoolArray:
    """Levels of a Gaussian random intercept to sample centred: the shared rule.

    ``"auto"``: :meth:`LevelInformation.centred` of :func:`gaussian_information` (information
    ratio ``n_j tau_lo^2 / sigma^2 >= 1`` with ``tau_lo^2`` a lower 95% bound of ``tau^2``);
    ``"centred"`` / ``"non_centred"``: every level / none. Used by ``fit_bayes`` (through
    :func:`centred_levels`) and by the joint model's quality part.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> agency = np.repeat(np.arange(50), 8)
    >>> y = np.repeat(rng.normal(0, 2, 50), 8) + rng.normal(0, 1, 400)
    >>> int(centred_intercepts(y, np.ones((400, 1)), agency, 51).sum())
    50
    >>> int(centred_intercepts(y, np.ones((400, 1)), agency, 51, "non_centred").sum())
    0
    """
    form = check_form(form)
    if form == "auto":
        return gaussian_information(y, X, index, n_levels).centred()
    return np.full(n_levels, form == "centred", dtype=bool)


def information_ratio(
    y: FloatArray, X: FloatArray, agency: np.ndarray, n_agencies: int
) -> FloatArray:
    """``n_i tau^2 / sigma^2`` of every level of a Gaussian random intercept.

    The ratios of :func:`gaussian_information` (0 for levels without rows).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> agency = np.repeat(np.arange(50), 8)
    >>> y = np.repeat(rng.normal(0, 2, 50), 8) + rng.normal(0, 1, 400)
    >>> r = information_ratio(y, np.ones((400, 1)), agency, 51)
    >>> bool(20 < np.median(r[:50]) < 60), float(r[50])
    (True, 0.0)
    """
    return gaussian_information(y, X, agency, n_agencies).ratio


def _within_variance(resid: FloatArray, index: np.ndarray, n_levels: int) -> float:
    counts = np.bincount(index, minlength=n_levels).astype(float)
    means = np.bincount(index, weights=resid, minlength=n_levels) / np.maximum(counts, 1)
    within = resid - means[index]
    return float(within @ within) / max(len(resid) - int((counts > 0).sum()), 1)


def level_information(terms: ModelTerms, family: FamilySpec) -> list[list[LevelInformation]]:
    """:class:`LevelInformation` of every factor of ``terms.groups`` and each coefficient.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.families import family_spec
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"g": np.repeat(np.arange(20), 30), "x": rng.normal(size=600)})
    >>> eta = -1 + np.repeat(rng.normal(0, 1, 20), 30)
    >>> df["e"] = (rng.random(600) < 1 / (1 + np.exp(-eta))).astype(int)
    >>> (info,), = level_information(build_terms(df, "e ~ x + (1 | g)"), family_spec("bernoulli"))
    >>> info.ratio.shape, bool(np.median(info.ratio) > 1), info.detectable
    ((20,), True, True)
    """
    resid, weight = _working(terms, family)
    out = []
    for g in terms.groups:
        w, usable = weight, None
        if family.name in CONTINUOUS:
            sigma2 = _within_variance(resid, g.index, g.n_levels)
            w = np.full(terms.nobs, 1.0 / max(sigma2, 1e-12))
        else:
            usable = rarer_outcome_counts(terms, family, g.index, g.n_levels) >= MIN_EVENTS
        out.append(
            [
                moment_information(resid, w, g.Z[:, j], g.index, g.n_levels, usable)
                for j in range(g.k)
            ]
        )
    return out


def rarer_outcome_counts(
    terms: ModelTerms, family: FamilySpec, index: np.ndarray, n_levels: int
) -> FloatArray:
    """Per level, the count of the rarer outcome: ``min(events, non-events)`` for a bernoulli
    or binomial response (non-events ``trials - y``), the summed counts for a Poisson one.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.families import family_spec
    >>> t = build_terms(pd.DataFrame({"e": [1, 0, 0, 1, 1, 1], "g": list("aaabbb")}), "e ~ (1 | g)")
    >>> rarer_outcome_counts(t, family_spec("bernoulli"), t.groups[0].index, 2).tolist()
    [1.0, 0.0]
    >>> rarer_outcome_counts(t, family_spec("poisson"), t.groups[0].index, 2).tolist()
    [1.0, 3.0]
    """
    events = np.bincount(index, weights=terms.y, minlength=n_levels).astype(np.float64)
    if family.name == "poisson":
        return events
    trials = terms.trials if terms.trials is not None else np.ones(terms.nobs)
    total = np.bincount(index, weights=trials, minlength=n_levels).astype(np.float64)
    return np.minimum(events, total - events)


def _working(terms: ModelTerms, family: FamilySpec) -> tuple[FloatArray, FloatArray]:
    """Working residuals and weights of the pooled fit (no group effects)."""
    if family.name in ("gaussian", "student_t"):
        beta, *_ = np.linalg.lstsq(terms.X, terms.y, rcond=None)
        return terms.y - terms.X @ beta, np.ones(terms.nobs)
    import warnings

    # the GLM module alone, not statsmodels.api: 0.12 s to import instead of 0.46 s, paid by
    # the first non-Gaussian fit of every process (measured on the 2-core machine)
    from statsmodels.genmod import families as sm_families
    from statsmodels.genmod.generalized_linear_model import GLM

    links = {"logit": sm_families.links.Logit(), "cloglog": sm_families.links.CLogLog()}
    if family.name == "poisson":
        glm_family = sm_families.Poisson()
        y, n = terms.y, np.ones(terms.nobs)
    else:
        glm_family = sm_families.Binomial(link=links[family.link])
        n = terms.trials if terms.trials is not None else np.ones(terms.nobs)
        y = terms.y / n
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = GLM(y, terms.X, family=glm_family, var_weights=n).fit()
    except Exception:  # separation or no events: no usable pilot, so no level is centred
        return np.zeros(terms.nobs), np.zeros(terms.nobs)
    mu = np.asarray(fit.fittedvalues)
    deriv = glm_family.link.deriv(mu)  # d eta / d mu
    weight = n / (deriv**2 * glm_family.variance(mu))
    resid = (y - mu) * deriv
    ok = np.isfinite(weight) & np.isfinite(resid)
    return np.where(ok, resid, 0.0), np.where(ok, weight, 0.0)


def resolve_forms(terms: ModelTerms, parameterization: str | Mapping[str, str]) -> list[str]:
    """The form asked for each factor of ``terms.groups`` (``auto``, ``centred``, ...).

    Raises
    ------
    SpecError
        Unknown form or grouping factor (the message lists the valid ones).

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "a": list("ppqq"), "b": list("uvuv")})
    >>> resolve_forms(build_terms(df, "y ~ (1 | a) + (1 | b)"), {"b": "noncentred"})
    ['auto', 'non_centred']
    """
    names = [g.name for g in terms.groups]
    if isinstance(parameterization, str):
        chosen = {name: check_form(parameterization) for name in names}
    elif isinstance(parameterization, Mapping):
        unknown = sorted(set(parameterization) - set(names))
        if unknown:
            raise SpecError(
                f"parameterization names {', '.join(map(repr, unknown))}, which is not a "
                f"grouping factor of the model; factors: {', '.join(names) or 'none'}"
            )
        chosen = {name: parameterization.get(name, "auto") for name in names}
    else:
        raise SpecError(
            "parameterization must be 'auto', 'centred', 'non_centred' or a mapping of "
            f"grouping factor to one of them, not {parameterization!r}"
        )
    return [check_form(chosen[name], name) for name in names]


def centred_levels(
    terms: ModelTerms, family: FamilySpec, parameterization: str | Mapping[str, str] = "auto"
) -> list[BoolArray]:
    """Which levels of each factor of ``terms.groups`` are sampled centred.

    ``"auto"`` centres a level when every one of its coefficients has an information ratio of
    at least :data:`RATIO_THRESHOLD` with ``tau^2`` at its lower confidence bound
    (:meth:`LevelInformation.centred`).

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.families import family_spec
    >>> rng = np.random.default_rng(2)
    >>> df = pd.DataFrame({"g": np.repeat(np.arange(30), 10)})
    >>> df["y"] = np.repeat(rng.normal(0, 2, 30), 10) + rng.normal(0, 1, 300)
    >>> t = build_terms(df, "y ~ 1 + (1 | g)")
    >>> [int(c.sum()) for c in centred_levels(t, family_spec("gaussian"))]
    [30]
    >>> [int(c.sum()) for c in centred_levels(t, family_spec("gaussian"), "non_centred")]
    [0]
    """
    forms = resolve_forms(terms, parameterization)
    info = level_information(terms, family) if "auto" in forms else None
    out = []
    for i, (g, form) in enumerate(zip(terms.groups, forms, strict=True)):
        if form == "auto" and info is not None:
            out.append(np.logical_and.reduce([c.centred() for c in info[i]]))
        else:
            out.append(np.full(g.n_levels, form == "centred", dtype=bool))
    return out


def describe(groups: tuple[GroupFactor, ...], centred: list[BoolArray]) -> str:
    """One line for the summary notes, e.g. ``"district: 11 of 11 levels centred"``.

    Examples
    --------
    >>> g = GroupFactor("d", ("1",), np.ones((2, 1)), np.array([0, 1]), ("a", "b"))
    >>> describe((g,), [np.array([True, False])])
    'Group effects centred: d 1 of 2 levels.'
    """
    parts = [
        f"{g.name} {int(c.sum())} of {g.n_levels} levels"
        for g, c in zip(groups, centred, strict=True)
    ]
    return "Group effects centred: " + "; ".join(parts) + "."
