"""`nanogpt-lab bench train`: training speed and time to quality on the CPU, side by side with nanoGPT's train.py.

    nanogpt-lab bench train --vs-nanogpt=PATH [--suite=speed|quality|recipe|compile|gpu|all] [--conditions=quiet,busy]
                            [--pairs=4] [--iters=80] [--iters_large=0] [--quality_pairs=3] [--recipe_rounds=2]
                            [--threads=0] [--data_dir=DIR] [--recipe=config/train_shakespeare_char_cpu.py]

Both programs run as their READMEs run them: fresh processes, the environment left as it is (no OMP_* set by the
bench; `--threads=N` sets OMP_NUM_THREADS=N for both), the same flags. Pairs alternate who goes first, and every
row records the load average before and after, since these machines are shared. Each condition runs in turn:
`quiet` is the machine as it is; `busy` adds one competing process that keeps one core busy
(`python -c "while True: pass"`, started by the bench and stopped after the condition).

speed: ms/iter (median of the iterations after the first 10), tokens/s and MFU of nanoGPT's README CPU "baby"
command (compile off), `--pairs` alternating pairs, the ratio per pair and their geometric mean (and, with
`--iters_large`, the 6/6/384 shakespeare-char config, one pair). quality: nanoGPT's README CPU command against the
lab's CPU recipe, wall time from launch to exit (imports, evaluations and checkpoints included), each checkpoint
scored with full_val_loss over the whole val.bin in 64-token windows. recipe: what each change of the recipe buys:
nanoGPT's README command under nanogpt-lab, then the recipe's changes added one at a time (`LADDER`, each rung with
the fewest steps measured to reach full val ≤ 1.898), the last rung the recipe itself; rounds alternate the order.
compile: torch.compile's compile time and
steady-state speed-up on the baby model (the figures behind `compile=auto`). gpu: GPT-2 124M, block 1024, bf16,
compiled, on one CUDA GPU (tools/gpu_check.sh runs it with the other CUDA checks). `all` runs the four CPU
suites. The output is the markdown that docs/benchmarks.md holds.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.config import ConfigError, parse_overrides
from nanogpt_lab.revision import REPO_ROOT
from nanogpt_lab.workspace import RUN_CONFIG_NAME

# nanoGPT's config/train_shakespeare_char.py, then its README's CPU flags ("baby" model)
CHAR_CONFIG = dict(
    eval_interval=250,
    eval_iters=200,
    log_interval=10,
    always_save_checkpoint=False,
    dataset='shakespeare_char',
    gradient_accumulation_steps=1,
    batch_size=64,
    block_size=256,
    n_layer=6,
    n_head=6,
    n_embd=384,
    dropout=0.2,
    learning_rate=1e-3,
    max_iters=5000,
    lr_decay_iters=5000,
    min_lr=1e-4,
    beta2=0.99,
    warmup_iters=100,
)
README_CPU = dict(
    device='cpu',
    compile=False,
    eval_iters=20,
    log_interval=1,
    block_size=64,
    batch_size=12,
    n_layer=4,
    n_head=4,
    n_embd=128,
    max_iters=2000,
    lr_decay_iters=2000,
    dropout=0.0,
)
SPEED = {'baby': {**CHAR_CONFIG, **README_CPU}, '6/6/384': {**CHAR_CONFIG, 'device': 'cpu', 'compile': False}}
RECIPE = REPO_ROOT / 'config' / 'train_shakespeare_char_cpu.py'  # the CPU recipe (bench sft's base too)
TARGET_VAL = 1.898
WARMUP_ITERS = 10  # left out of ms/iter: allocator, kernel selection, the first evaluation
COMPETITOR = [sys.executable, '-c', 'while True: pass']  # what keeps one core busy in the `busy` condition
CONDITIONS = ('quiet', 'busy')
# The recipe's changes, one at a time on top of nanoGPT's README CPU command (`--suite=recipe`); each rung keeps the
# rungs above it and runs the fewest steps measured to reach full val ≤ TARGET_VAL (docs/benchmarks.md).
LADDER: dict[str, dict[str, Any]] = {
    "nanoGPT's README CPU command (2000 steps)": {},
    '+ learning rate 4e-3, warmup 50 (1300 steps)': dict(
        learning_rate=4e-3, min_lr=4e-4, warmup_iters=50, max_iters=1300, lr_decay_iters=1300
    ),
    '+ 2 layers, evaluated at 0, 700, 1400 (1400 steps; the recipe before Muon)': dict(
        n_layer=2, max_iters=1400, lr_decay_iters=1400, eval_interval=700
    ),
}
RECIPE_RUNG = '+ Muon, batch 24, warmup-stable-decay: the recipe'


@dataclass
class Result:
    """One training process: how long it took, how fast it stepped, what it reached."""

    runner: str
    wall_s: float
    ms: list[float] = field(default_factory=list)  # per logged iteration, evaluations excluded
    tokens_per_iter: int = 0
    peak_rss: int = 0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    val: float | None = None  # full_val_loss of its checkpoint
    reported_val: float | None = None  # the run's own last estimate (eval_iters batches)
    threads: str = 'default'  # what the run used: torch's default, or what nanogpt-lab chose and why
    log: str = ''

    @property
    def ms_per_iter(self) -> float:
        return statistics.median(self.ms)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_iter / self.ms_per_iter * 1000


def _flags(values: dict[str, Any]) -> list[str]:
    return [f'--{k}={v}' for k, v in values.items()]


def _env(threads: int) -> dict[str, str]:
    """The environment as the user has it; `--threads=N` sets OMP_NUM_THREADS for both runners."""
    return {**os.environ, 'OMP_NUM_THREADS': str(threads)} if threads else dict(os.environ)


def environment() -> str:
    """The OpenMP and MKL variables both runners inherit, as the header shows them."""
    shown = [f'{k}={v}' for k, v in sorted(os.environ.items()) if k.startswith(('OMP_', 'GOMP_', 'KMP_', 'MKL_'))]
    return ', '.join(shown) or 'no OMP_* or MKL_* variables set'


@contextlib.contextmanager
def condition(name: str) -> Iterator[str]:
    """`quiet`: the machine as it is. `busy`: plus one process spinning on one core until the condition ends."""
    if name == 'quiet':
        yield 'the machine as it is'
        return
    proc = subprocess.Popen(COMPETITOR, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        time.sleep(1.0)  # let the scheduler see it
        yield f'one competing process keeps one core busy: `python -c "{COMPETITOR[2]}"` (pid {proc.pid})'
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _run(cmd: list[str], cwd: Path, threads: int, runner: str) -> Result:
    """Run a training process, polling its resident memory; raise with its output if it fails."""
    import psutil

    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=_env(threads), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = [0]

    def poll() -> None:
        with_ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                peak[0] = max(peak[0], with_ps.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    watcher.join()
    if proc.returncode:
        raise RuntimeError(f'{runner} failed ({proc.returncode}): {" ".join(cmd)}\n{out[-3000:]}')
    return Result(runner, wall, peak_rss=peak[0], load=(load0, os.getloadavg()[0]), log=out)


def run_ours(values: dict[str, Any], config_file: Path | None, out: Path, threads: int) -> Result:
    """`nanogpt-lab train [config] --key=value ...` in a fresh process; speed from its train events."""
    config = [str(config_file)] if config_file else []
    cmd = [
        sys.executable,
        '-m',
        'nanogpt_lab.cli',
        'train',
        *config,
        *_flags({**values, 'out_dir': out}),
    ]
    result = _run(cmd, out.parent, threads, 'nanogpt-lab')
    events = [json.loads(line) for line in (out / workspace.EVENTS_NAME).read_text().splitlines()]
    trains = [e for e in events if e['type'] == 'train']
    result.ms = [e['dt_ms'] for e in trains[WARMUP_ITERS:]] or [e['dt_ms'] for e in trains]
    result.reported_val = next((e['val_loss'] for e in reversed(events) if e['type'] == 'eval'), None)
    resolved = json.loads((out / RUN_CONFIG_NAME).read_text())['resolved']
    result.tokens_per_iter = resolved['tokens_per_iter']
    result.threads = str(resolved['threads'])
    return result


def nanogpt_copy(checkout: Path, data: Path, work: Path) -> Path:
    """A private copy of nanoGPT's scripts whose data/shakespeare_char is our prepared folder (same format)."""
    copy = work / 'nanogpt'
    copy.mkdir()
    for name in ('train.py', 'model.py', 'configurator.py'):
        shutil.copyfile(checkout / name, copy / name)
    shutil.copytree(checkout / 'config', copy / 'config')
    (copy / 'data').mkdir()
    (copy / 'data' / 'shakespeare_char').symlink_to(data)
    return copy


