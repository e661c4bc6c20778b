"""A spec with the research designs: competing risks, an event study, their figures."""

from __future__ import annotations

from pathlib import Path

import sustain
from sustain.pipeline import run_spec

REPO = Path(__file__).resolve().parents[2]
SPEC = """
[run]
name = "designs"
seed = 1

[data]
path = "{data}"

[[models]]
name = "competing"
kind = "hazard"
formula = "exit ~ hhi + gov_share"
competing = "exit_reason"
duration = "age"

[[models]]
name = "tender"
kind = "event_study"
outcome = "quality"
cohort = "first_tender_year"
treatment = "share_open_tender > 0"
control = "not_yet_treated"
window = [-3, 3]

[[tables]]
name = "table_designs"
kind = "regression"
models = ["competing", "tender"]
formats = ["csv"]

[[figures]]
name = "fig_cif"
kind = "cif"
cause = "exit_reason"
by = "main_tier"
formats = ["png"]

[[figures]]
name = "fig_event"
kind = "event"
models = ["tender"]
formats = ["png"]
"""


def test_spec_runs_competing_risks_and_an_event_study(tmp_path: Path) -> None:
    spec = tmp_path / "designs.toml"
    spec.write_text(SPEC.format(data=(REPO / "data" / "example").as_posix()))
    run_spec(spec, out=tmp_path / "out", quiet=True)
    out = tmp_path / "out"
    for name in (
        "models/competing.nc",
        "models/tender.nc",
        "models/tender.txt",
        "tables/table_designs.csv",
        "figures/fig_cif.png",
        "figures/fig_cif.csv",
        "figures/fig_event.png",
    ):
        assert (out / name).is_file(), name
    table = (out / "tables" / "table_designs.csv").read_text()
    assert "Exit reason" in table and ",merged" in table and "event: 0" in table
    saved = sustain.load_result(out / "models" / "competing.nc")
    assert saved.causes == ("closed", "deregistered", "lost_contracts", "merged")
    event = sustain.load_result(out / "models" / "tender.nc").event
    assert list(event["event_time"]) == [-3, -2, -1, 0, 1, 2, 3]
