"""Looking at a model's probabilities without sampling: per-token surprise of a text, and the next-token pipeline
for a prompt, computed once and re-drawn for any settings."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F

from nanogpt_lab.errors import LabError
from nanogpt_lab.inference.pipeline import SamplingSettings, stage_distributions, stage_view
from nanogpt_lab.inference.sampler import KEEP_FRACTION, ContextWindow


def _windows(n: int, block: int, stride: int) -> list[tuple[int, int, int]]:
    """(start, end, first_scored) windows over n tokens: each scores positions [first_scored, end) once, with
    at least block - stride tokens of context after the first window (the strided evaluation of long texts)."""
    out, scored, start = [], 1, 0
    while scored < n:
        end = min(start + block + 1, n)  # block inputs predict the tokens at start+1 .. start+block
        out.append((start, end, scored))
        scored = end
        start = end - 1 - (block - stride) if end < n else end
    return out


@torch.no_grad()
def surprise_of_ids(model: Any, ids: Sequence[int]) -> list[float | None]:
    """Per id: −log p (nats) of it given the ids before it (None for the first, which has nothing before it).

    Sequences longer than the block are scored in overlapping windows so each token keeps at least half a block of
    context.
    """
    full = torch.tensor(list(ids), dtype=torch.long, device=next(model.parameters()).device)
    surprise: list[float | None] = [None] * len(full)
    block = model.config.block_size
    for start, end, first in _windows(len(full), block, max(1, int(block * KEEP_FRACTION))):
        x, y = full[start : end - 1], full[start + 1 : end]
        logits, _ = model(x[None], targets=y[None])  # with targets: logits at every position
        nll = F.cross_entropy(logits[0].float(), y, reduction='none')
        for j in range(first - start - 1, len(y)):
            surprise[start + 1 + j] = float(nll[j])
    return surprise


def token_surprise(model: Any, tokenizer: Any, text: str) -> list[dict[str, Any]]:
    """Per token of `text`: its id, its text and its surprise −log p (nats) given the tokens before it.

    GPT-2 BPE models read <|endoftext|> before the text, as at the start of a training document, so even the first
    token is scored; char models have nothing to condition the first character on (surprise None).
    """
    ids = tokenizer.encode(text)
    eot = getattr(tokenizer, 'eot_token', None)
    prefix = [eot] if eot is not None else []
    surprise = surprise_of_ids(model, prefix + ids)[len(prefix) :]
    return [
        {'id': i, 'text': tokenizer.token_text(i), 'surprise': s, 'prob': None if s is None else math.exp(-s)}
        for i, s in zip(ids, surprise, strict=True)
    ]


def conversation_surprise(model: Any, tokenizer: Any, messages: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """A conversation as the chat template renders it, per token: its id, text, whether SFT trains it (the
    renderer's mask), whether it is a special token, and its surprise −log p under `model` (stage 7's x-ray)."""
    from nanogpt_lab.alignment.template import render_conversation

    ids, mask = render_conversation(messages, tokenizer)
    surprise = surprise_of_ids(model, ids)
    return [
        {'id': i, 'text': tokenizer.token_text(i), 'trained': bool(m), 'special': tokenizer.is_special(i),
         'surprise': s}
        for i, m, s in zip(ids, mask, surprise, strict=True)
    ]  # fmt: skip


class NextTokenExplorer:
    """Next-token logits per prompt, computed once and kept (a few prompts, least recently used dropped), so every
    pipeline stage can be recomputed instantly when a slider moves. Make one per page or client."""

    def __init__(self, model: Any, tokenizer: Any, max_prompts: int = 16):
        self.model = model
        self.tokenizer = tokenizer
        self.max_prompts = max_prompts
        self._cache: OrderedDict[tuple[int, ...], torch.Tensor] = OrderedDict()

    def logits(self, prompt: str | Sequence[int]) -> torch.Tensor:
        """(V,) float32 logits for the token after `prompt` (the last block_size tokens of it)."""
        ids = tuple(self.tokenizer.encode(prompt) if isinstance(prompt, str) else prompt)
        if not ids:
            raise LabError('inference.empty_prompt')
        if ids in self._cache:
            self._cache.move_to_end(ids)
            return self._cache[ids]
        device = next(self.model.parameters()).device
        window = ContextWindow(self.model, kv_cache=False)
        logits = window.logits(torch.tensor([ids], dtype=torch.long, device=device))[0].float().cpu()
        self._cache[ids] = logits
        while len(self._cache) > self.max_prompts:
            self._cache.popitem(last=False)
        return logits

    def view(self, prompt: str | Sequence[int], settings: SamplingSettings, top_n: int = 20) -> dict[str, Any]:
        """The distribution after each pipeline stage for `prompt`, JSON-ready (see pipeline.stage_view)."""
        ids = self.tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
        logits = self.logits(ids)
        context = torch.tensor(ids, dtype=torch.long)
        vocab = getattr(self.tokenizer, 'vocab_size', None)
        dists = stage_distributions(logits, settings, context=context, vocab_size=vocab)
        return stage_view(dists, self.tokenizer, top_n)
