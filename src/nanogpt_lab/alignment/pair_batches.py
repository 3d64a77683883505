"""Preference pairs as tensors: each answer rendered through the chat template, batched, and scored once by the
frozen reference model.

A batch of B pairs is one (2B, T) input: the B chosen conversations, then the B rejected ones, right-padded to
the longest (padding is never a target, and a causal model never looks ahead at it). The targets are the
renderer's: the answer's tokens and its `<|end|>`, -1 everywhere else, so log π(y|x) sums over the answer alone.

The reference model π_ref is the model DPO starts from. Its log-probabilities never change, so they are computed
once, before the first step, and kept beside the pairs: training then holds one model, not two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

from nanogpt_lab.alignment.dpo_loss import sequence_logps
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.preferences import Pair
from nanogpt_lab.alignment.template import ChatTokenizer, render_conversation, targets
from nanogpt_lab.data.progress import Progress
from nanogpt_lab.events import Emit, null_emit
from nanogpt_lab.messages import ref

MAX_NAMED = 5  # lines named in a "too long" or "unknown character" report


@dataclass(frozen=True)
class RenderedPair:
    """One pair as model inputs and targets: x_* are the ids fed in, y_* the next-token targets (-1: not trained)."""

    x_w: list[int]
    y_w: list[int]
    x_l: list[int]
    y_l: list[int]
    line: int


def render_pair(pair: Pair, tokenizer: ChatTokenizer) -> RenderedPair:
    """The prompt followed by each answer, through the one renderer of conversations."""
    ids_w, mask_w = render_conversation(pair.conversation(pair.chosen), tokenizer)
    ids_l, mask_l = render_conversation(pair.conversation(pair.rejected), tokenizer)
    return RenderedPair(ids_w[:-1], targets(ids_w, mask_w), ids_l[:-1], targets(ids_l, mask_l), pair.line)


@dataclass(frozen=True)
class Rendered:
    """The pairs that fit, and the source lines of those left out, by reason."""

    pairs: list[RenderedPair]
    too_long: list[int]  # pairs longer than block_size
    unknown_chars: list[int]  # pairs using characters the model's vocabulary lacks

    def left_out(self) -> str:
        """The first lines left out, for a log line: '3, 17, 40, ...'."""
        lines = sorted(self.too_long + self.unknown_chars)
        return ', '.join(map(str, lines[:MAX_NAMED])) + (', ...' if len(lines) > MAX_NAMED else '')


def render_pairs(pairs: Sequence[Pair], tokenizer: ChatTokenizer, block_size: int, split: str) -> Rendered:
    """Render every pair, leaving out (and counting) those that do not fit: a pair is never cut mid-answer.

    Refuses a split where nothing fits, naming why, since a DPO run on it would learn nothing.
    """
    kept, too_long, unknown = [], [], []
    for pair in pairs:
        try:
            r = render_pair(pair, tokenizer)
        except AlignmentError as e:
            if e.code != 'alignment_engine.unknown_char':
                raise
            unknown.append(pair.line)
            continue
        if max(len(r.x_w), len(r.x_l)) > block_size:
            too_long.append(pair.line)
        else:
            kept.append(r)
    out = Rendered(kept, too_long, unknown)
    if pairs and not kept:
        raise AlignmentError(
            'dpo.nothing_fits', split=split, too_long=len(too_long), unknown_chars=len(unknown), block_size=block_size
        )
    return out


def collate(rendered: Sequence[RenderedPair], device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y), each (2B, T): chosen rows first, then rejected; right-padded (x with 0, y with -1)."""
    rows = [(r.x_w, r.y_w) for r in rendered] + [(r.x_l, r.y_l) for r in rendered]
    t = max(len(x) for x, _ in rows)
    x = torch.zeros(len(rows), t, dtype=torch.long)
    y = torch.full((len(rows), t), -1, dtype=torch.long)
    for i, (xi, yi) in enumerate(rows):
        x[i, : len(xi)] = torch.tensor(xi)
        y[i, : len(yi)] = torch.tensor(yi)
    return x.to(device), y.to(device)


def answer_logps(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log π(y_w|x), log π(y_l|x)) for a collated batch: one forward pass over chosen and rejected together."""
    logits, _ = model(x, y)
    logps = sequence_logps(logits, y)  # (2B,)
    b = x.size(0) // 2
    return logps[:b], logps[b:]


@torch.no_grad()
def reference_logps(
    model: torch.nn.Module,
    rendered: Sequence[RenderedPair],
    batch_size: int,
    device: str,
    autocast: Callable[[], AbstractContextManager],
    emit: Emit = null_emit,
) -> torch.Tensor:
    """log π_ref of every pair's chosen and rejected answer, (N, 2) float32 on the CPU, in the pairs' order."""
    was_training = model.training
    model.eval()  # the reference is scored without dropout, as it is at inference
    out = torch.empty(len(rendered), 2)
    progress = Progress(emit, ref('progress.dpo_reference'), 'pairs', len(rendered))
    for start in range(0, len(rendered), batch_size):
        x, y = collate(rendered[start : start + batch_size], device)
        with autocast():
            logp_w, logp_l = answer_logps(model, x, y)
        out[start : start + len(logp_w)] = torch.stack([logp_w, logp_l], dim=1).float().cpu()
        progress(min(start + batch_size, len(rendered)))
    model.train(was_training)
    return out


class PairBatches:
    """Random batches of pairs from a seeded generator, which a checkpoint saves so that a resume draws on.

    `next()` gives (x, y) as the trainer's other batch streams do; `indices` says which pairs they hold, for the
    reference scores that go with them.
    """

    def __init__(self, rendered: Sequence[RenderedPair], batch_size: int, device: str, seed: int):
        self.rendered, self.batch_size, self.device = list(rendered), batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.indices = torch.zeros(0, dtype=torch.long)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """x, y (2B, T) of B pairs drawn with replacement, as nanoGPT draws its offsets."""
        self.indices = torch.randint(len(self.rendered), (self.batch_size,), generator=self.generator)
        return collate([self.rendered[i] for i in self.indices.tolist()], self.device)

    def prefetch(self) -> None:
        """Nothing to fetch ahead: pairs are collated when needed."""
