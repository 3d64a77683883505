"""Generating tokens: the context-window rule, the KV cache, and streaming token by token.

The context-window rule. GPT-2 learns one embedding per absolute position, so a window that slides by one token
shifts every position and invalidates every cached key and value. nanoGPT's `generate` therefore recomputes the
last block_size tokens at every step. Here, when the sequence no longer fits, the window jumps forward: it keeps
the most recent `keep` tokens (half the block by default) and is refilled from them in one forward pass; the cache
then grows again one token per step until the next jump. Both paths, with and without the cache, crop to exactly
this window, so greedy output is identical with and without the cache. Up to block_size tokens it is also the
same as nanoGPT's; past it, each token sees between `keep` and block_size tokens of context instead of always
block_size.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from nanogpt_lab.errors import LabError
from nanogpt_lab.inference.pipeline import SamplingSettings, process, sample_from, stage_distributions, stage_view

log = logging.getLogger(__name__)

KEEP_FRACTION = 0.5  # of block_size kept when the window jumps; see the module docstring


def window_start(start: int, length: int, block_size: int, keep: int) -> int:
    """Where the context window begins for a sequence of `length` tokens, given where it began before.

    A window that still fits stays put (so the cache stays valid); one that overflows restarts with the last
    `keep` tokens, or the last block_size tokens when a prompt alone is longer than the block.
    """
    if length - start <= block_size:
        return start
    if start == 0 and length - block_size > keep:  # a long prompt: fill the whole block once
        return length - block_size
    return length - keep


class ContextWindow:
    """Next-token logits for a growing sequence, with or without a KV cache, under the window rule above."""

    def __init__(self, model: Any, batch_size: int = 1, kv_cache: bool = True, keep: int | None = None):
        self.model = model
        self.block_size = model.config.block_size
        self.keep = max(1, min(self.block_size - 1, keep or int(self.block_size * KEEP_FRACTION)))
        self.cache = model.new_cache(batch_size) if kv_cache else None
        self.start = 0
        self.prefills = 0  # how many times the window was (re)filled: the cost of the rule, for tests and docs

    @torch.no_grad()
    def logits(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, V) logits for the token after `idx` (B, T), the full sequence so far."""
        n = idx.size(1)
        new_start = window_start(self.start, n, self.block_size, self.keep)
        if self.cache is None:
            self.start = new_start
            logits, _ = self.model(idx[:, self.start :])
            return logits[:, -1, :]
        if new_start != self.start or self.cache.pos == 0 or self.cache.pos != n - 1 - self.start:
            self.start = new_start
            self.cache.reset()
            self.prefills += 1
            logits, _ = self.model(idx[:, self.start :], cache=self.cache)
        else:
            logits, _ = self.model(idx[:, -1:], cache=self.cache)  # one new token at position n-1-start
        return logits[:, -1, :]


@torch.no_grad()
def generate_ids(
    model: Any,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    kv_cache: bool = True,
    generator: torch.Generator | None = None,
    vocab_size: int | None = None,
    stop_ids: Collection[int] = (),
) -> torch.Tensor:
    """nanoGPT's `generate` (B, T) -> (B, T + max_new_tokens), with the KV cache, top-p and repetition penalty.

    With `stop_ids`, generation ends early once every row has produced one of them (what follows is unspecified).
    """
    settings = SamplingSettings(temperature, top_k, top_p, repetition_penalty)
    window = ContextWindow(model, idx.size(0), kv_cache=kv_cache)
    stops = torch.tensor(sorted(stop_ids), dtype=torch.long, device=idx.device)
    stopped = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)
    for _ in range(max_new_tokens):
        logits = process(window.logits(idx), settings, context=idx, vocab_size=vocab_size)
        idx_next = sample_from(logits, generator)
        idx = torch.cat((idx, idx_next), dim=1)
        stopped |= torch.isin(idx_next[:, 0], stops)
        if len(stops) and bool(stopped.all()):
            break
    return idx


# --- streaming ----------------------------------------------------------------------------------------------------


@dataclass
class TokenEvent:
    """One generated token: what it adds to the text, how likely it was, the runners-up, optionally every stage.

    `text` is what becomes readable with this token: '' while a BPE token ends mid-way through a UTF-8 character
    (its bytes are held until the character completes) or while the text might be the start of a stop string.
    The `text` of all events joined is the continuation exactly.
    """

    index: int
    id: int
    token: str  # this token's own bytes, readable (\\xNN for a partial character)
    text: str
    prob: float  # under the distribution it was sampled from
    raw_prob: float  # under the model's own softmax, before any stage
    top: list[dict[str, Any]] = field(default_factory=list)
    stages: dict[str, Any] | None = None
    finish: str | None = None  # on the last event: 'length' (max_new_tokens) or 'stop' (a stop string or id)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API's event stream."""
        return asdict(self)


