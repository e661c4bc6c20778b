"""The kernels compiled at installation (:mod:`sustain.models.bayes.kernel_store`).

What must hold: a store is used only for the sources it was built from (any kernel module
changed: numba's cache key changes, so the stored code is a miss, never stale code); a fit
with empty caches and a store compiles nothing and draws the same bytes as a fit whose kernel
was compiled in the process.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numba
import numpy as np
import pytest
from numba.core import config as numba_config
from numba.core.caching import FunctionCache
from support.fresh_caches import run_with_fresh_caches

import sustain
import sustain.models.bayes.kernel_core as kernel_core
from sustain.models.bayes import kernel_store
from sustain.models.bayes.kernel import _glmm_entry

PACKAGE = Path(kernel_core.__file__).parent


def test_the_stamp_covers_every_module_compiled_into_the_kernels() -> None:
    python_side = {"kernel_spec", "kernel_store"}  # arrays and files, no numba code
    modules = {p.stem for p in PACKAGE.glob("kernel*.py")} - python_side
    assert modules == set(kernel_core.KERNEL_MODULES)


def test_a_change_in_any_kernel_module_changes_the_stamp(monkeypatch: pytest.MonkeyPatch) -> None:
    base = kernel_core.sources_stamp.__wrapped__()
    assert base == kernel_core.sources_stamp()
    read = Path.read_bytes
    for module in kernel_core.KERNEL_MODULES:

        def edited(path: Path, module: str = module) -> bytes:
            text = read(path)
            return text + b"\n# edited\n" if path.stem == module else text

        monkeypatch.setattr(Path, "read_bytes", edited)
        assert kernel_core.sources_stamp.__wrapped__() != base, module
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


def fake_store(folder: Path, stamp, version: str | None = None) -> Path:
    """A store holding an index for the GLMM entry point with ``stamp`` and one data file."""
    entry = _glmm_entry(kernel_core.sources_stamp())
    index = Path(FunctionCache(entry)._cache_file._index_path).name
    folder.mkdir(parents=True, exist_ok=True)
    data = index.replace(".nbi", ".1.nbc")
    with (folder / index).open("wb") as f:
        pickle.dump(version or numba.__version__, f)
        f.write(pickle.dumps((stamp, {("key",): data})))
    (folder / data).write_bytes(b"machine code")
    return folder / index


def test_seed_copies_a_store_of_the_current_sources_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(numba_config, "CACHE_DIR", str(tmp_path / "numba"))
    entry = _glmm_entry(kernel_core.sources_stamp())
    cache_file = FunctionCache(entry)._cache_file
    monkeypatch.setenv(kernel_store.ENV_STORE, str(tmp_path / "store"))
    monkeypatch.delenv(kernel_store.ENV_OFF, raising=False)
    assert not kernel_store.seed(entry)  # no store

    fake_store(tmp_path / "store", b"other sources")
    assert not kernel_store.seed(entry)
    assert not Path(cache_file._index_path).exists()
    fake_store(tmp_path / "store", cache_file._source_stamp, version="0.0.1")
    assert not kernel_store.seed(entry)  # built by another numba

    fake_store(tmp_path / "store", cache_file._source_stamp)
    monkeypatch.setenv(kernel_store.ENV_OFF, "1")
    assert not kernel_store.seed(entry)
    monkeypatch.delenv(kernel_store.ENV_OFF)
    assert kernel_store.seed(entry)
    copied = Path(cache_file._index_path)
    assert kernel_store.read_index(copied)[1] == cache_file._source_stamp
    assert copied.with_name(copied.name.replace(".nbi", ".1.nbc")).read_bytes() == b"machine code"
    assert not kernel_store.seed(entry)  # numba's cache now has these sources


def test_an_unreadable_store_index_is_ignored(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(numba_config, "CACHE_DIR", str(tmp_path / "numba"))
    entry = _glmm_entry(kernel_core.sources_stamp())
    index = fake_store(tmp_path / "store", b"-")
    index.write_bytes(b"not a pickle")
    monkeypatch.setenv(kernel_store.ENV_STORE, str(tmp_path / "store"))
    monkeypatch.delenv(kernel_store.ENV_OFF, raising=False)
    assert kernel_store.read_index(index) is None
    assert not kernel_store.seed(entry)


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
#: Seconds for the subprocess fit (about 6 s on the 2-core machine when nothing compiles).
STORE_TIMEOUT = 300


@pytest.mark.slow
@pytest.mark.bayes
def test_a_fit_with_empty_caches_loads_the_store(tmp_path: Path) -> None:
    store = kernel_store.build(tmp_path / "store", kinds=("glmm",), jobs=1)
    assert (store / "BUILT").exists() and list(store.glob("*.nbc"))
    result = run_with_fresh_caches(STORE_SCRIPT, tmp_path / "caches", STORE_TIMEOUT, store)
    assert result["hits"] == 1, "the kernel was compiled instead of loaded from the store"
    assert list((tmp_path / "caches" / "numba").rglob("*glmm_entry*.nbi"))

    sim = sustain.simulate(seed=5, n_agencies=150)
    rows = sustain.build_panel(sim.data).reset_index().dropna(subset=["exit", "hhi"])
    bm = sustain.fit_bayes(
        rows, "exit ~ hhi + (1 | district)", family="bernoulli", link="cloglog",
        draws=300, tune=300, chains=2, random_seed=3, progressbar=False,
    )  # fmt: skip
    post = bm.idata.posterior.to_dataset()
    here = hashlib.sha256(
        b"".join(np.ascontiguousarray(post[n].values).tobytes() for n in sorted(post.data_vars))
    ).hexdigest()
    assert result["digest"] == here  # loaded code draws what code compiled here draws
