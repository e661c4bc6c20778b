"""The sampling engine of fit_bayes and fit_joint: robustness, bounds, progress.

* Robustness (issue 12): a proposal outside the support is rejected (log density -inf, a
  divergence), never a crash -- checked on the native log-density of every family and term
  type at extreme points, and end to end on sleepstudy-like data with fresh, empty PyTensor and
  numba caches in a subprocess (where the old engine crashed with "Poisoned sampler state
  mutex").
* Bounds (issue 11): draws, tune, chains, seeds, cores and target_accept are checked before
  anything is built.
* Progress: the callback sees compiling, warm-up/sampling and done phases; ``progressbar=False``
  is silent.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.fresh_caches import run_with_fresh_caches

import sustain
from sustain.errors import SpecError
from sustain.models.bayes import collapsed as coll
from sustain.models.bayes import native
from sustain.models.bayes.collapsed_model import build_collapsed_model
from sustain.models.bayes.compiled import compile_model
from sustain.models.bayes.families import LINKS, family_spec
from sustain.models.bayes.model import build_full_model, stored_names
from sustain.models.bayes.parameterization import centred_levels
from sustain.models.bayes.priors import resolve_priors
from sustain.models.bayes.progress import SamplingProgress
from sustain.models.bayes.terms import build_terms

# The summed log-likelihood the sampler uses and the pointwise one summed agree to rounding.
SUM_RTOL = 1e-10
# ... and the numpy/scipy pointwise one to the last digits of lgamma: PyTensor's gammaln and
# scipy's differ by 2.5e-10 relative in the Student-t constant (measured), so allow 1e-8.
NUMPY_SUM_RTOL = 1e-8
# Seeds of the fresh-cache sleepstudy loop: three fits (one cold compilation, two reuses).
SLEEP_SEEDS = (1, 2, 3)
# Draws and warm-up per chain, and target acceptance, of those fits: with 4 x 600 draws at the
# default 0.8, R-hat (1.011-1.014) or tail ESS just missed diagnose's thresholds for some seeds
# (44 parameters are checked); with these settings seeds 1-4 and 6 pass (measured; seed 5's
# data, with a small subject sd, keeps a few divergences and a low E-BFMI).
SLEEP_DRAWS, SLEEP_TUNE, SLEEP_TARGET_ACCEPT = 2000, 1000, 0.95
# A cold compilation of the correlated-slope model takes about a minute on two busy cores.
COLD_TIMEOUT = 900
# Extreme unconstrained positions: exp(+-700) is at the edge of float64.
EXTREMES = (-700.0, -50.0, 50.0, 700.0)


def mixed_data(seed: int = 0) -> pd.DataFrame:
    """Rows nested in a/b, crossed with t, a slope x, and responses of every family."""
    rng = np.random.default_rng(seed)
    n = 240
    a = rng.integers(0, 6, n)
    b = rng.integers(0, 4, n)
    t = rng.integers(0, 3, n)
    x = rng.normal(size=n)
    eta = -0.5 + 0.4 * x + rng.normal(0, 0.5, 6)[a] + rng.normal(0, 0.3, 3)[t]
    return pd.DataFrame(
        {
            "a": [f"a{i}" for i in a],
            "b": [f"b{i}" for i in b],
            "t": [f"t{i}" for i in t],
            "x": x,
            "y": 1.0 + eta + rng.normal(0, 1, n),
            "e": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float),
            "k": rng.binomial(5, 1 / (1 + np.exp(-eta))).astype(float),
            "c": rng.poisson(np.exp(eta)).astype(float),
        }
    )


# (formula, family, link, form) of the full models checked at extreme points: every family and
# link, intercepts, nested, crossed, uncorrelated and correlated varying slopes, centred (where
# the distributions' parameter checks live: Normal(0, sd), MvNormal's "posdef covariance") and
# non-centred group effects.
FULL_MODELS = [
    ("y ~ x + (1 | a)", "gaussian", None, "non_centred"),
    ("y ~ x + (1 | a/b)", "student_t", None, "centred"),
    ("e ~ x + (1 | a) + (1 | t)", "bernoulli", "logit", "centred"),
    ("e ~ x + (x | a)", "bernoulli", "cloglog", "centred"),
    ("k ~ x + (x || t)", "binomial", "logit", "centred"),
    ("k ~ x + (1 | a)", "binomial", "cloglog", "non_centred"),
    ("c ~ x + (x | a) + (1 | t)", "poisson", None, "non_centred"),
    ("y ~ x + (x | a)", "gaussian", None, "centred"),
]


def native_logp(compiled, data, x):
    """Call the compiled cfunc as nutpie does; return (code, logp, grad)."""
    arrays = compiled.data_arrays(data)
    meta = native.data_layout(arrays)
    x = np.ascontiguousarray(x, dtype=np.float64)
    grad = np.zeros(compiled.n_dim)
    logp = np.zeros(1)
    ptr = ctypes.POINTER(ctypes.c_double)
    code = compiled.logp_cfunc.ctypes(
        compiled.n_dim,
        x.ctypes.data_as(ptr),
        grad.ctypes.data_as(ptr),
        logp.ctypes.data_as(ptr),
        meta.ctypes.data_as(ctypes.c_void_p),
    )
    return code, float(logp[0]), grad


def check_extremes(model) -> set[int]:
    """Evaluate the native log-density at random and extreme points; return the codes seen.

    Code 0 must come with a finite log-density and gradient; anything else must be a
    recoverable (positive) code -- the proposal is rejected -- never a fatal one or a crash.
    """
    compiled = compile_model(model, stored_names(model))
    data = {v.name: v.get_value() for v in model.data_vars}
    rng = np.random.default_rng(0)
    points = [compiled.initial_point(s) for s in range(3)]
    points += [np.full(compiled.n_dim, v) for v in EXTREMES]
    points += [rng.choice(EXTREMES, compiled.n_dim) for _ in range(20)]
    codes = set()
    for x in points:
        code, logp, grad = native_logp(compiled, data, x)
        assert code >= 0, code
        if code == 0:
            assert np.isfinite(logp) and np.all(np.isfinite(grad))
        codes.add(code)
    code, logp, _ = native_logp(compiled, data, compiled.initial_point(0))
    assert code == 0 and np.isfinite(logp)
    return codes


@pytest.mark.slow
@pytest.mark.bayes
@pytest.mark.parametrize(("formula", "family", "link", "form"), FULL_MODELS)
def test_full_models_reject_extreme_proposals(
    formula: str, family: str, link: str | None, form: str
) -> None:
    df = mixed_data()
    terms = build_terms(df, formula, 5 if family == "binomial" else None)
    fam = family_spec(family, link)
    priors = resolve_priors(terms, fam.name, fam.link, None)
    model = build_full_model(terms, priors, fam, centred_levels(terms, fam, form))
    assert 0 in check_extremes(model)


@pytest.mark.bayes
def test_collapsed_model_rejects_extreme_proposals() -> None:
    df = mixed_data()
    terms = build_terms(df, "y ~ x + (1 | a/b) + (x | t)")
    fam = family_spec("gaussian")
    priors = resolve_priors(terms, "gaussian", "identity", {"b": "student_t(3, 0, 2.5)"})
    plan = coll.collapse_plan(terms, fam)
    assert plan is not None
    model = build_collapsed_model(terms, priors, fam, coll.collapsed_stats(terms, plan, priors))
    assert 0 in check_extremes(model)


@pytest.mark.bayes
def test_joint_model_rejects_extreme_proposals() -> None:
    from sustain.models.joint.model import build_joint_model, joint_priors
    from sustain.models.joint.model import centred_levels as joint_centred
    from sustain.models.joint.terms import build_joint_terms

    panel = sustain.build_panel(sustain.simulate(seed=3, n_agencies=120).data)
    terms = build_joint_terms(panel, "quality ~ hhi + (1 | district)", "exit ~ hhi", "agency_id")
    fam = family_spec("bernoulli", "cloglog")
    model = build_joint_model(
        terms, joint_priors(terms, "cloglog"), fam, joint_centred(terms, "auto")
    )
    assert 0 in check_extremes(model)


@pytest.mark.parametrize(
    ("family", "link"), [(f, lk) for f, links in LINKS.items() for lk in links]
)
def test_summed_log_likelihood_equals_pointwise_sum(family: str, link: str) -> None:
    import pytensor.tensor as pt

    fam = family_spec(family, link)
    df = mixed_data(1)
    response = {"gaussian": "y", "student_t": "y", "bernoulli": "e", "binomial": "k"}
    y = df[response.get(family, "c")].to_numpy()
    trials = np.full(len(y), 5.0) if family == "binomial" else None
    eta = pt.dvector("eta")
    params = {"sigma": pt.as_tensor(1.3), "nu": pt.as_tensor(4.0)}
    total = fam.total_log_density(eta, y, params, trials)
    pointwise = fam.log_density(eta, y, params, trials).sum()
    values = np.random.default_rng(2).normal(0, 1.5, len(y))
    got = total.eval({eta: values})
    want = pointwise.eval({eta: values})
    np.testing.assert_allclose(got, want, rtol=SUM_RTOL)
    numpy_sum = fam.log_prob(y, values, {"sigma": 1.3, "nu": 4.0}, trials).sum()
    np.testing.assert_allclose(got, numpy_sum, rtol=NUMPY_SUM_RTOL)


SLEEP_SCRIPT = """
import hashlib, json, sys
import numpy as np
sys.path.insert(0, {tests!r})
import sustain
from sustain.models.bayes.sampling import clear_cache
from support.sleepstudy import sleepstudy

