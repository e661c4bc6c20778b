"""Write the data of the cumulative-incidence references (run from the project root).

``incidence_spells.csv``: the example panel as age-scale spells (delayed entry), the exit
reason on exit rows, ``origin`` as a time-constant group. ``incidence_right_censored.csv``:
one row per agency from the same spells, ignoring left truncation (each agency observed from
age 0 to its last age + 1); censoring times are shifted by 0.5 so that no censoring ties an
exit (lifelines breaks ties by jittering).

    .venv/bin/python tests/references/designs/export_incidence_data.py
"""

from __future__ import annotations

from pathlib import Path

import sustain

HERE = Path(__file__).parent


def main() -> None:
    panel = sustain.build_panel(sustain.datasets.example())
    spells = sustain.to_spells(panel, "age", ["exit_reason", "origin"])
    spells = spells[["agency_id", "start", "stop", "exit_reason", "origin"]]
    spells.to_csv(HERE / "incidence_spells.csv", index=False, lineterminator="\n")
    last = spells.groupby("agency_id", sort=True).tail(1).copy()
    last["time"] = last["stop"] + last["exit_reason"].isna() * 0.5
    last = last.rename(columns={"exit_reason": "cause"})[["agency_id", "time", "cause", "origin"]]
    last.to_csv(HERE / "incidence_right_censored.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    main()
