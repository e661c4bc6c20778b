"""The manifest of a run: what went in, with which software, and what came out.

``manifest.json`` records the SHA-256 of every input file and of the spec, the spec itself, the
seeds, the versions of Python and of the packages that compute the numbers, the git commit of the
project, and the SHA-256 of every output file. Its only field that changes between two runs of
the same spec on the same inputs and software is ``created`` (the UTC time of the run), so two
manifests can be compared with :func:`comparable`.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sustain._atomic import write_text
from sustain._typing import PathLikeStr
from sustain._versions import package_versions as installed_versions
from sustain.pipeline.results_dir import ResultsDir, dumps, sha256_file

#: Version of the manifest layout; bumped when fields change meaning.
MANIFEST_VERSION = 1
#: The one field that differs between two otherwise identical runs.
CREATED_FIELD = "created"
#: Packages whose versions are recorded (besides Python itself).
PACKAGES: tuple[str, ...] = (
    "sustain",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "linearmodels",
    "formulaic",
    "lifelines",
    "pymc",
    "pytensor",
    "arviz",
    "arviz-base",
    "arviz-stats",
    "arviz-plots",
    "nutpie",
    "xarray",
    "h5netcdf",
    "matplotlib",
    "pyarrow",
    "python-docx",
)
#: Keys every manifest has.
MANIFEST_KEYS: tuple[str, ...] = (
    "created",
    "git",
    "inputs",
    "manifest_version",
    "outputs",
    "platform",
    "run",
    "seeds",
    "spec",
    "spec_sha256",
    "versions",
)
_GIT_TIMEOUT = 10  # seconds; git answers in milliseconds, this only guards a hung file system


def package_versions(packages: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of Python and ``packages`` (``None`` when one is not installed).

    Examples
    --------
    >>> v = package_versions(("numpy", "no-such-package"))
    >>> sorted(v), v["no-such-package"]
    (['no-such-package', 'numpy', 'python'], None)
    """
    return installed_versions(packages)


def git_state(folder: PathLikeStr) -> dict[str, Any] | None:
    """Commit and dirtiness of the git checkout holding ``folder``; ``None`` outside one.

    ``dirty`` is true when tracked files differ from the commit (untracked files, such as the
    results folder itself, do not count).

    Examples
    --------
    >>> import tempfile
    >>> git_state(tempfile.mkdtemp()) is None
    True
    """
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return None
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def _git(folder: PathLikeStr, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=Path(folder),
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def file_entries(files: Mapping[str, PathLikeStr]) -> dict[str, dict[str, Any]]:
    """``{label: {"sha256": ..., "bytes": ...}}`` of input files, sorted by label.

    Labels are how the manifest names a file (e.g. ``"data/agencies.csv"``), never an
    absolute machine path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "agencies.csv"
    >>> _ = p.write_text("agency_id\\n")
    >>> file_entries({"data/agencies.csv": p})["data/agencies.csv"]["bytes"]
    10
    """
    return {
        label: {"sha256": sha256_file(path), "bytes": Path(path).stat().st_size}
        for label, path in sorted(files.items())
    }


def created_now() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``.

    Examples
    --------
    >>> len(created_now())
    20
    """
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_manifest(
    *,
    run: str,
    spec: Mapping[str, Any] | None,
    spec_sha256: str | None,
    inputs: Mapping[str, Mapping[str, Any]],
    seeds: Mapping[str, Any],
    outputs: Mapping[str, str],
    project: PathLikeStr,
    created: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a manifest.

    Parameters
    ----------
    run : str
        Name of the run (the results folder's name).
    spec : mapping or None
        The specification as read from TOML (``None`` for scripted analyses).
    spec_sha256 : str or None
        SHA-256 of the spec file's bytes.
    inputs : mapping
        From :func:`file_entries`.
    seeds : mapping
        The top-level seed and the seed each model used.
    outputs : mapping
        ``{relative path: sha256}`` of every file the run wrote.
    project : path
        A folder inside the project's git checkout (the spec's folder).
    created : str, optional
        Timestamp; default :func:`created_now`.
    extra : mapping, optional
        Further top-level fields (e.g. the scripts of an analysis).

    Examples
    --------
    >>> import tempfile
    >>> m = build_manifest(run="t", spec={}, spec_sha256=None, inputs={}, seeds={"seed": 1},
    ...                    outputs={}, project=tempfile.mkdtemp(), created="2024-01-01T00:00:00Z")
    >>> sorted(m) == sorted(MANIFEST_KEYS)
    True
    """
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "run": run,
        CREATED_FIELD: created or created_now(),
        "spec": dict(spec) if spec is not None else None,
        "spec_sha256": spec_sha256,
        "inputs": dict(inputs),
        "seeds": dict(seeds),
        "versions": package_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine()},
        "git": git_state(project),
        "outputs": dict(sorted(outputs.items())),
    }
    if extra:
        manifest.update(extra)
    return manifest


def write_manifest(results: ResultsDir, manifest: Mapping[str, Any]) -> Path:
    """Write ``manifest.json`` atomically (deterministic JSON) and return its path.

    Examples
    --------
    >>> import tempfile
    >>> rd = ResultsDir.create(tempfile.mkdtemp())
    >>> read_manifest(write_manifest(rd, {"run": "x"}))
    {'run': 'x'}
    """
    return write_text(results.manifest_path, dumps(manifest))


def read_manifest(path: PathLikeStr) -> dict[str, Any]:
    """Read a manifest (``{}`` when the file does not exist).

    Examples
    --------
    >>> read_manifest("/no/such/manifest.json")
    {}
    """
    target = Path(path)
    if not target.is_file():
        return {}
    value = json.loads(target.read_text(encoding="utf-8"))
    return value if isinstance(value, dict) else {}


def comparable(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest without its ``created`` field (what two identical runs share).

    Examples
    --------
    >>> comparable({"created": "now", "run": "x"})
    {'run': 'x'}
    """
    return {k: v for k, v in manifest.items() if k != CREATED_FIELD}
