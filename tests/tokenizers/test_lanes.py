"""Stage 2's lanes: one text through char, GPT-2, your trained BPE and your trained unigram, with bits per char."""

from __future__ import annotations

import math

import pytest

from nanogpt_lab.tokenizers import LANES, compare_lanes, lane_tokenizer
from nanogpt_lab.tokenizers.side_by_side import frequency_bits

EN = 'To be, or not to be, that is the question:\nWhether tis nobler in the mind to suffer\n' * 4
ZH = '床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n' * 4


def test_frequency_bits_by_hand():
    assert frequency_bits([1, 1, 2, 2]) == 4.0
    assert frequency_bits([7]) == 0.0
    # 'aab': a costs log2(3/2), b costs log2(3)
    assert frequency_bits([0, 0, 1]) == pytest.approx(2 * math.log2(1.5) + math.log2(3))


@pytest.mark.parametrize('text', [EN, ZH])
def test_every_lane_reports_tokens_chars_per_token_and_bits_per_char(text):
    lanes = {c.name: c for c in compare_lanes(text, vocab_size=400)}
    assert list(lanes) == list(LANES)
    for c in lanes.values():
        assert c.error is None, c.error
        assert c.chars_per_token == pytest.approx(len(text) / c.n_tokens)
        assert c.bits_per_char == pytest.approx(frequency_bits([t.id for t in c.tokens]) / len(text))
        assert ''.join(t.text for t in c.tokens if not t.partial) or c.name == 'gpt2'
    char = lanes['char']
    assert char.chars_per_token == 1.0
    # the char lane's bits per char is the entropy of the text's own character frequencies
    counts = {ch: text.count(ch) for ch in set(text)}
    entropy = sum(n / len(text) * math.log2(len(text) / n) for n in counts.values())
    assert char.bits_per_char == pytest.approx(entropy)
    assert lanes['bpe'].chars_per_token > 1 and lanes['unigram'].chars_per_token > 1
    if text is ZH:  # GPT-2 spends more than one token on a Chinese character
        assert lanes['gpt2'].chars_per_token < 1


def test_a_lane_that_cannot_be_built_carries_its_reason(tmp_path):
    (tmp_path / 'meta.pkl').write_bytes(b'not a pickle')
    out = {c.name: c for c in compare_lanes('abc', lanes=('char', 'bpe'), dataset=tmp_path)}
    assert 'meta.pkl' in out['char'].error and out['char'].n_tokens == 0
    assert 'tokenizer.json' in out['bpe'].error
    with pytest.raises(ValueError, match='not one of'):
        lane_tokenizer('wordpiece', 'abc')
