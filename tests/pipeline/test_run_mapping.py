"""`sustain run` on a researcher's own files: `[data] mapping = "import.toml"`."""

from __future__ import annotations

import json

import pytest
from support.ledger import LEDGER_MAPPING, OBSERVED_UNTIL, write_ledger

import sustain
from sustain.data.draft import MappingDraft
from sustain.errors import SpecError


def _toml(mapping: dict) -> str:
    draft = MappingDraft(mapping, {}, {}, ())
    return draft.to_toml()


SPEC = """
[run]
name = "ledger"
seed = 3

[data]
path = "ledger"
mapping = "import.toml"
errors = "drop"

[[models]]
name = "fe"
kind = "fe"
formula = "quality ~ hhi + gov_share"

[[tables]]
name = "t"
kind = "regression"
models = ["fe"]
formats = ["csv"]
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    write_ledger(root / "ledger")
    (root / "import.toml").write_text(_toml(LEDGER_MAPPING), encoding="utf-8")
    (root / "spec.toml").write_text(SPEC, encoding="utf-8")
    return root


def test_run_reads_through_the_mapping_and_records_what_was_left_out(study, capsys):
    run = sustain.run_spec(study / "spec.toml")
    printed = capsys.readouterr().out
    assert "left out of 政府购买服务合同台账.csv:" in printed and "after observed_until" in printed
    manifest = json.loads((run.folder / "manifest.json").read_text(encoding="utf-8"))
    facts = manifest["data"]
    assert facts["observed_until"] == OBSERVED_UNTIL
    reasons = {r["reason"]: r["rows"] for r in facts["left_out"]}
    assert reasons["after observed_until"] > 0 and reasons["term years after the agency closed"] > 0
    assert facts["problems"]["note"] > 0 and "error" not in facts["problems"]
    assert "import.toml" in manifest["inputs"]
    assert "ledger/政府购买服务合同台账.csv" in manifest["inputs"]
    assert manifest["panel"]["last_year"] == OBSERVED_UNTIL


def test_a_bad_mapping_is_refused_before_anything_runs(study, tmp_path):
    (tmp_path / "import.toml").write_text("[contracts]\ncolums = {}\n", encoding="utf-8")
    (tmp_path / "spec.toml").write_text(
        SPEC.replace('path = "ledger"', f'path = "{study / "ledger"}"')
    )
    with pytest.raises(SpecError, match="unknown key 'contracts.colums'"):
        sustain.run_spec(tmp_path / "spec.toml", quiet=True)
    assert not (tmp_path / "results").exists()
