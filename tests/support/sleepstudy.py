"""Data shaped like lme4's sleepstudy, shared by the Bayes engine tests and their subprocesses."""

from __future__ import annotations

import numpy as np
import pandas as pd


def sleepstudy(seed: int) -> pd.DataFrame:
    """Data shaped like lme4's sleepstudy: 18 subjects x 10 days, correlated intercept/slope.

    Parameters are lme4's REML estimates (fixed 251.4 + 10.5 days; sds 24.7 and 5.9,
    correlation 0.07; residual sd 25.6).
    """
    rng = np.random.default_rng(seed)
    sd, cor = np.array([24.7, 5.9]), 0.07
    cov = np.outer(sd, sd) * np.array([[1.0, cor], [cor, 1.0]])
    u = rng.multivariate_normal([0.0, 0.0], cov, 18)
    subject = np.repeat(np.arange(18), 10)
    days = np.tile(np.arange(10.0), 18)
    reaction = 251.4 + u[subject, 0] + (10.5 + u[subject, 1]) * days + rng.normal(0, 25.6, 180)
    return pd.DataFrame(
        {"Subject": [f"S{s:02d}" for s in subject], "Days": days, "Reaction": reaction}
    )
