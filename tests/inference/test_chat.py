"""The chat generator: rendered through the template, stops at the end token, fits the context, refuses too much."""

from __future__ import annotations

import pytest
import torch

from nanogpt_lab.alignment.embeddings import attach_template
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.template import chat_tokenizer_for
from nanogpt_lab.inference.chat import MAX_MESSAGE_CHARS, build_prompt, chat_stream
from nanogpt_lab.inference.pipeline import SamplingSettings
from nanogpt_lab.inference.sampler import stream


@pytest.fixture(scope='module')
def chat_baby(baby):
    """nanoGPT's baby model with the chat vocabulary attached (mean rows), untrained for chat."""
    import copy

    model, base = baby
    model = copy.deepcopy(model)
    tok = chat_tokenizer_for(base, '0123456789+')
    attach_template(model, tok, base.vocab_size)
    return model.eval(), tok


def test_new_rows_start_at_the_mean_embedding(chat_baby, baby):
    model, tok = chat_baby
    wte = model.transformer.wte.weight
    assert wte.shape[0] == tok.vocab_size and model.lm_head.weight is wte
    assert torch.allclose(wte[tok.end_id], baby[0].transformer.wte.weight.mean(0))
    assert torch.equal(wte[:65], baby[0].transformer.wte.weight)


def test_a_stop_id_ends_the_stream_without_text(baby):
    model, tok = baby
    every = frozenset(range(tok.vocab_size))
    events = list(stream(model, tok, tok.encode('ROMEO:'), SamplingSettings(), 10, stop_ids=every))
    assert len(events) == 1 and events[0].finish == 'stop' and events[0].text == ''


def test_the_answer_never_runs_past_the_context(chat_baby):
    model, tok = chat_baby
    events = list(chat_stream(model, tok, [{'role': 'user', 'content': 'What is 2+3?'}], max_new_tokens=500))
    prompt = build_prompt([{'role': 'user', 'content': 'What is 2+3?'}], tok, model.config.block_size)
    assert len(events) <= prompt.room == 64 - len(prompt.ids)
    assert events[-1].finish in ('stop', 'length')
    assert all(e.id not in tok.stop_ids for e in events[:-1])


def test_old_turns_are_dropped_to_fit_and_the_system_message_stays(chat_baby):
    model, tok = chat_baby
    history = [{'role': 'system', 'content': 'Be brief.'}]
    for i in range(6):
        history += [{'role': 'user', 'content': f'What is {i}+{i}?'}, {'role': 'assistant', 'content': str(2 * i)}]
    history.append({'role': 'user', 'content': 'What is 1+1?'})
    prompt = build_prompt(history, tok, 64)
    assert prompt.dropped_messages > 0 and prompt.dropped_messages % 2 == 0
    assert tok.decode(prompt.ids).startswith('<|system|>Be brief.<|end|>')
    assert tok.decode(prompt.ids).endswith('<|user|>What is 1+1?<|end|><|assistant|>')


def test_a_message_over_the_limit_is_refused(chat_baby):
    model, tok = chat_baby
    with pytest.raises(AlignmentError) as e:
        build_prompt([{'role': 'user', 'content': 'a' * 70}], tok, 64)
    assert e.value.code == 'alignment_engine.prompt_too_long' and e.value.params['block_size'] == 64
    with pytest.raises(AlignmentError) as e:
        build_prompt([{'role': 'user', 'content': 'a' * (MAX_MESSAGE_CHARS + 1)}], tok, 10**6)
    assert e.value.code == 'alignment_engine.message_too_long'
