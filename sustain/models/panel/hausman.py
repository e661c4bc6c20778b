"""Hausman test of fixed against random effects (re-exported as :func:`sustain.hausman`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sustain.errors import FitError, SpecError
from sustain.results import FrequentistResults, SaveMixin, Summary, SummaryMixin

# relative eigenvalue below which V_FE - V_RE is treated as singular in the Hausman test
HAUSMAN_EIGEN_TOLERANCE = 1e-10


@dataclass(frozen=True)
class HausmanResult(SaveMixin, SummaryMixin):
    """Hausman test of a within (consistent) against a random-effects (efficient) fit.

    Attributes
    ----------
    statistic : float
        :math:`H = d'(V_{FE} - V_{RE})^{-} d` with :math:`d = b_{FE} - b_{RE}`.
    df : int
        Rank of :math:`V_{FE} - V_{RE}`.
    pvalue : float
        :math:`P(\\chi^2_{df} > H)`.
    terms : tuple of str
        Coefficients compared.
    table : DataFrame
        ``fe``, ``re``, ``difference`` and ``se_difference`` by term (missing where the
        variance difference is negative).
    generalized_inverse : bool
        True when the covariance difference was not positive definite.
    notes : tuple of str
        Messages for the reader.

    Examples
    --------
    >>> h = HausmanResult(3.0, 2, 0.22, ("hhi", "gov_share"), pd.DataFrame(), False, ())
    >>> "chi2(2)" in str(h)
    True
    """

    statistic: float
    df: int
    pvalue: float
    terms: tuple[str, ...]
    table: pd.DataFrame
    generalized_inverse: bool
    notes: tuple[str, ...]

    def summary(self) -> Summary:
        header = [
            ("H0", "random-effects coefficients are consistent (difference not systematic)"),
            (f"chi2({self.df})", f"{self.statistic:.4f}"),
            ("P > chi2", f"{self.pvalue:.4f}"),
        ]
        return Summary("Hausman test", header, self.table, self.notes)


def hausman(fe: FrequentistResults, re: FrequentistResults) -> HausmanResult:
    """Hausman specification test of fixed against random effects.

    Parameters
    ----------
    fe : FrequentistResults
        Consistent estimator (usually ``fit_fe(..., estimator="within")``).
    re : FrequentistResults
        Efficient estimator under H0 (``fit_fe(..., estimator="random")``).

    Returns
    -------
    HausmanResult

    Notes
    -----
    :math:`H = (b_{FE} - b_{RE})'[V_{FE} - V_{RE}]^{-1}(b_{FE} - b_{RE}) \\sim \\chi^2_k` over
    the k coefficients both models estimate (not the intercept). When the difference of the
    covariance matrices is not positive definite (it happens in finite samples, and with
    robust or clustered covariances), the Moore-Penrose inverse is used and the degrees of
    freedom are its rank, as Stata's ``hausman`` does; the result says so in ``notes``.
    Both fits should use the conventional (unadjusted) covariance for the classical test.

    Examples
    --------
    >>> from sustain import fit_fe
    >>> rng = np.random.default_rng(2)
    >>> idx = pd.MultiIndex.from_product([range(40), range(6)], names=["agency_id", "year"])
    >>> df = pd.DataFrame({"hhi": rng.uniform(size=240)}, index=idx)
    >>> df["quality"] = 3 * df["hhi"] + np.repeat(rng.normal(size=40), 6) + rng.normal(size=240)
    >>> fe = fit_fe(df, "quality ~ hhi", effects="agency_id")
    >>> re = fit_fe(df, "quality ~ hhi", estimator="random")
    >>> h = hausman(fe, re)
    >>> h.df, h.terms
    (1, ('hhi',))
    """
    terms = tuple(t for t in fe.params.index if t in re.params.index and t != "Intercept")
    if not terms:
        raise SpecError("the two models share no coefficients to compare")
    d = (fe.params[list(terms)] - re.params[list(terms)]).to_numpy()
    v = (fe.cov.loc[terms, terms] - re.cov.loc[terms, terms]).to_numpy()
    eig = np.linalg.eigvalsh(v)
    positive = eig.min() > HAUSMAN_EIGEN_TOLERANCE * max(float(np.abs(eig).max()), 1e-300)
    notes: list[str] = []
    if positive:
        statistic, df = float(d @ np.linalg.solve(v, d)), len(terms)
    else:
        cutoff = HAUSMAN_EIGEN_TOLERANCE * abs(eig).max()
        if not (eig > cutoff).any():
            raise FitError("V_FE - V_RE has no positive eigenvalue; the test is undefined")
        pinv = np.linalg.pinv(v, rtol=HAUSMAN_EIGEN_TOLERANCE, hermitian=True)
        statistic = float(d @ pinv @ d)
        # the rank of the Moore-Penrose inverse counts the negative eigenvalues too (Stata's
        # hausman; with a nonsingular difference this is R plm's phtest)
        df = int((abs(eig) > cutoff).sum())
        notes.append(
            "V_FE - V_RE is not positive definite: a generalized inverse was used and the "
            f"degrees of freedom are its rank ({df})."
        )
        if statistic < 0:
            notes.append(
                "The statistic is negative: the data do not meet the asymptotic assumptions "
                "of the Hausman test (use a robust or cluster-based comparison instead)."
            )
    # a negative variance difference has no standard error (Stata prints a dot), not 0
    diag = np.diag(v)
    se = np.sqrt(np.where(diag >= 0, diag, np.nan))
    table = pd.DataFrame(
        {
            "fe": fe.params[list(terms)],
            "re": re.params[list(terms)],
            "difference": d,
            "se_difference": se,
        },
        index=list(terms),
    )
    return HausmanResult(
        statistic=statistic,
        df=df,
        pvalue=float(stats.chi2.sf(statistic, df)),
        terms=terms,
        table=table,
        generalized_inverse=not positive,
        notes=tuple(notes),
    )
