"""Priors of the Bayesian models: defaults scaled to the data, overrides, a printable table.

Defaults follow brms and rstanarm: weakly informative, on the scale of the response.
With ``s_y`` the standard deviation of the response and ``s_x`` that of a predictor column,

=========================  =====================================  ==============================
parameter                  gaussian, student_t                    bernoulli, binomial, poisson
=========================  =====================================  ==============================
``Intercept`` (centred)    ``student_t(3, mean(y), 2.5 s_y)``     ``student_t(3, g(mean y), 2.5)``
slope ``b``                ``normal(0, 2.5 s_y / s_x)``           ``normal(0, 2.5 / s_x)``
``sigma``                  ``half_student_t(3, 0, 2.5 s_y)``      --
``nu`` (student_t)         ``gamma(2, 0.1)``                      --
``sd(1|g)``                ``half_student_t(3, 0, 2.5 s_y)``      ``half_normal(0, 1)``
``sd(x|g)``                ``half_student_t(3, 0, 2.5 s_y / s_x)``  ``half_normal(0, 1 / s_x)``
``cor(g)``                 ``lkj(2)``                             ``lkj(2)``
=========================  =====================================  ==============================

where ``g`` is the link function. Numbers are rounded to four significant digits, so the table
printed by ``result.priors`` is exactly what was used. Overrides are strings parsed by a small
grammar (no ``eval``): ``"normal(0, 2)"``, ``"student_t(3, 0, 2.5)"``, ``"half_normal(0, 1)"``,
``"half_student_t(3, 0, 10)"``, ``"half_cauchy(0, 5)"``, ``"cauchy(0, 1)"``,
``"exponential(1)"``, ``"gamma(2, 0.1)"``, ``"lkj(2)"``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import FloatArray
from sustain.errors import SpecError
from sustain.models.bayes.terms import INTERCEPT, ModelTerms

# name -> (parameter names, support); half distributions carry their location 0 explicitly
_FAMILIES: dict[str, tuple[tuple[str, ...], str]] = {
    "normal": (("mu", "sigma"), "real"),
    "student_t": (("nu", "mu", "sigma"), "real"),
    "cauchy": (("mu", "sigma"), "real"),
    "half_normal": (("mu", "sigma"), "positive"),
    "half_student_t": (("nu", "mu", "sigma"), "positive"),
    "half_cauchy": (("mu", "sigma"), "positive"),
    "exponential": (("lam",), "positive"),
    "gamma": (("alpha", "beta"), "positive"),
    "lkj": (("eta",), "correlation"),
}
_POSITIVE_ARGS = {"sigma", "nu", "lam", "alpha", "beta", "eta"}
# support each parameter class needs
CLASS_SUPPORT = {
    "Intercept": "real",
    "b": "real",
    "sigma": "positive",
    "nu": "positive",
    "sd": "positive",
    "cor": "correlation",
}
_PRIOR_RE = re.compile(r"^\s*([a-z_]+)\s*\(([^()]*)\)\s*$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Prior:
    """A prior distribution: a family name and its numeric arguments (Stan/brms order).

    Examples
    --------
    >>> p = parse_prior("half_student_t(3, 10)")
    >>> str(p), p.support
    ('half_student_t(3, 0, 10)', 'positive')
    """

    dist: str
    args: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.dist not in _FAMILIES:
            raise SpecError(
                f"unknown prior {self.dist!r}; choose one of {', '.join(sorted(_FAMILIES))}"
            )
        names, _ = _FAMILIES[self.dist]
        if len(self.args) != len(names):
            raise SpecError(f"prior {self.dist} takes {len(names)} numbers ({', '.join(names)})")
        for name, value in zip(names, self.args, strict=True):
            if not math.isfinite(value):
                raise SpecError(f"prior {self}: {name} must be finite")
            if name in _POSITIVE_ARGS and value <= 0:
                raise SpecError(f"prior {self}: {name} must be > 0")
        if self.dist.startswith("half_") and self.args[_FAMILIES[self.dist][0].index("mu")] != 0:
            raise SpecError(f"prior {self}: a half distribution must be located at 0")

    @property
    def support(self) -> str:
        """``"real"``, ``"positive"`` or ``"correlation"``."""
        return _FAMILIES[self.dist][1]

    @property
    def kwargs(self) -> dict[str, float]:
        """Arguments by name."""
        return dict(zip(_FAMILIES[self.dist][0], self.args, strict=True))

    def __str__(self) -> str:
        return f"{self.dist}({', '.join(_fmt(a) for a in self.args)})"

    def to_pymc(self, name: str, **kwargs: Any) -> Any:
        """Create this prior as a PyMC random variable (inside a model context)."""
        return _pymc_class(self.dist)(name, **self._pymc_kwargs(), **kwargs)

    def dist_(self) -> Any:
        """This prior as an unnamed PyMC distribution (``pm.<Dist>.dist``)."""
        return _pymc_class(self.dist).dist(**self._pymc_kwargs())

    def _pymc_kwargs(self) -> dict[str, float]:
        a = self.kwargs
        if self.dist in ("cauchy",):
            return {"alpha": a["mu"], "beta": a["sigma"]}
        if self.dist == "half_cauchy":
            return {"beta": a["sigma"]}
        if self.dist.startswith("half_"):
            a.pop("mu")
        if self.dist == "lkj":
            raise SpecError("lkj is a prior for correlation matrices, not a scalar parameter")
        return a

    def draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        """Independent draws with numpy (used for prior predictive checks).

        Examples
        --------
        >>> import numpy as np
        >>> x = parse_prior("gamma(2, 0.1)").draw(np.random.default_rng(0), 20000)
        >>> bool(abs(x.mean() - 20) < 0.5)
        True
        """
        a = self.kwargs
        if self.dist == "normal":
            return rng.normal(a["mu"], a["sigma"], size)
        if self.dist in ("student_t", "half_student_t"):
            x = a["mu"] + a["sigma"] * rng.standard_t(a["nu"], size)
        elif self.dist in ("cauchy", "half_cauchy"):
            x = a["mu"] + a["sigma"] * rng.standard_cauchy(size)
        elif self.dist == "half_normal":
            x = rng.normal(0.0, a["sigma"], size)
        elif self.dist == "exponential":
            return rng.exponential(1.0 / a["lam"], size)
        elif self.dist == "gamma":
            return rng.gamma(a["alpha"], 1.0 / a["beta"], size)
        else:
            raise SpecError(f"{self} cannot be drawn as a scalar")
        return np.abs(x) if self.dist.startswith("half_") else x


def _pymc_class(dist: str) -> Any:
    import pymc as pm

    return {
        "normal": pm.Normal,
        "student_t": pm.StudentT,
        "cauchy": pm.Cauchy,
        "half_normal": pm.HalfNormal,
        "half_student_t": pm.HalfStudentT,
        "half_cauchy": pm.HalfCauchy,
        "exponential": pm.Exponential,
        "gamma": pm.Gamma,
        "lkj": pm.LKJCorr,
    }[dist]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _round(value: float) -> float:
    return float(f"{value:.4g}")


def parse_prior(text: str | Prior) -> Prior:
    """Parse ``"family(a, b, ...)"`` into a :class:`Prior` without evaluating any code.

    Half distributions may omit their location: ``half_normal(1)`` means
    ``half_normal(0, 1)`` and ``half_student_t(3, 10)`` means ``half_student_t(3, 0, 10)``.

    Raises
    ------
    SpecError
        Unknown family, wrong number of arguments, or anything that is not a number.

    Examples
    --------
    >>> parse_prior("normal(0, 2.5)")
    Prior(dist='normal', args=(0.0, 2.5))
    >>> parse_prior("normal(0, os)")
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: prior 'normal(0, os)' is not of the form family(number, ...), e.g. 'normal(0, 2)'
    """
    if isinstance(text, Prior):
        return text
    if not isinstance(text, str):
        raise SpecError(f"a prior must be a string such as 'normal(0, 1)', not {text!r}")
    match = _PRIOR_RE.match(text.lower())
    pieces = [p.strip() for p in match.group(2).split(",")] if match else []
    if not match or not all(_NUMBER_RE.match(p) for p in pieces):
        raise SpecError(
            f"prior {text!r} is not of the form family(number, ...), e.g. 'normal(0, 2)'"
        )
    dist, args = match.group(1), [float(p) for p in pieces]
    if dist in _FAMILIES and dist.startswith("half_"):
        names = _FAMILIES[dist][0]
        if len(args) == len(names) - 1:
            args.insert(names.index("mu"), 0.0)
    return Prior(dist, tuple(args))


@dataclass(frozen=True)
class PriorEntry:
    """One row of a prior table.

    Examples
    --------
    >>> PriorEntry("sigma", "sigma", parse_prior("half_normal(0, 1)")).source
    'default'
    """

    parameter: str
    cls: str
    prior: Prior
    source: str = "default"


@dataclass(frozen=True)
class PriorSet:
    """The priors of one model, in reporting order.

    Examples
    --------
    >>> ps = PriorSet((PriorEntry("sigma", "sigma", parse_prior("half_normal(0, 1)")),))
    >>> str(ps["sigma"])
    'half_normal(0, 1)'
    """

    entries: tuple[PriorEntry, ...]

    def __getitem__(self, parameter: str) -> Prior:
        for e in self.entries:
            if e.parameter == parameter:
                return e.prior
        raise KeyError(parameter)

    def table(self) -> pd.DataFrame:
        """A DataFrame with columns ``parameter``, ``class``, ``prior``, ``source``."""
        return pd.DataFrame(
            [(e.parameter, e.cls, str(e.prior), e.source) for e in self.entries],
            columns=["parameter", "class", "prior", "source"],
        )

    def to_json(self) -> str:
        """Serialise (for NetCDF attributes)."""
        return json.dumps([[e.parameter, e.cls, str(e.prior), e.source] for e in self.entries])

    @classmethod
    def from_json(cls, text: str) -> PriorSet:
        """Inverse of :meth:`to_json`."""
        return cls(tuple(PriorEntry(p, c, parse_prior(d), s) for p, c, d, s in json.loads(text)))


def _sd(x: FloatArray) -> float:
    s = float(np.std(x))
    if s > 0:
        return s
    rms = float(np.sqrt(np.mean(x**2)))
    return rms if rms > 0 else 1.0


def _link_location(terms: ModelTerms, family: str, link: str) -> float:
    y = terms.y / terms.trials if terms.trials is not None else terms.y
    m = float(np.mean(y))
    if family == "poisson":
        return math.log(max(m, 0.01))
    p = min(max(m, 0.01), 0.99)
    return math.log(-math.log1p(-p)) if link == "cloglog" else math.log(p / (1 - p))


def default_priors(terms: ModelTerms, family: str, link: str) -> PriorSet:
    """Weakly informative priors scaled to the data (see the module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 3, 5, 7], "x": [0.0, 1, 2, 3], "g": list("aabb")})
    >>> from sustain.models.bayes.terms import build_terms
    >>> ps = default_priors(build_terms(df, "y ~ x + (1 | g)"), "gaussian", "identity")
    >>> ps.table()["prior"].tolist()
    ['student_t(3, 4, 5.59)', 'normal(0, 5)', 'half_student_t(3, 0, 5.59)', 'half_student_t(3, 0, 5.59)']
    """
    gaussian = family in ("gaussian", "student_t")
    sy = _sd(terms.y) if gaussian else 1.0
    entries: list[PriorEntry] = []
    if terms.has_intercept:
        loc = float(np.mean(terms.y)) if gaussian else _link_location(terms, family, link)
        entries.append(
            PriorEntry(
                INTERCEPT, "Intercept", Prior("student_t", (3.0, _round(loc), _round(2.5 * sy)))
            )
        )
    slopes = terms.slope_matrix()
    for j, name in enumerate(terms.slope_names):
        scale = _round(2.5 * sy / _sd(slopes[:, j]))
        entries.append(PriorEntry(name, "b", Prior("normal", (0.0, scale))))
    if gaussian:
        entries.append(
            PriorEntry("sigma", "sigma", Prior("half_student_t", (3.0, 0.0, _round(2.5 * sy))))
        )
    if family == "student_t":
        entries.append(PriorEntry("nu", "nu", Prior("gamma", (2.0, 0.1))))
    for g in terms.groups:
        for j, coef in enumerate(g.coefs):
            sx = 1.0 if coef == "1" else _sd(g.Z[:, j])
            prior = (
                Prior("half_student_t", (3.0, 0.0, _round(2.5 * sy / sx)))
                if gaussian
                else Prior("half_normal", (0.0, _round(1.0 / sx)))
            )
            entries.append(PriorEntry(g.sd_name(coef), "sd", prior))
        if g.k > 1 and g.correlated:
            entries.append(PriorEntry(g.lkj_name, "cor", Prior("lkj", (2.0,))))
    return PriorSet(tuple(entries))


def resolve_priors(
    terms: ModelTerms, family: str, link: str, overrides: Mapping[str, str | Prior] | None
) -> PriorSet:
    """Default priors with user overrides applied.

    Keys of ``overrides`` are parameter names (``"hhi"``, ``"sigma"``, ``"sd(1|district)"``,
    ``"cor(tier)"``) or classes (``"b"``: every slope, ``"sd"``: every group-level sd,
    ``"cor"``: every correlation matrix); a parameter key beats a class key.

    Raises
    ------
    SpecError
        Unknown key (the message lists the valid ones) or a prior whose support does not fit
        the parameter (e.g. ``normal`` for ``sigma``).

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> df = pd.DataFrame({"y": [1.0, 3, 5, 7], "x": [0.0, 1, 2, 3]})
    >>> ps = resolve_priors(build_terms(df, "y ~ x"), "gaussian", "identity", {"x": "normal(0, 2)"})
    >>> ps.table().loc[1, ["parameter", "prior", "source"]].tolist()
    ['x', 'normal(0, 2)', 'user']
    """
    return apply_overrides(default_priors(terms, family, link), overrides)


def apply_overrides(
    defaults: PriorSet,
    overrides: Mapping[str, str | Prior] | None,
    support: Callable[[str], str] | None = None,
) -> PriorSet:
    """Replace default priors by user priors keyed by parameter name or class.

    ``support`` maps a class to the support its priors need (default: ``CLASS_SUPPORT``);
    the joint model passes one that strips its ``hazard:`` prefix.

    Raises
    ------
    SpecError
        ``overrides`` is not a mapping, names a parameter or class the model does not have,
        or gives a prior of the wrong support.

    Examples
    --------
    >>> ps = PriorSet((PriorEntry("x", "b", Prior("normal", (0.0, 1.0))),))
    >>> str(apply_overrides(ps, {"b": "normal(0, 3)"})["x"])
    'normal(0, 3)'
    """
    if not overrides:
        return defaults
    if not isinstance(overrides, Mapping):
        raise SpecError(
            "priors must be a mapping of parameter name to prior, e.g. {'x': 'normal(0, 1)'}"
        )
    needed_for = support or CLASS_SUPPORT.__getitem__
    names = {e.parameter for e in defaults.entries}
    classes = {e.cls for e in defaults.entries}
    unknown = sorted(set(overrides) - names - classes)
    if unknown:
        raise SpecError(
            f"priors given for {', '.join(map(repr, unknown))}, which the model does not have; "
            f"parameters: {', '.join(sorted(names))}; classes: {', '.join(sorted(classes))}"
        )
    entries = []
    for e in defaults.entries:
        key = e.parameter if e.parameter in overrides else e.cls if e.cls in overrides else None
        if key is None:
            entries.append(e)
            continue
        prior, needed = parse_prior(overrides[key]), needed_for(e.cls)
        if prior.support != needed:
            raise SpecError(
                f"prior {prior} for {e.parameter!r} has {prior.support} support; "
                f"{e.cls} parameters need a {needed} prior"
            )
        entries.append(PriorEntry(e.parameter, e.cls, prior, "user"))
    return PriorSet(tuple(entries))
