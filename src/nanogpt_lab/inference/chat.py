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
from nanogpt_lab.config import SamplingSettings
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
        raise AlignmentError('alignment_engine.message_too_long', chars=len(last), limit=MAX_MESSAGE_CHARS)
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
            'alignment_engine.prompt_too_long', tokens=len(ids), block_size=block_size, room=MIN_ANSWER_TOKENS
        )
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


class ChatSession:
    """One multi-turn chat: the system message, the turns so far, and the sampling settings.

    `send` streams the answer and keeps it in the history; `set_system` and `reset` are the chat's commands.
    """

    def __init__(
        self, model: Any, tokenizer: ChatTokenizer, settings: SamplingSettings, max_new_tokens: int, seed: int = 1337
    ):
        if not isinstance(tokenizer, ChatTokenizer):
            raise AlignmentError('alignment_engine.no_template')
        self.model, self.tokenizer, self.settings, self.max_new_tokens = model, tokenizer, settings, max_new_tokens
        self.generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
        self.system = ''
        self.turns: list[dict[str, str]] = []

    @classmethod
    def from_config(cls, cfg: Any) -> ChatSession:
        """The session `nanogpt-lab chat` runs: the model ChatConfig names, its sampling settings and system message."""
        from nanogpt_lab.inference.loader import load

        loaded = load(cfg)
        session = cls(loaded.model, loaded.tokenizer, cfg.sampling(), cfg.max_new_tokens, cfg.seed)
        session.set_system(cfg.system)
        return session

    def messages(self, text: str) -> list[dict[str, str]]:
        """The conversation to answer if the user now says `text`."""
        head = [{'role': 'system', 'content': self.system}] if self.system else []
        return [*head, *self.turns, {'role': 'user', 'content': text}]

    def send(self, text: str) -> Iterator[TokenEvent]:
        """Stream the answer to `text`; once complete it joins the history (a refused message changes nothing)."""
        messages = self.messages(text)
        self.tokenizer.encode(text)  # an unknown character is refused before anything is generated
        pieces = []
        for event in chat_stream(self.model, self.tokenizer, messages, self.settings, self.max_new_tokens,
                                 generator=self.generator):  # fmt: skip
            pieces.append(event.text)
            yield event
        self.turns += [{'role': 'user', 'content': text}, {'role': 'assistant', 'content': ''.join(pieces)}]

    def set_system(self, text: str) -> None:
        self.system = text.strip()

    def reset(self) -> None:
        self.turns = []


HELP = '/system TEXT sets the system message, /reset forgets the conversation, /quit (or EOF) ends the chat'


def run_terminal(session: ChatSession, lines: Iterator[str], write: Any, interactive: bool) -> int:
    """The terminal chat over `lines` (stdin): each line is a message or a command; answers stream to `write`.

    Returns the exit status: 0, or 1 when a message was refused while reading from a pipe.
    """
    status = 0
    if interactive:
        write(f'chat with {session.tokenizer.vocab_size}-token model; {HELP}\n')
    for raw in lines:
        text = raw.rstrip('\r\n')
        command, _, rest = text.partition(' ')
        if command == '/quit':
            break
        if command == '/reset':
            session.reset()
            write('(conversation forgotten)\n')
        elif command == '/system':
            session.set_system(rest)
            write(f'(system message: {session.system or "none"})\n')
        elif text.strip():
            status = max(status, _answer(session, text, write, interactive))
    return status


def _answer(session: ChatSession, text: str, write: Any, interactive: bool) -> int:
    try:
        for event in session.send(text):
            write(event.text, flush=True)
    except AlignmentError as e:
        write(f'(refused: {e})\n')
        return 0 if interactive else 1
    write('\n')
    return 0
