"""SFT test fixtures: the preset with a few quick steps from the baby base (tests/conftest.py), events collected."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def nanogpt_sample(nanogpt_ref: Path, run: Path, data_dir: Path, work: Path) -> str:
    """Sample `run` with nanoGPT's own sample.py (copied into `work`, `data_dir` as its data/, no tiktoken cache, so
    it must find data/<the checkpoint's dataset>/meta.pkl); its stdout, after asserting it succeeded."""
    checkout = work / 'nanogpt'
    checkout.mkdir()
    for name in ('sample.py', 'model.py', 'configurator.py'):
        shutil.copyfile(nanogpt_ref / name, checkout / name)
    shutil.copytree(data_dir, checkout / 'data')
    cmd = [sys.executable, 'sample.py', f'--out_dir={run}', '--device=cpu', '--num_samples=1', '--max_new_tokens=40',
           '--start=ROMEO:', '--temperature=2.0', '--compile=False']  # fmt: skip
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'TIKTOKEN_CACHE_DIR': str(work / 'empty')}
    result = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout
