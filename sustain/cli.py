"""Command line: ``sustain demo | mapping | panel | validate | run | multiverse``.

Each subcommand is a thin wrapper: it parses arguments, calls the public API and reports.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def _cmd_panel(args: argparse.Namespace) -> int:
    from sustain.data.io import read_dataset
    from sustain.data.panel import build_panel, write_panel
    from sustain.errors import SpecError

    if Path(args.out).suffix.lower() not in (".parquet", ".csv"):  # fail before the work
        raise SpecError(f"--out {args.out!r}: the panel is written as .parquet or .csv")
    data = read_dataset(
        args.data_dir, mapping=args.mapping, errors=args.errors, encoding=args.encoding
    )
    lags = tuple(args.lag or ())
    panel = build_panel(data, lags=lags, first_year=args.first_year, last_year=args.last_year)
    from sustain.data.problems import left_out_lines

    out = write_panel(panel, args.out)
    print(f"wrote {len(panel):,} agency-years x {panel.shape[1]} columns to {out}")
    for line in left_out_lines(data.problems):
        print(line)
    if len(data.problems):
        print(f"{len(data.problems)} input problem(s) were reported; see `sustain validate`.")
    return 0


def _cmd_mapping(args: argparse.Namespace) -> int:
    from sustain._atomic import write_text
    from sustain.data.draft import draft_mapping

    draft = draft_mapping(args.data_dir)
    text = draft.to_toml()
    if args.out is None:
        print(text, end="")
        return 0
    path = write_text(Path(args.out), text)
    found = ", ".join(
        f"{name}: {table['file']}" + (f" [{table['sheet']}]" if "sheet" in table else "")
        for name, table in draft.mapping.items()
        if name != "dataset"
    )
    guesses = text.count("# guess")
    print(f"wrote {path} ({found or 'no table recognised'}); {guesses} guess(es) to confirm.")
    for name, columns in draft.unplaced.items():
        for column, values in columns.items():
            print(f"  {name}.{column}: {len(values)} value(s) to map by hand: {', '.join(values)}")
    print(f"then: sustain validate {args.data_dir} --mapping {path}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import pandas as pd

    from sustain.data.io import read_dataset
    from sustain.data.problems import problems_table
    from sustain.errors import DataError

    try:
        problems = read_dataset(
            args.data_dir, mapping=args.mapping, errors="drop", encoding=args.encoding
        ).problems
    except DataError as exc:  # a file is missing, unreadable or unusable as a whole
        problems = exc.problems
    if problems.empty:
        print(f"{args.data_dir}: no problems found")
        return 0
    severity = problems["severity"] if "severity" in problems else pd.Series("error")
    print(problems_table(problems, max_rows=args.max_rows))
    from sustain.data.problems import left_out_lines

    lines = left_out_lines(problems)
    if lines:
        print("\nLenient reading (errors='drop'):")
        for line in lines:
            print(f"  {line}")
    counts = ", ".join(f"{n} {s}" for s, n in severity.value_counts(sort=False).items())
    failed = bool((severity == "error").any())
    verdict = "strict reading fails" if failed else "strict reading succeeds"
    print(f"\n{len(problems)} problem(s) in {args.data_dir} ({counts}); {verdict}.")
    return 1 if failed else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from sustain.pipeline import demo

    demo(Path(args.out))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from sustain.pipeline import run_spec

    run_spec(Path(args.spec), out=Path(args.out) if args.out else None)
    return 0


def _cmd_multiverse(args: argparse.Namespace) -> int:
    from sustain.multiverse import run_multiverse_spec

    run_multiverse_spec(
        Path(args.spec),
        backend=args.backend,
        address=args.address,
        n_workers=args.workers,
        out=Path(args.out) if args.out else None,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sustain`` command.

    Examples
    --------
    >>> parser = build_parser()
    >>> parser.parse_args(["panel", "data/example", "--out", "p.parquet"]).out
    'p.parquet'
    """
    parser = argparse.ArgumentParser(
        prog="sustain",
        description="Agency-year panels, survival and quality models for social-work agencies "
        "under government contracting.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="run the whole example analysis into a results folder")
    p.add_argument("--out", default="results/demo", help="output folder (default results/demo)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "mapping", help="draft an import mapping (TOML) for a folder of your own files"
    )
    p.add_argument("data_dir", help="folder with your ledgers and registers")
    p.add_argument("--out", default=None, help="the TOML file to write (default: print it)")
    p.set_defaults(func=_cmd_mapping)

    p = sub.add_parser("panel", help="build the agency-year panel from a data folder")
    p.add_argument("data_dir", help="folder with agencies.*, contracts.* and optional revenue.*")
    p.add_argument("--out", required=True, help="output file, .parquet or .csv")
    p.add_argument("--mapping", default=None, help="import mapping (TOML) for your own files")
    p.add_argument("--encoding", default=None, help="text encoding of CSV files (default: detect)")
    p.add_argument("--errors", choices=["raise", "drop"], default="raise")
    p.add_argument("--lag", action="append", help="column to lag by one year (repeatable)")
    p.add_argument("--first-year", type=int, default=None)
    p.add_argument("--last-year", type=int, default=None)
    p.set_defaults(func=_cmd_panel)

    p = sub.add_parser("validate", help="check a data folder and print every problem found")
    p.add_argument("data_dir")
    p.add_argument("--max-rows", type=int, default=200, help="rows of the problems table shown")
    p.add_argument("--mapping", default=None, help="import mapping (TOML) for your own files")
    p.add_argument("--encoding", default=None, help="text encoding of CSV files (default: detect)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("run", help="run an analysis specification (TOML)")
    p.add_argument("spec", help="path to SPEC.toml")
    p.add_argument("--out", default=None, help="results folder (default: from the spec)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("multiverse", help="run a multiverse (specification-curve) analysis")
    p.add_argument("spec", help="path to a multiverse SPEC.toml")
    p.add_argument("--backend", choices=["processes", "dask", "serial"], default="processes")
    p.add_argument("--address", default=None, help="Dask scheduler address (backend=dask)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    p.add_argument("--out", default=None, help="results folder (default: from the spec)")
    p.set_defaults(func=_cmd_multiverse)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sustain`` command; returns the exit status."""
    from sustain.errors import DataError, FitError, SpecError

    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (DataError, SpecError, FitError) as exc:
        print(f"sustain {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
