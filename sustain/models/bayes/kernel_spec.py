"""Describe a PyMC model of :mod:`.model` to the structure-independent kernels of :mod:`.kernel`.

:func:`glmm_native` reads the positions of the model's free variables (the flat vector nutpie
samples, :func:`.compiled.positions`), their priors and transforms and
the design, and returns a :class:`NativeLogp`: the kernel's C function and the arrays it reads.
It returns ``None`` for what the kernel does not cover -- correlated varying coefficients (LKJ),
the Student-t family, a transform other than the log -- and the model's log-density is then
compiled by PyTensor as before (:mod:`.compiled`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from sustain._typing import BoolArray
from sustain.models.bayes.compiled import positions
from sustain.models.bayes.families import FamilySpec
from sustain.models.bayes.model import CENTRED_INTERCEPT, CENTRED_PREFIX
from sustain.models.bayes.priors import Prior, PriorSet
from sustain.models.bayes.terms import INTERCEPT, ModelTerms

#: Slots of the ``user_data`` block the GLMM entry point reads (addresses and sizes).
META_SLOTS = 40


@dataclass(frozen=True)
class NativeLogp:
    """A kernel's C function with the arrays describing one model.

    Attributes
    ----------
    compile : callable
        Returns the kernel's C function (nutpie's log-density signature; reads ``meta``),
        waiting for a compilation started in the background (:attr:`cfunc`).
    meta : ndarray of int64
        The ``user_data`` block: the model's dimension, then addresses and sizes of ``arrays``.
    arrays : tuple of ndarray
        The arrays ``meta`` points to (kept alive with it).
    """

    compile: Any
    meta: np.ndarray
    arrays: tuple[np.ndarray, ...]

    @property
    def cfunc(self) -> Any:
        """The kernel's C function (compiled, or loaded from numba's cache, on first use)."""
        return self.compile()

    def evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray, int]:
        """``(log density, gradient, return code)`` at the unconstrained position ``x``.

        Calls the C function as nutpie does (code 0: success; 3: non-finite, a rejection).
        """
        import ctypes

        x = np.ascontiguousarray(x, dtype=np.float64)
        grad, out = np.zeros_like(x), np.zeros(1)
        ptr = ctypes.POINTER(ctypes.c_double)
        code = self.cfunc.ctypes(
            x.shape[0],
            x.ctypes.data_as(ptr),
            grad.ctypes.data_as(ptr),
            out.ctypes.data_as(ptr),
            self.meta.ctypes.data_as(ctypes.c_void_p),
        )
        return float(out[0]), grad, int(code)


def prior_row(prior: Prior) -> tuple[int, list[float]] | None:
    """Kernel code and parameters of a scalar prior (``None``: not covered).

    Examples
    --------
    >>> from sustain.models.bayes.priors import parse_prior
    >>> prior_row(parse_prior("half_student_t(3, 0, 2.5)"))
    (4, [3.0, 2.5, 0.0])
    """
    from sustain.models.bayes.kernel_core import DIST_CODES

    a = prior.kwargs
    rows = {
        "normal": [a.get("mu"), a.get("sigma")],
        "student_t": [a.get("nu"), a.get("mu"), a.get("sigma")],
        "cauchy": [a.get("mu"), a.get("sigma")],
        "half_normal": [a.get("sigma")],
        "half_student_t": [a.get("nu"), a.get("sigma")],
        "half_cauchy": [a.get("sigma")],
        "exponential": [a.get("lam")],
        "gamma": [a.get("alpha"), a.get("beta")],
    }
    if prior.dist not in rows:
        return None
    values = [float(v) for v in rows[prior.dist] if v is not None]
    return DIST_CODES[prior.dist], values + [0.0] * (3 - len(values))


class _Blocks:
    """Rows of the kernel's ``blocks``/``bpar`` arrays, checked against the model's transforms."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.pos = positions(model)
        self.rows: list[list[int]] = []
        self.pars: list[list[float]] = []
        self.transforms = {rv.name: model.rvs_to_transforms.get(rv) for rv in model.free_RVs}

    def add(self, name: str, prior: Prior, scale_ref: int = -1) -> bool:
        """A block for the whole of free variable ``name`` with a scalar prior."""
        row = prior_row(prior)
        if row is None:
            return False
        expected = "LogTransform" if prior.support == "positive" else None
        return self.add_row(name, row[0], row[1], expected, scale_ref)

    def add_row(
        self,
        name: str,
        code: int,
        params: list[float],
        expected: str | None,
        scale_ref: int = -1,
        part: int | None = None,
    ) -> bool:
        """A block for ``name`` (or its element ``part``) with kernel prior ``code``; ``False``
        when the model transforms the variable otherwise than ``expected``."""
        from sustain.models.bayes.kernel_core import TRANSFORM_CODES

        transform = self.transforms.get(name)
        kind = type(transform).__name__ if transform is not None else None
        if name not in self.pos or kind != expected or kind not in TRANSFORM_CODES:
            return False
        offset, size = self.pos[name]
        if part is not None:
            offset, size = offset + part, 1
        self.rows.append([offset, size, TRANSFORM_CODES[kind], code, scale_ref])
        self.pars.append(params)
        return True

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.asarray(self.rows, dtype=np.int64).reshape(-1, 5),
            np.asarray(self.pars, dtype=np.float64).reshape(-1, 3),
        )


