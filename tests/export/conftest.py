"""Export tests run on one torch thread (a shared 2-core machine makes spinning OpenMP threads slow)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test, restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
