"""Every test here runs on one torch thread (tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Small models on a shared 2-core machine: one thread each."""
