"""Shared fixtures: the bundled example data and its panel, built once per test session."""

from __future__ import annotations

import os

import pytest

# Matplotlib must never try to open a window in tests.
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def example_data():
    """The bundled example data set (``sustain.datasets.example()``)."""
    import sustain

    return sustain.datasets.example()


@pytest.fixture(scope="session")
def example_panel(example_data):
    """The agency-year panel of the example data with default options."""
    import sustain

    return sustain.build_panel(example_data)
