"""Where and how a run computes: device, precision (autocast + GradScaler), CPU threads, and whether to compile."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from nanogpt_lab import hardware
from nanogpt_lab.config import TrainConfig
from nanogpt_lab.training.ddp import Distributed
from nanogpt_lab.training.faults import TrainingError

log = logging.getLogger(__name__)

PTDTYPE = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}

# torch.compile pays for itself only when the steps it speeds up outweigh its compile time. On CPU, for nanoGPT's
# baby model with this loop (fused AdamW, SDPA attention), `nanogpt-lab bench train --suite=compile` measured
# 1.00-1.06x faster steps after 25 s of compiling with an empty cache (2 s once inductor's cache holds the graph;
# ~50 s on a busy machine), so on CPU `auto` compiles only runs of tens of thousands of steps (docs/benchmarks.md).
# On CUDA, nanoGPT's README reports ~1 minute of compiling and 250 -> 135 ms per step for GPT-2 124M.
# MPS: torch.compile is not mature there, so `auto` leaves it off.
COMPILE_COST_S = {'cpu': 30.0, 'cuda': 60.0}
COMPILE_SPEEDUP = {'cpu': 1.06, 'cuda': 1.85}


@dataclass
class Runtime:
    """Everything about the machine a step needs, resolved once from the config."""

    device: str  # 'cpu', 'cuda:0', 'mps'
    device_type: str  # 'cpu', 'cuda', 'mps' (what autocast and the fused optimizer want)
    dtype: str  # the resolved compute dtype: float32, bfloat16 or float16
    dist: Distributed
    grad_accum: int  # micro-steps per optimizer step on this rank
    scaler: Any  # torch.amp.GradScaler, a no-op unless dtype is float16

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision for forward passes; plain float32 needs no context."""
        if self.dtype == 'float32':
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=PTDTYPE[self.dtype])


def resolve_dtype(dtype: str, device: str) -> str:
    """`auto`: bfloat16 on GPUs that have it, else float16 on CUDA; float32 on CPU and MPS (faster at lab sizes)."""
    if dtype != 'auto':
        if dtype == 'bfloat16' and device.startswith('cuda') and not torch.cuda.is_bf16_supported():
            raise TrainingError('training.no_bf16', key='dtype', gpu=torch.cuda.get_device_name())
        return dtype
    if device.startswith('cuda'):
        return 'bfloat16' if torch.cuda.is_bf16_supported() else 'float16'
    return 'float32'


def make_runtime(cfg: TrainConfig, dist: Distributed, device: str) -> Runtime:
    """Resolve device type, dtype, per-rank accumulation and the GradScaler; set threads and fast matmuls."""
    if cfg.gradient_accumulation_steps % dist.world_size:
        raise TrainingError(
            'training.accumulation_world',
            key='gradient_accumulation_steps',
            gradient_accumulation_steps=cfg.gradient_accumulation_steps,
            world_size=dist.world_size,
        )
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device_type = device.split(':')[0]
    if device_type == 'cpu':
        hardware.keep_freed_memory()
    if device_type == 'cuda':
        torch.set_float32_matmul_precision('high')  # TF32 matmuls: enough for training, several times faster
    dtype = resolve_dtype(cfg.dtype, device)
    scaler = torch.amp.GradScaler(device_type, enabled=dtype == 'float16')  # fp16 gradients underflow unscaled
    grad_accum = cfg.gradient_accumulation_steps // dist.world_size
    return Runtime(device, device_type, dtype, dist, grad_accum, scaler)


def compile_pays_off(cfg: TrainConfig, device_type: str, remaining_iters: int, step_s: float | None) -> bool:
    """`compile=auto`: compile when the time it saves over the remaining steps exceeds its compile time."""
    if cfg.compile != 'auto':
        return bool(cfg.compile)
    if device_type not in COMPILE_COST_S or step_s is None:
        return False
    saved = remaining_iters * step_s * (1 - 1 / COMPILE_SPEEDUP[device_type])
    return saved > COMPILE_COST_S[device_type]


def time_steps(step: Callable[[], None], n: int = 3) -> float:
    """Seconds per call of `step` after one warm-up call (the first pays for allocations and kernel selection)."""
    step()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n


def peak_flops(rt: Runtime) -> float | None:
    """The device's peak for this dtype, for MFU; None when unknown (then MFU is not reported)."""
    try:
        return hardware.peak_flops(rt.device, rt.dtype)
    except Exception as e:  # a peak we cannot measure must not stop a run
        log.warning('no peak FLOP/s for %s (%s): MFU not reported', rt.device, e)
        return None
