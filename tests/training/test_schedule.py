"""The learning-rate schedule: nanoGPT's warmup, cosine decay and floor, value by value."""

from __future__ import annotations

import math

import pytest

from nanogpt_lab.config import TrainConfig
from nanogpt_lab.training.schedule import get_lr

CFG = TrainConfig(learning_rate=1e-3, min_lr=1e-4, warmup_iters=100, lr_decay_iters=5000)


def test_warmup_is_nanogpts_it_plus_one_over_warmup_plus_one():
    assert get_lr(0, CFG) == pytest.approx(1e-3 * 1 / 101)
    assert get_lr(49, CFG) == pytest.approx(1e-3 * 50 / 101)
    assert get_lr(99, CFG) == pytest.approx(1e-3 * 100 / 101)


def test_cosine_from_peak_to_floor():
    assert get_lr(100, CFG) == pytest.approx(1e-3)
    mid = 100 + (5000 - 100) // 2
    assert get_lr(mid, CFG) == pytest.approx(1e-4 + 0.5 * (1e-3 - 1e-4))
    quarter = 100 + (5000 - 100) / 4
    want = 1e-4 + 0.5 * (1 + math.cos(math.pi * 0.25)) * (1e-3 - 1e-4)
    assert get_lr(int(quarter), CFG) == pytest.approx(want, rel=1e-9)
    assert get_lr(5000, CFG) == pytest.approx(1e-4)
    assert get_lr(5001, CFG) == 1e-4
    assert get_lr(10**6, CFG) == 1e-4


def test_constant_when_decay_is_off_and_no_division_by_zero():
    flat = CFG.model_copy(update={'decay_lr': False})
    assert {get_lr(i, flat) for i in (0, 50, 100, 9999)} == {1e-3}
    edge = TrainConfig(learning_rate=1e-3, min_lr=1e-4, warmup_iters=10, lr_decay_iters=10)
    assert get_lr(10, edge) == pytest.approx(1e-3)
    assert get_lr(11, edge) == 1e-4


def test_warmup_stable_decay_holds_the_peak_then_falls_in_a_line():
    wsd = TrainConfig(learning_rate=4e-3, min_lr=0.0, warmup_iters=50, lr_decay_iters=1000, cooldown_iters=400)
    assert get_lr(0, wsd) == pytest.approx(4e-3 / 51)  # nanoGPT's warmup first
    assert {get_lr(i, wsd) for i in (50, 300, 600)} == {4e-3}  # the stable stretch
    assert get_lr(800, wsd) == pytest.approx(4e-3 * 200 / 400)
    assert get_lr(1000, wsd) == 0.0 and get_lr(1200, wsd) == 0.0
    with pytest.raises(ValueError, match='cooldown_iters \\(2000\\) cannot be longer'):
        TrainConfig(lr_decay_iters=1000, cooldown_iters=2000)