def run_nanogpt(copy: Path, values: dict[str, Any], out: Path, threads: int) -> Result:
    """`python train.py config/train_shakespeare_char.py --key=value ...`; speed from its `iter k: ... time` lines."""
    cmd = [sys.executable, 'train.py', 'config/train_shakespeare_char.py', *_flags({**values, 'out_dir': out})]
    result = _run(cmd, copy, threads, 'nanoGPT')
    merged = {**CHAR_CONFIG, **values}  # what train.py ends up with: the config file, then the flags
    pattern = r'^iter (\d+): loss [\d.]+, time ([\d.]+)ms'
    times = [(int(k), float(ms)) for k, ms in re.findall(pattern, result.log, re.M)]
    # its time for an iteration that evaluated includes the evaluation: leave those out, and the warm-up
    result.ms = [ms for k, ms in times[WARMUP_ITERS:] if k % int(merged['eval_interval'])] or [ms for _, ms in times]
    vals = re.findall(r'^step \d+: train loss [\d.]+, val loss ([\d.]+)', result.log, re.M)
    result.reported_val = float(vals[-1]) if vals else None
    result.tokens_per_iter = merged['batch_size'] * merged['block_size'] * merged['gradient_accumulation_steps']
    return result


def score(out: Path, val: Path) -> float:
    """full_val_loss of a run's checkpoint over the whole val.bin in 64-token windows (how 1.8982 was measured)."""
    from nanogpt_lab.evaluation.loss import full_val_loss
    from nanogpt_lab.model.checkpoint import load_checkpoint, model_from_checkpoint

    return full_val_loss(model_from_checkpoint(load_checkpoint(out)), val, 64)


