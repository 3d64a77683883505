"""Generation: the window rule, cache/no-cache equality past block_size, seeds, stop strings, FILE: prompts,
and streaming that never splits a UTF-8 character."""

from __future__ import annotations

import pytest
import torch

from nanogpt_lab import cli
from nanogpt_lab.config import SampleConfig
from nanogpt_lab.inference import SamplingSettings, generate_ids, sample, stream
from nanogpt_lab.inference.sampler import ContextWindow, _TextAssembler, window_start
from nanogpt_lab.tokenizers.gpt2 import GPT2Tokenizer


def test_window_rule():
    assert window_start(0, 64, 64, 32) == 0  # still fits
    assert window_start(0, 65, 64, 32) == 33  # overflow: keep the last 32
    assert window_start(33, 97, 64, 32) == 33 and window_start(33, 98, 64, 32) == 66
    assert window_start(0, 200, 64, 32) == 136  # a long prompt fills the whole block once


def test_greedy_is_identical_with_and_without_cache_past_block_size(baby):
    model, tok = baby
    idx = torch.tensor([tok.encode('ROMEO:')])
    with_cache = generate_ids(model, idx, 154, temperature=0.0, kv_cache=True)
    without = generate_ids(model, idx, 154, temperature=0.0, kv_cache=False)
    assert with_cache.shape == (1, 160) and torch.equal(with_cache, without)
    window = ContextWindow(model)
    seq = idx
    for _ in range(154):
        seq = torch.cat((seq, window.logits(seq).argmax(-1, keepdim=True)), dim=1)
    assert torch.equal(seq, with_cache)
    assert window.prefills == 4  # the prompt, then a jump to the last 32 tokens at 65, 98 and 131 tokens


def _cfg(data_dir, out_dir, **kw):
    base = dict(
        out_dir=str(out_dir),
        data_dir=str(data_dir),
        start='ROMEO:',
        num_samples=2,
        max_new_tokens=40,
        device='cpu',
        seed=7,
    )
    return SampleConfig(**{**base, **kw})


def test_sample_is_reproducible_for_a_seed(nanogpt_baby_ckpt, char_data_dir):
    cfg = _cfg(char_data_dir, nanogpt_baby_ckpt)
    first = list(sample(cfg))
    assert len(first) == 2 and all(t.startswith('ROMEO:') and len(t) == 46 for t in first) and first[0] != first[1]
    assert list(sample(cfg)) == first
    assert list(sample(cfg.model_copy(update={'seed': 8, 'num_samples': 1})))[0] != first[0]
    # within the block the window never moves, so the cache changes nothing, not even a sampled token
    assert list(sample(cfg.model_copy(update={'kv_cache': False}))) == first


def test_stop_strings_and_file_prompts(nanogpt_baby_ckpt, char_data_dir, tmp_path):
    prompt = tmp_path / 'prompt.txt'
    prompt.write_text('JULIET:\nO Romeo', encoding='utf-8')
    cfg = _cfg(char_data_dir, nanogpt_baby_ckpt, start=f'FILE:{prompt}', max_new_tokens=60)
    texts = list(sample(cfg.model_copy(update={'stop': ('\n',)})))
    free = list(sample(cfg))
    for cut in texts:
        assert cut.startswith('JULIET:\nO Romeo') and '\n' not in cut[len('JULIET:\nO Romeo') :]
    # the first sample draws the same tokens until the stop: it ends exactly before the stop string
    assert free[0].startswith(texts[0]) and free[0][len(texts[0])] == '\n'
    with pytest.raises(ValueError, match='no such file'):
        list(sample(_cfg(char_data_dir, nanogpt_baby_ckpt, start=f'FILE:{tmp_path / "nope.txt"}')))


def test_stream_events(baby):
    model, tok = baby
    events = list(
        stream(
            model,
            tok,
            'ROMEO:',
            SamplingSettings(temperature=0.8, top_k=20),
            40,
            seed=3,
            stop=['\n\n'],
            alternatives=4,
            with_stages=True,
        )
    )
    last = events[-1]
    assert last.finish in ('stop', 'length') and all(e.finish is None for e in events[:-1])
    for e in events:
        assert e.token == tok.decode([e.id]) and 0 < e.prob <= 1 and 0 < e.raw_prob <= 1
        assert [a['prob'] for a in e.top] == sorted((a['prob'] for a in e.top), reverse=True) and len(e.top) == 4
        assert e.stages['stages'][-1]['name'] == 'renormalised' and e.id in [t['id'] for t in e.stages['tokens']]
        assert e.stages['stages'][3]['kept'] == 20
    text = ''.join(e.text for e in events)
    assert '\n\n' not in text and text == tok.decode([e.id for e in events]).split('\n\n')[0]
    again = [
        e.id
        for e in stream(model, tok, 'ROMEO:', SamplingSettings(temperature=0.8, top_k=20), 40, seed=3, stop=['\n\n'])
    ]
    assert again == [e.id for e in events]


def test_partial_utf8_tokens_are_held_until_the_character_completes():
    tok = GPT2Tokenizer()
    text = '你好, 🙂 naïve'
    ids = tok.encode(text)
    partial = [i for i in ids if tok.token_text(i) != tok.decode([i]) or '\\x' in tok.token_text(i)]
    assert partial, 'this text must contain BPE tokens that end inside a character'
    asm = _TextAssembler(stop=())
    pieces = [asm.feed(tok.token_bytes(i)) for i in ids]
    assert ''.join(pieces) == text
    assert '' in pieces and '\ufffd' not in ''.join(pieces)  # held, never emitted broken


def test_stop_string_split_across_tokens_is_never_shown():
    asm = _TextAssembler(stop=['END'])
    assert asm.feed(b'abcE') == 'abc' and asm.feed(b'N') == '' and asm.feed(b'D more') == ''
    assert asm.stopped
    asm = _TextAssembler(stop=['END'])
    assert asm.feed(b'xE') == 'x' and asm.feed(b'Nx') == 'ENx' and not asm.stopped  # a false start is released


def test_stream_bpe_text_matches_decode(tiny_bpe_model):
    tok = GPT2Tokenizer()
    events = list(stream(tiny_bpe_model, tok, 'Hello', SamplingSettings(temperature=2.0), 60, seed=1))
    assert ''.join(e.text for e in events) == tok.decode([e.id for e in events])
    assert events[-1].finish == 'length'


def test_cli_sample(nanogpt_baby_ckpt, char_data_dir, capsys):
    args = [
        'sample',
        f'--out_dir={nanogpt_baby_ckpt}',
        f'--data_dir={char_data_dir}',
        '--start=ROMEO:',
        '--max_new_tokens=30',
        '--num_samples=1',
        '--seed=1337',
        '--device=cpu',
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith('ROMEO:') and len(out) > 30
    assert cli.main(args[:2] + args[3:]) == 1  # no --data_dir and no meta.pkl in the workspace
    assert '--data_dir' in capsys.readouterr().err


def test_gpt_generate_keeps_nanogpts_signature(baby):
    model, tok = baby
    idx = torch.tensor([tok.encode('KING:'), tok.encode('QUEEN')])  # a batch of two prompts
    torch.manual_seed(3)
    out = model.generate(idx, 12, temperature=0.9, top_k=10)
    torch.manual_seed(3)
    assert out.shape == (2, 17) and torch.equal(out, generate_ids(model, idx, 12, temperature=0.9, top_k=10))
