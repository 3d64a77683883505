"""Measuring a model: nanoGPT's quick estimate over random batches, and the exact loss over a whole val.bin."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nanogpt_lab.data import DataError


@torch.no_grad()
def estimate_loss(model: torch.nn.Module, batches: Any, autocast: Any = contextlib.nullcontext) -> float:
    """Mean loss over an iterable of (x, y) batches (nanoGPT's estimate_loss for one split)."""
    was_training = model.training
    model.eval()
    losses = []
    for x, y in batches:
        with autocast():
            _, loss = model(x, y)
        losses.append(loss.float())
    model.train(was_training)
    return float(torch.stack(losses).mean().item())


def _windows(path: Path, block_size: int, max_tokens: int | None) -> tuple[np.ndarray, int]:
    """val.bin cut into non-overlapping windows of block_size + 1 tokens (each window's last token only a target)."""
    data = np.memmap(path, dtype=np.uint16, mode='r')
    if max_tokens is not None:
        data = data[: max_tokens + 1]
    n = (len(data) - 1) // block_size  # windows of block_size inputs, each with its next-token targets
    if n < 1:
        raise DataError('data.eval_too_few', path=path, tokens=len(data), block_size=block_size)
    return data, n


@torch.no_grad()
def full_val_loss(
    model: torch.nn.Module,
    val_path: str | Path,
    block_size: int,
    device: str = 'cpu',
    batch_size: int = 32,
    max_tokens: int | None = None,
) -> float:
    """Mean cross-entropy over the whole of `val_path` in non-overlapping `block_size` windows.

    Unlike the estimate over random batches that training prints, every target token counts exactly once, so two
    models compare on the same text. nanoGPT's README CPU checkpoint scores 1.8982 this way (64-token windows).
    """
    data, n = _windows(Path(val_path), block_size, max_tokens)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, n, batch_size):
        rows = range(start, min(n, start + batch_size))
        x = torch.from_numpy(np.stack([data[i * block_size : (i + 1) * block_size] for i in rows]).astype(np.int64))
        y = torch.from_numpy(
            np.stack([data[i * block_size + 1 : (i + 1) * block_size + 1] for i in rows]).astype(np.int64)
        )
        _, loss = model(x.to(device), y.to(device))
        total += float(loss) * y.numel()  # the model returns the mean over the batch's tokens
        count += y.numel()
    model.train(was_training)
    return total / count


def perplexity(loss: float) -> float:
    """exp(mean cross-entropy): the number of equally likely choices the model is as unsure as."""
    return math.exp(loss) if loss < 700 else math.inf
