"""Before and after: the same held-out prompts answered by a DPO run's SFT parent and by the run itself, each answer
judged by the task's checker (evaluation.answers, written into the report card by `nanogpt-lab report`)."""

from __future__ import annotations

from nanogpt_lab.evaluation.answers import pick_conversations
from nanogpt_lab.evaluation.tasks import answer_limit
from nanogpt_lab.inference.chat import answer
from nanogpt_lab.inference.loader import open_model


def _conv(prompt: str, kind: str) -> dict:
    return {'kind': kind, 'messages': [{'role': 'user', 'content': prompt}, {'role': 'assistant', 'content': 'x'}]}


def test_one_prompt_per_language_and_kind_in_held_out_order():
    convs = [_conv('Spell cat.', 'spell'), _conv('拼写 cat', 'spell'), _conv('Spell dog.', 'spell'),
             _conv('Add 1 and 2.', 'add'), _conv('拼写 dog', 'spell')]  # fmt: skip
    assert pick_conversations(convs) == [convs[0], convs[1], convs[3]]
    assert pick_conversations(convs, per_kind=2) == convs


def test_the_parent_answers_before_and_the_run_after(dpo_chain, dpo_card):
    run, sft_dir, _ = dpo_chain
    pairs = dpo_card[0]['before_after']
    row = pairs['rows'][0]
    messages = row['messages']
    assert messages[-1] == {'role': 'user', 'content': row['prompt']}
    for side, folder in (('before', sft_dir), ('after', run)):
        model, tokenizer, _ = open_model(str(folder))
        got = answer(model.eval(), tokenizer, messages, answer_limit(tokenizer, row['expected']))
        assert row[side]['answer'] == got  # greedy: the same model gives the same answer
