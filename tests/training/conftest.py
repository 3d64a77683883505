"""Helpers for the training tests: a tiny model on tiny Shakespeare, trained in-process, events collected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nanogpt_lab.config import TrainConfig, build

# 2 layers, 32 wide, 32 positions: ~30k parameters, a step in a few milliseconds on one thread
TINY: dict[str, Any] = dict(
    dataset='shakespeare_char',
    device='cpu',
    compile=False,
    threads=1,
    n_layer=2,
    n_head=2,
    n_embd=32,
    block_size=32,
    batch_size=4,
    gradient_accumulation_steps=1,
    dropout=0.0,
    learning_rate=3e-3,
    min_lr=3e-4,
    warmup_iters=2,
    lr_decay_iters=40,
    max_iters=10,
    eval_interval=5,
    eval_iters=4,
    log_interval=1,
    beta2=0.99,
)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Every training test runs on one torch thread (tests/conftest.py)."""


class Events(list):
    """An Emit that keeps every event, for assertions."""

    def __call__(self, type: str, **fields: Any) -> None:
        self.append({'type': type, **fields})

    def of(self, type: str) -> list[dict]:
        return [e for e in self if e['type'] == type]


@pytest.fixture
def tiny_values() -> dict[str, Any]:
    """The tiny model's settings, for tests that pass them as --key=value flags."""
    return dict(TINY)


@pytest.fixture
def tiny(char_data_dir: Path, tmp_path: Path):
    """tiny(**overrides) -> TrainConfig for the tiny model, writing to tmp_path/'run' unless out_dir is given."""

    def _cfg(**overrides: Any) -> TrainConfig:
        values = {**TINY, 'data_dir': str(char_data_dir), 'out_dir': str(tmp_path / 'run'), **overrides}
        return build(TrainConfig, values)

    return _cfg


@pytest.fixture
def run_train():
    """run_train(cfg, should_stop=...) -> (summary, events), the engine called as the worker calls it."""
    from nanogpt_lab.training import train

    def _run(cfg: TrainConfig, **kwargs: Any) -> tuple[dict, Events]:
        events = Events()
        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        summary = train(cfg, emit=events, **kwargs)
        return summary, events

    return _run
