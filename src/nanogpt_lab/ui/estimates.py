"""Where stage 3's time-per-iteration estimate gets its FLOP/s: a GPU's datasheet peak (hardware.py's table),
a configured CPU peak, or the matrix multiply hardware.py measures on this CPU — always named beside the number."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache

from nanogpt_lab import hardware

# Reference GPUs a learner without one can size a run for: memory from each vendor's datasheet (GiB).
REFERENCE_GPUS = {'H100 SXM': 80, 'A100': 80, 'L4': 24, 'RTX 4090': 24, 'T4': 16}
# Published model FLOPs utilisation of large training runs (PaLM paper, arXiv:2204.02311, Table 3; the page cites
# it as sources.mfu in the UI catalogs).


@dataclass(frozen=True)
class Throughput:
    """Peak FLOP/s for a device and dtype, and where the figure comes from (`source` is an i18n key suffix)."""

    flops: float | None
    source: str  # datasheet | configured | measured | unknown
    detail: str = ''


def gpu_peak(name: str, dtype: str) -> Throughput:
    """A GPU's dense datasheet peak for `dtype`, found by name in hardware.GPU_PEAK_TFLOPS."""
    for key, table in hardware.GPU_PEAK_TFLOPS.items():  # most specific names come first
        if key in name and table.get(dtype):
            return Throughput(table[dtype] * 1e12, 'datasheet', f'{key} {dtype}: {table[dtype]:g} TFLOP/s')
    return Throughput(None, 'unknown', name)


def cpu_peak(dtype: str) -> Throughput:
    """This CPU's peak on all the cores training would use: configured, or hardware.cpu_peak's measurement (the
    same figure training divides by for MFU; imports torch); unknown while its measurements disagree."""
    from nanogpt_lab.cpu_threads import usable_cores

    peak = hardware.cpu_peak(dtype, usable_cores())
    if peak.source == 'configured':
        return Throughput(peak.flops, 'configured', f'{hardware.ENV_CPU_PEAK}={os.environ[hardware.ENV_CPU_PEAK]}')
    if peak.flops is None or peak.per_core is None:
        return Throughput(None, 'unknown', f'CPU {dtype}')
    spread = f' · ±{100 * peak.spread:.0f}%' if peak.spread is not None else ''
    return Throughput(peak.flops, 'measured', f'{peak.threads} × {peak.per_core / 1e9:.1f} GFLOP/s · {dtype}{spread}')


def seconds_per_iter(flops_per_token: float, tokens_per_iter: int, peak: float, mfu: float) -> float:
    """Time for one optimizer step at a given utilisation: FLOPs needed ÷ FLOP/s achieved."""
    return flops_per_token * tokens_per_iter / (peak * mfu)


# OpenWebText as nanoGPT documents it (data/openwebtext/prepare.py and readme.md at commit 3adf61e).
OPENWEBTEXT = {
    'documents': 8_013_769,
    'download_bytes': 54 * 10**9,  # "takes 54GB in huggingface .cache dir"
    'train_tokens': 9_035_582_198,
    'val_tokens': 4_434_897,
    'train_bin_bytes': 17 * 10**9,  # "train.bin is ~17GB"
}


@lru_cache(maxsize=1)  # measured once per process
def bpe_tokens_per_second(sample: str, repeats: int = 3) -> float:
    """GPT-2 BPE encoding speed of one thread on this CPU, measured with tiktoken on `sample` (tokens/s)."""
    from nanogpt_lab.tokenizers import GPT2Tokenizer

    tok = GPT2Tokenizer()
    best, n = float('inf'), 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = len(tok.encode_ordinary(sample))
        best = min(best, time.perf_counter() - t0)
    return n / best


def prepare_processes() -> int:
    """How many tokenizer processes `prepare openwebtext` starts here for a corpus of OpenWebText's size."""
    from nanogpt_lab.data.openwebtext import worker_counts  # the engine's own rule, not a copy of it

    return worker_counts(0, OPENWEBTEXT['documents'])[0]
