"""What a checkpoint carries beyond nanoGPT's keys so a resumed run continues exactly: RNG streams and counters.

It lives at `ckpt['config']['resume_state']`, where nanoGPT's train.py and sample.py never look, and holds tensors
only, so `torch.load(..., weights_only=True)` reads it. One row per rank, so a DDP run resumed with the same number
of processes gives every rank back its own batch and dropout streams.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

log = logging.getLogger(__name__)

IMPL_KEYS = ('fused', 'foreach', 'capturable', 'differentiable')  # how a param group computes, not what it learned


def rng_states(batch_generator: torch.Generator, device: str) -> dict[str, torch.Tensor]:
    """This rank's random streams: batch offsets, dropout (torch's global CPU stream), and CUDA's if used."""
    states = {'batch_rng': batch_generator.get_state(), 'torch_rng': torch.get_rng_state()}
    if device.startswith('cuda'):
        states['cuda_rng'] = torch.cuda.get_rng_state(torch.device(device))
    return states


def pack(per_rank: list[dict[str, torch.Tensor]], counters: dict[str, float | int]) -> dict[str, torch.Tensor]:
    """Every rank's RNG states stacked (row = rank), plus scalar counters as 0-dim tensors."""
    out = {key: torch.stack([r[key] for r in per_rank]) for key in per_rank[0]}
    out['world_size'] = torch.tensor(len(per_rank))
    for key, value in counters.items():
        out[key] = torch.tensor(value, dtype=torch.float64 if isinstance(value, float) else torch.int64)
    return out


def restore(state: dict[str, Any], rank: int, world_size: int, batch_generator: torch.Generator, device: str) -> bool:
    """Put back this rank's streams; False when the checkpoint has none for it (nanoGPT's, or another world size)."""
    if not state or 'batch_rng' not in state or int(state.get('world_size', -1)) != world_size:
        return False
    batch_generator.set_state(state['batch_rng'][rank].clone())
    torch.set_rng_state(state['torch_rng'][rank].clone())
    if 'cuda_rng' in state and device.startswith('cuda'):
        torch.cuda.set_rng_state(state['cuda_rng'][rank].clone(), torch.device(device))
    return True


def counter(state: dict[str, Any], key: str, default: float | int) -> float | int:
    """A scalar counter from resume_state (tokens seen, evaluations since the best), or `default`."""
    value = state.get(key) if state else None
    return value.item() if isinstance(value, torch.Tensor) else default


def load_optimizer_state(
    optimizer: torch.optim.Optimizer, saved: dict, betas: tuple[float, float], weight_decay: float
) -> None:
    """Load AdamW's moments and step counts, keeping this machine's kernel choice and the config's betas and decay.

    `load_state_dict` would also bring back the saved run's hyperparameters and its fused/foreach flags; a run
    resumed on another device (or a nanoGPT checkpoint, saved without `fused`) must keep what fits here.
    """
    impl = [{k: g[k] for k in IMPL_KEYS if k in g} for g in optimizer.param_groups]
    decays = [g['weight_decay'] for g in optimizer.param_groups]
    optimizer.load_state_dict(saved)
    for group, keep, decay in zip(optimizer.param_groups, impl, decays, strict=True):
        group.update(keep)
        group['betas'] = betas
        group['weight_decay'] = weight_decay if decay else 0.0
        on_device = group.get('fused') or group.get('capturable')
        for p in group['params']:
            st = optimizer.state.get(p, {})
            if 'step' in st and isinstance(st['step'], torch.Tensor):
                # fused and capturable kernels want `step` beside the parameter; the others keep it on the CPU
                st['step'] = st['step'].to(p.device if on_device else 'cpu', torch.float32)