def _mfu(values: dict[str, Any], tokens_per_s: float, threads: int) -> float | None:
    """The same formula for both runners: PaLM's FLOPs per token × tokens/s over this CPU's measured peak for the
    threads the run used (unknown while no trustworthy peak is known)."""
    from nanogpt_lab import hardware
    from nanogpt_lab.config import ModelConfig
    from nanogpt_lab.model.sizes import flops_per_token

    args = ModelConfig(**{k: values[k] for k in ('n_layer', 'n_head', 'n_embd', 'block_size')}, vocab_size=65)
    peak = hardware.cpu_peak('float32', threads).flops
    return flops_per_token(args, args.block_size) * tokens_per_s / peak if peak else None


def _threads(r: Result, threads: int) -> int:
    """Threads a run used: `--threads`, what nanogpt-lab recorded, else torch's default (one per core)."""
    from nanogpt_lab.cpu_threads import usable_cores

    return threads or (int(r.threads) if r.threads.isdigit() else usable_cores())


def _row(label: str, r: Result, values: dict[str, Any], threads: int) -> str:
    n = _threads(r, threads)
    mfu = _mfu(values, r.tokens_per_s, n)
    return (
        f'| {label} | {r.runner} | {r.ms_per_iter:.1f} | {r.tokens_per_s:,.0f} | '
        f'{"unknown" if mfu is None else f"{100 * mfu:.1f}%"} | {n} | {r.peak_rss / 2**20:,.0f} MiB | '
        f'{r.load[0]:.1f} / {r.load[1]:.1f} |'
    )


