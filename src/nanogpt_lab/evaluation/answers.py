"""Before and after, side by side: the same held-out prompts answered greedily by a model before a step of training
(a DPO run's SFT parent) and after it, each answer judged by the task's own checker.

A score moves by a few points; the answers show what moved. One prompt per (language, task kind) by default, the
first of each in the held-out order, so the rows are the same for every run of a dataset and cover every kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nanogpt_lab.alignment.template import ChatTokenizer
from nanogpt_lab.evaluation.tasks import exact_match, is_correct, lang_of, prompt_of

PER_KIND = 1  # held-out prompts per (language, kind)
SIDES = ('before', 'after')


def pick_conversations(conversations: Sequence[dict[str, Any]], per_kind: int = PER_KIND) -> list[dict[str, Any]]:
    """The first `per_kind` conversations of each (language, kind), in the held-out order."""
    seen: dict[tuple[str, str], int] = {}
    picked = []
    for conv in conversations:
        group = (lang_of(conv), conv.get('kind', 'conversation'))
        if seen.get(group, 0) < per_kind:
            seen[group] = seen.get(group, 0) + 1
            picked.append(conv)
    return picked


def before_and_after(
    before: Any,
    after: Any,
    tokenizer: ChatTokenizer,
    conversations: Sequence[dict[str, Any]],
    per_kind: int = PER_KIND,
) -> dict[str, Any]:
    """Both models' greedy answers to the same picked prompts, each marked correct or wrong, and the counts."""
    picked = pick_conversations(conversations, per_kind)
    models = dict(zip(SIDES, (before, after), strict=True))
    given = {side: exact_match(model, tokenizer, picked)['answers'] for side, model in models.items()}
    rows = []
    for i, conv in enumerate(picked):
        expected = conv['messages'][-1]['content']
        asked = conv['messages'][:-1]  # a system message, if any, and the turns before the answer
        row = {'kind': conv.get('kind', 'conversation'), 'lang': lang_of(conv), 'messages': asked,
               'prompt': prompt_of(asked), 'expected': expected}  # fmt: skip
        for side in SIDES:
            row[side] = {'answer': given[side][i], 'correct': is_correct(given[side][i], expected)}
        rows.append(row)
    correct = {side: sum(r[side]['correct'] for r in rows) for side in SIDES}
    return {'split': 'val', 'decoding': 'greedy', 'per_kind': per_kind, 'rows': rows, 'correct': correct,
            'total': len(rows)}  # fmt: skip
