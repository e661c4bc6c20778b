"""The collapsed Gaussian kernel (:mod:`sustain.models.bayes.kernel_collapsed`).

Checked against the PyTensor log-density of the same PyMC model (``build_collapsed_model``):
equal gradients and equal log-density differences between positions at random points, for
nested and crossed intercepts, uncorrelated varying slopes, models without an intercept and
every kind of prior the kernel reads (normal, Student-t and Cauchy coefficients through their
scale-mixture variables; half-Student-t, exponential and gamma scales). Then: what it does not
cover returns ``None``; extreme positions are rejected, never a crash; ``fit_bayes`` with the
kernel agrees with the PyTensor graph; and both kernels, compiled in a subprocess with empty
numba and PyTensor caches, fit without compiling any PyTensor log-density and give the same
draws as a second fit from the warm cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.fresh_caches import run_with_fresh_caches
from support.kernels import assert_matches_pymc, assert_rejects_extremes, assert_same_mean

import sustain
import sustain.models.bayes.fit as fit_module
from sustain.models.bayes.collapsed import collapse_plan, collapsed_stats
from sustain.models.bayes.collapsed_model import build_collapsed_model
from sustain.models.bayes.families import family_spec
from sustain.models.bayes.kernel_collapsed import MAX_KERNEL_COLUMNS
from sustain.models.bayes.kernel_spec import collapsed_native
from sustain.models.bayes.priors import resolve_priors
from sustain.models.bayes.terms import build_terms

# (formula, prior overrides) of the collapsed models compared with PyMC
MODELS = [
    ("y ~ x + w + (1 | a)", None),
    ("y ~ x + (1 | d/a)", {"b": "student_t(3, 0, 2)"}),
    (
        "y ~ x + (1 | a) + (x || h)",
        {"Intercept": "cauchy(0, 5)", "sd": "exponential(1)", "sigma": "gamma(2, 1)"},
    ),
    ("y ~ 0 + x + (1 | a) + (1 | h)", {"sd": "half_normal(0, 3)"}),
]


def data(seed: int = 0, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 40, n)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "w": rng.normal(size=n),
            "a": [f"a{i}" for i in a],
            "d": [f"d{i % 3}" for i in a],
            "h": rng.choice(list("pqrst"), n),
        }
    )
    df["y"] = 1.0 + 0.5 * df["x"] + rng.normal(0, 0.7, 40)[a] + rng.normal(size=n)
    return df


def collapsed(formula: str, priors: dict | None, df: pd.DataFrame | None = None):
    df = data() if df is None else df
    terms = build_terms(df, formula)
    fam = family_spec("gaussian")
    ps = resolve_priors(terms, "gaussian", "identity", priors)
    plan = collapse_plan(terms, fam)
    assert plan is not None
    stats = collapsed_stats(terms, plan, ps)
    model = build_collapsed_model(terms, ps, fam, stats)
    return model, stats, ps


@pytest.mark.bayes
@pytest.mark.parametrize(("formula", "priors"), MODELS)
def test_kernel_equals_pytensor(formula: str, priors: dict | None) -> None:
    model, stats, ps = collapsed(formula, priors)
    native = collapsed_native(model, stats, ps)
    assert native is not None
    assert_matches_pymc(model, native, seed=1)


@pytest.mark.bayes
def test_what_the_kernel_does_not_cover() -> None:
    model, stats, ps = collapsed("y ~ x + (1 | a) + (x | h)", None)  # correlated: LKJ
    assert collapsed_native(model, stats, ps) is None
    df = data(n=600)
    df["many"] = [f"m{i % (MAX_KERNEL_COLUMNS + 5)}" for i in range(len(df))]  # the big one
    df["b"] = [f"b{i % 30}" for i in range(len(df))]  # 2 + 40 + 30 columns integrated
    model, stats, ps = collapsed("y ~ x + (1 | a) + (1 | b) + (1 | many)", None, df)
    assert stats.plan.n_columns > MAX_KERNEL_COLUMNS
    assert collapsed_native(model, stats, ps) is None


@pytest.mark.bayes
def test_extreme_positions_are_rejected_not_fatal() -> None:
    model, stats, ps = collapsed("y ~ x + (1 | d/a)", {"b": "student_t(3, 0, 2)"})
    native = collapsed_native(model, stats, ps)
    assert native is not None
    assert_rejects_extremes(native)


@pytest.mark.slow
@pytest.mark.bayes
def test_fit_with_kernel_agrees_with_pytensor_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    df = data(seed=3, n=400)
    options = {"draws": 400, "tune": 400, "chains": 2, "random_seed": 11, "progressbar": False}
    formula = "y ~ x + (1 | d/a)"
    with_kernel = sustain.fit_bayes(df, formula, **options)
    again = sustain.fit_bayes(df, formula, **options)
    monkeypatch.setattr(fit_module, "collapsed_native", lambda *args, **kwargs: None)
    graph = sustain.fit_bayes(df, formula, **options)
    names = ["Intercept", "x", "sigma", "sd(1|d:a)"]
    post = with_kernel.idata.posterior
    for name in names:
        np.testing.assert_array_equal(post[name].values, again.idata.posterior[name].values)
        assert_same_mean(post[name], graph.idata.posterior[name], name)


COLD_SCRIPT = """
import hashlib, json
import numpy as np
import sustain
import sustain.models.bayes.compiled as compiled
from sustain.models.bayes.sampling import clear_cache

def refuse(*args, **kwargs):
    raise AssertionError("a PyTensor log-density was compiled")

compiled._compile_logp = refuse  # the kernels must serve these models

sim = sustain.simulate(seed=5, n_agencies=150)
panel = sustain.build_panel(sim.data).reset_index()
fits = {{
    "hazard": dict(formula="exit ~ hhi + (1 | district)", family="bernoulli", link="cloglog"),
    "quality": dict(formula="quality ~ hhi + (1 | district/agency_id)"),
}}

def fit(name):
    spec = dict(fits[name])
    formula = spec.pop("formula")
    rows = panel.dropna(subset=[formula.split(" ~")[0], "hhi"])
    return sustain.fit_bayes(rows, formula, draws={draws}, tune={tune}, chains=4,
                             random_seed=3, target_accept=0.95, progressbar=False, **spec)

def digest(bm):
    post = bm.idata.posterior.to_dataset()
    h = hashlib.sha256()
    for name in sorted(post.data_vars):
        h.update(np.ascontiguousarray(post[name].values).tobytes())
    return h.hexdigest()

out = {{}}
for name in fits:
    bm = fit(name)
    out[name] = {{"ok": bool(sustain.diagnose(bm).ok), "digest": digest(bm)}}
clear_cache()
out["again"] = {{name: digest(fit(name)) for name in fits}}
print("RESULT " + json.dumps(out))
"""
#: Seconds for both cold fits in the subprocess (measured about 25 s on the 2-core machine).
COLD_TIMEOUT = 600


@pytest.mark.slow
@pytest.mark.bayes
def test_kernels_with_fresh_caches(tmp_path: Path) -> None:
    """Empty numba and PyTensor caches: the kernels compile, no PyTensor log-density does,
    both fits pass diagnose, and fits from the warm cache give bit-identical draws."""
    script = COLD_SCRIPT.format(draws=1000, tune=500)
    result = run_with_fresh_caches(script, tmp_path, COLD_TIMEOUT)
    for name in ("hazard", "quality"):
        assert result[name]["ok"], name
        assert result["again"][name] == result[name]["digest"], name
    cached = list((tmp_path / "numba").rglob("*kernel*"))
    assert cached, "the kernels were not cached in the fresh numba folder"
