"""What can go wrong in a run, said so that a person knows which knob to turn."""

from __future__ import annotations

import errno
import math

from nanogpt_lab.config import DATASETS, TrainConfig


class TrainingError(ValueError):
    """A run cannot start or cannot go on; the message names the cause and the setting to change."""


def missing_data_message(cfg: TrainConfig, folder: str, missing: str) -> str:
    """The `prepare` command that makes the dataset a run asks for."""
    where = f' --data_dir={cfg.data_dir}' if cfg.data_dir else ''
    if cfg.dataset in DATASETS and cfg.dataset != 'custom':
        command = f'nanogpt-lab prepare {cfg.dataset}{where}'
    else:
        command = f'nanogpt-lab prepare custom --input=YOUR_TEXT --name={cfg.dataset}{where}'
    return f"dataset '{cfg.dataset}' is not prepared: {folder} has no {missing}. Run `{command}` first"


def is_out_of_memory(e: BaseException) -> bool:
    """CUDA/MPS out-of-memory, Python's MemoryError, and the CPU allocator's refusal (a RuntimeError)."""
    import torch

    if isinstance(e, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and ("can't allocate memory" in text or 'out of memory' in text)


def oom_message(cfg: TrainConfig, device: str, where: str) -> str:
    """Out of memory: the four settings that shrink what a step holds, with the values this run used."""
    tips = [
        f'lower batch_size (now {cfg.batch_size}) and raise gradient_accumulation_steps '
        f'(now {cfg.gradient_accumulation_steps}) to keep the tokens per step',
        f'shorten block_size (now {cfg.block_size})',
    ]
    if device.startswith('cuda'):
        tips.insert(1, f'use dtype=bfloat16 or float16 (now {cfg.dtype}) to halve activations')
    else:
        tips.append('or use a smaller model (n_layer, n_embd)')
    return f'out of memory on {device} while {where}: ' + '; '.join(tips)


def non_finite_message(what: str, value: float, it: int, kept: str) -> str:
    """The loss became NaN or infinite: stop, say what to change, and which checkpoint is still good."""
    return (
        f'{what} became {value} at iteration {it}: training stopped. {kept} '
        'Lower learning_rate, keep grad_clip on (e.g. 1.0), or use dtype=bfloat16 instead of float16.'
    )


def is_finite(value: float) -> bool:
    """A loss a run can go on from."""
    return math.isfinite(value)


def save_failed_message(path: str, e: OSError) -> str:
    """A checkpoint could not be written (a full disk, most often); the previous one is intact (atomic write)."""
    reason = 'the disk is full' if e.errno == errno.ENOSPC else (e.strerror or e.__class__.__name__)
    return (
        f'could not save the checkpoint to {path}: {reason}. The previous checkpoint there is unchanged and '
        'still loads; free some space and resume with --init_from=resume'
    )