def kernel_kind(terms: ModelTerms, family: FamilySpec, plan: Any) -> str | None:
    """Which kernel will evaluate the model: ``"glmm"``, ``"collapsed"`` or ``None``.

    A cheap look at the formula before anything is built (:func:`glmm_native` and
    :func:`collapsed_native` make the final decision); ``plan`` is the collapse plan or None.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.families import family_spec
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 0, 1], "g": list("aabb")})
    >>> kernel_kind(build_terms(df, "y ~ x + (1 | g)"), family_spec("gaussian"), None)
    'glmm'
    >>> kernel_kind(build_terms(df, "y ~ x + (x | g)"), family_spec("student_t"), None) is None
    True
    """
    from sustain.models.bayes.kernel import FAMILY_CODES
    from sustain.models.bayes.kernel_collapsed import MAX_KERNEL_COLUMNS

    if plan is not None:
        correlated = any(g.k > 1 and g.correlated for g in plan.others)
        too_big = plan.n_columns > MAX_KERNEL_COLUMNS
        return None if correlated or too_big else "collapsed"
    if family.name not in FAMILY_CODES:
        return None
    return "glmm_lkj" if any(g.k > 1 and g.correlated for g in terms.groups) else "glmm"


def glmm_native(
    model: Any,
    terms: ModelTerms,
    priors: PriorSet,
    family: FamilySpec,
    centred: Sequence[BoolArray | None] | None = None,
) -> NativeLogp | None:
    """The GLMM kernel for a model built by :func:`.model.build_full_model`, or ``None``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.priors import default_priors
    >>> from sustain.models.bayes.families import family_spec
    >>> from sustain.models.bayes.model import build_full_model
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 6], "x": [0.0, 1, 0, 1, 2], "g": list("aabbb")})
    >>> t = build_terms(df, "y ~ x + (1 | g)")
    >>> ps, fam = default_priors(t, "gaussian", "identity"), family_spec("gaussian")
    >>> native = glmm_native(build_full_model(t, ps, fam), t, ps, fam)
    >>> int(native.meta[0]), native.cfunc.address > 0
    (6, True)
    """
    from sustain.models.bayes.kernel import FAMILY_CODES, LINK_CODES, glmm_cfunc

    if family.name not in FAMILY_CODES or family.link not in LINK_CODES:
        return None
    blocks = _Blocks(model)
    known = set(blocks.pos)
    slopes = terms.slope_matrix() if terms.slope_names else np.zeros((terms.nobs, 0))
    slopes = np.asarray(slopes, dtype=np.float64).reshape(terms.nobs, -1)
    beta_pos = []
    for name in terms.slope_names:
        if name not in known or not blocks.add(name, priors[name]):
            return None
        beta_pos.append(blocks.pos[name][0])
    icpt = -1
    if terms.has_intercept:
        if not blocks.add(CENTRED_INTERCEPT, priors[INTERCEPT]):
            return None
        icpt = blocks.pos[CENTRED_INTERCEPT][0]
        slopes = slopes - slopes.mean(axis=0)
    effects = _effects(blocks, terms, priors, centred)
    if effects is None:
        return None
    sig = -1
    for name in family.scale_params:
        if name != "sigma" or not blocks.add(name, priors[name]):
            return None
        sig = blocks.pos[name][0]
    used = {name for name, _ in blocks.pos.items()}
    covered = {n for n, (o, _) in blocks.pos.items() if any(r[0] == o for r in blocks.rows)}
    if used != covered:  # a free variable the description does not account for
        return None
    y = np.asarray(terms.y, dtype=np.float64)
    trials, const = _counts(family, y, terms.trials)
    effect_rows, groups, weights, level_pos, level_centred, *correlated = effects
    block_rows, bpar = blocks.arrays()
    info = np.array([FAMILY_CODES[family.name], LINK_CODES[family.link], icpt, sig], np.int64)
    arrays = (
        block_rows,
        bpar,
        info,
        np.asarray(beta_pos, dtype=np.int64),
        np.ascontiguousarray(slopes.T, dtype=np.float64),
        groups,
        weights,
        effect_rows,
        level_pos,
        level_centred,
        y,
        trials,
        np.array([const], dtype=np.float64),
        *correlated,
    )
    n_dim = sum(size for _, size in blocks.pos.values())
    meta = _glmm_meta(n_dim, arrays)
    lkj = len(correlated[0]) > 0
    return NativeLogp(compile=lambda: glmm_cfunc(correlated=lkj), meta=meta, arrays=arrays)


