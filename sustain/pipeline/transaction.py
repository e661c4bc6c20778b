"""Results folders written transactionally, under a lock.

A run writes every file into a *staging* folder beside its target
(``results/.study.staging-<pid>``) and, only when everything succeeded, puts it in the target's
place by renames. A run that is killed, or fails, leaves the previous results exactly as they
were; its staging folder is removed by the next run. While a run works, a lock file beside the
target (``results/.study.lock``) names its process; a second run into the same folder fails at
once with that name, and a lock left by a process that no longer runs is taken over, with a
note.

The swap: on Linux, ``renameat2(RENAME_EXCHANGE)`` exchanges the two folders in one step;
elsewhere the old folder is renamed aside (``.study.previous-<pid>``) and the staging folder
into place, and a run that finds the target missing but an aside folder present (a crash
between the two renames) restores it before anything else.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import errno
import json
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sustain.errors import SpecError
from sustain.pipeline.results_dir import ResultsDir

_STAGING = ".staging-"
_PREVIOUS = ".previous-"
_RENAME_EXCHANGE = 2  # linux/fs.h


@dataclass(frozen=True)
class LockHolder:
    """Who holds a results folder: process id, host, start time.

    Examples
    --------
    >>> LockHolder(12, "box", "2026-01-01T00:00:00Z", 0).describe()
    'process 12 on box (since 2026-01-01T00:00:00Z)'
    """

    pid: int
    host: str
    started: str
    process_start: int  # the kernel's start time of the process (Linux), 0 where unknown

    def describe(self) -> str:
        return f"process {self.pid} on {self.host} (since {self.started})"


def lock_path(target: Path) -> Path:
    """``<parent>/.<name>.lock`` beside the results folder."""
    return target.parent / f".{target.name}.lock"


def _process_start(pid: int) -> int:
    """Start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[19])


def _alive(holder: LockHolder) -> bool:
    if holder.host != socket.gethostname():
        return True  # cannot tell; assume it runs
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    start = _process_start(holder.pid)
    return not (holder.process_start and start and start != holder.process_start)


def _read_holder(path: Path) -> LockHolder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["started"]),
                          int(data.get("process_start", 0)))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def acquire_lock(target: Path, say: Callable[[str], None] = print) -> Path:
    """Take the lock of ``target``; raise :class:`SpecError` naming the holder if it is taken.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "study"
    >>> lock = acquire_lock(target)
    >>> acquire_lock(target)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: results folder .../study is being written by process ...
    >>> lock.unlink()
    """
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "process_start": _process_start(os.getpid()),
    }
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_holder(path)
            if holder is not None and _alive(holder):
                raise SpecError(
                    f"results folder {target} is being written by {holder.describe()}; wait "
                    f"for it to finish (if that process is gone, delete {path})"
                ) from None
            what = holder.describe() if holder else "an unreadable lock"
            say(f"note: taking over the stale lock of {what}, which no longer runs")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(me, fh)
        return path
    raise SpecError(f"cannot take the lock {path}: another run keeps taking it")


def check_target(target: Path) -> None:
    """Refuse a results folder that is a symbolic link (dangling or not) or not a folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "link").symlink_to(d / "elsewhere")
    >>> check_target(d / "link")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: results folder .../link is a symbolic link (to .../elsewhere); ...
    """
    if target.is_symlink():
        raise SpecError(
            f"results folder {target} is a symbolic link (to {os.readlink(target)}); sustain "
            "replaces a results folder as a whole and will not follow links: name the real "
            "folder with --out"
        )
    if target.exists() and not target.is_dir():
        raise SpecError(f"results folder {target} exists and is not a folder")


def _recover(target: Path, say: Callable[[str], None]) -> None:
    """Undo a swap cut between its two renames; remove staging folders of dead runs."""
    parent = target.parent
    if not parent.is_dir():
        return
    aside = sorted(parent.glob(f".{target.name}{_PREVIOUS}*"))
    if aside and not target.exists():
        aside[-1].rename(target)
        say(f"note: restored {target} from an interrupted run")
        aside = aside[:-1]
    for leftover in [*aside, *parent.glob(f".{target.name}{_STAGING}*")]:
        shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def transaction(target: Path, say: Callable[[str], None] = print) -> Iterator[ResultsDir]:
    """Write a results folder all at once: yield a staging :class:`ResultsDir`, then swap.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "study"
    >>> with transaction(target, say=lambda s: None) as rd:
    ...     _ = rd.write_text("tables", "t.md", "| a |\\n")
    >>> sorted(p.name for p in target.iterdir())
    ['diagnostics', 'figures', 'models', 'tables']
    >>> sorted(p.name for p in target.parent.iterdir())
    ['study']
    """
    target = Path(os.path.abspath(target))
    check_target(target)
    made_parent = not target.parent.exists()
    lock = acquire_lock(target, say)
    succeeded = False
    try:
        _recover(target, say)
        staging = target.parent / f".{target.name}{_STAGING}{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            results = ResultsDir.create(staging)
            yield results
            _swap(staging, target)
            succeeded = True
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        if made_parent and not succeeded:  # a refused run leaves no trace
            with contextlib.suppress(OSError):
                target.parent.rmdir()


def _swap(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now the previous results
        return
    aside = target.parent / f".{target.name}{_PREVIOUS}{os.getpid()}"
    os.rename(target, aside)
    os.rename(staging, target)
    shutil.rmtree(aside, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Exchange two paths atomically with Linux's renameat2; False where unavailable."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))
