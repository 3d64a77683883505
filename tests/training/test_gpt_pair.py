"""Stage 4's GPT-1 vs GPT-2 pair trained tiny: one text, each side with its own tokenizer, LayerNorm and context,
their losses reported in bits per character as well as nats per token."""

from __future__ import annotations

import math

import pytest

from nanogpt_lab.config import GPT_PAIR, DataConfig, TrainConfig, build
from nanogpt_lab.data import prepare
from nanogpt_lab.evaluation.bits import split_chars_per_token
from nanogpt_lab.model.checkpoint import load_checkpoint
from nanogpt_lab.training import train

TINY = dict(n_layer=1, n_head=2, n_embd=32, batch_size=4, gradient_accumulation_steps=1, max_iters=20,
            lr_decay_iters=20, warmup_iters=5, learning_rate=3e-3, eval_interval=10, eval_iters=2, device='cpu',
            compile=False, dtype='float32')  # fmt: skip


@pytest.fixture(scope='module')
def pair(shakespeare_txt, tmp_path_factory):
    """Both sides prepared from the same 60,000 characters and trained 20 steps: side -> (events, run folder)."""
    work = tmp_path_factory.mktemp('pair')
    text = work / 'text.txt'
    text.write_text(shakespeare_txt.read_text()[:60_000])
    out = {}
    for side, spec in GPT_PAIR.items():
        prepare(DataConfig(**spec['data'], input=str(text), data_dir=str(work / 'data')))
        run = work / side
        cfg = build(TrainConfig, {**TINY, **spec['train'], 'data_dir': str(work / 'data'), 'out_dir': str(run)})
        out[side] = (_train(cfg), run)
    return out, work / 'data'


def _train(cfg: TrainConfig) -> list[dict]:
    events: list[dict] = []
    train(cfg, emit=lambda type, **fields: events.append({'type': type, **fields}))
    return events


def test_each_side_keeps_its_design(pair):
    runs, _ = pair
    gpt1 = load_checkpoint(runs['gpt1'][1])['model_args']
    gpt2 = load_checkpoint(runs['gpt2'][1])['model_args']
    assert (gpt1['block_size'], gpt1['ln_position'], gpt1['vocab_size']) == (128, 'post', 2000)
    assert (gpt2['block_size'], gpt2.get('ln_position', 'pre')) == (256, 'pre') and gpt2['vocab_size'] < 70
    assert (runs['gpt1'][1] / 'tokenizer.model').is_file() and (runs['gpt2'][1] / 'meta.pkl').is_file()


def test_losses_come_in_bits_per_character_too(pair):
    runs, data = pair
    for side, (events, _) in runs.items():
        folder = data / GPT_PAIR[side]['train']['dataset']
        cpt = {s: split_chars_per_token(folder, s) for s in ('train', 'val')}
        evals = [e for e in events if e['type'] == 'eval']
        assert [e['iter'] for e in evals] == [0, 10, 20]
        for e in evals:
            assert e['val_bpc'] == pytest.approx(e['val_loss'] / (cpt['val'] * math.log(2)), rel=1e-5)
            assert e['train_bpc'] == pytest.approx(e['train_loss'] / (cpt['train'] * math.log(2)), rel=1e-5)
        vocab = load_checkpoint(runs[side][1])['model_args']['vocab_size']
        # a fresh model guesses uniformly: ln(vocab) nats per token, log2(vocab) / (characters per token) bits
        assert evals[0]['val_bpc'] == pytest.approx(math.log2(vocab) / cpt['val'], rel=0.05)
        assert evals[-1]['val_bpc'] < evals[0]['val_bpc']
    assert split_chars_per_token(data / 'shakespeare_char', 'val') == 1.0
    assert split_chars_per_token(data / 'shakespeare_sentencepiece', 'val') > 1.5  # the unigram packs characters
