"""Exact match on held-out conversations: the answer generated greedily through the chat template, compared whole.

A conversation's last message is the expected answer, the messages before it the prompt. The answer counts only if
the model writes exactly it (surrounding whitespace aside) and then ends its turn: an answer that runs on is wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import torch

from nanogpt_lab.alignment.template import ChatTokenizer
from nanogpt_lab.inference.chat import answer

MAX_EXAMPLES = 5  # wrong answers kept per kind, to show beside the score


def script(text: str) -> str | None:
    """'zh' for text with Chinese characters, 'en' for Latin letters without them, None for neither (digits)."""
    if any('\u4e00' <= c <= '\u9fff' for c in text):
        return 'zh'
    return 'en' if any(c.isascii() and c.isalpha() for c in text) else None


def prompt_of(messages: Sequence[dict[str, str]]) -> str:
    """The last user message before the answer: what the contamination guard looks for and a table shows."""
    return next(m['content'] for m in reversed(messages) if m['role'] == 'user')


def lang_of(conv: dict[str, Any]) -> str:
    """'zh' for a conversation asked in Chinese, else 'en'."""
    return 'zh' if script(prompt_of(conv['messages'][:-1])) == 'zh' else 'en'


def is_correct(got: str, expected: str) -> bool:
    """The task's checker: exactly the expected answer, surrounding whitespace aside (a run-on answer is longer)."""
    return got.strip() == expected.strip()


def answer_limit(tokenizer: ChatTokenizer, expected: str) -> int:
    """Room for the answer: twice the expected length and some, so a run-on answer is seen running on."""
    return 2 * len(tokenizer.encode(expected)) + 8


@torch.no_grad()
def exact_match(
    model: Any,
    tokenizer: ChatTokenizer,
    conversations: Sequence[dict[str, Any]],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Accuracy per task kind and overall (micro: over conversations; macro: the mean of the kinds), and every
    answer given, in the order of `conversations`."""
    answers: list[str] = []
    right: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    wrong: dict[str, list[dict[str, str]]] = defaultdict(list)
    for i, conv in enumerate(conversations):
        kind = conv.get('kind', 'conversation')
        expected = conv['messages'][-1]['content']
        got = answer(model, tokenizer, conv['messages'][:-1], answer_limit(tokenizer, expected))
        answers.append(got)
        total[kind] += 1
        if is_correct(got, expected):
            right[kind] += 1
        elif len(wrong[kind]) < MAX_EXAMPLES:
            wrong[kind].append({'prompt': conv['messages'][-2]['content'], 'expected': expected, 'got': got})
        if progress:
            progress(i + 1, len(conversations))
    kinds = {k: {'correct': right[k], 'total': total[k], 'accuracy': right[k] / total[k]} for k in sorted(total)}
    n = sum(total.values())
    return {
        'accuracy': sum(right.values()) / n if n else 0.0,
        'macro_accuracy': sum(v['accuracy'] for v in kinds.values()) / len(kinds) if kinds else 0.0,
        'conversations': n,
        'kinds': kinds,
        'wrong_examples': dict(wrong),
        'answers': answers,
    }
