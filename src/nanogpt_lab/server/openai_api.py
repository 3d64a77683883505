"""OpenAI's chat and text completions (/v1) on the lab's own models: the request shapes, the generation work, and
the answers built from the engine's token stream, whole or as server-sent chunks ending in `data: [DONE]`.

The shapes follow OpenAI's API reference (chat.completion, chat.completion.chunk, text_completion), so the
official `openai` client and the tools built on it talk to a model the learner trained. Sampling follows OpenAI's
defaults (temperature 1, top_p 1) rather than `nanogpt-lab sample`'s: a client written for OpenAI expects them.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from nanogpt_lab.errors import LabError
from nanogpt_lab.inference.catalog import ServedModel

MAX_TOKENS = 4096  # per answer; a lab model's context is 64-1024 tokens, so an answer ends long before this
MAX_CHOICES = 8  # `n`: answers per request, generated one after another on this machine
MAX_MESSAGES = 256
MAX_CONTENT_CHARS = 20_000  # one message as sent; the engine's own per-message limit is checked after rendering
MAX_STOPS = 4  # as OpenAI
MAX_PROMPTS = 8  # /v1/completions: prompts in one request
MAX_STOP_CHARS = 200
OWNER = 'nanogpt-lab'
Put = Callable[[dict], None]

Content = Annotated[str, Field(max_length=MAX_CONTENT_CHARS)]


def _listed(value: Any) -> Any:
    """OpenAI takes one string or a list of them: read one as a list of one."""
    return [value] if isinstance(value, str) else value


class _Request(BaseModel):
    """Unknown fields are refused by name (a misspelt `max_token` must not be ignored silently); JSON `true` is not
    a number."""

    model_config = ConfigDict(extra='forbid', protected_namespaces=())

    @field_validator('*', mode='before')
    @classmethod
    def _no_bool_as_number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name not in ('stream', 'include_usage', 'echo'):
            raise LabError('api.v1.not_a_number', value=str(value).lower())
        return value


class ChatMessageIn(_Request):
    """One message; `developer` is OpenAI's newer name for `system`."""

    role: Literal['system', 'developer', 'user', 'assistant']
    content: Content
    name: str | None = Field(None, max_length=64)

    @field_validator('content', mode='before')
    @classmethod
    def _text_parts(cls, value: Any) -> Any:
        """Content given as parts (`[{"type": "text", "text": ...}]`) reads as their text joined (text only here)."""
        if not isinstance(value, list):
            return value
        if len(value) > MAX_MESSAGES:
            raise LabError('api.v1.too_many_parts', count=len(value), limit=MAX_MESSAGES)
        if not all(isinstance(p, dict) and p.get('type') == 'text' and isinstance(p.get('text'), str) for p in value):
            raise LabError('api.v1.content_parts')
        return ''.join(p['text'] for p in value)

    def as_engine(self) -> dict[str, str]:
        """The message as the chat template reads it: a role of its own and plain text."""
        return {'role': 'system' if self.role == 'developer' else self.role, 'content': self.content}


class StreamOptions(_Request):
    include_usage: bool = False


class SamplingRequest(_Request):
    """What both completions take: the model, how to sample, how much, how many, where to stop."""

    model: str = Field(min_length=1, max_length=200)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    n: int | None = Field(None, ge=1, le=MAX_CHOICES)
    stop: Annotated[list[Annotated[str, Field(max_length=MAX_STOP_CHARS)]], Field(max_length=MAX_STOPS)] | None = None
    seed: int | None = Field(None, ge=-(2**63), le=2**64 - 1)  # what torch.Generator.manual_seed takes
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=256)

    _stop_list = field_validator('stop', mode='before')(_listed)

    def stops(self) -> tuple[str, ...]:
        return tuple(self.stop or ())

    def settings(self) -> Any:
        """The engine's sampling settings: OpenAI's defaults where the request says nothing."""
        from nanogpt_lab.inference.pipeline import SamplingSettings

        t = 1.0 if self.temperature is None else self.temperature
        return SamplingSettings(temperature=t, top_k=None, top_p=1.0 if self.top_p is None else self.top_p)

    def generator(self, device: str) -> Any:
        """The random stream: the request's seed (the same seed, the same answers), else a fresh one."""
        import torch

        generator = torch.Generator(device=device)
        generator.manual_seed(secrets.randbits(63) if self.seed is None else self.seed)
        return generator


