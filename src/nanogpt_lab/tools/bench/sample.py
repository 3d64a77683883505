"""`nanogpt-lab bench sample`: generation speed with the KV cache, without it, and with nanoGPT's method.

The model is nanoGPT's shakespeare-char shape (6 layers, 6 heads, 384 wide, block 256, vocab 65), randomly
initialised: speed does not depend on the weights. Each repetition runs every method once, in turn, so a
machine that gets busier or quieter affects all of them alike; threads and load are recorded with the figures.

    nanogpt-lab bench sample [--max_new_tokens=500] [--reps=3] [--threads=2] [--device=cpu] [--vs-nanogpt=PATH]
                             [--json=FILE]

`--vs-nanogpt PATH` also times `GPT.generate` from the model.py of a nanoGPT checkout at PATH, with the same
weights.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from nanogpt_lab.config import SAMPLE_TEMPERATURE, SAMPLE_TOP_K, ModelConfig, parse_overrides
from nanogpt_lab.errors import LabError
from nanogpt_lab.fileio import atomic_write_text
from nanogpt_lab.hardware import cpu_model
from nanogpt_lab.inference.sampler import generate_ids
from nanogpt_lab.model.gpt import GPT

SHAKESPEARE_CHAR = ModelConfig(n_layer=6, n_head=6, n_embd=384, block_size=256, vocab_size=65, dropout=0.0, bias=False)
TEMPERATURE, TOP_K = SAMPLE_TEMPERATURE, SAMPLE_TOP_K  # nanoGPT's sample.py defaults
DEFAULTS = {
    'max_new_tokens': 500,
    'reps': 3,
    'threads': 2,
    'seed': 1337,
    'vs_nanogpt': None,
    'json': None,
    'device': 'cpu',
}


@torch.no_grad()
def nanogpt_method(model: Any, idx: torch.Tensor, max_new_tokens: int, generator: torch.Generator) -> torch.Tensor:
    """The baseline: nanoGPT's generate loop, re-stated — crop to the last block_size tokens, full forward each step."""
    block = model.config.block_size
    for _ in range(max_new_tokens):
        idx_cond = idx if idx.size(1) <= block else idx[:, -block:]
        logits, _ = model(idx_cond)
        logits = logits[:, -1, :] / TEMPERATURE
        v, _ = torch.topk(logits, min(TOP_K, logits.size(-1)))
        logits[logits < v[:, [-1]]] = -float('inf')
        idx_next = torch.multinomial(F.softmax(logits, dim=-1), num_samples=1, generator=generator)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


