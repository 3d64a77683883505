"""Shared fixtures: the read-only shared data copied into temp dirs, an offline tiktoken cache, a temp workspace."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get('NANOGPT_LAB_SHARED_DATA', ROOT.parent / 'shared' / 'data')).resolve()

# tiktoken looks for sha1(url) under TIKTOKEN_CACHE_DIR (see shared/data/gpt2/README.md)
TIKTOKEN_CACHE_NAMES = {
    'vocab.bpe': '6d1cbeee0f20b3d9449abfede4726ed8212e3aee',
    'encoder.json': '6c7ea1a7e38e3a7f062df639a5b80947f075ffe6',
    'gpt2.tiktoken': '0ea1e91bbb3a60f729a8dc8f777fd2fc07cd8df4',
}

# tests never use the network: libraries that could reach a hub are told they are offline
for _var in ('HF_HUB_OFFLINE', 'HF_DATASETS_OFFLINE', 'TRANSFORMERS_OFFLINE'):
    os.environ[_var] = '1'


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """The read-only shared fixtures folder (never write into it: copy first)."""
    if not (SHARED_DATA / 'tinyshakespeare' / 'input.txt').exists():
        pytest.fail(f'shared test data not found at {SHARED_DATA} (set NANOGPT_LAB_SHARED_DATA)')
    return SHARED_DATA


@pytest.fixture(scope='session', autouse=True)
def offline_tiktoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed tiktoken's cache and the lab's BPE folder from shared/data/gpt2 so GPT-2 BPE works offline."""
    cache = tmp_path_factory.mktemp('tiktoken_cache')
    bpe_dir = tmp_path_factory.mktemp('gpt2_bpe')
    for name, key in TIKTOKEN_CACHE_NAMES.items():
        shutil.copyfile(SHARED_DATA / 'gpt2' / name, cache / key)
        shutil.copyfile(SHARED_DATA / 'gpt2' / name, bpe_dir / name)
    mp = pytest.MonkeyPatch()
    mp.setenv('TIKTOKEN_CACHE_DIR', str(cache))
    mp.setenv('NANOGPT_LAB_GPT2_BPE_DIR', str(bpe_dir))
    yield cache
    mp.undo()


@pytest.fixture(autouse=True)
def workspace_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty workspace, so nothing touches ~/.nanogpt-lab."""
    home = tmp_path / 'home'
    monkeypatch.setenv('NANOGPT_LAB_HOME', str(home))
    return home


@pytest.fixture(scope='session')
def shakespeare_txt(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of tiny Shakespeare."""
    dst = tmp_path_factory.mktemp('tinyshakespeare') / 'input.txt'
    shutil.copyfile(shared_data / 'tinyshakespeare' / 'input.txt', dst)
    return dst


@pytest.fixture(scope='session')
def char_data_dir(shakespeare_txt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding shakespeare_char/ prepared once per session (train.bin, val.bin, meta.pkl)."""
    from nanogpt_lab.config import DataConfig
    from nanogpt_lab.data import prepare

    data_dir = tmp_path_factory.mktemp('data')
    prepare(DataConfig(dataset='shakespeare_char', input=str(shakespeare_txt), data_dir=str(data_dir)))
    return data_dir


@pytest.fixture(scope='session')
def nanogpt_baby_ckpt(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding a copy of the checkpoint nanoGPT itself wrote (4/4/128, block 64, char vocab 65)."""
    run = tmp_path_factory.mktemp('nanogpt_baby')
    shutil.copyfile(shared_data / 'nanogpt-baby' / 'ckpt.pt', run / 'ckpt.pt')
    return run


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test, restored afterwards: on a shared 2-core machine spinning OpenMP threads make
    small-model tests ~10x slower (folders whose tests all want it request it from an autouse fixture)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