class _TextAssembler:
    """Turns token bytes into text: holds partial UTF-8 characters, and any tail that might begin a stop string."""

    def __init__(self, stop: Sequence[str]):
        self.decoder = codecs.getincrementaldecoder('utf-8')(errors='replace')
        self.stop = [s for s in stop if s]
        self.held = ''  # decoded, but not yet released because a stop string may be starting
        self.stopped = False

    def feed(self, data: bytes, final: bool = False) -> str:
        """Text released by these bytes; after a stop string, everything up to it and nothing more."""
        text = self.held + self.decoder.decode(data, final=final)
        hits = [i for i in (text.find(s) for s in self.stop) if i >= 0]
        if hits:
            self.stopped, self.held = True, ''
            return text[: min(hits)]
        hold = 0 if final else self._stop_prefix(text)
        self.held = text[len(text) - hold :] if hold else ''
        return text[: len(text) - hold]

    def _stop_prefix(self, text: str) -> int:
        """Length of the longest tail of `text` that is the beginning of some stop string."""
        best = 0
        for s in self.stop:
            for n in range(min(len(s) - 1, len(text)), best, -1):
                if text.endswith(s[:n]):
                    best = n
                    break
        return best


def _alternatives(raw: torch.Tensor, final: torch.Tensor, tokenizer: Any, n: int) -> list[dict[str, Any]]:
    """The n likeliest next tokens under the sampling distribution (ties broken by the model's own ranking)."""
    if n <= 0:
        return []
    k = min(n, raw.numel())
    ids = dict.fromkeys([*torch.topk(final, k).indices.tolist(), *torch.topk(raw, k).indices.tolist()])
    ranked = sorted(ids, key=lambda i: (-float(final[i]), -float(raw[i])))[:k]
    return [
        {'id': i, 'token': tokenizer.token_text(i), 'prob': float(final[i]), 'raw_prob': float(raw[i])} for i in ranked
    ]


@torch.no_grad()
def stream(
    model: Any,
    tokenizer: Any,
    prompt: str | Sequence[int],
    settings: SamplingSettings | None = None,
    max_new_tokens: int = 100,
    *,
    seed: int | None = 1337,
    generator: torch.Generator | None = None,
    kv_cache: bool = True,
    stop: Sequence[str] = (),
    alternatives: int = 5,
    with_stages: bool = False,
    stage_top_n: int = 20,
    stop_ids: Collection[int] = frozenset(),
) -> Iterator[TokenEvent]:
    """Generate one sample token by token, yielding a TokenEvent per token (the UI's and /api/generate's source).

    Pass a `generator` to continue one random stream across calls (as `sample` does for num_samples), or a
    `seed` for a fresh, reproducible one. `with_stages` adds the distribution after every pipeline stage.
    A token in `stop_ids` (a chat model's end token) ends the sample: its event adds no text of its own.
    """
    settings = settings or SamplingSettings()
    idx, generator = _start(model, tokenizer, prompt, seed, generator)
    window = ContextWindow(model, 1, kv_cache=kv_cache)
    text = _TextAssembler(stop)
    vocab = getattr(tokenizer, 'vocab_size', None)
    for i in range(max_new_tokens):
        raw_logits = window.logits(idx)
        logits = process(raw_logits, settings, context=idx, vocab_size=vocab)
        idx = torch.cat((idx, sample_from(logits, generator)), dim=1)
        tok, last = int(idx[0, -1]), i == max_new_tokens - 1
        ended = tok in stop_ids
        piece = text.feed(b'' if ended else tokenizer.token_bytes(tok), final=last or ended)
        event = _event(i, tok, piece, raw_logits[0], logits[0], tokenizer, alternatives)
        if with_stages:
            dists = stage_distributions(raw_logits[0], settings, context=idx[0, :-1], vocab_size=vocab)
            event.stages = stage_view(dists, tokenizer, stage_top_n, extra_ids=[tok])
        if text.stopped or ended or last:
            event.finish = 'stop' if text.stopped or ended else 'length'
        yield event
        if text.stopped or ended:
            return


def _start(
    model: Any, tokenizer: Any, prompt: str | Sequence[int], seed: int | None, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Generator]:
    """The prompt as a (1, T) tensor on the model's device, and the random stream to draw from."""
    device = next(model.parameters()).device
    ids = tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
    if not ids:
        raise LabError('inference.empty_start', key='start')
    if generator is None:
        generator = torch.Generator(device=device)
        generator.manual_seed(1337 if seed is None else seed)
    return torch.tensor([ids], dtype=torch.long, device=device), generator


def _event(
    i: int, tok: int, piece: str, raw_logits: torch.Tensor, logits: torch.Tensor, tokenizer: Any, alternatives: int
) -> TokenEvent:
    raw, final = torch.softmax(raw_logits.float(), -1), torch.softmax(logits, -1)
    return TokenEvent(
        index=i,
        id=tok,
        token=tokenizer.token_text(tok),
        text=piece,
        prob=float(final[tok]),
        raw_prob=float(raw[tok]),
        top=_alternatives(raw, final, tokenizer, alternatives),
    )