def fit(seed):
    return sustain.fit_bayes(sleepstudy(seed), "Reaction ~ Days + (Days | Subject)",
                             draws={draws}, tune={tune}, chains=4, random_seed=seed,
                             target_accept={target}, progressbar=False)

def digest(bm):
    post = bm.idata.posterior.to_dataset()
    h = hashlib.sha256()
    for name in sorted(post.data_vars):
        h.update(np.ascontiguousarray(post[name].values).tobytes())
    return h.hexdigest()

out = []
for seed in {seeds!r}:
    bm = fit(seed)
    dg = sustain.diagnose(bm)
    out.append({{"seed": seed, "ok": bool(dg.ok), "divergences": bm.n_divergences,
                 "summary": str(dg.summary()), "digest": digest(bm)}})
clear_cache()  # the next fit loads the compiled code from the (now warm) disk cache
print("RESULT " + json.dumps({{"fits": out, "again": digest(fit({seeds!r}[0]))}}))
"""


@pytest.mark.slow
@pytest.mark.bayes
def test_correlated_slope_with_fresh_caches(tmp_path: Path) -> None:
    """lme4's sleepstudy model, cold PyTensor and numba caches, several seeds: every fit
    finishes and passes diagnose (the old engine crashed: "Poisoned sampler state mutex").

    Then the first seed is fitted again with the compiled code loaded from the disk cache: its
    draws must be bit-identical to those of the first, freshly compiled fit (with fastmath they
    differed, which made reruns of a spec differ: issue 11, item 13)."""
    script = SLEEP_SCRIPT.format(
        tests=str(Path(__file__).resolve().parents[2]),
        seeds=SLEEP_SEEDS,
        draws=SLEEP_DRAWS,
        tune=SLEEP_TUNE,
        target=SLEEP_TARGET_ACCEPT,
    )
    result = run_with_fresh_caches(script, tmp_path, COLD_TIMEOUT)
    fits = result["fits"]
    assert [f["seed"] for f in fits] == list(SLEEP_SEEDS)
    for fit in fits:
        assert fit["ok"], fit["summary"]
    assert result["again"] == fits[0]["digest"]
    assert (tmp_path / "pytensor").is_dir()  # the fresh cache folders were really used


# ----------------------------------------------------------------------------- bounds

BAD_OPTIONS = [
    ({"draws": 0}, "draws must be between 1 and 100000"),
    ({"draws": -5}, "draws must be between 1 and 100000"),
    ({"draws": 1e12}, "draws must be between 1 and 100000"),
    ({"tune": -1}, "tune must be between 0 and 100000"),
    ({"chains": 0}, "chains must be between 1 and 64"),
    ({"chains": 1000}, "chains must be between 1 and 64"),
    ({"random_seed": -1}, "random_seed must be between 0 and 4294967295"),
    ({"random_seed": 2**40}, "random_seed must be between 0 and 4294967295"),
    ({"cores": 0}, "cores must be between 1 and 256"),
    ({"target_accept": 1.5}, "target_accept must be between 0.5 and 0.999"),
    ({"draws": 2.5}, "draws = 2.5 must be a whole number"),
    ({"chains": "4"}, "chains = '4' must be a number between 1 and 64"),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_fit_bayes_checks_bounds_before_anything(options: dict, message: str) -> None:
    # ``data=None`` would fail in build_terms: the bound must be reported first
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        sustain.fit_bayes(None, "y ~ x", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_fit_joint_checks_bounds_before_anything(options: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        sustain.fit_joint(None, quality="q ~ x", hazard="e ~ x", **options)  # type: ignore[arg-type]


def test_numpy_integers_pass_the_bounds() -> None:
    from sustain.models.bayes.fit import check_sampling_bounds

    check_sampling_bounds(np.int64(500), np.int32(500), np.int64(2), np.uint32(7))


# ----------------------------------------------------------------------------- progress

PROGRESS_FIT = {"draws": 300, "tune": 300, "chains": 2, "random_seed": 5}


@pytest.fixture(scope="module")
def progress_fit() -> tuple[list[SamplingProgress], str]:
    reports: list[SamplingProgress] = []
    df = mixed_data(3)
    sustain.fit_bayes(
        df,
        "e ~ x + (1 | a)",
        family="bernoulli",
        progress=reports.append,
        progressbar=False,
        **PROGRESS_FIT,
    )
    return reports, "e ~ x + (1 | a)"


@pytest.mark.bayes
def test_progress_callback_receives_updates(progress_fit) -> None:
    reports, _ = progress_fit
    total = PROGRESS_FIT["chains"] * (PROGRESS_FIT["draws"] + PROGRESS_FIT["tune"])
    assert reports[-1].phase == "done"
    assert reports[-1].done == reports[-1].total == total
    assert reports[-1].chains == PROGRESS_FIT["chains"]
    running = [r for r in reports if r.phase in ("warm-up", "sampling")]
    assert all(r.total == total and 0 <= r.done <= total for r in running)
    assert [r.done for r in running] == sorted(r.done for r in running)
    assert "iterations" in reports[-1].line() and "divergence" in reports[-1].line()


@pytest.mark.bayes
def test_progressbar_false_is_silent_and_true_draws(capfd: pytest.CaptureFixture[str]) -> None:
    df = mixed_data(4)
    sustain.fit_bayes(df, "y ~ x + (1 | a)", progressbar=False, **PROGRESS_FIT)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    sustain.fit_bayes(df, "y ~ x + (1 | a)", progressbar=True, **PROGRESS_FIT)
    err = capfd.readouterr().err
    assert "2 chains: 1,200/1,200 iterations (100%)" in err
    assert "divergence" in err


def test_progress_line_has_eta_and_phase() -> None:
    p = SamplingProgress("warm-up", 4, 100, 8000, 3, 2.0, 158.0)
    assert p.line() == "warm-up 4 chains: 100/8,000 iterations (1%), 3 divergences, ETA 158 s"


@pytest.mark.bayes
def test_pymc_sampler_never_forks_beside_other_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """With another thread alive (a Dask client, a server), PyMC's chains run in this process
    one after the other instead of in forked children (fork() beside threads can deadlock),
    and give the same draws as the forked chains."""
    import threading

    df = mixed_data(4)

    def fit() -> sustain.models.bayes.BayesResults:
        return sustain.fit_bayes(
            df, "y ~ x + (1 | a)", draws=100, tune=100, chains=2, random_seed=5,
            sampler="pymc", progressbar=False,
        )  # fmt: skip

    forked = fit()

    def no_fork() -> int:
        raise AssertionError("fork() called while another thread was alive")

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with monkeypatch.context() as patch:
            patch.setattr(os, "fork", no_fork)
            beside = fit()
    finally:
        stop.set()
        other.join()
    np.testing.assert_array_equal(forked.idata.posterior["x"], beside.idata.posterior["x"])
