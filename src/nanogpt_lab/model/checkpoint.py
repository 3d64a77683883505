"""The one place checkpoints are saved and loaded: nanoGPT's six keys, atomic writes, `weights_only=True` loads."""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from nanogpt_lab.config import ConfigError, ModelConfig, build
from nanogpt_lab.errors import LabError
from nanogpt_lab.fileio import atomic_write_with
from nanogpt_lab.messages import ref
from nanogpt_lab.model.gpt import GPT
from nanogpt_lab.workspace import CKPT_NAME

CKPT_KEYS = ('model', 'optimizer', 'model_args', 'iter_num', 'best_val_loss', 'config')
_COMPILED_PREFIX = '_orig_mod.'  # torch.compile wraps the model and prefixes every key with this


class CheckpointError(LabError):
    """A checkpoint is missing, corrupt, untrusted or does not fit the model asked for."""


def checkpoint_path(path: str | Path) -> Path:
    """`path` itself if it is a file, else `path/ckpt.pt` (a run folder, as nanoGPT's `out_dir`)."""
    p = Path(path)
    return p / CKPT_NAME if p.is_dir() or p.suffix != '.pt' else p


def clean_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip `_orig_mod.` (torch.compile) and `module.` (DDP) prefixes so keys are plain GPT-2 names."""
    out = {}
    for k, v in state_dict.items():
        for prefix in (_COMPILED_PREFIX, 'module.'):
            k = k.removeprefix(prefix)
        out[k] = v
    return out


def save_checkpoint(
    path: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    model_args: ModelConfig,
    iter_num: int,
    best_val_loss: float,
    config: Mapping[str, Any],
) -> Path:
    """Write `ckpt.pt` atomically in nanoGPT's layout; a crash mid-write leaves the previous one intact."""
    target = checkpoint_path(path)
    ckpt = {
        'model': clean_state_dict(model.state_dict()),
        'optimizer': optimizer.state_dict() if optimizer is not None else {},
        'model_args': model_args.nanogpt_args(),
        'iter_num': int(iter_num),
        'best_val_loss': float(best_val_loss),
        'config': dict(config),
    }
    atomic_write_with(target, lambda f: _save(ckpt, f))
    return target


class _KeepWriteError:
    """A file wrapper that remembers the OSError a write raised: torch.save turns a full disk into a bare
    RuntimeError ('unexpected pos ...'), and callers need the OSError (ENOSPC) to say what happened."""

    def __init__(self, f: Any):
        self.f, self.error = f, None

    def write(self, data: bytes) -> int:
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = self.error or e
            raise

    def flush(self) -> None:
        self.f.flush()


def _save(ckpt: dict[str, Any], f: Any) -> None:
    out = _KeepWriteError(f)
    try:
        torch.save(ckpt, out)
    except RuntimeError:
        if out.error is not None:
            raise out.error from None
        raise


def load_checkpoint(path: str | Path, map_location: str | torch.device = 'cpu', mmap: bool = False) -> dict[str, Any]:
    """Load a checkpoint (ours or nanoGPT's) without running any code in it, with a clear error for each fault.
    `mmap`: tensors stay in the file until read (for a look at its settings, not its weights)."""
    target = checkpoint_path(path)
    if not target.is_file():
        raise CheckpointError('checkpoint.missing', path=target)
    try:
        ckpt = load_tensors(target, map_location, mmap)
    except pickle.UnpicklingError as e:
        raise _refusal(target, str(e)) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, AttributeError) as e:
        reason = e.__class__.__name__
        raise CheckpointError('checkpoint.corrupt', path=target, reason=reason) from None
    if not isinstance(ckpt, dict) or not {'model', 'model_args'} <= set(ckpt):
        raise CheckpointError('checkpoint.not_nanogpt', path=target)
    ckpt['model'] = clean_state_dict(ckpt['model'])
    if isinstance(ckpt.get('best_val_loss'), torch.Tensor):
        ckpt['best_val_loss'] = float(ckpt['best_val_loss'])  # nanoGPT stores a 0-dim tensor
    return ckpt


def load_tensors(path: str | Path, map_location: str | torch.device = 'cpu', mmap: bool = False) -> Any:
    """torch.load with weights_only=True (nothing in the file can run), without torch's note about an old pickle
    protocol: a bare pickle is refused by the caller in words of its own, and the note only came first. `mmap`
    applies to a zip checkpoint (every torch.save since 1.6); an older file is read whole."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Detected pickle protocol', category=UserWarning)
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap and zipfile.is_zipfile(path))


def _refusal(target: Path, error: str) -> CheckpointError:
    """torch's weights_only refusal said plainly: what the file asked to import (never run), or that it is garbage."""
    found = re.search(r'GLOBAL ([\w.]+)', error)
    if found:  # torch's own text goes on to suggest weights_only=False: never repeat that advice
        return CheckpointError('checkpoint.refused', path=target, name=found.group(1))
    return CheckpointError('checkpoint.refused_garbage', path=target)


def model_args_of(ckpt: Mapping[str, Any]) -> ModelConfig:
    """The model shape stored in a checkpoint (nanoGPT's seven keys; ours adds ln_position and gelu when set)."""
    try:
        return build(ModelConfig, ckpt['model_args'])
    except ConfigError as e:
        raise CheckpointError('checkpoint.bad_args', detail=ref(e.code, **e.params)) from None
    except TypeError:  # model_args is not a mapping
        raise CheckpointError('checkpoint.bad_args', detail=repr(ckpt['model_args'])[:80]) from None


def model_from_checkpoint(ckpt: Mapping[str, Any], dropout: float | None = None) -> GPT:
    """Build the GPT a checkpoint describes and load its weights, naming any key or shape that does not fit."""
    args = model_args_of(ckpt)
    if dropout is not None:
        args = args.model_copy(update={'dropout': dropout})
    model = GPT(args)
    state = {k: v for k, v in ckpt['model'].items() if not k.endswith('.attn.bias')}  # old nanoGPT mask buffers
    mine = model.state_dict()
    missing = sorted(set(mine) - set(state))
    unexpected = sorted(set(state) - set(mine))
    wrong = [k for k in mine if k in state and tuple(state[k].shape) != tuple(mine[k].shape)]
    if missing or unexpected or wrong:
        detail = [
            ref(f'checkpoint.keys.{label}', keys=', '.join(keys[:4]) + (' ...' if len(keys) > 4 else ''))
            for label, keys in (('missing', missing), ('unexpected', unexpected), ('wrong_shape', wrong))
            if keys
        ]
        raise CheckpointError('checkpoint.mismatch', args=str(args.nanogpt_args()), detail=detail)
    model.load_state_dict(state)
    return model
