"""What hardware is here (CPU, CUDA GPUs, Apple MPS), which device a run uses, and its peak FLOP/s for MFU."""

from __future__ import annotations

import contextlib
import json
import os
import platform
from functools import lru_cache
from typing import Any

from nanogpt_lab.errors import LabError

# Dense peak TFLOP/s (no sparsity) from each vendor's datasheet, by the dtype a run computes in.
# MFU is measured against the device a run is on, never a fixed A100 figure.
GPU_PEAK_TFLOPS: dict[str, dict[str, float]] = {
    'H200': {'bfloat16': 989.0, 'float16': 989.0, 'float32': 67.0},
    'H100 SXM': {'bfloat16': 989.0, 'float16': 989.0, 'float32': 67.0},
    'H100 PCIe': {'bfloat16': 756.0, 'float16': 756.0, 'float32': 51.0},
    'H100': {'bfloat16': 989.0, 'float16': 989.0, 'float32': 67.0},
    'A100': {'bfloat16': 312.0, 'float16': 312.0, 'float32': 19.5},
    'A10G': {'bfloat16': 70.0, 'float16': 70.0, 'float32': 31.2},
    'L4': {'bfloat16': 121.0, 'float16': 121.0, 'float32': 30.3},
    'L40S': {'bfloat16': 362.0, 'float16': 362.0, 'float32': 91.6},
    'RTX 4090': {'bfloat16': 165.0, 'float16': 165.0, 'float32': 82.6},
    'RTX 3090': {'bfloat16': 71.0, 'float16': 71.0, 'float32': 35.6},
    'V100': {'bfloat16': 0.0, 'float16': 125.0, 'float32': 15.7},
    'T4': {'bfloat16': 0.0, 'float16': 65.0, 'float32': 8.1},
}
ENV_CPU_PEAK = 'NANOGPT_LAB_CPU_PEAK_TFLOPS'  # a CPU's peak is configured or measured, never guessed


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's marketing name (from /proc/cpuinfo on Linux, platform elsewhere)."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.lower().startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_threads() -> int:
    """Logical CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


# glibc mallopt parameters (malloc.h) and the values the CPU step wants
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TRIM_THRESHOLD = 1 << 30  # keep up to 1 GiB of freed heap instead of returning it to the OS after every step
_MMAP_THRESHOLD = 32 << 20  # glibc's largest: activations below 32 MiB come from the heap, not fresh mmap pages


def keep_freed_memory() -> bool:
    """Ask glibc to reuse freed activation memory instead of unmapping it: each CPU training step frees and
    reallocates the same buffers, and fresh pages cost page faults (measured: 4-7% of a baby-config step).
    Returns whether it applied (glibc only; elsewhere the allocator is left alone)."""
    if platform.system() != 'Linux':
        return False
    import ctypes

    try:
        libc = ctypes.CDLL('libc.so.6')  # glibc's soname: musl and others have none, and are left alone
    except OSError:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )


def describe() -> dict[str, Any]:
    """Everything the device badge and /api/device show; imports torch, so call it off the page-load path."""
    import torch

    info: dict[str, Any] = {
        'cpu': {'model': cpu_model(), 'threads': cpu_threads(), 'torch_threads': torch.get_num_threads()},
        'cuda': [],
        'mps': bool(getattr(torch.backends, 'mps', None) and torch.backends.mps.is_available()),
        'torch': torch.__version__,
        'default_device': resolve_device('auto'),
    }
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            info['cuda'].append({'index': i, 'name': p.name, 'memory_bytes': p.total_memory})
    return info


def resolve_device(name: str = 'auto') -> str:
    """`auto` picks cuda > mps > cpu; an explicit device that is not here is an error that says what is."""
    import torch

    has_mps = bool(getattr(torch.backends, 'mps', None) and torch.backends.mps.is_available())
    if name == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'mps' if has_mps else 'cpu'
    if name.startswith('cuda') and not torch.cuda.is_available():
        raise LabError('hardware.no_cuda', key='device', device=name)
    if name == 'mps' and not has_mps:
        raise LabError('hardware.no_mps', key='device')
    return name


def peak_flops(device: str, dtype: str) -> float | None:
    """The device's dense peak FLOP/s for `dtype`, or None when unknown (then MFU is not reported)."""
    if device.startswith('cuda'):
        import torch

        name = torch.cuda.get_device_name(torch.device(device))
        for key, table in GPU_PEAK_TFLOPS.items():  # most specific names come first in the table
            if key in name and table.get(dtype):
                return table[dtype] * 1e12
        return None
    if device == 'cpu':
        if os.environ.get(ENV_CPU_PEAK):
            return float(os.environ[ENV_CPU_PEAK]) * 1e12
        return measured_cpu_peak(dtype)
    return None


CPU_PEAK_FILE = 'cpu_peak.json'  # in the workspace's cache/ folder
_MATMUL_N = 1024  # big enough to run at full speed, small enough to measure in about 0.3 s
MEASUREMENTS = 3  # runs that measure the CPU peak; later runs reuse the best of them


def measured_cpu_peak(dtype: str, threads: int | None = None) -> float | None:
    """The best FLOP/s of a square matmul on this CPU at torch's thread count: an attainable peak, measured.

    A CPU's datasheet peak depends on clocks and vector units no API reports reliably, so the lab measures:
    ten 1024×1024 matmuls after a warm-up, the fastest of them, 2n³ FLOPs each (~0.3 s). Another process on the
    same cores makes a measurement low and never high, so the best of the first MEASUREMENTS runs is kept, per
    CPU model, thread count, dtype and torch version, in <workspace>/cache/cpu_peak.json. Set
    NANOGPT_LAB_CPU_PEAK_TFLOPS to use a datasheet figure instead; delete the file to measure afresh.
    """
    import torch

    from nanogpt_lab import workspace
    from nanogpt_lab.fileio import atomic_write_text

    threads = threads or torch.get_num_threads()
    key = f'{cpu_model()}|{threads}|{dtype}|{torch.__version__}'
    path = workspace.home() / 'cache' / CPU_PEAK_FILE
    try:
        cache = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        cache = {}
    if not isinstance(cache, dict):
        cache = {}
    entry = cache.get(key)
    if not isinstance(entry, dict):
        entry = {'flops': 0.0, 'measurements': 0}
    if entry['measurements'] < MEASUREMENTS:
        measured = _time_matmul(getattr(torch, dtype), threads)
        entry = {'flops': max(entry['flops'], measured), 'measurements': entry['measurements'] + 1}
        cache[key] = entry
        with contextlib.suppress(OSError):  # a read-only workspace: measure again next time
            atomic_write_text(path, json.dumps(cache, indent=2))
    return entry['flops']


def _time_matmul(dtype: object, threads: int) -> float:
    import time

    import torch

    n = _MATMUL_N
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(0)  # never the global stream: a run's dropout must not depend on this
        a, b = torch.randn(n, n, generator=g).to(dtype), torch.randn(n, n, generator=g).to(dtype)
        a @ b  # warm-up: kernel selection, page faults
        best = float('inf')
        for _ in range(10):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(previous)
    return 2 * n**3 / best


def memory_in_use(device: str) -> int | None:
    """CUDA max allocated, MPS current allocated, or this process's resident memory on CPU, in bytes."""
    import torch

    if device.startswith('cuda'):
        return int(torch.cuda.max_memory_allocated(torch.device(device)))
    if device == 'mps':
        return int(torch.mps.current_allocated_memory())
    import psutil

    return int(psutil.Process().memory_info().rss)
