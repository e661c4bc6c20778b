"""Auxiliary weights of the wild cluster bootstrap: Rademacher and Webb, drawn or enumerated.

Each bootstrap sample multiplies every cluster's residuals (or scores) by one weight
:math:`v_g` with mean 0 and variance 1:

=============  ==========================================================  ===============
weights        values (equally likely)                                     support size
=============  ==========================================================  ===============
``rademacher`` :math:`\\pm 1`                                               2
``webb``       :math:`\\pm\\sqrt{1/2}, \\pm 1, \\pm\\sqrt{3/2}`                 6
=============  ==========================================================  ===============

With :math:`G` clusters there are only :math:`s^G` distinct weight vectors (:math:`s` the
support size). When :math:`s^G` is at most the number of replications asked for, drawing at
random would repeat vectors and add Monte Carlo noise for nothing; every vector is then used
once instead (*enumeration*), which makes the p-value exact and deterministic. Webb (2023,
"Reworking wild bootstrap-based inference for clustered errors", Canadian Journal of
Economics 56(3)) introduced the six-point weights for few clusters, where Rademacher's
:math:`2^G` vectors are too few to give a smooth p-value.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np

from sustain._typing import FloatArray

WeightKind: TypeAlias = Literal["rademacher", "webb"]

#: The support of each weight distribution (every value equally likely).
SUPPORT: dict[str, FloatArray] = {
    "rademacher": np.array([-1.0, 1.0]),
    "webb": np.array(
        [-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)], dtype=np.float64
    ),
}
#: Largest number of clusters for which enumeration is considered (6**13 vectors would not fit
#: any replication bound anyway; this keeps the integer arithmetic below exact and small).
MAX_ENUMERATED_CLUSTERS = 20


def can_enumerate(kind: WeightKind, n_clusters: int, reps: int) -> bool:
    """Whether every weight vector fits in ``reps`` replications (``support**G <= reps``).

    Examples
    --------
    >>> can_enumerate("rademacher", 11, 9999), can_enumerate("rademacher", 14, 9999)
    (True, False)
    >>> can_enumerate("webb", 5, 9999), can_enumerate("webb", 6, 9999)
    (True, False)
    """
    if n_clusters > MAX_ENUMERATED_CLUSTERS:
        return False
    return bool(len(SUPPORT[kind]) ** n_clusters <= reps)


def enumerate_weights(kind: WeightKind, n_clusters: int) -> FloatArray:
    """Every weight vector, one per column: shape ``(G, support**G)``.

    Column ``b`` writes ``b`` in base ``support`` with cluster 0 as the most significant
    digit (the order of :func:`itertools.product`).

    Examples
    --------
    >>> enumerate_weights("rademacher", 2).tolist()
    [[-1.0, -1.0, 1.0, 1.0], [-1.0, 1.0, -1.0, 1.0]]
    """
    support = SUPPORT[kind]
    size = len(support)
    columns = np.arange(size**n_clusters, dtype=np.int64)
    powers = size ** np.arange(n_clusters - 1, -1, -1, dtype=np.int64)
    digits = (columns[None, :] // powers[:, None]) % size
    return np.asarray(support[digits], dtype=np.float64)


def draw_weights(
    kind: WeightKind, n_clusters: int, reps: int, rng: np.random.Generator
) -> FloatArray:
    """``reps`` independent weight vectors, shape ``(G, reps)``.

    Drawn as integer indices into the support with :meth:`numpy.random.Generator.integers`,
    so the same generator state always gives the same weights on every platform.

    Examples
    --------
    >>> v = draw_weights("webb", 3, 4, np.random.default_rng(0))
    >>> v.shape, bool(np.all(np.isin(v, SUPPORT["webb"])))
    ((3, 4), True)
    """
    support = SUPPORT[kind]
    index = rng.integers(0, len(support), size=(n_clusters, reps))
    return np.asarray(support[index], dtype=np.float64)
