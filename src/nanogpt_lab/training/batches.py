"""The run's data: which dataset folder, its vocabulary, and seeded random batches from train.bin / val.bin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from nanogpt_lab.config import PADDED_VOCAB_SIZE, TrainConfig
from nanogpt_lab.data import DataError, dataset_dir, get_batch, vocab_size_of
from nanogpt_lab.training.faults import TrainingError, missing_data

EVAL_SEED_OFFSET = 7919  # eval batches come from their own stream, so evaluating never shifts training batches


@dataclass(frozen=True)
class RunData:
    """A prepared dataset folder as a run sees it."""

    folder: Path
    train: Path
    val: Path
    meta_vocab_size: int | None  # from meta.pkl, tokenizer.model or tokenizer.json; None for GPT-2 BPE data

    @property
    def vocab_size(self) -> int:
        """The vocabulary a model trained from scratch gets: the dataset's own, else GPT-2's padded to 50304."""
        return self.meta_vocab_size or PADDED_VOCAB_SIZE

    def split(self, name: str) -> Path:
        """The .bin file of 'train' or 'val'."""
        return self.train if name == 'train' else self.val


def open_data(cfg: TrainConfig) -> RunData:
    """Find the dataset and check it can feed `block_size`: each failure names the command or setting to change."""
    try:
        folder = dataset_dir(cfg.dataset, cfg.data_dir)
    except DataError as e:
        raise TrainingError(e.code, **e.params) from None
    for name in ('train.bin', 'val.bin'):
        if not (folder / name).is_file():
            raise missing_data(cfg, str(folder), name)
    for name in ('train.bin', 'val.bin'):
        tokens = (folder / name).stat().st_size // 2  # uint16 tokens
        if tokens <= cfg.block_size:
            raise TrainingError(
                'training.too_few_tokens',
                path=folder / name,
                tokens=tokens,
                block_size=cfg.block_size,
                need=cfg.block_size + 1,
            )
    return RunData(folder, folder / 'train.bin', folder / 'val.bin', vocab_size_of(folder))


class Batches:
    """nanoGPT's random-offset batches from a seeded generator whose state a checkpoint saves and restores.

    `seed=None` draws from torch's global stream instead, with the next training batch fetched ahead as nanoGPT's
    loop does (`prefetch` between forward and backward): the same batches, in the same order, as nanoGPT's
    train.py after the same model initialisation (`nanogpt_batches=True`).
    """

    def __init__(self, data: RunData, batch_size: int, block_size: int, device: str, seed: int | None):
        self.data = data
        self.batch_size = batch_size
        self.block_size = block_size
        self.device = device
        self.ahead = seed is None
        self.generator = torch.default_generator if self.ahead else torch.Generator().manual_seed(seed)
        self.pending: tuple[torch.Tensor, torch.Tensor] | None = None

    def draw(self, split: str = 'train') -> tuple[torch.Tensor, torch.Tensor]:
        """One (x, y) batch; the memmap is reopened per call as nanoGPT does (a long-lived one grows in memory)."""
        return get_batch(self.data.split(split), self.batch_size, self.block_size, self.device, self.generator)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next training batch: the one fetched ahead, or a fresh draw."""
        if self.pending is None:
            return self.draw('train')
        batch, self.pending = self.pending, None
        return batch

    def prefetch(self) -> None:
        """Fetch the next training batch now, where nanoGPT's loop does (after the forward pass, before backward)."""
        if self.ahead and self.pending is None:
            self.pending = self.draw('train')


def eval_batches(
    data: RunData, split: str, n: int, batch_size: int, block_size: int, device: str, seed: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The same `n` batches at every evaluation (a fixed seed), so successive val losses compare like with like."""
    batches = Batches(data, batch_size, block_size, device, seed + EVAL_SEED_OFFSET + (split == 'val'))
    for _ in range(n):
        yield batches.draw(split)