def _effects(
    blocks: _Blocks,
    terms: ModelTerms,
    priors: PriorSet,
    centred: Sequence[BoolArray | None] | None,
) -> tuple[np.ndarray, ...] | None:
    """Per vector of group effects its layout, and per level its position and form."""
    n = terms.nobs
    forms = list(centred) if centred is not None else [None] * len(terms.groups)
    groups = np.zeros((max(len(terms.groups), 1), n), dtype=np.int64)
    weight_cols: list[np.ndarray] = []
    rows: list[list[int]] = []
    level_pos: list[np.ndarray] = []
    level_centred: list[np.ndarray] = []
    first = 0
    corr = _Correlated()
    for f, (g, mask) in enumerate(zip(terms.groups, forms, strict=True)):
        groups[f] = np.asarray(g.index, dtype=np.int64)
        flags = np.zeros(g.n_levels, bool) if mask is None else np.asarray(mask, bool)
        if g.k > 1 and g.correlated:
            sds = corr.add(blocks, g, flags, priors, first)
            if sds is None:
                return None
            for j, coef in enumerate(g.coefs):
                wcol = -1
                if coef != "1":
                    wcol = len(weight_cols)
                    weight_cols.append(np.asarray(g.Z[:, j], dtype=np.float64))
                rows.append([f, wcol, first, g.n_levels, sds[j], 1])
                level_pos.append(np.zeros(g.n_levels, np.int64))  # read by kernel_lkj
                level_centred.append(np.zeros(g.n_levels, np.int64))
                first += g.n_levels
            continue
        for j, coef in enumerate(g.coefs):
            sd_name = g.sd_name(coef)
            if sd_name not in blocks.pos or not blocks.add(sd_name, priors[sd_name]):
                return None
            sd_pos = blocks.pos[sd_name][0]
            where = _level_positions(blocks, g, coef, flags, sd_pos)
            if where is None:
                return None
            wcol = -1
            if coef != "1":
                wcol = len(weight_cols)
                weight_cols.append(np.asarray(g.Z[:, j], dtype=np.float64))
            rows.append([f, wcol, first, g.n_levels, sd_pos, 0])
            level_pos.append(where)
            level_centred.append(flags.astype(np.int64))
            first += g.n_levels
    weights = np.vstack(weight_cols) if weight_cols else np.zeros((1, n))
    return (
        np.asarray(rows, dtype=np.int64).reshape(-1, 6),
        np.ascontiguousarray(groups),
        np.ascontiguousarray(weights, dtype=np.float64),
        np.concatenate(level_pos) if level_pos else np.zeros(0, np.int64),
        np.concatenate(level_centred) if level_centred else np.zeros(0, np.int64),
        *corr.arrays(),
    )


