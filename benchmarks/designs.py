"""Coverage and bias of the research designs over many simulated data sets.

Run from the repository root::

    .venv/bin/python benchmarks/designs.py              # 200 replications of each (minutes)
    .venv/bin/python benchmarks/designs.py --reps 20

* **Event studies** (:func:`sustain.data.staggered.simulate_staggered`, 1,200 units, cohorts
  4, 6, 8 and never treated, effects growing with exposure at cohort-specific rates): for each
  estimator, the mean bias of the event-time effects 0..3 and of the overall ATT, and the
  coverage of their 95% pointwise intervals, of the truth given the cohort sizes drawn and of
  its population value (cohort probabilities). Callaway-Sant'Anna's errors include the
  uncertainty of the cohort shares (as R did's) and should cover the population value about
  95%; Sun-Abraham's treat the shares as fixed (as fixest) and should cover the truth given
  the sizes about 95%; the classic TWFE estimates are biased.
* **Competing risks** (``sustain.simulate(cause_coefs=...)``, 3,000 agencies): bias and 95%
  coverage of the cause-specific effects of HHI in the multinomial discrete-time hazard.

The tests run one replication of each (``tests/models/designs/test_event_study.py``,
``tests/models/survival/test_competing.py``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import sustain
from sustain.data.simulate import simulate
from sustain.data.staggered import StaggeredSimulation, simulate_staggered

ESTIMATORS = ("callaway_santanna", "sun_abraham", "twfe")
EVENTS = (0, 1, 2, 3)
CAUSES = {"closed": {"Intercept": -4.0, "hhi": 1.5}, "merged": {"Intercept": -3.5, "hhi": -2.0}}


def event_study_rows(seed: int) -> list[dict[str, object]]:
    """One replication: estimate, truth and coverage per estimator and target."""
    sim = simulate_staggered(seed=seed)
    rows = []
    for estimator in ESTIMATORS:
        es = sustain.fit_event_study(sim.frame, "y", cohort="cohort", estimator=estimator,
                                     window=(-3, 3), reps=99)  # fmt: skip
        ci = es.conf_int()
        for term, truth, population in targets(sim):
            lower, upper = ci.loc[term]
            rows.append(
                {
                    "estimator": estimator,
                    "term": term,
                    "bias": es.params[term] - truth,
                    "covered": lower < truth < upper,
                    "covered (population)": lower < population < upper,
                }  # fmt: skip
            )
    return rows


def targets(sim: StaggeredSimulation) -> list[tuple[str, float, float]]:
    """Each target's truth given the cohort sizes drawn, and its population value."""
    out = [
        (f"event[{k}]", float(sim.truth.loc[k]), float(sim.population_truth.loc[k])) for k in EVENTS
    ]
    out.append(("ATT", sim.simple_att, sim.population_att))
    return out


def competing_rows(seed: int) -> list[dict[str, object]]:
    """One replication of the competing-risks recovery."""
    panel = sustain.build_panel(simulate(seed=seed, n_agencies=3000, cause_coefs=CAUSES).data)
    cr = sustain.fit_hazard(panel, "exit ~ hhi", competing="exit_reason", duration="age")
    ci = cr.conf_int()
    rows = []
    for cause, coefs in CAUSES.items():
        term = f"{cause}:hhi"
        lower, upper = ci.loc[term]
        rows.append({"term": term, "bias": cr.params[term] - coefs["hhi"],
                     "covered": lower < coefs["hhi"] < upper})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    start = time.perf_counter()
    es = pd.DataFrame([r for s in range(args.reps) for r in event_study_rows(1000 + s)])
    summary = es.groupby(["estimator", "term"], sort=False).agg(
        bias=("bias", "mean"),
        coverage=("covered", "mean"),
        coverage_population=("covered (population)", "mean"),
    )
    print(f"Event studies, {args.reps} replications ({time.perf_counter() - start:.0f} s):")
    print(summary.round(3).to_string())
    start = time.perf_counter()
    cr = pd.DataFrame([r for s in range(args.reps) for r in competing_rows(2000 + s)])
    summary = cr.groupby("term").agg(bias=("bias", "mean"), coverage=("covered", "mean"))
    print(f"\nCompeting risks, {args.reps} replications ({time.perf_counter() - start:.0f} s):")
    print(summary.round(3).to_string())
    print(f"\nMonte Carlo standard error of a 95% coverage: {np.sqrt(0.95 * 0.05 / args.reps):.3f}")


if __name__ == "__main__":
    main()
