"""The documentation site builds with ``mkdocs build --strict`` and covers every page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT = 300  # seconds; the build takes a few seconds, this only guards a hang


def nav_pages(entries: Any) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        for value in entry.values():
            pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def load_config() -> dict[str, Any]:
    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may hold !!python/name tags (material's emoji options); none are needed here
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    with open(REPO / "mkdocs.yml", encoding="utf-8") as handle:
        return yaml.load(handle, Loader=Loader)


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in (
        "sustain.pipeline.run.run_spec",
        "sustain.models.panel.fit.fit_fe",
        "sustain.data.io.read_dataset",
    ):
        assert f'id="{name}"' in api, name
    codebook = (site / "codebook" / "index.html").read_text(encoding="utf-8")
    assert "agencies.csv" in codebook and "资金集中度（HHI）" in codebook


def test_every_page_is_in_the_nav() -> None:
    config = load_config()
    pages = set(nav_pages(config["nav"]))
    docs = REPO / config.get("docs_dir", "docs")
    files = {p.relative_to(docs).as_posix() for p in docs.rglob("*.md")}
    assert files == pages, f"not in nav: {files - pages}; missing files: {pages - files}"


def test_required_pages_exist() -> None:
    pages = set(nav_pages(load_config()["nav"]))
    required = {
        "index.md",
        "getting-started.md",
        "tutorial.md",
        "data.md",
        "codebook.md",
        "own-data.md",
        "measures.md",
        "models/fe.md",
        "models/survival.md",
        "models/bayes.md",
        "models/joint.md",
        "diagnostics.md",
        "tables.md",
        "spec.md",
        "reproducibility.md",
        "api.md",
    }
    assert required <= pages