class _Correlated:
    """Rows of the arrays of :mod:`.kernel_lkj` (correlated varying coefficients)."""

    def __init__(self) -> None:
        self.rows: list[list[int]] = []
        self.sd: list[int] = []
        self.r: list[int] = []
        self.levels: list[list[int]] = []

    def add(
        self, blocks: _Blocks, g: Any, flags: np.ndarray, priors: PriorSet, first: int
    ) -> list[int] | None:
        """Describe factor ``g`` (its effects start at ``first`` in ``r``); its sd positions."""
        from sustain.models.bayes.kernel_core import DIST_CODES
        from sustain.models.bayes.model import cpc_pairs

        sd_pos = []
        for coef in g.coefs:
            if not blocks.add(g.sd_name(coef), priors[g.sd_name(coef)]):
                return None
            sd_pos.append(blocks.pos[g.sd_name(coef)][0])
        cpc = f"cpc({g.name})"
        _, betas = cpc_pairs(g.k, priors[g.lkj_name].kwargs["eta"])
        for m, b in enumerate(betas):  # raw ~ Beta(b, b) on (0, 1), log-odds transformed
            params = [float(b), float(b), 0.0]
            if not blocks.add_row(cpc, DIST_CODES["beta"], params, "LogOddsTransform", part=m):
                return None
        centred_name, z_name = f"{CENTRED_PREFIX}{g.name})", f"z({g.name})"
        standard = DIST_CODES["normal"], [0.0, 1.0, 0.0]
        if flags.any() and not blocks.add_row(centred_name, DIST_CODES["flat"], [0.0] * 3, None):
            return None  # its MvNormal density is added by the kernel
        if not flags.all() and not blocks.add_row(z_name, *standard, None):
            return None
        rank = np.zeros(g.n_levels, dtype=np.int64)
        rank[flags] = np.arange(int(flags.sum()))
        rank[~flags] = np.arange(int((~flags).sum()))
        self.rows.append(
            [g.k, g.n_levels, blocks.pos[cpc][0], len(self.sd), len(self.levels), len(self.r)]
        )
        self.sd.extend(sd_pos)
        self.r.extend(first + j * g.n_levels for j in range(g.k))
        for level in range(g.n_levels):
            name = centred_name if flags[level] else z_name
            self.levels.append([blocks.pos[name][0] + int(rank[level]) * g.k, int(flags[level])])
        return sd_pos

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (
            np.asarray(self.rows, dtype=np.int64).reshape(-1, 6),
            np.asarray(self.sd, dtype=np.int64),
            np.asarray(self.r, dtype=np.int64),
            np.asarray(self.levels, dtype=np.int64).reshape(-1, 2),
        )


def _level_positions(
    blocks: _Blocks, g: Any, coef: str, flags: np.ndarray, sd_pos: int
) -> np.ndarray | None:
    """Position of every level's raw value (centred levels first, as :mod:`.model` lays out)."""
    from sustain.models.bayes.priors import parse_prior

    standard = parse_prior("normal(0, 1)")
    out = np.zeros(g.n_levels, dtype=np.int64)
    centred_name = g.effect_name(coef) if flags.all() else f"{CENTRED_PREFIX}{coef}|{g.name})"
    z_name = f"z({coef}|{g.name})"
    if flags.any():
        if centred_name not in blocks.pos or not blocks.add(centred_name, standard, sd_pos):
            return None
        out[np.flatnonzero(flags)] = blocks.pos[centred_name][0] + np.arange(int(flags.sum()))
    if not flags.all():
        if z_name not in blocks.pos or not blocks.add(z_name, standard):
            return None
        out[np.flatnonzero(~flags)] = blocks.pos[z_name][0] + np.arange(int((~flags).sum()))
    return out


