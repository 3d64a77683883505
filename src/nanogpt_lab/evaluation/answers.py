"""Before and after, side by side: the same held-out prompts answered greedily by a model before a step of training
(a DPO run's SFT parent) and after it, each answer judged by the task's own checker.

A score moves by a few points; the answers show what moved. One prompt per (language, task kind) by default, the
first of each in the held-out order, so the rows are the same for every run of a dataset and cover every kind. The
answers are those the report card's exact match already gave (evaluation.card): no model is loaded twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nanogpt_lab.evaluation.tasks import is_correct, lang_of, prompt_of

PER_KIND = 1  # held-out prompts per (language, kind)
SIDES = ('before', 'after')
Answered = Sequence[tuple[dict[str, Any], str]]  # (a held-out conversation, the answer a model gave it)


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


def _key(conv: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((m['role'], m['content']) for m in conv['messages'])


def before_and_after(before: Answered, after: Answered, per_kind: int = PER_KIND) -> dict[str, Any]:
    """Both models' greedy answers (those the card scored them by) to the same picked prompts, each marked correct
    or wrong, and the counts; only prompts both models answered are picked."""
    earlier = {_key(conv): got for conv, got in before}
    given = {id(conv): (earlier[_key(conv)], got) for conv, got in after if _key(conv) in earlier}
    rows = []
    for conv in pick_conversations([conv for conv, _ in after if id(conv) in given], per_kind):
        expected = conv['messages'][-1]['content']
        asked = conv['messages'][:-1]  # a system message, if any, and the turns before the answer
        row = {'kind': conv.get('kind', 'conversation'), 'lang': lang_of(conv), 'messages': asked,
               'prompt': prompt_of(asked), 'expected': expected}  # fmt: skip
        for side, got in zip(SIDES, given[id(conv)], strict=True):
            row[side] = {'answer': got, 'correct': is_correct(got, expected)}
        rows.append(row)
    correct = {side: sum(r[side]['correct'] for r in rows) for side in SIDES}
    return {'split': 'val', 'decoding': 'greedy', 'per_kind': per_kind, 'rows': rows, 'correct': correct,
            'total': len(rows)}  # fmt: skip
