"""Installed versions of Python and of the packages a result depends on (provenance).

Written once here and used by run manifests (:mod:`sustain.pipeline.manifest`) and by the
metadata stamped into every sampled model's DataTree (:mod:`sustain.models.bayes.results`).
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata

#: Packages whose versions a Bayesian fit records in its saved file.
FIT_PACKAGES: tuple[str, ...] = (
    "sustain",
    "pymc",
    "pytensor",
    "nutpie",
    "arviz",
    "arviz-base",
    "arviz-stats",
    "xarray",
    "numpy",
    "pandas",
    "formulaic",
)


def package_versions(packages: Sequence[str] = FIT_PACKAGES) -> dict[str, str | None]:
    """Installed versions of Python and ``packages`` (``None`` when one is not installed).

    Examples
    --------
    >>> v = package_versions(("numpy", "no-such-package"))
    >>> sorted(v), v["no-such-package"]
    (['no-such-package', 'numpy', 'python'], None)
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
