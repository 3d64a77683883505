"""The GPU check: every CUDA path of the lab, run once as a user runs it, on the first GPU the project gets.

    tools/gpu_check.sh [--dry-run] [--out=DIR] [--steps=30]

No GPU has been lent to this project yet, so bf16 autocast, float16 with GradScaler, torch.compile on CUDA, nccl
DDP and the CUDA memory figures have never run. This runs each once, in fresh `nanogpt-lab` processes, in under
8 minutes on one H100:

1. GPT-2 124M (block 1024, 16 × 8 × 1024 tokens per step), bfloat16, compiled: tokens/s, and MFU against
   989 TFLOP/s (H100 SXM dense bf16; the target is ≥ 45%, nanoGPT reached ~37% on an A100);
2. the same model in float16 with GradScaler for a few steps: finite losses, a loss scale kept in ckpt.pt;
3. DDP with nccl on every visible GPU (world size 1 on one GPU);
4. `nanogpt-lab bench sample --device=cuda` (KV cache against nanoGPT's method);
5. the stage 7 SFT benchmark on CUDA, where `nanogpt-lab bench sft` exists.

Throughput does not depend on what the tokens say, so the data is uniform random GPT-2 ids (no download). It
writes gpu_check.json and gpu_check.md into --out. `--dry-run` needs no GPU: it imports everything the checks use,
validates every command's arguments and prints the plan.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.config import ConfigError, parse_overrides
from nanogpt_lab.fileio import atomic_write_text

H100_BF16 = 989e12  # dense bf16 FLOP/s of an H100 SXM (NVIDIA datasheet), the figure the issue measures against
GPT2 = dict(model='gpt2', block_size=1024, dropout=0.0, bias=True, dataset='random_bpe', eval_interval=10**6,
            eval_iters=1, log_interval=1, learning_rate=6e-4, warmup_iters=5, device='cuda')  # fmt: skip
CHECKS: dict[str, dict[str, Any]] = {
    'bf16_compile': {**GPT2, 'batch_size': 16, 'gradient_accumulation_steps': 8, 'dtype': 'bfloat16', 'compile': True},
    'fp16_scaler': {
        **GPT2,
        'batch_size': 8,
        'gradient_accumulation_steps': 1,
        'dtype': 'float16',
        'compile': False,
        'always_save_checkpoint': True,
    },  # the loss scale is read back from ckpt.pt
    'ddp_nccl': {**GPT2, 'batch_size': 8, 'dtype': 'bfloat16', 'compile': False, 'backend': 'nccl'},
}
TITLES = {
    'bf16_compile': 'GPT-2 124M, bf16, torch.compile',
    'fp16_scaler': 'GPT-2 124M, float16 + GradScaler',
    'ddp_nccl': 'DDP, nccl, every visible GPU',
    'bench_sample': '`bench sample --device=cuda`',
    'bench_sft': '`bench sft --device=cuda`',
}
DEFAULTS = {'dry_run': False, 'out': None, 'steps': 30, 'timeout': 300}  # timeout: per check, in seconds
WARMUP_STEPS = 5  # compiling and the allocator settle in these; throughput is the median after them


@dataclass
class Check:
    """One check's outcome, as gpu_check.json holds it."""

    name: str
    status: str = 'not run'  # ok | failed | skipped
    seconds: float = 0.0
    command: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    detail: str = ''