def load_nanogpt_model(path: str, weights: dict[str, torch.Tensor], cfg: ModelConfig = SHAKESPEARE_CHAR) -> Any:
    """nanoGPT's own GPT from `path`/model.py, built in the benchmark's shape (or `cfg`) with the same weights."""
    file = Path(path).expanduser() / 'model.py'
    if not file.is_file():
        raise LabError('cli.bench_no_model_py', path=path)
    spec = importlib.util.spec_from_file_location('nanogpt_reference_model', file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = cfg.nanogpt_args()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its parameter count
        model = module.GPT(module.GPTConfig(**args))
    model.load_state_dict(weights, strict=False)  # their flash-less builds add mask buffers we do not have
    return model.eval()


def _methods(model: Any, ref: Any, n: int, seed: int) -> dict[str, Callable[[], torch.Tensor]]:
    device = next(model.parameters()).device
    idx = torch.zeros((1, 1), dtype=torch.long, device=device)  # one token, as nanoGPT's default start "\n"

    def gen() -> torch.Generator:
        return torch.Generator(device=device).manual_seed(seed)

    out = {
        'kv_cache': lambda: generate_ids(model, idx, n, TEMPERATURE, TOP_K, kv_cache=True, generator=gen()),
        'no_cache': lambda: generate_ids(model, idx, n, TEMPERATURE, TOP_K, kv_cache=False, generator=gen()),
        'nanogpt_method': lambda: nanogpt_method(model, idx, n, gen()),
    }
    if ref is not None:

        def reference() -> torch.Tensor:
            torch.manual_seed(seed)  # their generate draws from the global generator
            return ref.generate(idx, n, temperature=TEMPERATURE, top_k=TOP_K)

        out['nanogpt_model_py'] = reference
    return out


def run(
    max_new_tokens: int = 500,
    reps: int = 3,
    threads: int = 2,
    seed: int = 1337,
    vs_nanogpt: str | None = None,
    report: Callable[[str], None] = print,
    device: str = 'cpu',
) -> dict[str, Any]:
    """Time every method `reps` times, alternating; return tokens/s per run and the medians."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _timed(max_new_tokens, reps, seed, vs_nanogpt, report, device)
    finally:
        torch.set_num_threads(before)


def _timed(
    max_new_tokens: int, reps: int, seed: int, vs_nanogpt: str | None, report: Callable[[str], None], device: str
) -> dict:
    torch.manual_seed(seed)
    model = GPT(SHAKESPEARE_CHAR).eval()
    ref = load_nanogpt_model(vs_nanogpt, model.state_dict()).to(device) if vs_nanogpt else None
    model.to(device)
    methods = _methods(model, ref, max_new_tokens, seed)
    for fn in _methods(model, ref, 8, seed).values():
        fn()  # warm up kernels and allocator
    load_before = os.getloadavg()
    runs: dict[str, list[float]] = {name: [] for name in methods}
    for rep in range(reps):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            fn()
            if device.startswith('cuda'):
                torch.cuda.synchronize()  # queued kernels count
            dt = time.perf_counter() - t0
            runs[name].append(max_new_tokens / dt)
            report(f'rep {rep + 1}/{reps}  {name:<17} {max_new_tokens / dt:8.1f} tokens/s')
    median = {name: statistics.median(v) for name, v in runs.items()}
    return {
        'model': SHAKESPEARE_CHAR.nanogpt_args(),
        'max_new_tokens': max_new_tokens,
        'reps': reps,
        'tokens_per_s': runs,
        'median_tokens_per_s': median,
        'best_tokens_per_s': {name: max(v) for name, v in runs.items()},  # the least disturbed run of each
        'speedup_vs_nanogpt_method': median['kv_cache'] / median['nanogpt_method'],
        # each repetition's own ratio: the two runs sat side by side, so load changes between reps cancel out
        'speedup_per_rep': [a / b for a, b in zip(runs['kv_cache'], runs['nanogpt_method'], strict=True)],
        'machine': {
            'cpu': cpu_model(),
            'device': torch.cuda.get_device_name(device) if device.startswith('cuda') else 'cpu',
            'torch_threads': torch.get_num_threads(),
            'torch': torch.__version__,
            'python': platform.python_version(),
            'loadavg_before': load_before,
            'loadavg_after': os.getloadavg(),
        },
    }


def main(args: list[str]) -> int:
    """CLI entry: parse --key=value flags, run, print a table (and write JSON with --json=FILE)."""
    files, opts = parse_overrides(args)
    unknown = [k for k in opts if k not in DEFAULTS]
    if files or unknown:
        print(f'bench sample: unknown argument {(files + unknown)[0]!r}; options: --{" --".join(DEFAULTS)}')
        return 2
    o = {**DEFAULTS, **opts}
    device = str(o['device'])
    result = run(
        int(o['max_new_tokens']), int(o['reps']), int(o['threads']), int(o['seed']), o['vs_nanogpt'], device=device
    )
    m = result['machine']
    print(
        f'\n{result["max_new_tokens"]} new tokens, 6/6/384 block 256 char model, on {m["device"]}, '
        f'{m["torch_threads"]} CPU threads, load {m["loadavg_before"][0]:.2f} → {m["loadavg_after"][0]:.2f}, {m["cpu"]}'
    )
    print(f'{"method":<18}{"median tok/s":>14}{"best tok/s":>12}   runs')
    for name, v in result['tokens_per_s'].items():
        med, best = result['median_tokens_per_s'][name], result['best_tokens_per_s'][name]
        print(f'{name:<18}{med:>14.1f}{best:>12.1f}   {", ".join(f"{x:.1f}" for x in v)}')
    per_rep = ', '.join(f'{r:.1f}' for r in result['speedup_per_rep'])
    print(f'KV cache vs nanoGPT method: {result["speedup_vs_nanogpt_method"]:.1f}× (per repetition: {per_rep})')
    if o['json']:
        atomic_write_text(o['json'], json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':  # how a bench job runs it (jobs.specs.BENCH_PROGRAMS)
    import sys

    raise SystemExit(main(sys.argv[1:]))
