"""Bits per character, checked against a hand computation and against the dataset's own counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nanogpt_lab.config import DataConfig
from nanogpt_lab.data import prepare
from nanogpt_lab.evaluation.bits import bits_per_char, nats_per_token, split_chars_per_token


def test_bits_per_char_by_hand():
    # a char model at the uniform loss ln 65 needs log2 65 = 6.02 bits for each character
    assert bits_per_char(math.log(65), 1.0) == pytest.approx(math.log2(65))
    # 2.0 nats per token, 4 characters per token: 2 / (4 ln 2) = 0.7213 bits per character
    assert bits_per_char(2.0, 4.0) == pytest.approx(0.72134752, abs=1e-8)
    assert nats_per_token(bits_per_char(1.7, 3.2), 3.2) == pytest.approx(1.7)
    with pytest.raises(ValueError, match='positive'):
        bits_per_char(1.0, 0.0)


def _prepare(path, tmp_path, **values):
    return prepare(DataConfig(dataset='custom', input=str(path), data_dir=str(tmp_path), **values))


def test_chars_per_token_of_a_split(tmp_path, shakespeare_txt):
    text = shakespeare_txt.read_text()[:40_000]
    path = tmp_path / 'small.txt'
    path.write_text(text)
    folder = _prepare(path, tmp_path, name='cpt', tokenizer='bpe', vocab_size=400)
    val = np.fromfile(folder / 'val.bin', dtype='<u2')
    split_at = int(len(text) * 0.9)
    assert split_chars_per_token(folder, 'val') == pytest.approx((len(text) - split_at) / len(val))
    (folder / 'stats.json').unlink()  # a folder nanoGPT prepared: counted by decoding
    assert split_chars_per_token(folder, 'val') == pytest.approx((len(text) - split_at) / len(val))
    char = _prepare(path, tmp_path, name='char', tokenizer='char')
    assert split_chars_per_token(char, 'train') == 1.0
