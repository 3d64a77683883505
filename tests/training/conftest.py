"""The training tests run on one torch thread; their tiny-model fixtures are shared (tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Every training test runs on one torch thread (tests/conftest.py)."""
