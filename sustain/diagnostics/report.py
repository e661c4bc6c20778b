"""``sustain.diagnose``: posterior and sampler checks with thresholds, verdicts and advice.

:func:`diagnose` orchestrates the pure functions of :mod:`sustain.diagnostics.checks` and
returns a frozen :class:`Diagnosis`: ``.ok`` (every available check passed), ``.table`` (one
row per scalar parameter), ``.checks`` (one row per check) and ``.summary()`` (what is wrong
and what to try, in words).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sustain._atomic import write_text
from sustain._typing import PathLikeStr
from sustain.diagnostics import checks as ck
from sustain.diagnostics.headline import ESS_BULK_MIN, RHAT_MAX
from sustain.errors import SpecError
from sustain.options import EssScale, check_choice
from sustain.results import Summary, SummaryMixin

if TYPE_CHECKING:  # pragma: no cover
    from sustain.figures.style import ImageFormat

CHECK_COLUMNS = ["name", "value", "threshold", "rule", "passed", "message", "advice"]
# how each check's value is printed in the summary table
_VALUE_FORMATS = {
    "R-hat": "{:.3f}",
    "bulk ESS": "{:.0f}",
    "tail ESS": "{:.0f}",
    "MCSE/sd": "{:.3f}",
    "divergences": "{:.0f}",
    "tree depth": "{:.1%}",
    "E-BFMI": "{:.2f}",
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The limits :func:`diagnose` applied.

    Attributes
    ----------
    rhat_max : float
        Largest acceptable rank-normalised R-hat.
    ess_min : float
        Smallest acceptable bulk and tail ESS as requested.
    ess_scale : {"none", "chains", "draws"}
        How ``ess_min`` was scaled for the run length (``"none"``: not at all).
    ess_applied : float
        The ESS threshold actually applied after scaling.
    mcse_max : float
        Largest acceptable MCSE of the posterior mean as a fraction of the posterior sd.
    max_divergences : int
        Largest acceptable number of divergent transitions after tuning.
    treedepth_max_fraction : float
        Largest acceptable fraction of a chain's draws that hit the maximum tree depth.
    max_treedepth : int
        Maximum tree depth assumed when the sampler recorded depths but no saturation flag.
    ebfmi_min : float
        Smallest acceptable E-BFMI of any chain.

    Examples
    --------
    >>> Thresholds().rhat_max
    1.01
    """

    rhat_max: float = RHAT_MAX
    ess_min: float = ESS_BULK_MIN
    ess_scale: EssScale = "none"
    ess_applied: float = ESS_BULK_MIN
    mcse_max: float = 0.1
    max_divergences: int = 0
    treedepth_max_fraction: float = 0.01
    max_treedepth: int = 10
    ebfmi_min: float = 0.3