def geometric_mean(ratios: list[float]) -> float:
    return math.exp(sum(map(math.log, ratios)) / len(ratios))


def _summary(what: str, ratios: list[float], better: str) -> str:
    return (
        f'- {what}: **{geometric_mean(ratios):.2f}×** (geometric mean of {len(ratios)} alternating pairs: '
        f'{", ".join(f"{r:.2f}" for r in ratios)}; spread {min(ratios):.2f}–{max(ratios):.2f}; {better})'
    )


def _in_turn(i: int, runs: list[Callable[[], Result] | None]) -> Iterator[Result]:
    """Run the pair's runs (None: no baseline given), nanoGPT first in even pairs and ours first in odd ones."""
    for run in runs if i % 2 == 0 else runs[::-1]:
        if run is not None:
            yield run()


def speed_suite(opts: dict[str, Any], data: Path, work: Path, copy: Path | None) -> Iterator[str]:
    """Same flags, compile off, each condition in turn, alternating pairs: ms/iter, tokens/s, MFU, the ratio."""
    threads, pairs = int(opts['threads']), int(opts['pairs'])
    summary = []
    for cond in _conditions(opts):
        with condition(cond) as what:
            yield f'**{cond}** — {what}:'
            yield ''
            yield '| config, pair | runner | ms/iter | tokens/s | MFU | threads | peak RSS | load before / after |'
            yield '|---|---|---:|---:|---:|---:|---:|---|'
            for name, base in SPEED.items():
                iters = int(opts['iters']) if name == 'baby' else int(opts['iters_large'])
                if not iters:
                    continue
                values = {**base, 'max_iters': iters, 'eval_interval': 10**6, 'eval_iters': 1, 'log_interval': 1}
                label = f'{cond}-{name.replace("/", "-")}'
                ratios = []
                for i in range(pairs if name == 'baby' else 1):
                    results = {}
                    nano = partial(run_nanogpt, copy, values, work / f'n-{label}-{i}', threads) if copy else None
                    ours = partial(
                        run_ours, {**values, 'data_dir': data.parent}, None, work / f'o-{label}-{i}', threads
                    )
                    for r in _in_turn(i, [nano, ours]):
                        results[r.runner] = r
                        yield _row(f'{name}, {i + 1}', r, values, threads)
                    if 'nanoGPT' in results:
                        ratios.append(results['nanoGPT'].ms_per_iter / results['nanogpt-lab'].ms_per_iter)
                if ratios:
                    summary.append(
                        _summary(
                            f'{cond}, {name}: nanoGPT ms/iter ÷ nanogpt-lab ms/iter', ratios, '> 1: the lab is faster'
                        )
                    )
            yield ''
    yield from summary


def _conditions(opts: dict[str, Any]) -> list[str]:
    names = [c.strip() for c in str(opts['conditions']).split(',') if c.strip()]
    bad = [c for c in names if c not in CONDITIONS]
    if bad or not names:
        raise ConfigError('cli.bench_condition', key='conditions', value=','.join(bad), allowed=', '.join(CONDITIONS))
    return names


def _scored(result: Result, out: Path, val: Path, command: str) -> str:
    """Score a finished run's checkpoint and format its row."""
    result.val = score(out, val)
    reported = '-' if result.reported_val is None else f'{result.reported_val:.4f}'
    return (
        f'| {result.runner} | {command} | {result.wall_s:.1f} | {reported} | {result.val:.4f} | '
        f'{result.load[0]:.1f} / {result.load[1]:.1f} |'
    )


