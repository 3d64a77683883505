"""Scoring a whole val.bin: nanoGPT's own CPU checkpoint gives the number its README run is known for."""

from __future__ import annotations

import pytest

from nanogpt_lab.data import DataError
from nanogpt_lab.evaluation.loss import full_val_loss, perplexity
from nanogpt_lab.model.checkpoint import load_checkpoint, model_from_checkpoint


def test_nanogpt_baby_checkpoint_scores_1_8982_over_the_whole_val_bin(nanogpt_baby_ckpt, char_data_dir, tmp_path):
    model = model_from_checkpoint(load_checkpoint(nanogpt_baby_ckpt))
    val = char_data_dir / 'shakespeare_char' / 'val.bin'
    loss = full_val_loss(model, val, block_size=64)
    assert loss == pytest.approx(1.8982, abs=5e-5)  # 1,742 windows of 64: 111,488 of the 111,540 tokens
    assert model.training is True  # left as it was found
    short = full_val_loss(model, val, 64, max_tokens=6400)  # only the first hundred windows
    assert short != pytest.approx(loss, abs=1e-3)
    assert full_val_loss(model, val, 64, batch_size=7, max_tokens=6400) == pytest.approx(short, abs=1e-5)
    assert perplexity(loss) == pytest.approx(6.674, abs=1e-3)
    tiny = tmp_path / 'tiny.bin'
    tiny.write_bytes(b'\x01\x00' * 10)
    with pytest.raises(DataError, match='too few for one window of 64'):
        full_val_loss(model, tiny, 64)
