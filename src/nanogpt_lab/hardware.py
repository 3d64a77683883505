"""What hardware is here (CPU, CUDA GPUs, Apple MPS), which device a run uses, and its peak FLOP/s for MFU."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
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
    from nanogpt_lab.cpu_kernels import cpuinfo

    return cpuinfo('model name').get('model name') or platform.processor() or platform.machine()


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
    if name.startswith('cuda:') and int(name[5:]) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise LabError('hardware.no_such_gpu', key='device', device=name, count=count, last=count - 1)
    if name == 'mps' and not has_mps:
        raise LabError('hardware.no_mps', key='device')
    return name


def emulated_dtype(dtype: str, device: str) -> bool:
    """Whether the device only emulates `dtype`: float16 on a CPU has no fast kernels, so it runs many times slower
    than float32 (and trains no better). The trainer and the sampler warn about it."""
    return dtype == 'float16' and device.split(':')[0] == 'cpu'


def peak_flops(device: str, dtype: str, threads: int | None = None) -> float | None:
    """The device's dense peak FLOP/s for `dtype`, or None when unknown (then MFU is not reported).

    A CPU's is the configured one, else the robust measurement of `cpu_peak` for `threads` (torch's count).
    """
    if device.startswith('cuda'):
        import torch

        name = torch.cuda.get_device_name(torch.device(device))
        for key, table in GPU_PEAK_TFLOPS.items():  # most specific names come first in the table
            if key in name and table.get(dtype):
                return table[dtype] * 1e12
        return None
    if device == 'cpu':
        return cpu_peak(dtype, threads).flops
    return None


CPU_PEAK_FILE = 'cpu_peak.json'  # in the workspace's cache/ folder
PEAK_SIZES = (256, 384)  # single-thread trials of 0.2-1.5 ms fit between another process's time slices
PEAK_SESSION_S = 0.4  # trials per session: as many as fit; the fastest counts
PEAK_QUIET_IDLE = 0.5  # a session counts when at least half a core sat idle meanwhile (nobody had to share ours)
PEAK_AGREE = 0.10  # trusted once two quiet sessions' bests agree within 10%
PEAK_SESSIONS_PER_CALL = 3  # at most this many sessions in one process (~1.2 s), fewer once two agree
PEAK_SESSIONS_KEPT = 8


@dataclass(frozen=True)
class PeakSession:
    """One measuring session: its fastest single-thread FLOP/s and how many cores sat idle meanwhile."""

    flops: float
    idle_cores: float

    @property
    def quiet(self) -> bool:
        return self.idle_cores >= PEAK_QUIET_IDLE


@dataclass(frozen=True)
class CpuPeak:
    """A CPU's attainable peak for a dtype and thread count, with the evidence behind it."""

    flops: float | None  # for `threads` threads; None until a trustworthy figure exists (MFU shows "unknown")
    threads: int
    per_core: float | None  # the fastest quiet single-thread FLOP/s (configured: the figure ÷ the CPU count)
    sessions: tuple[PeakSession, ...]  # oldest first
    source: str  # 'configured' | 'measured' | 'unknown'

    @property
    def spread(self) -> float | None:
        """(fastest - slowest) / fastest over the quiet sessions: how far apart the measurements are."""
        quiet = [x.flops for x in self.sessions if x.quiet]
        return (max(quiet) - min(quiet)) / max(quiet) if len(quiet) >= 2 else None


def cpu_peak(dtype: str = 'float32', threads: int | None = None) -> CpuPeak:
    """This CPU's attainable dense peak: the fastest single-thread matmul measured × the threads used.

    Why this way: a datasheet peak needs clocks and vector widths no API reports reliably, and a matmul timed on
    every thread at once reads 2x low whenever another process runs (24.6-57.5 GFLOP/s were seen on a CPU that
    does 338). One thread needs only one free core; 256- and 384-wide matmuls fit between another process's time
    slices; and each session keeps its fastest trial of 0.4 s of them. A session counts only if some core sat
    idle meanwhile (on a saturated machine every trial can be slowed alike: two such sessions agreed on 60% of
    the real figure), and the figure is trusted once two counting sessions, in this process or earlier ones,
    agree within 10%. Until then it is None, shown as unknown, never as a made-up MFU. Sessions are cached per CPU
    model, dtype and torch version in <workspace>/cache/cpu_peak.json; `distrust_cpu_peak` (a run beat the peak)
    or deleting the file starts afresh. NANOGPT_LAB_CPU_PEAK_TFLOPS gives a figure for all the cores instead.
    Imports torch.
    """
    import torch

    threads = threads or torch.get_num_threads()
    if os.environ.get(ENV_CPU_PEAK):
        total = float(os.environ[ENV_CPU_PEAK]) * 1e12
        return CpuPeak(total, threads, total / max(1, os.cpu_count() or 1), (), 'configured')
    key, cache = _peak_key(dtype), _read_peak_cache()
    sessions = [PeakSession(**x) for x in cache.get(key, [])]
    for _ in range(PEAK_SESSIONS_PER_CALL):
        if _trusted(sessions):
            break
        session = _measure_session(getattr(torch, dtype))
        sessions = [*sessions, session][-PEAK_SESSIONS_KEPT:]
        cache[key] = [{'flops': x.flops, 'idle_cores': x.idle_cores} for x in sessions]
        _write_peak_cache(cache)
        if not session.quiet:
            break  # the machine is busy now: measuring more would only slow this start down
    best = _trusted(sessions)
    return CpuPeak(
        best * threads if best else None,
        threads,
        best,
        tuple(sessions),
        'measured' if best else 'unknown',
    )