def quality_suite(opts: dict[str, Any], data: Path, work: Path, copy: Path | None) -> Iterator[str]:
    """nanoGPT's README CPU command against our recipe in alternating pairs, then ours with nanoGPT's exact flags."""
    threads, recipe, val = int(opts['threads']), Path(opts['recipe']), data / 'val.bin'
    readme = 'README CPU command (2000 iters)'
    conditions = _conditions({'conditions': opts['quality_conditions']})
    summary = []
    for cond in conditions:
        with condition(cond) as what:
            yield f'**{cond}** — {what}:'
            yield ''
            yield '| runner | command | wall s | its last eval (val) | full val loss | load before / after |'
            yield '|---|---|---:|---:|---:|---|'
            ratios = []
            for i in range(int(opts['quality_pairs'])):
                results = {}
                nano = partial(run_nanogpt, copy, README_CPU, work / f'qn-{cond}-{i}', threads) if copy else None
                ours = partial(run_ours, {'data_dir': data.parent}, recipe, work / f'qo-{cond}-{i}', threads)
                for r in _in_turn(i, [nano, ours]):
                    results[r.runner] = r
                    out = work / f'q{"n" if r.runner == "nanoGPT" else "o"}-{cond}-{i}'
                    yield _scored(r, out, val, readme if r.runner == 'nanoGPT' else recipe.name)
                if 'nanoGPT' in results:
                    ratios.append(results['nanogpt-lab'].wall_s / results['nanoGPT'].wall_s)
            same = run_ours({**CHAR_CONFIG, **README_CPU, 'data_dir': data.parent}, None, work / f'qs-{cond}', threads)
            yield _scored(same, work / f'qs-{cond}', val, readme)
            if ratios:
                summary.append(
                    _summary(
                        f'{cond}: time to full val ≤ {TARGET_VAL}, recipe wall time ÷ nanoGPT README command',
                        ratios,
                        'target ≤ 0.25',
                    )
                )
            yield ''
    yield from summary


def recipe_suite(opts: dict[str, Any], data: Path, work: Path) -> Iterator[str]:
    """Each rung of LADDER, then the recipe, in rounds that alternate the order: wall time and full val loss."""
    threads, recipe, val = int(opts['threads']), Path(opts['recipe']), data / 'val.bin'
    rungs: list[tuple[str, dict[str, Any], Path | None]] = [
        (label, {**CHAR_CONFIG, **README_CPU, **values}, None) for label, values in LADDER.items()
    ]
    rungs.append((f'{RECIPE_RUNG} ({recipe.name})', {}, recipe))
    yield '| round | change (cumulative) | wall s | ms/iter | its last eval (val) | full val loss | load before/after |'
    yield '|---|---|---:|---:|---:|---:|---|'
    walls: dict[str, list[float]] = {label: [] for label, _, _ in rungs}
    for i in range(int(opts['recipe_rounds'])):
        for k, (label, values, config) in enumerate(rungs) if i % 2 == 0 else reversed(list(enumerate(rungs))):
            out = work / f'rung-{k}-round-{i}'
            r = run_ours({**values, 'data_dir': data.parent}, config, out, threads)
            walls[label].append(r.wall_s)
            reported = '-' if r.reported_val is None else f'{r.reported_val:.4f}'
            yield (
                f'| {i + 1} | {label} | {r.wall_s:.1f} | {r.ms_per_iter:.1f} | {reported} | {score(out, val):.4f} | '
                f'{r.load[0]:.1f} / {r.load[1]:.1f} |'
            )
    yield ''
    base = statistics.median(walls[rungs[0][0]])
    for label, ts in walls.items():
        wall = statistics.median(ts)
        yield f'- {label}: median wall {wall:.1f} s = {wall / base:.2f}× the first rung'


