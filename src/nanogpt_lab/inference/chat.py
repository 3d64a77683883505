"""Chat generation: the one streaming generator behind the terminal chat, evaluation, the web chat and /v1.

It renders the conversation through the chat template, streams the answer token by token with the sampler's KV
cache, stops at `<|end|>` (or any other special token: the model has begun a new turn), and releases text only in
whole UTF-8 characters. An answer never runs past the context the model was trained on: with the prompt it fits
in block_size. A history longer than that loses its oldest turns (the system message stays), and says how many.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.template import ChatTokenizer, check_messages, render_prompt
from nanogpt_lab.inference.pipeline import SamplingSettings
from nanogpt_lab.inference.sampler import TokenEvent, stream

MAX_MESSAGE_CHARS = 4000  # one chat message; a baby model's context is 64-1024 tokens anyway
MIN_ANSWER_TOKENS = 4  # a prompt that leaves less room than this for the answer is refused


@dataclass(frozen=True)
class ChatPrompt:
    """The ids a chat answer continues, how many old turns were left out to fit, and the room left to answer."""

    ids: list[int]
    dropped_messages: int
    room: int


def build_prompt(messages: Sequence[Mapping[str, str]], tokenizer: ChatTokenizer, block_size: int) -> ChatPrompt:
    """Render the conversation (system?, user, assistant, ..., user) to fit `block_size` with room to answer.

    Oldest user/assistant pairs go first; the system message and the last user message always stay. A last
    message too long on its own is refused (code `message_too_long`).
    """
    msgs = check_messages(list(messages), complete=False)
    last = msgs[-1]['content']
    if len(last) > MAX_MESSAGE_CHARS:
        raise AlignmentError(
            'message_too_long',
            f'the message has {len(last):,} characters; the limit is {MAX_MESSAGE_CHARS:,}',
            chars=len(last), limit=MAX_MESSAGE_CHARS,
        )  # fmt: skip
    system = msgs[:1] if msgs[0]['role'] == 'system' else []
    turns = msgs[len(system) :]
    dropped = 0
    while True:
        ids = render_prompt([*system, *turns], tokenizer)
        room = block_size - len(ids)
        if room >= MIN_ANSWER_TOKENS or len(turns) == 1:
            break
        turns, dropped = turns[2:], dropped + 2
    if room < MIN_ANSWER_TOKENS:
        raise AlignmentError(
            'message_too_long',
            f'the message takes {len(ids)} tokens with the template; this model reads {block_size} tokens at most '
            f'and needs {MIN_ANSWER_TOKENS} of them to answer: write a shorter message',
            tokens=len(ids), block_size=block_size,
        )  # fmt: skip
    return ChatPrompt(ids, dropped, room)


def chat_stream(
    model: Any,
    tokenizer: ChatTokenizer,
    messages: Sequence[Mapping[str, str]],
    settings: SamplingSettings | None = None,
    max_new_tokens: int = 256,
    *,
    seed: int | None = 1337,
    generator: torch.Generator | None = None,
    alternatives: int = 0,
    stop: Sequence[str] = (),
) -> Iterator[TokenEvent]:
    """Stream the assistant's answer to `messages`, one TokenEvent per token; the last has `finish` set
    ('stop' at the end token or a `stop` string, 'length' at max_new_tokens or the end of the context)."""
    prompt = build_prompt(messages, tokenizer, model.config.block_size)
    yield from stream(
        model,
        tokenizer,
        prompt.ids,
        settings or SamplingSettings(),
        min(max_new_tokens, prompt.room),
        seed=seed,
        generator=generator,
        alternatives=alternatives,
        stop=stop,
        stop_ids=tokenizer.stop_ids,
    )


def answer(
    model: Any, tokenizer: ChatTokenizer, messages: Sequence[Mapping[str, str]], max_new_tokens: int = 256
) -> str:
    """The greedy answer as one string (what evaluation scores)."""
    settings = SamplingSettings(temperature=0.0)
    return ''.join(e.text for e in chat_stream(model, tokenizer, messages, settings, max_new_tokens))
