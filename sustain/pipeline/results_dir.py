"""The results folder of a run: ``tables/``, ``figures/``, ``models/``, ``diagnostics/``.

Every file goes through :mod:`sustain._atomic` (a temporary file in the same folder, then a
rename), so an interrupted run never leaves a half-written table behind: a file is either the
complete old version, the complete new version, or absent. ``manifest.json`` is written last and
so marks a completed run.

JSON is written deterministically (sorted keys, two-space indent, UTF-8, a final newline,
non-finite numbers as ``null``) so that reruns give identical bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np

from sustain._atomic import write_bytes, write_text
from sustain._typing import PathLikeStr
from sustain.errors import SpecError

Section: TypeAlias = Literal["tables", "figures", "models", "diagnostics"]

#: The sub-folders of every results folder, in the order they are created.
SECTIONS: tuple[Section, ...] = ("tables", "figures", "models", "diagnostics")
#: File name of the manifest at the top of the results folder.
MANIFEST_NAME = "manifest.json"
#: Names of models, tables and figures: they become file names, so no paths or dots first.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")


def check_name(name: object, what: str) -> str:
    """Return ``name`` if it is usable as a file name stem, else raise :class:`SpecError`.

    Names start with a letter or digit and hold only letters, digits, ``_`` and ``-``, so a
    name can never point outside the results folder.

    Examples
    --------
    >>> check_name("fe_quality", "model name")
    'fe_quality'
    >>> check_name("../etc", "model name")
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: model name '../etc' must start with a letter or digit and hold only letters, digits, '_' and '-'
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise SpecError(
            f"{what} {name!r} must start with a letter or digit and hold only letters, "
            "digits, '_' and '-'"
        )
    return name


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` to plain JSON types: numpy scalars and arrays, paths, NaN as ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"a": np.float64(1.5), "b": [np.nan, np.int64(2)], "c": (1, 2)})
    {'a': 1.5, 'b': [None, 2], 'c': [1, 2]}
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [to_jsonable(v) for v in items]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return value.as_posix()
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def dumps(value: Any) -> str:
    """Deterministic JSON text: sorted keys, indent 2, UTF-8 characters kept, final newline.

    Examples
    --------
    >>> print(dumps({"b": 1, "a": [1.0, float("nan")]}), end="")
    {
      "a": [
        1.0,
        null
      ],
      "b": 1
    }
    """
    text = json.dumps(to_jsonable(value), sort_keys=True, indent=2, ensure_ascii=False)
    return text + "\n"


def sha256_file(path: PathLikeStr) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ResultsDir:
    """A results folder: ``root/{tables,figures,models,diagnostics}`` and ``manifest.json``.

    Parameters
    ----------
    root : Path
        The run's folder, e.g. ``results/study``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> rd = ResultsDir.create(pathlib.Path(tempfile.mkdtemp()) / "run")
    >>> sorted(p.name for p in rd.root.iterdir())
    ['diagnostics', 'figures', 'models', 'tables']
    >>> rd.relative(rd.write_text("tables", "t1.md", "| a |\\n"))
    'tables/t1.md'
    """

    root: Path

    @classmethod
    def create(cls, root: PathLikeStr) -> ResultsDir:
        """Create ``root`` and its four sub-folders (existing files are kept)."""
        folder = Path(root)
        if folder.exists() and not folder.is_dir():
            raise SpecError(f"results folder {folder} exists and is not a folder")
        for section in SECTIONS:
            (folder / section).mkdir(parents=True, exist_ok=True)
        return cls(folder)

    @property
    def manifest_path(self) -> Path:
        """``root/manifest.json``."""
        return self.root / MANIFEST_NAME

    def path(self, section: Section, filename: str) -> Path:
        """Path of ``filename`` inside ``section``; refuses names that leave the folder."""
        if section not in SECTIONS:
            raise SpecError(f"unknown results section {section!r}; one of {', '.join(SECTIONS)}")
        parts = Path(filename).parts
        if not parts or any(p in ("..", "") or p.startswith(".") for p in parts):
            raise SpecError(f"file name {filename!r} is not allowed in a results folder")
        return self.root / section / filename

    def write_text(self, section: Section, filename: str, text: str) -> Path:
        """Write ``text`` (UTF-8) atomically into ``section`` and return its path."""
        target = self.path(section, filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_text(target, text)

    def write_bytes(self, section: Section, filename: str, data: bytes) -> Path:
        """Write ``data`` atomically into ``section`` and return its path."""
        target = self.path(section, filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_bytes(target, data)

    def write_json(self, section: Section, filename: str, value: Any) -> Path:
        """Write ``value`` as deterministic JSON (see :func:`dumps`) and return its path."""
        return self.write_text(section, filename, dumps(value))

    def relative(self, path: PathLikeStr) -> str:
        """``path`` relative to the root, with forward slashes."""
        return Path(path).resolve().relative_to(self.root.resolve()).as_posix()

    def hashes(self, paths: Iterable[PathLikeStr]) -> dict[str, str]:
        """``{relative path: sha256}`` of the given files, sorted by path."""
        pairs = ((self.relative(p), sha256_file(p)) for p in paths)
        return dict(sorted(pairs))

    def remove_stale(self, previous: Iterable[str], current: Iterable[str]) -> list[str]:
        """Delete files a previous manifest listed that this run did not write again.

        Only paths inside the four sections are touched; returns the removed paths.
        """
        keep = set(current)
        removed = []
        for rel in sorted(set(previous) - keep):
            parts = Path(rel).parts
            if len(parts) < 2 or parts[0] not in SECTIONS or ".." in parts:
                continue
            target = self.root / rel
            if target.is_file():
                target.unlink()
                removed.append(rel)
        return removed
