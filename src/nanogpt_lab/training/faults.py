"""What can go wrong in a run, said so that a person knows which knob to turn."""

from __future__ import annotations

import errno
import math

from nanogpt_lab.config import DATASETS, TrainConfig
from nanogpt_lab.errors import LabError
from nanogpt_lab.messages import ref


class TrainingError(LabError):
    """A run cannot start or cannot go on; the message names the cause and the setting to change."""


def missing_data(cfg: TrainConfig, folder: str, missing: str) -> TrainingError:
    """The dataset a run asks for is not prepared: the `prepare` command that makes it."""
    where = f' --data_dir={cfg.data_dir}' if cfg.data_dir else ''
    if cfg.dataset in DATASETS and cfg.dataset != 'custom':
        command = f'nanogpt-lab prepare {cfg.dataset}{where}'
    else:
        command = f'nanogpt-lab prepare custom --input=YOUR_TEXT --name={cfg.dataset}{where}'
    return TrainingError('training.not_prepared', dataset=cfg.dataset, path=folder, missing=missing, command=command)


def is_out_of_memory(e: BaseException) -> bool:
    """CUDA/MPS out-of-memory, Python's MemoryError, and the CPU allocator's refusal (a RuntimeError)."""
    import torch

    if isinstance(e, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and ("can't allocate memory" in text or 'out of memory' in text)


def out_of_memory(cfg: TrainConfig, device: str, where: dict) -> TrainingError:
    """Out of memory: the four settings that shrink what a step holds, with the values this run used."""
    tips = [
        ref('training.oom.batch', batch_size=cfg.batch_size, accumulation=cfg.gradient_accumulation_steps),
        ref('training.oom.block', block_size=cfg.block_size),
    ]
    if device.startswith('cuda'):
        tips.insert(1, ref('training.oom.dtype', dtype=cfg.dtype))
    else:
        tips.append(ref('training.oom.model'))
    return TrainingError('training.oom.message', device=device, where=where, tips=tips)


def non_finite(what: dict, value: float, it: int, kept: dict) -> TrainingError:
    """The loss became NaN or infinite: stop, say what to change, and which checkpoint is still good."""
    return TrainingError('training.non_finite', what=what, value=str(value), iter=it, kept=kept)


def is_finite(value: float) -> bool:
    """A loss a run can go on from."""
    return math.isfinite(value)


def save_failed(path: str, e: OSError) -> TrainingError:
    """A checkpoint could not be written (a full disk, most often); the previous one is intact (atomic write)."""
    reason = ref('training.disk_full') if e.errno == errno.ENOSPC else (e.strerror or e.__class__.__name__)
    return TrainingError('training.save_failed', path=path, reason=reason)