class ChatCompletionIn(SamplingRequest):
    """POST /v1/chat/completions."""

    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)

    def engine_messages(self) -> list[dict[str, str]]:
        return [m.as_engine() for m in self.messages]

    def answer_limit(self) -> int:
        """Tokens one answer may take (the context's room cuts it further)."""
        given = [v for v in (self.max_tokens, self.max_completion_tokens) if v is not None]
        return min(given) if given else MAX_TOKENS


class CompletionIn(SamplingRequest):
    """POST /v1/completions (a base model continues text)."""

    prompt: Annotated[list[Content], Field(min_length=1, max_length=MAX_PROMPTS)]
    max_tokens: int | None = Field(16, ge=1, le=MAX_TOKENS)  # OpenAI's default for completions
    echo: bool = False

    _prompt_list = field_validator('prompt', mode='before')(_listed)


def model_object(model: ServedModel) -> dict[str, Any]:
    """A model as /v1/models lists it; `chat` and `source` are the lab's additions."""
    return {'id': model.id, 'object': 'model', 'created': model.created, 'owned_by': OWNER, 'chat': model.chat,
            'source': model.kind}  # fmt: skip


# --- generation (runs in a worker thread) -------------------------------------------------------------------------


def chat_work(loaded: Any, req: ChatCompletionIn, lock: threading.Lock) -> Callable[[Put, threading.Event], dict]:
    """The blocking work of a chat completion: `n` answers, one token event at a time, under the model lock."""
    from nanogpt_lab.inference.chat import chat_stream

    messages, settings = req.engine_messages(), req.settings()

    def answers(generator: Any) -> Iterator[tuple[int, Any]]:
        for index in range(req.n or 1):
            for event in chat_stream(loaded.model, loaded.tokenizer, messages, settings, req.answer_limit(),
                                     generator=generator, stop=req.stops()):  # fmt: skip
                yield index, event

    return _work(loaded, req, lock, answers)


def completion_work(
    loaded: Any, req: CompletionIn, prompts: Sequence[list[int]], lock: threading.Lock
) -> Callable[[Put, threading.Event], dict]:
    """The blocking work of a text completion: `n` continuations of each prompt, choice index prompt × n + j."""
    from nanogpt_lab.inference.sampler import stream

    settings, n = req.settings(), req.n or 1
    stop_ids = getattr(loaded.tokenizer, 'stop_ids', frozenset())  # a chat model stops where a new turn begins

    def answers(generator: Any) -> Iterator[tuple[int, Any]]:
        for p, ids in enumerate(prompts):
            for j in range(n):
                for event in stream(loaded.model, loaded.tokenizer, ids, settings, req.max_tokens or 16,
                                    generator=generator, stop=req.stops(), alternatives=0,
                                    stop_ids=stop_ids):  # fmt: skip
                    yield p * n + j, event

    return _work(loaded, req, lock, answers)


def _work(
    loaded: Any, req: SamplingRequest, lock: threading.Lock, answers: Callable[[Any], Iterator[tuple[int, Any]]]
) -> Callable[[Put, threading.Event], dict]:
    def work(put: Put, stop: threading.Event) -> dict:
        with lock:  # one generation at a time: two would only fight over the CPU/GPU
            for index, event in answers(req.generator(loaded.device)):
                if stop.is_set():
                    break
                put({'type': 'token', 'index': index, 'text': event.text, 'finish': event.finish})
        return {'type': 'done'}

    return work