def distrust_cpu_peak(dtype: str) -> None:
    """Forget a CPU's measured peak (a run went faster than it, so it was measured under load): measure afresh."""
    cache = _read_peak_cache()
    if cache.pop(_peak_key(dtype), None) is not None:
        _write_peak_cache(cache)


def _trusted(sessions: list[PeakSession]) -> float | None:
    """The fastest quiet session's FLOP/s when the next fastest quiet one is within PEAK_AGREE of it, else None."""
    quiet = sorted(x.flops for x in sessions if x.quiet)
    if len(quiet) < 2 or (quiet[-1] - quiet[-2]) / quiet[-1] > PEAK_AGREE:
        return None
    return quiet[-1]


def _peak_key(dtype: str) -> str:
    """One peak per CPU, dtype, torch and MKL kernels (a process that chose MKL's AVX2 kernels multiplies faster)."""
    import torch

    from nanogpt_lab import cpu_kernels

    kernels = '|mkl-cpu-features' if (choice := cpu_kernels.chosen()) and choice.applied else ''
    return f'{cpu_model()}|{dtype}|{torch.__version__}{kernels}'


def _peak_path() -> Path:
    from nanogpt_lab import workspace

    return workspace.home() / 'cache' / CPU_PEAK_FILE


def _read_peak_cache() -> dict[str, list[dict[str, float]]]:
    """The cached sessions per key; anything malformed is dropped (and measured again)."""
    try:
        cache = json.loads(_peak_path().read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return {}
    if not isinstance(cache, dict):
        return {}
    return {k: v for k, v in cache.items() if isinstance(v, list) and all(map(_valid_session, v))}


def _valid_session(value: object) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {'flops', 'idle_cores'}
        and all(isinstance(x, (int, float)) and 0 <= x < 1e15 for x in value.values())
    )


def _write_peak_cache(cache: dict[str, list[dict[str, float]]]) -> None:
    from nanogpt_lab.fileio import atomic_write_text

    with contextlib.suppress(OSError):  # a read-only workspace: measure again next time
        atomic_write_text(_peak_path(), json.dumps(cache, indent=2))


def _measure_session(dtype: object) -> PeakSession:
    """One session: the fastest single-thread matmul FLOP/s, and the cores that sat idle meanwhile."""
    import psutil

    wall0, cpu0 = time.perf_counter(), psutil.cpu_times()
    flops = _best_single_thread_matmul(dtype)
    wall, cpu1 = time.perf_counter() - wall0, psutil.cpu_times()
    idle = sum(getattr(cpu1, f, 0.0) - getattr(cpu0, f, 0.0) for f in ('idle', 'iowait'))
    return PeakSession(flops, round(max(0.0, idle / wall), 3))


def _best_single_thread_matmul(dtype: object) -> float:
    """FLOP/s of the fastest single-thread matmul (2n³ FLOPs) in PEAK_SESSION_S of trials, sizes alternating."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)  # never the global stream: a run's dropout must not depend on this
        pairs = []
        for n in PEAK_SIZES:
            a, b = torch.randn(n, n, generator=g).to(dtype), torch.randn(n, n, generator=g).to(dtype)
            out = torch.empty(n, n, dtype=a.dtype)
            torch.mm(a, b, out=out)  # warm-up: kernel selection, page faults
            pairs.append((n, a, b, out))
        best, deadline = 0.0, time.perf_counter() + PEAK_SESSION_S
        while True:
            for n, a, b, out in pairs:
                t0 = time.perf_counter()
                torch.mm(a, b, out=out)
                t1 = time.perf_counter()
                best = max(best, 2 * n**3 / (t1 - t0))
            if t1 > deadline:
                break
    finally:
        torch.set_num_threads(previous)
    return best


def memory_in_use(device: str) -> int | None:
    """CUDA max allocated, MPS current allocated, or this process's resident memory on CPU, in bytes."""
    import torch

    if device.startswith('cuda'):
        return int(torch.cuda.max_memory_allocated(torch.device(device)))
    if device == 'mps':
        return int(torch.mps.current_allocated_memory())
    import psutil

    return int(psutil.Process().memory_info().rss)
