"""SFT test fixtures: the preset with a few quick steps from the baby base (tests/conftest.py), events collected."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from nanogpt_lab.config import SFT_PRESET, TrainConfig, build

# a few steps of a few conversations: real training, seconds on one thread
QUICK: dict[str, Any] = dict(
    device='cpu', compile=False, threads=1, batch_size=4, max_iters=6, eval_interval=3, eval_iters=2, log_interval=1,
)  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Every alignment test runs on one torch thread (tests/conftest.py)."""


@pytest.fixture
def data_dir(lab_data: Path, tmp_path: Path) -> Path:
    """A private copy of the lab-tasks data folder."""
    return Path(shutil.copytree(lab_data, tmp_path / 'data'))


@pytest.fixture
def sft_cfg(baby_run: Path, data_dir: Path, tmp_path: Path):
    """Build an SFT config from the preset, the baby base, the copied data and QUICK, plus overrides."""

    def make(**over: Any) -> TrainConfig:
        values = {**SFT_PRESET, **QUICK, 'init_from': str(baby_run), 'data_dir': str(data_dir),
                  'out_dir': str(tmp_path / 'sft'), **over}  # fmt: skip
        return build(TrainConfig, values)

    return make
