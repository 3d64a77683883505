"""Pairs through the real chat template: answers alone are targets, over-long pairs are counted, and the
reference's log-probabilities are the model's own before training."""

import contextlib

import pytest
import torch

from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.pair_batches import (
    PairBatches,
    answer_logps,
    collate,
    reference_logps,
    render_pair,
    render_pairs,
)
from nanogpt_lab.alignment.preferences import parse_pair
from nanogpt_lab.alignment.template import chat_tokenizer_for
from nanogpt_lab.config import ModelConfig
from nanogpt_lab.model.gpt import GPT
from nanogpt_lab.tokenizers.char import CharTokenizer

TOK = chat_tokenizer_for(CharTokenizer.from_text('abcdefghijklmnopqrstuvwxyz ?.'), '0123456789+')


def _pair(q, w, r, line=1):
    return parse_pair({'prompt': q, 'chosen': w, 'rejected': r}, line)


def test_only_the_answer_and_its_end_are_targets():
    r = render_pair(_pair('what is 2+3?', '5', '6'), TOK)
    trained_w = [t for t in r.y_w if t != -1]
    trained_l = [t for t in r.y_l if t != -1]
    assert trained_w == [*TOK.encode('5'), TOK.end_id]
    assert trained_l == [*TOK.encode('6'), TOK.end_id]
    assert r.x_w[: len(r.x_w) - 2] == r.x_l[: len(r.x_l) - 2]  # the same prompt before each answer


def test_too_long_and_unknown_characters_are_counted_never_cut():
    pairs = [_pair('a?', 'b', 'c', 1), _pair('a?', 'b' * 80, 'c', 2), _pair('a?', 'b', 'ç', 3)]
    rendered = render_pairs(pairs, TOK, block_size=16, split='train')
    assert [p.line for p in rendered.pairs] == [1]
    assert rendered.too_long == [2] and rendered.unknown_chars == [3]
    assert rendered.left_out() == '2, 3'
    with pytest.raises(AlignmentError) as e:
        render_pairs(pairs[1:2], TOK, block_size=16, split='train')
    assert e.value.code == 'dpo.nothing_fits' and e.value.params['too_long'] == 1


def test_reference_logps_are_the_starting_models_answer_logps():
    torch.manual_seed(0)
    model = GPT(ModelConfig(n_layer=1, n_head=2, n_embd=16, block_size=32, vocab_size=TOK.vocab_size, dropout=0.1))
    rendered = render_pairs([_pair('what is 2+3?', '5', '61'), _pair('hi?', 'hello.', 'no')], TOK, 32, 'train').pairs
    ref = reference_logps(model, rendered, batch_size=1, device='cpu', autocast=contextlib.nullcontext)
    assert model.training  # restored after scoring in eval mode
    model.eval()
    x, y = collate(rendered, 'cpu')
    assert x.shape == y.shape == (4, max(len(x) for r in rendered for x in (r.x_w, r.x_l)))
    logp_w, logp_l = answer_logps(model, x, y)  # the padded batch scores each answer as scored alone
    assert torch.allclose(ref, torch.stack([logp_w, logp_l], dim=1), atol=1e-5)


def test_batches_resume_from_the_generator_state():
    rendered = render_pairs([_pair(f'q{c}?', 'a', 'b', i) for i, c in enumerate('abcdefgh')], TOK, 32, 'x').pairs
    batches = PairBatches(rendered, 3, 'cpu', seed=5)
    batches.next()
    state = batches.generator.get_state()
    expected = batches.next()
    again = PairBatches(rendered, 3, 'cpu', seed=99)
    again.generator.set_state(state)
    assert all(torch.equal(a, b) for a, b in zip(again.next(), expected, strict=True))
    assert torch.equal(again.indices, batches.indices) and again.indices.shape == (3,)
