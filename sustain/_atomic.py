"""Atomic file output: write to a temporary file in the same folder, then rename.

An interrupted run therefore never leaves a half-written table, figure or panel behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sustain._typing import PathLikeStr


@contextlib.contextmanager
def atomic_path(path: PathLikeStr, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    The temporary file keeps ``path``'s suffix (or ``suffix``) so that writers which infer the
    format from the extension (matplotlib, pandas) keep working.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "t.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (d / "t.txt").read_text()
    'done'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(_default_mode())  # mkstemp makes files owner-only; follow the umask instead
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _read_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


# read once at import: os.umask can only be read by setting it, which is not thread-safe
_UMASK = _read_umask()


def _default_mode() -> int:
    """Permission bits a plain ``open(path, "w")`` would give under the process umask."""
    return 0o666 & ~_UMASK


def write_text(path: PathLikeStr, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically and return the path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_text(pathlib.Path(tempfile.mkdtemp()) / "a.md", "# hi\\n")
    >>> p.read_text()
    '# hi\\n'
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def write_bytes(path: PathLikeStr, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> write_bytes(pathlib.Path(tempfile.mkdtemp()) / "a.bin", b"x").read_bytes()
    b'x'
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
