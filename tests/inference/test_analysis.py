"""Reading probabilities without sampling: per-token surprise, and the next-token explorer's cached logits."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from nanogpt_lab.inference import NextTokenExplorer, SamplingSettings, token_surprise
from nanogpt_lab.inference.analysis import _windows
from nanogpt_lab.tokenizers.gpt2 import GPT2Tokenizer


def test_windows_score_every_position_once():
    for n, block, stride in ((10, 64, 32), (65, 64, 32), (300, 64, 32), (301, 64, 16)):
        scored = [p for start, end, first in _windows(n, block, stride) for p in range(first, end)]
        assert scored == list(range(1, n))
        for start, end, first in _windows(n, block, stride):
            assert end - 1 - start <= block and (start == 0 or first - start >= block - stride)


def test_token_surprise_matches_the_model(baby):
    model, tok = baby
    text = 'ROMEO:\nWhat light through yonder window breaks?'
    out = token_surprise(model, tok, text)
    assert [o['id'] for o in out] == tok.encode(text) and out[0]['surprise'] is None  # nothing before the first
    ids = torch.tensor([tok.encode(text)])
    with torch.no_grad():
        logits, _ = model(ids, ids)
    want = F.cross_entropy(logits[0, :-1], ids[0, 1:], reduction='none')
    assert [o['surprise'] for o in out[1:]] == pytest.approx(want.tolist(), abs=1e-5)
    assert out[5]['prob'] == pytest.approx(math.exp(-out[5]['surprise']))
    long = token_surprise(model, tok, text * 4)  # 180 characters: scored in windows of the 64-token block
    assert len(long) == len(text) * 4 and all(o['surprise'] is not None for o in long[1:])


def test_bpe_surprise_starts_after_endoftext(tiny_bpe_model):
    out = token_surprise(tiny_bpe_model, GPT2Tokenizer(), 'Hello world')
    assert [o['text'] for o in out] == ['Hello', ' world'] and all(o['surprise'] > 0 for o in out)


def test_explorer_caches_logits_and_recomputes_stages(baby):
    model, tok = baby
    explorer = NextTokenExplorer(model, tok, max_prompts=2)
    a = explorer.view('ROMEO:', SamplingSettings(temperature=1.0))
    logits = explorer.logits('ROMEO:')
    assert explorer.logits('ROMEO:') is logits  # cached: a slider move does not run the model
    b = explorer.view('ROMEO:', SamplingSettings(temperature=0.5, top_k=3))
    assert a['stages'][0] == b['stages'][0] and b['stages'][3]['kept'] == 3
    assert b['stages'][2]['entropy_bits'] < a['stages'][2]['entropy_bits']
    explorer.logits('JULIET:')
    explorer.logits('KING:')
    assert explorer.logits('ROMEO:') is not logits  # dropped: least recently used