# --- answers ------------------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """What every answer of one request shares: its id, the model, when, and the prompt's size in tokens."""

    kind: Literal['chat', 'text']
    model: str
    prompt_tokens: int
    choices: int
    echo: list[str] = field(default_factory=list)  # /v1/completions with echo: each choice starts with its prompt
    id: str = field(default_factory=lambda: secrets.token_hex(12))
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def object_id(self) -> str:
        return ('chatcmpl-' if self.kind == 'chat' else 'cmpl-') + self.id

    def head(self, obj: str) -> dict[str, Any]:
        return {'id': self.object_id, 'object': obj, 'created': self.created, 'model': self.model,
                'system_fingerprint': None}  # fmt: skip

    def usage(self, completion_tokens: int) -> dict[str, int]:
        return {'prompt_tokens': self.prompt_tokens, 'completion_tokens': completion_tokens,
                'total_tokens': self.prompt_tokens + completion_tokens}  # fmt: skip


class StreamFailed(Exception):
    """Generation failed after the answer began (its `error` event), or before it (then the route answers 4xx)."""

    def __init__(self, error: dict[str, Any]):
        super().__init__(error.get('message'))
        self.error = error


async def whole(reply: Reply, events: AsyncIterator[dict]) -> dict[str, Any]:
    """The answer as one JSON object (`stream: false`)."""
    texts, finish = [''] * reply.choices, [None] * reply.choices
    tokens = 0
    async for item in events:
        if item['type'] == 'error':
            raise StreamFailed(item['error'])
        if item['type'] == 'token':
            i = item['index']
            texts[i] += item['text']
            finish[i] = item['finish'] or finish[i]
            tokens += 1
    if reply.kind == 'chat':
        choices = [{'index': i, 'message': {'role': 'assistant', 'content': t, 'refusal': None},
                    'logprobs': None, 'finish_reason': finish[i] or 'length'} for i, t in enumerate(texts)]  # fmt: skip
        return {**reply.head('chat.completion'), 'choices': choices, 'usage': reply.usage(tokens)}
    choices = [{'index': i, 'text': _echo(reply, i) + t, 'logprobs': None, 'finish_reason': finish[i] or 'length'}
               for i, t in enumerate(texts)]  # fmt: skip
    return {**reply.head('text_completion'), 'choices': choices, 'usage': reply.usage(tokens)}


def _echo(reply: Reply, index: int) -> str:
    return reply.echo[index * len(reply.echo) // reply.choices] if reply.echo else ''


async def chunks(reply: Reply, events: AsyncIterator[dict], include_usage: bool) -> AsyncIterator[str]:
    """The answer as server-sent chunks, as OpenAI streams it: `data: {...}` lines, then `data: [DONE]`."""
    obj = 'chat.completion.chunk' if reply.kind == 'chat' else 'text_completion'
    started: set[int] = set()
    tokens = 0
    async for item in events:
        if item['type'] == 'error':
            yield _data({'error': {**item['error'], 'type': 'server_error'}})  # the openai client raises on it
            return
        if item['type'] != 'token':
            continue
        i, tokens = item['index'], tokens + 1
        for choice in _choice_deltas(reply, i, item, i not in started):
            yield _data({**reply.head(obj), 'choices': [choice]})
        started.add(i)
    if include_usage:
        yield _data({**reply.head(obj), 'choices': [], 'usage': reply.usage(tokens)})
    yield 'data: [DONE]\n\n'


def _choice_deltas(reply: Reply, i: int, item: dict, first: bool) -> list[dict[str, Any]]:
    """The chunks one token event makes: the role first (chat), the text if any, the finish reason at the end."""
    text, finish = item['text'], item['finish']
    if reply.kind == 'text':
        text = (_echo(reply, i) if first else '') + text
        return [{'index': i, 'text': text, 'logprobs': None, 'finish_reason': finish}] if text or finish else []
    out = []
    if first:
        out.append({'index': i, 'delta': {'role': 'assistant', 'content': ''}, 'logprobs': None, 'finish_reason': None})
    if text:
        out.append({'index': i, 'delta': {'content': text}, 'logprobs': None, 'finish_reason': None})
    if finish:
        out.append({'index': i, 'delta': {}, 'logprobs': None, 'finish_reason': finish})
    return out


def _data(obj: dict[str, Any]) -> str:
    return 'data: ' + json.dumps(obj, ensure_ascii=False, separators=(',', ':')) + '\n\n'
