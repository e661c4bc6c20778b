"""The kernels compiled at installation, and the copy into numba's cache that uses them.

The precompiled kernels (:mod:`.kernel`, :mod:`.kernel_collapsed`) do not depend on a model's
structure, so they can be compiled before any model exists: ``make install`` runs
``python -m sustain.models.bayes.kernel_store``, which compiles each entry point in its own
process (about 5-8 s each on a 2-core machine, two at a time) and keeps numba's cache files of
them in :data:`STORE` (``sustain/models/bayes/_precompiled``). The first fit on the machine
then compiles none of the kernels, even with empty PyTensor and numba caches.

At run time :func:`seed` adds an entry point's compiled code from the store to the folder
numba caches it in (``NUMBA_CACHE_DIR`` when set, else next to the source or under the user's
cache folder) when numba's cache lacks it; numba then loads it as its own. Nothing is trusted
blindly: numba checks the source digest, its own version and the CPU's name and features (the
key of every cache entry), and each entry point's key includes a digest of every kernel module
(:func:`.kernel_core.sources_stamp`), so a store built on another kind of CPU or from other
sources is a cache miss, never wrong code. Without a store (e.g. an installation from a wheel
by ``pip``) the kernels are compiled on first use, once per machine.

``SUSTAIN_KERNEL_STORE`` names another store folder; ``SUSTAIN_NO_KERNEL_STORE=1`` ignores the
store (the tests of compilation from nothing set it).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

#: Where ``make install`` keeps the kernels it compiled.
STORE = Path(__file__).with_name("_precompiled")
#: The entry points: ``kind -> (module, function returning the compiled C function)``.
KINDS = {
    "glmm": ("sustain.models.bayes.kernel", "glmm_cfunc", {}),
    "glmm_lkj": ("sustain.models.bayes.kernel", "glmm_cfunc", {"correlated": True}),
    "collapsed": ("sustain.models.bayes.kernel_collapsed", "collapsed_cfunc", {}),
}
ENV_STORE = "SUSTAIN_KERNEL_STORE"
ENV_OFF = "SUSTAIN_NO_KERNEL_STORE"


def store_folder() -> Path | None:
    """The store in use: ``SUSTAIN_KERNEL_STORE``, else :data:`STORE`; ``None`` when
    ``SUSTAIN_NO_KERNEL_STORE`` is set.

    Examples
    --------
    >>> store_folder() in (None, STORE, Path(os.environ.get(ENV_STORE) or STORE))
    True
    """
    if os.environ.get(ENV_OFF, "") not in ("", "0"):
        return None
    return Path(os.environ.get(ENV_STORE) or STORE)


def seed(py_func: Any) -> bool:
    """Add ``py_func``'s compiled entry points from the store to numba's cache folder when
    that cache lacks them; ``True`` when entries were added.

    Both indexes are read by numba's own reader (``IndexDataCacheFile``), which returns
    nothing for an index of another numba release or of other sources; the store's entries
    the cache does not have (keyed, as numba keys them, by signature, CPU and code) are copied
    under names numba never gives its own data files, and the cache's index is rewritten with
    them added. Seeding only saves time: anything unexpected (another numba layout, a folder
    that cannot be written) means no copy, and numba compiles as usual.

    Examples
    --------
    >>> seed(len)  # not a function numba can cache from a source file
    False
    """
    folder = store_folder()
    if folder is None or not folder.is_dir():
        return False
    try:
        return _add_entries(py_func, folder)
    except Exception:  # an optimisation must never fail a fit
        return False


def _add_entries(py_func: Any, folder: Path) -> bool:
    from numba.core.caching import FunctionCache, IndexDataCacheFile

    cache = FunctionCache(py_func)
    cache_file = cache._cache_file
    base = cache._impl.filename_base
    stored = IndexDataCacheFile(str(folder), base, cache_file._source_stamp)._load_index()
    present = cache_file._load_index()
    missing = {key: name for key, name in stored.items() if key not in present}
    if not missing:
        return False
    target = Path(cache.cache_path)
    added = {}
    for key, name in missing.items():
        data = (folder / name).read_bytes()
        own = f"{base}.store-{hashlib.sha256(data).hexdigest()[:16]}.nbc"
        _write_atomically(target / own, data)
        added[key] = own
    cache_file._save_index({**present, **added})  # numba writes it atomically
    return True


def _write_atomically(target: Path, data: bytes) -> None:
    """Write to a temporary file in the target's folder, then rename it into place (a
    concurrent reader sees the old file or the new one, never part of one)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def compile_kind(kind: str) -> Any:
    """The C function of the entry point ``kind`` of :data:`KINDS`, compiled or loaded (numba
    caches it on disk; :func:`build` runs this in a process of its own per kernel).

    Examples
    --------
    >>> compile_kind("glmm").address > 0
    True
    """
    import importlib

    module, function, kwargs = KINDS[kind]
    return getattr(importlib.import_module(module), function)(**kwargs)


def build(store: Path = STORE, kinds: tuple[str, ...] = tuple(KINDS), jobs: int = 2) -> Path:
    """Compile the entry points ``kinds`` and replace ``store`` by their numba cache files.

    Each kernel compiles in a fresh process with an empty numba cache and the store ignored,
    ``jobs`` at a time; the new store is assembled next to ``store`` and renamed into place,
    so a failed build leaves the old one. Prints a line per kernel.

    Examples
    --------
    >>> store = build(Path(tempfile.mkdtemp()) / "store", kinds=())  # nothing to compile
    >>> sorted(path.name for path in store.iterdir())
    ['BUILT']
    """
    store = Path(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".kernels-", dir=store.parent))
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(lambda kind: _build_one(kind, work / kind), kinds))
        assembled = work / "store"
        assembled.mkdir()
        for path in sorted(work.glob("*/numba/**/*.nb[ic]")):
            shutil.copyfile(path, assembled / path.name)
        # last: make's target (newer than every kernel module once the build is complete)
        (assembled / "BUILT").write_text(f"kernels {' '.join(kinds)}\n", encoding="utf-8")
        old = work / "old"
        if store.exists():
            os.replace(store, old)
        os.replace(assembled, store)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return store


def _build_one(kind: str, folder: Path) -> None:
    start = time.perf_counter()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder / "numba"), ENV_OFF: "1"}
    code = f"from sustain.models.bayes.kernel_store import compile_kind; compile_kind({kind!r})"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"compiling the {kind} kernel failed:\n{done.stderr[-3000:]}")
    print(f"kernels: {kind} compiled in {time.perf_counter() - start:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m sustain.models.bayes.kernel_store [--store DIR] [--kinds ...] [--jobs N]``:
    :func:`build` from the command line (``make install`` runs it).

    Examples
    --------
    >>> main(["--store", str(Path(tempfile.mkdtemp()) / "kernels"), "--kinds"])
    ... # doctest: +ELLIPSIS
    kernels: stored in .../kernels (... s)
    0
    """
    parser = argparse.ArgumentParser(description="Compile sustain's Bayesian kernels once.")
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--kinds", nargs="*", choices=list(KINDS), default=list(KINDS))
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    store = build(args.store, tuple(args.kinds), args.jobs)
    print(f"kernels: stored in {store} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