def _counts(family: FamilySpec, y: np.ndarray, trials: Any) -> tuple[np.ndarray, float]:
    """Trials per row and the data-only constant of the log-likelihood."""
    if family.name == "binomial":
        n = np.asarray(trials, dtype=np.float64)
        const = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
        return np.ascontiguousarray(n), float(const.sum())
    if family.name == "poisson":
        return np.ones_like(y), -float(special.gammaln(y + 1).sum())
    return np.ones_like(y), 0.0


def _glmm_meta(n_dim: int, arrays: tuple[np.ndarray, ...]) -> np.ndarray:
    """The ``user_data`` block of :func:`.kernel._glmm_entry` (see its slot numbers)."""
    blocks, bpar, info, beta_pos, xc, groups, weights, effects, lp, lc, y, trials, const = arrays[
        :13
    ]
    corr, corr_sd, corr_r, corr_lvl = arrays[13:]
    for a in arrays:
        a.flags.writeable = False  # read by address from the sampler's threads
    meta = np.zeros(META_SLOTS, dtype=np.int64)
    meta[0] = n_dim
    meta[1], meta[2], meta[3] = blocks.ctypes.data, blocks.shape[0], bpar.ctypes.data
    meta[4] = info.ctypes.data
    meta[5], meta[6] = beta_pos.ctypes.data, beta_pos.shape[0]
    meta[7], meta[8] = xc.ctypes.data, y.shape[0]
    meta[9], meta[10] = groups.ctypes.data, groups.shape[0]
    meta[11], meta[12] = weights.ctypes.data, weights.shape[0]
    meta[13], meta[14] = effects.ctypes.data, effects.shape[0]
    meta[15], meta[16] = lp.ctypes.data, lp.shape[0]
    meta[17], meta[18] = lc.ctypes.data, y.ctypes.data
    meta[19], meta[20] = trials.ctypes.data, const.ctypes.data
    meta[21], meta[22] = corr.ctypes.data, corr.shape[0]
    meta[23], meta[24] = corr_sd.ctypes.data, corr_sd.shape[0]
    meta[25], meta[26], meta[27] = corr_r.ctypes.data, corr_lvl.ctypes.data, corr_lvl.shape[0]
    return meta


def collapsed_native(model: Any, stats: Any, priors: PriorSet) -> NativeLogp | None:
    """The collapsed kernel for a model built by :func:`.collapsed_model.build_collapsed_model`.

    ``None`` for correlated varying coefficients (their scale is not diagonal) and for more
    than :data:`.kernel_collapsed.MAX_KERNEL_COLUMNS` integrated columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.priors import default_priors
    >>> from sustain.models.bayes.families import family_spec
    >>> from sustain.models.bayes.collapsed import collapse_plan, collapsed_stats
    >>> from sustain.models.bayes.collapsed_model import build_collapsed_model
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 5, 8, 13], "x": [0.0, 1, 0, 1, 2, 2],
    ...                    "g": list("uuvvww"), "t": list("pqpqpq")})
    >>> t = build_terms(df, "y ~ x + (1 | g) + (1 | t)")
    >>> fam, ps = family_spec("gaussian"), default_priors(t, "gaussian", "identity")
    >>> st = collapsed_stats(t, collapse_plan(t, fam), ps)
    >>> native = collapsed_native(build_collapsed_model(t, ps, fam, st), st, ps)
    >>> int(native.meta[0]), int(native.meta[1])
    (4, 4)
    """
    from sustain.models.bayes.collapsed import data_values
    from sustain.models.bayes.kernel_collapsed import MAX_KERNEL_COLUMNS, collapsed_cfunc

    plan = stats.plan
    if plan.n_columns > MAX_KERNEL_COLUMNS or any(g.k > 1 and g.correlated for g in plan.others):
        return None
    blocks = _Blocks(model)
    scales = _column_scales(blocks, plan, priors)
    tau_name = plan.big.sd_name("1")
    for name in ("sigma", tau_name):
        if name not in blocks.pos or not blocks.add(name, priors[name]):
            return None
    covered = {n for n, (o, _) in blocks.pos.items() if any(r[0] == o for r in blocks.rows)}
    if scales is None or covered != set(blocks.pos):
        return None
    data = data_values(stats)
    block_rows, bpar = blocks.arrays()
    info = np.array(
        [blocks.pos["sigma"][0], blocks.pos[tau_name][0], int(stats.n_obs)], dtype=np.int64
    )
    arrays = (
        block_rows,
        bpar,
        info,
        *scales,
        np.concatenate([np.atleast_1d(data["rr"]), data["zr"]]).astype(np.float64),
        *(np.ascontiguousarray(data[k], dtype=np.float64) for k in _CLASS_ARRAYS),
    )
    n_dim = sum(size for _, size in blocks.pos.values())
    meta = _collapsed_meta(n_dim, arrays)
    return NativeLogp(compile=collapsed_cfunc, meta=meta, arrays=arrays)


