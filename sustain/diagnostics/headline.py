"""The headline verdict of a Bayesian fit, and the thresholds every part of sustain uses.

Tables and figures mark a model that fails its convergence checks; they take the thresholds
and the rule from here (the full report, with every check, is :func:`sustain.diagnose`). This
module imports nothing heavy, so that tables can use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Largest acceptable rank-normalised split R-hat (Vehtari et al. 2021).
RHAT_MAX = 1.01
#: Smallest acceptable bulk (and tail) ESS of a run of 4 chains of 1,000 draws (100 per chain).
ESS_BULK_MIN = 400.0
#: Largest acceptable number of divergent transitions after tuning.
MAX_DIVERGENCES = 0
#: Names under which fitters record the number of divergent transitions.
DIVERGENCE_KEYS = ("divergences", "n_divergences", "n_divergent", "divergent")
#: The rule in words, for table notes and figure captions.
RULE_TEXT = f"R-hat > {RHAT_MAX:g}, bulk ESS < {ESS_BULK_MIN:.0f} or divergent transitions"


def headline_problems(stats: Mapping[str, float]) -> tuple[str, ...]:
    """Failed convergence checks among ``rhat_max``, ``ess_bulk_min`` and ``divergences``.

    Examples
    --------
    >>> headline_problems({"rhat_max": 1.05, "ess_bulk_min": 900, "divergences": 0})
    ('max R-hat 1.050 > 1.01',)
    """
    problems = []
    rhat = stats.get("rhat_max", math.nan)
    ess = stats.get("ess_bulk_min", math.nan)
    div = stats.get("divergences", 0)
    if np.isfinite(rhat) and rhat > RHAT_MAX:
        problems.append(f"max R-hat {rhat:.3f} > {RHAT_MAX:g}")
    if np.isfinite(ess) and ess < ESS_BULK_MIN:
        problems.append(f"min bulk ESS {ess:.0f} < {ESS_BULK_MIN:.0f}")
    if np.isfinite(div) and div > MAX_DIVERGENCES:
        problems.append(f"{div:.0f} divergent transition{'s' if div != 1 else ''}")
    return tuple(problems)


def headline_stats(result: Any, tidy: pd.DataFrame) -> dict[str, float]:
    """Fit statistics of a Bayesian result with its convergence diagnostics filled in.

    ``rhat_max`` and ``ess_bulk_min`` come from ``info.stats`` when the fitter recorded them,
    otherwise from the R-hat and bulk ESS columns of ``tidy`` (over the reported terms);
    divergences from ``info.stats`` or the ``diverging`` sample statistic.

    Examples
    --------
    >>> import types
    >>> r = types.SimpleNamespace(info=types.SimpleNamespace(stats={"n_divergent": 2}), idata=None)
    >>> headline_stats(r, pd.DataFrame({"rhat": [1.0, 1.02], "ess_bulk": [900.0, 500.0]}))
    {'divergences': 2.0, 'rhat_max': 1.02, 'ess_bulk_min': 500.0}
    """
    stats = {str(k): float(v) for k, v in result.info.stats.items() if _is_number(v)}
    for key in DIVERGENCE_KEYS[1:]:
        if key in stats and "divergences" not in stats:
            stats["divergences"] = stats.pop(key)
    if "rhat_max" not in stats and "rhat" in tidy:
        stats["rhat_max"] = float(np.nanmax(tidy["rhat"].to_numpy(dtype=float)))
    if "ess_bulk_min" not in stats and "ess_bulk" in tidy:
        stats["ess_bulk_min"] = float(np.nanmin(tidy["ess_bulk"].to_numpy(dtype=float)))
    if "divergences" not in stats:
        sample_stats = getattr(result.idata, "sample_stats", None)
        if sample_stats is not None and "diverging" in sample_stats:
            stats["divergences"] = float(np.asarray(sample_stats["diverging"]).sum())
    return stats


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
