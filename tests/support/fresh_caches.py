"""Run a script in a subprocess with fresh, empty PyTensor and numba cache folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any


def run_with_fresh_caches(
    script: str, folder: Path, timeout: float, kernel_store: Path | None = None
) -> Any:
    """Run ``script`` with ``python -c`` and empty caches under ``folder``; return its result.

    The kernels compiled at installation (:mod:`sustain.models.bayes.kernel_store`) are not
    used either, so everything the fit needs is compiled in the subprocess, unless
    ``kernel_store`` names a store to use instead.

    The script prints one line ``RESULT <json>``; a non-zero exit fails with the end of its
    standard error. The cache folders are ``folder / "pytensor"`` and ``folder / "numba"``.
    """
    env = {
        **os.environ,
        "PYTENSOR_FLAGS": f"base_compiledir={folder / 'pytensor'}",
        "NUMBA_CACHE_DIR": str(folder / "numba"),
        "MPLBACKEND": "Agg",
    }
    env.pop("SUSTAIN_KERNEL_STORE", None)
    if kernel_store is None:  # compile everything, not from the store make install builds
        env["SUSTAIN_NO_KERNEL_STORE"] = "1"
    else:
        env["SUSTAIN_KERNEL_STORE"] = str(kernel_store)
        env.pop("SUSTAIN_NO_KERNEL_STORE", None)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))