@dataclass(frozen=True, eq=False)
class Diagnosis(SummaryMixin):
    """The result of :func:`sustain.diagnose`: checks, per-parameter table and verdict.

    Attributes
    ----------
    label : str
        What was diagnosed (the model label and formula when known).
    thresholds : Thresholds
        The limits applied.
    n_chains, n_draws : int
        Chains and draws per chain in the posterior.
    var_names : tuple of str
        Posterior variables that were checked.
    terms : tuple of str
        The model's reported terms (plotted by :meth:`plot`); ``var_names`` when unknown.
    idata : xarray.DataTree
        The diagnosed draws (kept for plotting).

    Examples
    --------
    >>> import arviz as az, sustain
    >>> dg = sustain.diagnose(az.load_arviz_data("centered_eight"))
    >>> dg.ok
    False
    >>> dg.failed
    ('R-hat', 'bulk ESS', 'tail ESS', 'divergences', 'E-BFMI')
    >>> dg.table.loc[dg.table["ok"]].index.tolist()
    ['theta[Choate]', 'theta[Phillips Andover]', 'theta[Phillips Exeter]']
    """

    label: str
    thresholds: Thresholds
    n_chains: int
    n_draws: int
    var_names: tuple[str, ...]
    terms: tuple[str, ...]
    check_results: tuple[ck.Check, ...]
    parameters: pd.DataFrame = field(repr=False)
    idata: Any = field(repr=False)

    @property
    def ok(self) -> bool:
        """True when every available check passed (unavailable checks do not count)."""
        return all(c.passed is not False for c in self.check_results)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the checks that failed."""
        return tuple(c.name for c in self.check_results if c.passed is False)

    @property
    def table(self) -> pd.DataFrame:
        """One row per scalar parameter: statistics and a pass flag per check (a copy)."""
        return self.parameters.copy()

    @property
    def checks(self) -> pd.DataFrame:
        """One row per check: name, value, threshold, rule, passed, message, advice."""
        rows = [{col: getattr(c, col) for col in CHECK_COLUMNS} for c in self.check_results]
        frame = pd.DataFrame(rows, columns=CHECK_COLUMNS)
        # True / False / None (not available) as Python objects, not numpy booleans
        frame["passed"] = pd.Series([c.passed for c in self.check_results], dtype=object)
        return frame

    @property
    def stats(self) -> dict[str, float]:
        """Headline numbers for tables: ``rhat_max``, ``ess_bulk_min``, ``divergences``, ...."""
        keys = {
            "R-hat": "rhat_max",
            "bulk ESS": "ess_bulk_min",
            "tail ESS": "ess_tail_min",
            "MCSE/sd": "mcse_ratio_max",
            "divergences": "divergences",
            "tree depth": "treedepth_fraction",
            "E-BFMI": "ebfmi_min",
        }
        return {keys[c.name]: c.value for c in self.check_results if not math.isnan(c.value)}

    @property
    def messages(self) -> tuple[str, ...]:
        """The verdict in sentences: each failure with advice, then unavailable checks."""
        failed = [c for c in self.check_results if c.passed is False]
        missing = [c for c in self.check_results if c.passed is None]
        if failed:
            lines = [f"{c.message}: {c.advice}." for c in failed]
        else:
            lines = [_all_passed(self.thresholds)]
        lines += [f"Not checked: {c.message}." for c in missing]
        return tuple(lines)

    def to_frame(self) -> pd.DataFrame:
        """The checks as a DataFrame (same as :attr:`checks`; :attr:`table` is per parameter)."""
        return self.checks

    def summary(self) -> Summary:
        """Printable report: header, one line per check and the verdict in words."""
        verdict = "all checks passed" if self.ok else "FAILED: " + ", ".join(self.failed)
        header = [
            ("Model", self.label),
            ("Draws", f"{self.n_chains} chains x {self.n_draws} draws"),
            ("Parameters checked", f"{len(self.parameters):,}"),
            ("Verdict", verdict),
        ]
        table = pd.DataFrame(
            {
                "value": [_format_value(c) for c in self.check_results],
                "limit": [f"{c.rule} {_format_limit(c)}" for c in self.check_results],
                "result": [_result_word(c.passed) for c in self.check_results],
            },
            index=pd.Index([c.name for c in self.check_results], name="check"),
        )
        notes = [
            "\n".join(textwrap.wrap(m, 96, subsequent_indent="  ", break_on_hyphens=False))
            for m in self.messages
        ]
        return Summary("Posterior diagnostics", header, table, notes)

    def save(self, out_dir: PathLikeStr) -> dict[str, Path]:
        """Write ``parameters.csv``, ``checks.csv`` and ``summary.txt`` atomically into a folder.

        Returns
        -------
        dict
            File kind -> path written.

        Examples
        --------
        >>> import tempfile, arviz as az, sustain
        >>> dg = sustain.diagnose(az.load_arviz_data("non_centered_eight"))
        >>> sorted(dg.save(tempfile.mkdtemp()))
        ['checks', 'parameters', 'summary']
        """
        out = Path(out_dir)
        return {
            "parameters": write_text(out / "parameters.csv", self.parameters.to_csv()),
            "checks": write_text(out / "checks.csv", self.checks.to_csv(index=False)),
            "summary": write_text(out / "summary.txt", str(self) + "\n"),
        }

    def plot(
        self, out_dir: PathLikeStr, formats: Sequence[ImageFormat] = ("png", "pdf")
    ) -> dict[str, list[Path]]:
        """Save trace/rank, energy, forest and posterior predictive plots into ``out_dir``.

        Plots whose ingredients are missing (no energy, no posterior predictive draws) are
        skipped. See :func:`sustain.diagnostics.plots.save_diagnostic_plots`.
        """
        from sustain.diagnostics.plots import save_diagnostic_plots

        return save_diagnostic_plots(self, out_dir, formats)


def _all_passed(t: Thresholds) -> str:
    div = "no" if t.max_divergences == 0 else f"at most {t.max_divergences}"
    return (
        f"All checks passed: R-hat <= {t.rhat_max:g}, bulk and tail ESS >= {t.ess_applied:g}, "
        f"MCSE <= {t.mcse_max:g} posterior sd, {div} divergent transitions, tree-depth "
        f"saturation <= {t.treedepth_max_fraction:.1%} per chain, E-BFMI >= {t.ebfmi_min:g}"
    )


def _format_value(c: ck.Check) -> str:
    return "n/a" if math.isnan(c.value) else _VALUE_FORMATS[c.name].format(c.value)


def _format_limit(c: ck.Check) -> str:
    return _VALUE_FORMATS[c.name].format(c.threshold) if c.name != "R-hat" else f"{c.threshold:g}"


def _result_word(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "n/a"}[passed]


def diagnose(
    result: Any,
    *,
    var_names: Sequence[str] | None = None,
    rhat_max: float = 1.01,
    ess_min: float = 400,
    ess_scale: EssScale = "none",
    mcse_max: float = 0.1,
    max_divergences: int = 0,
    treedepth_max_fraction: float = 0.01,
    max_treedepth: int = 10,
    ebfmi_min: float = 0.3,
) -> Diagnosis:
    """Check a Bayesian fit: R-hat, bulk/tail ESS, MCSE, divergences, tree depth, E-BFMI.

    Parameters
    ----------
    result : Bayesian result or xarray.DataTree
        Anything with an ``.idata`` attribute (``sustain.fit_bayes``, ``sustain.fit_joint``)
        or an ArviZ DataTree with a posterior group (and ideally ``sample_stats``).
    var_names : sequence of str, optional
        Posterior variables to check (``"~name"`` excludes one). Default: every posterior
        variable except copies (variables whose draws duplicate another's, and PyMC's
        unconstrained ``<name>_log__``-style variables).
    rhat_max : float, default 1.01
        Largest acceptable rank-normalised split R-hat (Vehtari et al. 2021).
    ess_min : float, default 400
        Smallest acceptable bulk and tail ESS, per parameter (100 per chain for 4 chains).
    ess_scale : {"none", "chains", "draws"}, default "none"
        Scale ``ess_min`` for the run length: ``"chains"`` keeps 100 per chain
        (``ess_min * chains / 4``), ``"draws"`` keeps the efficiency of a 4 x 1,000 run
        (``ess_min * chains * draws / 4000``). Never applied unless asked.
    mcse_max : float, default 0.1
        Largest acceptable Monte Carlo standard error of a posterior mean, as a fraction of that
        parameter's posterior sd.
    max_divergences : int, default 0
        Largest acceptable number of divergent transitions after tuning.
    treedepth_max_fraction : float, default 0.01
        Largest acceptable fraction of a chain's draws that hit the maximum tree depth.
    max_treedepth : int, default 10
        The sampler's maximum tree depth (PyMC's and nutpie's default), used only when the
        sampler stored depths but no saturation flag.
    ebfmi_min : float, default 0.3
        Smallest acceptable E-BFMI of any chain.

    Returns
    -------
    Diagnosis
        ``.ok``, ``.table``, ``.checks``, ``.summary()``, ``.save(dir)``, ``.plot(dir)``.

    Notes
    -----
    A check whose statistic the sampler did not record (e.g. no ``energy``) is reported as not
    available and does not make ``.ok`` false. Tree-depth saturation tolerates up to 1% of a
    chain's draws by default: hitting the limit truncates trajectories, which costs efficiency
    (visible in the ESS checks) but does not bias the draws; Stan flags any hit, PyMC warns
    above 5% per chain.

    Examples
    --------
    >>> import arviz as az, sustain
    >>> dg = sustain.diagnose(az.load_arviz_data("centered_eight"))
    >>> dg.ok
    False
    >>> print(dg.messages[3][:58])
    19 divergent transitions after tuning (0.9% of 2000 draws)
    >>> dg.checks.loc[0, "message"]
    'R-hat > 1.01 for 7 of 10 parameters (worst tau = 1.028)'
    """
    idata = ck.to_inference_data(result)
    posterior = idata["posterior"].to_dataset()
    names = ck.posterior_names(posterior, var_names)
    n_chains, n_draws = int(posterior.sizes["chain"]), int(posterior.sizes["draw"])
    thresholds = _thresholds(
        n_chains,
        n_draws,
        rhat_max=rhat_max,
        ess_min=ess_min,
        ess_scale=ess_scale,
        mcse_max=mcse_max,
        max_divergences=max_divergences,
        treedepth_max_fraction=treedepth_max_fraction,
        max_treedepth=max_treedepth,
        ebfmi_min=ebfmi_min,
    )
    table = ck.parameter_table(posterior, names)
    stats = ck.group(idata, "sample_stats")
    results = (
        *_parameter_checks(table, thresholds),
        ck.check_divergences(stats, thresholds.max_divergences),
        ck.check_treedepth(stats, thresholds.treedepth_max_fraction, thresholds.max_treedepth),
        ck.check_ebfmi(idata, thresholds.ebfmi_min),
    )
    return Diagnosis(
        label=_label(result),
        thresholds=thresholds,
        n_chains=n_chains,
        n_draws=n_draws,
        var_names=tuple(names),
        terms=_terms(result, posterior, names),
        check_results=results,
        parameters=_flag_parameters(table, thresholds),
        idata=idata,
    )


def _thresholds(
    n_chains: int,
    n_draws: int,
    *,
    rhat_max: float,
    ess_min: float,
    ess_scale: EssScale,
    mcse_max: float,
    max_divergences: int,
    treedepth_max_fraction: float,
    max_treedepth: int,
    ebfmi_min: float,
) -> Thresholds:
    check_choice("ess_scale", ess_scale, EssScale)
    positive = {"rhat_max": rhat_max, "ess_min": ess_min, "mcse_max": mcse_max}
    positive |= {"max_treedepth": max_treedepth}
    non_negative = {"max_divergences": max_divergences, "ebfmi_min": ebfmi_min}
    non_negative |= {"treedepth_max_fraction": treedepth_max_fraction}
    for name, value in positive.items():
        if not (isinstance(value, int | float) and value > 0):
            raise SpecError(f"{name} must be a positive number, got {value!r}")
    for name, value in non_negative.items():
        if not (isinstance(value, int | float) and value >= 0):
            raise SpecError(f"{name} must be a number >= 0, got {value!r}")
    if rhat_max < 1:
        raise SpecError(f"rhat_max must be >= 1 (R-hat of converged chains is 1), got {rhat_max}")
    return Thresholds(
        rhat_max=float(rhat_max),
        ess_min=float(ess_min),
        ess_scale=ess_scale,
        ess_applied=ck.ess_threshold(ess_min, ess_scale, n_chains, n_draws),
        mcse_max=float(mcse_max),
        max_divergences=int(max_divergences),
        treedepth_max_fraction=float(treedepth_max_fraction),
        max_treedepth=int(max_treedepth),
        ebfmi_min=float(ebfmi_min),
    )


def _parameter_checks(table: pd.DataFrame, t: Thresholds) -> tuple[ck.Check, ...]:
    ratio = ck.mcse_ratio(table).to_frame()
    scaled = "" if t.ess_scale == "none" else f" (ess_min {t.ess_min:g} scaled by {t.ess_scale})"
    ess = t.ess_applied
    return (
        ck.check_parameters(table, "rhat", "R-hat", t.rhat_max, "<=", ck.ADVICE["rhat"]),
        ck.check_parameters(
            table, "ess_bulk", "bulk ESS", ess, ">=", ck.ADVICE["ess_bulk"] + scaled, ".0f"
        ),
        ck.check_parameters(
            table, "ess_tail", "tail ESS", ess, ">=", ck.ADVICE["ess_tail"] + scaled, ".0f"
        ),
        ck.check_parameters(ratio, "mcse_ratio", "MCSE/sd", t.mcse_max, "<=", ck.ADVICE["mcse"]),
    )


def _flag_parameters(table: pd.DataFrame, t: Thresholds) -> pd.DataFrame:
    out = table.copy()
    out["mcse_ratio"] = ck.mcse_ratio(table)
    limits = {
        "rhat_ok": ("rhat", lambda v: v <= t.rhat_max),
        "ess_bulk_ok": ("ess_bulk", lambda v: v >= t.ess_applied),
        "ess_tail_ok": ("ess_tail", lambda v: v >= t.ess_applied),
        "mcse_ok": ("mcse_ratio", lambda v: v <= t.mcse_max),
    }
    for flag, (column, rule) in limits.items():
        values = out[column].astype(float)
        out[flag] = pd.array(
            np.where(values.isna(), None, rule(values)), dtype="boolean"
        )  # NA: constant element, not judged
    out["ok"] = out[list(limits)].fillna(True).all(axis=1)
    return out


def _label(result: Any) -> str:
    info = getattr(result, "info", None)
    if info is None:
        return "DataTree"
    formula = getattr(info, "formula", "")
    return f"{info.model}: {formula}" if formula else str(info.model)


def _terms(result: Any, posterior: Any, names: Sequence[str]) -> tuple[str, ...]:
    terms = [str(t) for t in getattr(result, "terms", ()) if str(t) in posterior]
    return tuple(terms) if terms else tuple(names)