def compile_probe(threads: int) -> dict[str, float]:
    """Eager and compiled ms per step of the baby model, and seconds until the first compiled step is done."""
    import torch

    from nanogpt_lab.config import ModelConfig
    from nanogpt_lab.model.gpt import GPT
    from nanogpt_lab.training.compute import time_steps

    torch.set_num_threads(threads)
    model = GPT(ModelConfig(n_layer=4, n_head=4, n_embd=128, block_size=64, vocab_size=65, bias=False))
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99), 'cpu')
    x = torch.randint(0, 65, (12, 64))

    def step(m: torch.nn.Module) -> None:
        _, loss = m(x, x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    eager = time_steps(lambda: step(model), n=50)
    compiled = torch.compile(model)
    t0 = time.perf_counter()
    step(compiled)
    compile_s = time.perf_counter() - t0
    fast = time_steps(lambda: step(compiled), n=50)
    return {'eager_ms': eager * 1000, 'compiled_ms': fast * 1000, 'compile_s': compile_s}


def compile_suite(opts: dict[str, Any], work: Path) -> Iterator[str]:
    """torch.compile in fresh processes: with an empty compile cache (a first run), then with it filled."""
    threads = int(opts['threads'])
    env = {**_env(threads), 'TORCHINDUCTOR_CACHE_DIR': str(work / 'inductor-cache')}
    probe = 'from nanogpt_lab.tools.bench.train import compile_probe'
    code = f'import json; {probe}; print(json.dumps(compile_probe({threads})))'
    yield '| model | compile cache | eager ms/step | compiled ms/step | speed-up | compile s | load |'
    yield '|---|---|---:|---:|---:|---:|---:|'
    for cache in ('empty', 'filled'):
        out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        yield (
            f'| baby 4/4/128, batch 12×64 | {cache} | {r["eager_ms"]:.1f} | {r["compiled_ms"]:.1f} | '
            f'{r["eager_ms"] / r["compiled_ms"]:.2f}× | {r["compile_s"]:.1f} | {os.getloadavg()[0]:.1f} |'
        )


# GPT-2 124M as nanoGPT's train_gpt2.py shapes it (block 1024), bf16, compiled; 16 × 8 × 1024 = 131,072 tokens/step
GPU_RUN = dict(dataset='random_bpe', model='gpt2', block_size=1024, batch_size=16, gradient_accumulation_steps=8,
               dtype='bfloat16', compile=True, device='cuda', eval_interval=10**6, eval_iters=1, log_interval=1,
               learning_rate=6e-4, warmup_iters=10)  # fmt: skip


def gpu_suite(opts: dict[str, Any], work: Path) -> list[str]:
    """GPT-2 124M, block 1024, bfloat16, compiled, on one CUDA GPU: tokens/s and MFU against the GPU's peak.

    Throughput does not depend on what the tokens say, so the data is uniform random GPT-2 ids (no download).
    """
    import numpy as np
    import torch

    if not torch.cuda.is_available():
        return ['no CUDA GPU here: the gpu suite needs one']
    folder = work / 'data' / 'random_bpe'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (('train', 20_000_000), ('val', 200_000)):
        rng.integers(0, 50257, n, dtype=np.uint16).tofile(folder / f'{split}.bin')
    values = {**GPU_RUN, 'data_dir': work / 'data', 'max_iters': int(opts['gpu_iters'])}
    result = run_ours(values, None, work / 'gpu', int(opts['threads']))
    events = [json.loads(line) for line in (work / 'gpu' / workspace.EVENTS_NAME).read_text().splitlines()]
    trains = [e for e in events if e['type'] == 'train'][5:]  # after compiling and warming up
    mfu = statistics.median(e['mfu'] for e in trains) if trains and trains[0]['mfu'] is not None else None
    name = torch.cuda.get_device_name()
    shown = '-' if mfu is None else f'{100 * mfu:.1f}%'
    memory = max(e['mem_bytes'] for e in trains) / 2**30
    return [
        '| GPU | model | tokens/iter | ms/iter | tokens/s | MFU | peak memory |',
        '|---|---|---:|---:|---:|---:|---:|',
        f'| {name} | GPT-2 124M, block 1024, bf16, compiled | {result.tokens_per_iter:,} | '
        f'{result.ms_per_iter:.0f} | {result.tokens_per_s:,.0f} | {shown} | {memory:.1f} GiB |',
    ]


DEFAULTS = {
    'suite': 'all',
    'conditions': 'quiet,busy',
    'quality_conditions': 'quiet',
    'threads': 0,
    'pairs': 4,
    'iters': 80,
    'iters_large': 0,
    'quality_pairs': 3,
    'recipe_rounds': 2,
    'vs_nanogpt': None,
    'data_dir': None,
    'recipe': str(RECIPE),
    'gpu_iters': 40,
}
CPU_SUITES = ('speed', 'quality', 'recipe', 'compile')  # what `all` runs
SUITES = (*CPU_SUITES, 'gpu')


def _header(opts: dict[str, Any], copy: Path | None) -> list[str]:
    import torch

    from nanogpt_lab import hardware

    commit = (
        subprocess.run(
            ['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, cwd=Path(__file__).parent
        ).stdout.strip()
        or 'unknown'
    )
    shown = ' '.join(f'--{k}={v}' for k, v in opts.items() if v is not None and k != 'recipe')
    return [
        f'`nanogpt-lab bench train {shown}`',
        '',
        f'- machine: {hardware.cpu_model()}, {hardware.cpu_threads()} CPUs; torch {torch.__version__}; '
        f'threads: {opts["threads"] or "as each program picks them"}; environment: {environment()}; '
        f'commit {commit}; {time.strftime("%Y-%m-%d %H:%M")}; load {os.getloadavg()[0]:.2f}',
        f'- baseline: {"nanoGPT at " + str(opts["vs_nanogpt"]) if copy else "none (no --vs-nanogpt)"}',
        '',
    ]


def main(args: list[str]) -> int:
    """Run the chosen suites and print their markdown tables."""
    from nanogpt_lab.data import dataset_dir

    files, flags = parse_overrides(a.replace('--vs-nanogpt', '--vs_nanogpt') for a in args)
    unknown = sorted(set(flags) - set(DEFAULTS)) + files
    if unknown:
        raise ConfigError('cli.bench_option', key=unknown[0], suite='train', allowed=', '.join(DEFAULTS))
    opts = {**DEFAULTS, **flags}
    if opts['suite'] not in (*SUITES, 'all'):
        raise ConfigError('cli.bench_train_suite', key='suite', value=repr(opts['suite']), allowed=', '.join(SUITES))
    suites = CPU_SUITES if opts['suite'] == 'all' else (opts['suite'],)
    _conditions(opts), _conditions({'conditions': opts['quality_conditions']})  # refuse a typo before minutes of runs
    data = dataset_dir('shakespeare_char', opts['data_dir'])
    if {'speed', 'quality', 'recipe'} & set(suites) and not (data / 'val.bin').is_file():
        raise ConfigError('cli.bench_needs_data', path=data)
    with tempfile.TemporaryDirectory(prefix='bench-train-') as tmp:
        work = Path(tmp)
        copy = nanogpt_copy(Path(opts['vs_nanogpt']), data, work) if opts['vs_nanogpt'] else None
        print('\n'.join(_header(opts, copy)), flush=True)
        for suite in suites:
            print(f'### {suite}\n', flush=True)
            lines = {
                'speed': lambda: speed_suite(opts, data, work, copy),
                'quality': lambda: quality_suite(opts, data, work, copy),
                'recipe': lambda: recipe_suite(opts, data, work),
                'compile': lambda: compile_suite(opts, work),
                'gpu': lambda: gpu_suite(opts, work),
            }[suite]()
            for line in lines:  # rows appear as each run ends: a suite takes minutes
                print(line, flush=True)
            print(flush=True)
    return 0


if __name__ == '__main__':  # how a bench job runs it (jobs.specs.BENCH_PROGRAMS)
    raise SystemExit(main(sys.argv[1:]))