def train_flags(opts: dict[str, Any], data_dir: Path, out: Path, gpus: int) -> dict[str, list[str]]:
    """Each training check's `--key=value` flags."""
    steps = int(opts['steps'])
    flags = {}
    for name, values in CHECKS.items():
        values = {**values, 'data_dir': data_dir, 'out_dir': out / name}
        values['max_iters'] = steps if name == 'bf16_compile' else max(WARMUP_STEPS + 5, steps // 3)
        if name == 'ddp_nccl':
            values['gradient_accumulation_steps'] = 2 * gpus
        flags[name] = [f'--{k}={v}' for k, v in values.items()]
    return flags


def plan(flags: dict[str, list[str]], out: Path, gpus: int) -> dict[str, list[str]]:
    """The command of every check, as a user would type it. DDP goes through torchrun even on one GPU, so the nccl
    process group is really built (`nanogpt-lab train --nproc_per_node=1` would train without it)."""
    lab = [sys.executable, '-m', 'nanogpt_lab']
    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={gpus}']
    commands = {name: [*(torchrun + lab[1:] if name == 'ddp_nccl' else lab), 'train', *f] for name, f in flags.items()}
    commands['bench_sample'] = [*lab, 'bench', 'sample', '--device=cuda', '--reps=2', f'--json={out / "sample.json"}']
    commands['bench_sft'] = [*lab, 'bench', 'sft', '--device=cuda', f'--json={out / "sft.json"}']
    return commands


def validate(flags: dict[str, list[str]], commands: dict[str, list[str]]) -> list[str]:
    """What the dry run checks: every module a check needs imports, and every command's arguments parse."""
    from nanogpt_lab.config import TrainConfig, from_args
    from nanogpt_lab.tools import bench

    for module in ('torch', 'torch.distributed.run', 'nanogpt_lab.training', 'nanogpt_lab.training.ddp'):
        importlib.import_module(module)
    for values in flags.values():
        from_args(TrainConfig, values)
    sample = importlib.import_module(bench.SUITES['sample'])
    unknown = set(parse_overrides(commands['bench_sample'][5:])[1]) - set(sample.DEFAULTS)
    if unknown:
        raise ConfigError('config.unknown_key', key=sorted(unknown)[0], valid=', '.join(sample.DEFAULTS))
    return [
        'bench sft: ' + ('present' if 'sft' in bench.SUITES else 'not built yet, will be skipped'),
        'triton (torch.compile on CUDA): ' + ('found' if importlib.util.find_spec('triton') else 'not installed here'),
    ]


def random_gpt2_data(folder: Path, train_tokens: int = 20_000_000) -> Path:
    """train.bin/val.bin of uniform random GPT-2 ids: enough for every check, written once."""
    import numpy as np

    target = folder / 'random_bpe'
    target.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (('train', train_tokens), ('val', 200_000)):
        rng.integers(0, 50257, n, dtype=np.uint16).tofile(target / f'{split}.bin')
    return folder


def _events(run: Path) -> list[dict[str, Any]]:
    path = run / 'events.jsonl'
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def train_figures(run: Path) -> dict[str, Any]:
    """Throughput, MFU (against the device's datasheet and against 989 TFLOP/s) and memory from a run's events."""
    from nanogpt_lab.config import ModelConfig
    from nanogpt_lab.model.sizes import flops_per_token

    events = _events(run)
    trains = [e for e in events if e['type'] == 'train']
    steady = trains[WARMUP_STEPS:] or trains
    if not steady:
        return {}
    rate = statistics.median(e['tokens_per_s'] for e in steady)
    resolved = json.loads((run / 'config.json').read_text())['resolved']
    shape = ModelConfig(**resolved['model_args'])
    world = resolved['world_size']
    mfus = [e['mfu'] for e in steady if e.get('mfu') is not None]
    losses = [e['loss'] for e in trains]
    return {
        'tokens_per_s': round(rate),
        'ms_per_iter': round(statistics.median(e['dt_ms'] for e in steady), 1),
        'mfu_vs_989': float(f'{flops_per_token(shape, shape.block_size) * rate / (H100_BF16 * world):.4g}'),
        'mfu_vs_datasheet': float(f'{statistics.median(mfus):.4g}') if mfus else None,
        'peak_memory_gib': round(max(e['mem_bytes'] or 0 for e in trains) / 2**30, 2),
        'first_step_s': round(trains[0]['dt_ms'] / 1000, 1),  # compiling, for the compiled run
        'losses_finite': all(isinstance(x, (int, float)) for x in losses),
        'world_size': world,
        'dtype': resolved['dtype'],
        'compiled': resolved['compile'],
    }


def _run(command: list[str], timeout: float) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        return done.returncode, (done.stdout + done.stderr)[-2000:], time.perf_counter() - t0
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'').decode(errors='replace') if isinstance(e.stdout, bytes) else (e.stdout or '')
        return 124, f'timed out after {timeout:.0f} s\n{out[-1500:]}', time.perf_counter() - t0


def run_train_check(check: Check, timeout: float) -> None:
    """A training check passes when the process succeeds and every logged loss is finite."""
    code, out, check.seconds = _run(check.command, timeout)
    run = Path(next(a.split('=', 1)[1] for a in check.command if a.startswith('--out_dir=')))
    check.figures = train_figures(run)
    if check.name == 'fp16_scaler' and (run / workspace.CKPT_NAME).is_file():
        import torch

        state = torch.load(run / workspace.CKPT_NAME, map_location='cpu', weights_only=True)['config']['resume_state']
        check.figures['grad_scale'] = float(state['grad_scale']) if 'grad_scale' in state else None
    ok = code == 0 and check.figures.get('losses_finite', False)
    if check.name == 'fp16_scaler':
        ok = ok and check.figures.get('grad_scale') is not None
    check.status, check.detail = ('ok', '') if ok else ('failed', out)


def run_bench_check(check: Check, timeout: float) -> None:
    """A bench check passes when the bench exits 0; its JSON becomes the figures."""
    from nanogpt_lab.tools import bench

    suite = check.command[check.command.index('bench') + 1]
    if suite not in bench.SUITES:
        check.status, check.detail = 'skipped', f'`nanogpt-lab bench {suite}` does not exist yet'
        return
    code, out, check.seconds = _run(check.command, timeout)
    result = Path(next(a.split('=', 1)[1] for a in check.command if a.startswith('--json=')))
    check.figures = json.loads(result.read_text()) if result.is_file() else {}
    check.status, check.detail = ('ok', '') if code == 0 else ('failed', out)


