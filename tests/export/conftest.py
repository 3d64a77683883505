"""Export tests run on one torch thread (a shared 2-core machine makes spinning OpenMP threads slow)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Every export test runs on one torch thread (tests/conftest.py)."""
