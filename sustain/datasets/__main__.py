"""Regenerate the example data files: ``python -m sustain.datasets --out DIR [--out DIR2]``.

``--check`` compares instead of writing and exits with status 1 when a file differs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sustain.datasets import (
    EXAMPLE_AGENCIES,
    EXAMPLE_SEED,
    csv_bytes,
    example_simulation,
    write_csv,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the example CSV files in each ``--out`` folder.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> main(["--out", d, "--quiet"]), main(["--out", d, "--check", "--quiet"])
    (0, 0)
    """
    parser = argparse.ArgumentParser(
        prog="python -m sustain.datasets",
        description=f"Regenerate the example data: sustain.simulate(seed={EXAMPLE_SEED}, "
        f"n_agencies={EXAMPLE_AGENCIES}) written as agencies.csv, contracts.csv, revenue.csv.",
    )
    parser.add_argument("--out", action="append", required=True, metavar="DIR")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    data = example_simulation().data
    files = csv_bytes(data)
    status = 0
    for folder in map(Path, args.out):
        if not args.check:
            write_csv(data, folder)
        for name, content in files.items():
            path = folder / name
            same = path.is_file() and path.read_bytes() == content
            status = status or int(not same)
            message = f"{path}: {'identical' if same else 'DIFFERS'}" if args.check else ""
            message = message or f"wrote {path} ({len(content):,} bytes)"
            if not args.quiet:
                print(message)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
