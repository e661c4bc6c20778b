"""The kernels compiled at installation (:mod:`sustain.models.bayes.kernel_store`).

What must hold: a store is used only for the sources it was built from (any kernel module
changed: numba's cache key changes, so the stored code is a miss, never stale code); a fit
with empty caches and a store compiles nothing and draws the same bytes as a fit whose kernel
was compiled in the process.
"""

from __future__ import annotations

from pathlib import Path

import numba
import pytest
from numba.core import config as numba_config
from numba.core.caching import FunctionCache, IndexDataCacheFile
from support.fresh_caches import run_with_fresh_caches

import sustain.models.bayes.kernel_core as kernel_core
from sustain.models.bayes import kernel_store
from sustain.models.bayes.kernel import _glmm_entry

PACKAGE = Path(kernel_core.__file__).parent


def test_the_stamp_covers_every_module_compiled_into_the_kernels() -> None:
    python_side = {"kernel_spec", "kernel_store"}  # arrays and files, no numba code
    modules = {p.stem for p in PACKAGE.glob("kernel*.py")} - python_side
    assert modules == set(kernel_core.KERNEL_MODULES)


def test_a_change_in_any_kernel_module_changes_the_stamp(monkeypatch: pytest.MonkeyPatch) -> None:
    base = kernel_core._digest()
    assert base == kernel_core.sources_stamp()
    read = Path.read_bytes
    for module in kernel_core.KERNEL_MODULES:

        def edited(path: Path, module: str = module) -> bytes:
            text = read(path)
            return text + b"\n# edited\n" if path.stem == module else text

        monkeypatch.setattr(Path, "read_bytes", edited)
        assert kernel_core._digest() != base, module
        monkeypatch.setattr(Path, "read_bytes", read)


def test_the_stamp_is_part_of_numbas_cache_key(tmp_path: Path, monkeypatch) -> None:
    """numba keys a cached function on its own file and bytecode; the captured stamp makes
    callees in other modules count too."""
    monkeypatch.setattr(numba_config, "CACHE_DIR", str(tmp_path))
    sig = kernel_core._signature()
    codegen = numba.core.registry.cpu_target.target_context.codegen()

    def key(stamp: int):
        return FunctionCache(_glmm_entry(stamp))._index_key(sig, codegen)

    assert key(1) == key(1)
    assert key(1) != key(2)


def entry_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The GLMM entry point and its numba cache, in an empty cache folder under tmp_path."""
    monkeypatch.setattr(numba_config, "CACHE_DIR", str(tmp_path / "numba"))
    monkeypatch.setenv(kernel_store.ENV_STORE, str(tmp_path / "store"))
    monkeypatch.delenv(kernel_store.ENV_OFF, raising=False)
    entry = _glmm_entry(kernel_core.sources_stamp())
    return entry, FunctionCache(entry)


def write_index(folder: Path, cache, entries: dict, stamp=None, version=None) -> None:
    """An index in numba's own format (and a data file per entry) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = cache._cache_file._source_stamp if stamp is None else stamp
    index = IndexDataCacheFile(str(folder), cache._impl.filename_base, stamp)
    if version is not None:
        index._version = version
    index._save_index(entries)
    for name in entries.values():
        (folder / name).write_bytes(b"machine code of " + name.encode())


def test_seed_adds_the_stores_entries_once(tmp_path: Path, monkeypatch) -> None:
    entry, cache = entry_cache(tmp_path, monkeypatch)
    assert not kernel_store.seed(entry)  # no store
    write_index(tmp_path / "store", cache, {("K",): "k.1.nbc"})
    monkeypatch.setenv(kernel_store.ENV_OFF, "1")
    assert not kernel_store.seed(entry)
    monkeypatch.setenv(kernel_store.ENV_OFF, "0")
    assert kernel_store.seed(entry)
    added = cache._cache_file._load_index()
    name = added[("K",)]
    assert name.startswith(cache._impl.filename_base + ".store-")  # never numba's own names
    assert (Path(cache.cache_path) / name).read_bytes() == b"machine code of k.1.nbc"
    assert not kernel_store.seed(entry)  # numba's cache has it now