def _column_scales(blocks: _Blocks, plan: Any, priors: PriorSet) -> tuple[np.ndarray, ...] | None:
    """``lam_const``, ``lam_pos``, ``lam_kind`` of every integrated column (adds the mixing
    variables' and group sds' prior blocks), or ``None`` when a variable is missing."""
    from sustain.models.bayes.collapsed import prior_key
    from sustain.models.bayes.collapsed_model import MIXING_PREFIX
    from sustain.models.bayes.kernel_collapsed import LAM_CONST, LAM_MIX, LAM_SD

    const: list[float] = []
    pos: list[int] = []
    kind: list[int] = []
    for name in plan.fixed:
        key = prior_key(plan, name)
        prior = priors[key]
        const.append(float(prior.kwargs["sigma"]))
        if prior.dist == "normal":
            pos.append(-1)
            kind.append(LAM_CONST)
            continue
        nu = prior.kwargs["nu"] if prior.dist == "student_t" else 1.0
        mix = f"{MIXING_PREFIX}{key})"  # N(mu, s^2 / mix), mix ~ Gamma(nu/2, nu/2)
        if mix not in blocks.pos or not blocks.add(mix, Prior("gamma", (nu / 2.0, nu / 2.0))):
            return None
        pos.append(blocks.pos[mix][0])
        kind.append(LAM_MIX)
    for g in plan.others:
        sd_pos = []
        for coef in g.coefs:
            sd_name = g.sd_name(coef)
            if sd_name not in blocks.pos or not blocks.add(sd_name, priors[sd_name]):
                return None
            sd_pos.append(blocks.pos[sd_name][0])
        for _level in range(g.n_levels):  # column offset + level * k + coefficient
            const.extend([1.0] * g.k)
            pos.extend(sd_pos)
            kind.extend([LAM_SD] * g.k)
    if len(const) != plan.n_columns:
        return None
    return (
        np.asarray(const, dtype=np.float64),
        np.asarray(pos, dtype=np.int64),
        np.asarray(kind, dtype=np.int64),
    )


#: Statistics of :func:`.collapsed.data_values` after ``rr`` and ``zr``, in the kernel's order.
_CLASS_ARRAYS = ("zz", "class_n", "class_size", "crr", "czr", "czz")


def _collapsed_meta(n_dim: int, arrays: tuple[np.ndarray, ...]) -> np.ndarray:
    """The ``user_data`` block of :func:`.kernel_collapsed._collapsed_entry`."""
    for a in arrays:
        a.flags.writeable = False
    blocks, bpar, info, lam_const, lam_pos, lam_kind, stats, zz, cn, cs, crr, czr, czz = arrays
    meta = np.zeros(24, dtype=np.int64)
    meta[0], meta[1], meta[2] = n_dim, lam_const.shape[0], cn.shape[0]
    meta[3], meta[4], meta[5] = blocks.ctypes.data, blocks.shape[0], bpar.ctypes.data
    meta[6], meta[7] = info.ctypes.data, lam_const.ctypes.data
    meta[8], meta[9], meta[10] = lam_pos.ctypes.data, lam_kind.ctypes.data, stats.ctypes.data
    meta[11], meta[12], meta[13] = zz.ctypes.data, cn.ctypes.data, cs.ctypes.data
    meta[14], meta[15], meta[16] = crr.ctypes.data, czr.ctypes.data, czz.ctypes.data
    return meta
