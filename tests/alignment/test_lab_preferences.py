"""lab-preferences: the task's checker and the language checker turn sampled answers into pairs."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from nanogpt_lab.alignment.lab_preferences import Sample, answered_by, pairs_for, pick_prompts, sample_answers
from nanogpt_lab.alignment.template import chat_tokenizer_for
from nanogpt_lab.config import ModelConfig, PreferencesConfig
from nanogpt_lab.evaluation.tasks import script
from nanogpt_lab.model.gpt import GPT
from nanogpt_lab.tokenizers.char import CharTokenizer

ASK_ZH = [{'role': 'user', 'content': '用中文说 7'}]


def test_scripts():
    assert [script(t) for t in ('七', 'seven', '7', 'seven 七', '')] == ['zh', 'en', None, 'zh', None]


def test_a_correct_answer_is_chosen_over_the_most_common_wrong_one():
    samples = [Sample('七'), Sample('seven'), Sample('八'), Sample('seven')]
    pairs = pairs_for(ASK_ZH, '七', samples, 'say')
    # the language checker would prefer 七 over seven too: the same pair is kept once
    assert [(p.chosen, p.rejected, p.labels['why']) for p in pairs] == [('七', 'seven', 'correct')]
    assert pairs[0].labels == {'kind': 'say', 'lang': 'zh', 'why': 'correct'}


def test_the_greedy_mistake_is_rejected_and_the_tasks_answer_stands_in():
    samples = [Sample('8', greedy=True), Sample('七七七七'), Sample('九'), Sample('九')]  # the second ran on
    pairs = pairs_for(ASK_ZH, '七', samples, 'say')
    assert [(p.chosen, p.rejected, p.labels['why']) for p in pairs] == [('七', '8', 'task_answer')]


def test_the_language_preference_when_no_answer_is_right():
    samples = [Sample('八'), Sample('eight')]
    pairs = pairs_for(ASK_ZH, '七', samples, 'say')
    assert [(p.chosen, p.rejected, p.labels['why']) for p in pairs] == [
        ('七', '八', 'task_answer'),
        ('八', 'eight', 'language'),
    ]


def test_nothing_to_prefer_when_every_answer_is_right():
    assert pairs_for(ASK_ZH, '七', [Sample('七')] * 4, 'say') == []


def test_prompts_are_spread_over_the_kinds():
    convs = [{'kind': k, 'messages': [{'role': 'user', 'content': f'{k}{i}'}]} for k in 'aab' for i in range(5)]
    picked = pick_prompts(convs, 6, seed=1)
    assert sorted(c['kind'] for c in picked) == ['a', 'a', 'a', 'b', 'b', 'b']
    assert picked == pick_prompts(convs, 6, seed=1)


def test_samples_stop_at_the_end_token_and_never_pass_the_block():
    tok = chat_tokenizer_for(CharTokenizer.from_text('abc 用中文说七'), '0123456789')
    torch.manual_seed(0)
    model = GPT(ModelConfig(n_layer=1, n_head=1, n_embd=8, block_size=16, vocab_size=tok.vocab_size)).eval()
    generator = torch.Generator().manual_seed(0)
    samples = sample_answers(model, tok, ASK_ZH, 3, limit=30, temperature=1.0, generator=generator)
    assert len(samples) == 3
    for s in samples:
        assert '<|' not in s.text and len(tok.encode(s.text)) <= 16 - 8  # the prompt takes 8 of the 16 positions


def test_the_answering_model_is_recorded_by_name_or_full_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert answered_by('bundled-chat') == 'bundled-chat'  # the bundled chat model, not a folder named so here
    assert answered_by('runs/sft') == str(tmp_path / 'runs' / 'sft')


def test_the_temperature_spreads_the_sampled_answers_and_is_bounded():
    tok = chat_tokenizer_for(CharTokenizer.from_text('abc 用中文说七'), '0123456789')
    torch.manual_seed(0)
    model = GPT(ModelConfig(n_layer=1, n_head=1, n_embd=8, block_size=24, vocab_size=tok.vocab_size)).eval()

    def answers(temperature: float) -> set[str]:
        g = torch.Generator().manual_seed(0)
        return {s.text for s in sample_answers(model, tok, ASK_ZH, 8, limit=12, temperature=temperature, generator=g)}

    assert len(answers(1e-4)) == 1  # nearly greedy: every sample is the greedy answer
    assert len(answers(5.0)) > 4  # hot: the random model's answers scatter
    for bad in (0.0, -1.0, 101.0):
        with pytest.raises(ValidationError, match='temperature'):
            PreferencesConfig(source='lab-preferences', from_run='bundled-chat', temperature=bad)