def test_seed_keeps_numbas_own_entries(tmp_path: Path, monkeypatch) -> None:
    """Same source file, other closure or CPU (a change in another kernel module): the
    store's entry is added next to the cache's, which stays."""
    entry, cache = entry_cache(tmp_path, monkeypatch)
    write_index(Path(cache.cache_path), cache, {("old",): "o.1.nbc"})
    write_index(tmp_path / "store", cache, {("new",): "n.1.nbc"})
    assert kernel_store.seed(entry)
    entries = cache._cache_file._load_index()
    assert entries[("old",)] == "o.1.nbc" and ("new",) in entries


@pytest.mark.parametrize("kind", ["other sources", "other numba", "garbage"])
def test_seed_ignores_a_store_it_cannot_use(tmp_path: Path, monkeypatch, kind: str) -> None:
    entry, cache = entry_cache(tmp_path, monkeypatch)
    store = tmp_path / "store"
    if kind == "other sources":
        write_index(store, cache, {("K",): "k.1.nbc"}, stamp=b"other sources")
    elif kind == "other numba":
        write_index(store, cache, {("K",): "k.1.nbc"}, version="0.0.1")
    else:
        write_index(store, cache, {("K",): "k.1.nbc"})
        (store / Path(cache._cache_file._index_path).name).write_bytes(b"not a pickle")
    assert not kernel_store.seed(entry)
    assert cache._cache_file._load_index() == {}


STORE_SCRIPT = """
import hashlib, json, time
import numpy as np
import sustain
import sustain.models.bayes.compiled as compiled
from sustain.models.bayes.kernel import glmm_cfunc

def refuse(*args, **kwargs):
    raise AssertionError("a PyTensor log-density was compiled")

compiled._compile_logp = refuse
sim = sustain.simulate(seed=5, n_agencies=150)
rows = sustain.build_panel(sim.data).reset_index().dropna(subset=["exit", "hhi"])
start = time.perf_counter()
bm = sustain.fit_bayes(rows, "exit ~ hhi + (1 | district)", family="bernoulli", link="cloglog",
                       draws=300, tune=300, chains=2, random_seed=3, progressbar=False)
post = bm.idata.posterior.to_dataset()
digest = hashlib.sha256(b"".join(np.ascontiguousarray(post[n].values).tobytes()
                                 for n in sorted(post.data_vars))).hexdigest()
print("RESULT " + json.dumps({"hits": glmm_cfunc().cache_hits, "digest": digest,
                              "seconds": time.perf_counter() - start}))
"""
#: Seconds for a subprocess fit (about 6 s on the 2-core machine when nothing compiles, 12 s
#: when the kernel does).
STORE_TIMEOUT = 300


@pytest.mark.slow
@pytest.mark.bayes
def test_a_fit_with_empty_caches_loads_the_store(tmp_path: Path) -> None:
    """Built into a store, loaded with empty caches: nothing compiles, and the draws are the
    bytes of a fit that compiled the kernel in its own process."""
    store = kernel_store.build(tmp_path / "store", kinds=("glmm",), jobs=1)
    assert (store / "BUILT").exists() and list(store.glob("*.nbc"))
    loaded = run_with_fresh_caches(STORE_SCRIPT, tmp_path / "a", STORE_TIMEOUT, store)
    assert loaded["hits"] == 1, "the kernel was compiled instead of loaded from the store"
    assert list((tmp_path / "a" / "numba").rglob("*glmm_entry*.nbi"))
    compiled = run_with_fresh_caches(STORE_SCRIPT, tmp_path / "b", STORE_TIMEOUT)
    assert compiled["hits"] == 0
    assert loaded["digest"] == compiled["digest"]