def machine() -> dict[str, Any]:
    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
    return {
        'gpus': gpus,
        'torch': torch.__version__,
        'cuda': torch.version.cuda,
        'nccl': '.'.join(map(str, torch.cuda.nccl.version())) if gpus else None,
        'commit': commit or 'unknown',
        'date': time.strftime('%Y-%m-%d %H:%M'),
    }


def _figures_cell(check: Check) -> str:
    f = check.figures
    if check.name in CHECKS and f:
        cells = [f'{f["tokens_per_s"]:,} tokens/s', f'{f["ms_per_iter"]:.0f} ms/iter', f'{f["peak_memory_gib"]} GiB']
        cells.insert(1, f'MFU {100 * f["mfu_vs_989"]:.1f}% of 989 TFLOP/s')
        if f.get('mfu_vs_datasheet') is not None:
            cells.insert(2, f'{100 * f["mfu_vs_datasheet"]:.1f}% of its datasheet')
        if check.name == 'bf16_compile':
            cells.append(f'first step (compiling) {f["first_step_s"]} s')
        if check.name == 'fp16_scaler':
            cells.append(f'loss scale {f.get("grad_scale")}')
        if check.name == 'ddp_nccl':
            cells.append(f'world size {f["world_size"]}')
        return ' · '.join(cells)
    if check.name == 'bench_sample' and f.get('speedup_vs_nanogpt_method'):
        median = f['median_tokens_per_s']
        return (
            f'KV cache {median["kv_cache"]:,.0f} tokens/s, {f["speedup_vs_nanogpt_method"]:.1f}× '
            f"nanoGPT's method ({median['nanogpt_method']:,.0f})"
        )
    return check.detail.strip().splitlines()[-1][:120] if check.detail.strip() else ''


def markdown(info: dict[str, Any], checks: list[Check]) -> str:
    gpus = ', '.join(info['gpus']) or 'no GPU'
    lines = [
        f'GPU check: {gpus}; torch {info["torch"]}, CUDA {info["cuda"]}, NCCL {info["nccl"]}; '
        f'commit {info["commit"]}; {info["date"]}',
        '',
        '| check | result | figures | seconds |',
        '|---|---|---|---:|',
    ]
    lines += [f'| {TITLES[c.name]} | {c.status} | {_figures_cell(c)} | {c.seconds:.0f} |' for c in checks]
    return '\n'.join(lines) + '\n'


def main(args: list[str]) -> int:
    """Run (or, with --dry-run, plan and validate) every check; write gpu_check.json and gpu_check.md."""
    files, flags = parse_overrides(a if a != '--dry-run' else '--dry_run=True' for a in args)
    unknown = sorted(set(flags) - set(DEFAULTS)) + files
    if unknown:
        raise ConfigError('config.unknown_key', key=unknown[0], valid=', '.join(DEFAULTS))
    opts = {**DEFAULTS, **flags}
    out = Path(opts['out'] or f'gpu-check-{time.strftime("%Y%m%d-%H%M")}').resolve()
    import torch

    gpus = torch.cuda.device_count()
    flags = train_flags(opts, out / 'data', out, max(1, gpus))
    commands = plan(flags, out, max(1, gpus))
    if opts['dry_run']:
        notes = validate(flags, commands)
        for name, command in commands.items():
            print(f'{TITLES[name]}:\n  {" ".join(command[2:])}')
        print('\n'.join(notes))
        print(f'gpu_check dry run ok: {len(commands)} checks planned, {gpus} GPU(s) here; nothing was run')
        return 0
    if not gpus:
        print('gpu_check: no CUDA GPU here (run with --dry-run to check the script on a CPU)', file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    random_gpt2_data(out / 'data')
    checks = [Check(name, command=command) for name, command in commands.items()]
    runners: dict[str, Callable[[Check, float], None]] = {name: run_train_check for name in CHECKS}
    for check in checks:
        print(f'{TITLES[check.name]} ...', flush=True)
        runners.get(check.name, run_bench_check)(check, float(opts['timeout']))
        print(f'  {check.status} in {check.seconds:.0f} s: {_figures_cell(check)}', flush=True)
    info = machine()
    report = {'machine': info, 'checks': [asdict(c) for c in checks]}
    atomic_write_text(out / 'gpu_check.json', json.dumps(report, indent=2) + '\n')
    atomic_write_text(out / 'gpu_check.md', markdown(info, checks))
    print(markdown(info, checks))
    print(f'written: {out / "gpu_check.json"}, {out / "gpu_check.md"}')
    return 0 if all(c.status in ('ok', 'skipped') for c in checks) else 1


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    raise SystemExit(main(sys.argv[1:]))
