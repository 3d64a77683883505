"""The sampling pipeline: each stage does what it says, and the default path is nanoGPT's exactly."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from nanogpt_lab.inference.pipeline import (
    STAGES,
    SamplingSettings,
    apply_repetition_penalty,
    apply_temperature,
    apply_top_k,
    apply_top_p,
    apply_vocab_limit,
    process,
    stage_distributions,
    stage_view,
)

LOGITS = torch.tensor([2.0, 1.0, 0.5, -1.0, 3.0, 0.0])  # softmax ≈ .233 .086 .052 .012 .634 .031


def test_top_k_keeps_exactly_the_k_largest():
    out = apply_top_k(LOGITS, 2)
    assert torch.isfinite(out).nonzero().flatten().tolist() == [0, 4]
    assert torch.equal(apply_top_k(LOGITS, 0), LOGITS) and torch.equal(apply_top_k(LOGITS, 99), LOGITS)


def test_top_p_keeps_the_smallest_nucleus():
    p = F.softmax(LOGITS, -1)
    assert torch.isfinite(apply_top_p(LOGITS, 0.5)).nonzero().flatten().tolist() == [4]  # .634 alone reaches .5
    kept = torch.isfinite(apply_top_p(LOGITS, 0.8)).nonzero().flatten().tolist()
    assert kept == [0, 4] and p[kept].sum() >= 0.8 > p[4]  # .867: the two most likely; the first alone is short
    assert torch.isfinite(apply_top_p(LOGITS, 1e-6)).sum() == 1  # the most likely token always stays


def test_temperature_and_greedy():
    assert torch.allclose(apply_temperature(LOGITS, 0.5), LOGITS * 2)
    greedy = apply_temperature(torch.tensor([1.0, 3.0, 3.0]), 0.0)
    assert F.softmax(greedy, -1).tolist() == [0.0, 1.0, 0.0]  # one winner on a tie: the lowest id, like argmax


def test_repetition_penalty_lowers_seen_tokens_either_sign():
    context = torch.tensor([0, 3, 0])
    out = apply_repetition_penalty(LOGITS, context, 2.0)
    assert out[0] == 1.0 and out[3] == -2.0  # positive divided, negative multiplied
    assert torch.equal(out[[1, 2, 4, 5]], LOGITS[[1, 2, 4, 5]])
    batch = apply_repetition_penalty(torch.stack([LOGITS, LOGITS]), torch.tensor([[0], [4]]), 2.0)
    assert batch[0, 0] == 1.0 and batch[0, 4] == 3.0 and batch[1, 4] == 1.5


def test_vocab_limit_never_picks_padding_ids():
    assert (
        torch.isinf(apply_vocab_limit(LOGITS, 4)[4:]).all() and torch.isfinite(apply_vocab_limit(LOGITS, 4)[:4]).all()
    )


def test_stages_cut_what_they_say_and_renormalise():
    s = SamplingSettings(temperature=0.7, top_k=4, top_p=0.9, repetition_penalty=1.3)
    d = stage_distributions(LOGITS, s, context=torch.tensor([4]))
    assert tuple(d) == STAGES
    for name in ('raw', 'repetition_penalty', 'temperature', 'renormalised'):
        assert float(d[name].sum()) == pytest.approx(1.0, abs=1e-6)
    assert d['repetition_penalty'][4] < d['raw'][4]
    assert d['temperature'].max() > d['repetition_penalty'].max()  # < 1 sharpens
    assert int((d['top_k'] > 0).sum()) == 4 and float(d['top_k'].sum()) < 1.0  # cut, not renormalised
    assert torch.equal(d['top_k'][d['top_k'] > 0], d['temperature'][d['top_k'] > 0])
    kept = d['top_p'] > 0
    assert int(kept.sum()) < 4 and float((d['top_k'] / d['top_k'].sum())[kept].sum()) >= 0.9
    assert torch.allclose(d['renormalised'], d['top_p'] / d['top_p'].sum())
    assert torch.allclose(d['renormalised'], F.softmax(process(LOGITS, s, torch.tensor([4])), -1))


def test_default_path_is_nanogpts_bit_for_bit():
    logits = torch.randn(3, 65, generator=torch.Generator().manual_seed(0))
    s = SamplingSettings(temperature=0.8, top_k=10)
    want = logits / 0.8  # nanoGPT's generate, as its model.py writes it
    v, _ = torch.topk(want, 10)
    want[want < v[:, [-1]]] = -float('inf')
    assert torch.equal(process(logits, s), want)


def test_settings_are_checked():
    for bad in ({'temperature': -1}, {'top_p': 0}, {'top_p': 1.5}, {'top_k': -2}, {'repetition_penalty': 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SamplingSettings(**bad)


def test_stage_view_follows_the_same_tokens():
    view = stage_view(stage_distributions(LOGITS, SamplingSettings(top_k=2)), top_n=3)
    assert [t['id'] for t in view['tokens']] == [4, 0, 1]  # by raw probability
    assert [s['name'] for s in view['stages']] == list(STAGES)
    top_k = view['stages'][3]
    assert top_k['kept'] == 2 and top_k['probs'][2] == 0.0 and top_k['mass'] < 1
    assert view['stages'][-1]['mass'] == pytest.approx(1.0)
