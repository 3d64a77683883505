"""`nanogpt-lab bench sft`: from tiny Shakespeare to an assistant on this CPU, timed the way a user runs it.

    nanogpt-lab bench sft [--input=input.txt] [--threads=2] [--recipe=config/train_shakespeare_char_cpu.py]
                          [--sft_iters=N] [--chat_prompts=40] [--max_conversations=1000] [--device=cpu]
                          [--json=FILE]

The chain, each step a fresh `nanogpt-lab` process: `prepare shakespeare_char` → `train` the CPU recipe →
`prepare lab-tasks` → `sft` with the SFT preset → `eval`. Wall time counts every step, imports included (the target
on a 2-core CPU: ≥ 90% held-out exact match in ≤ 10 minutes). Beside it, and outside the timed chain: the same
held-out tasks answered by the pretrained model with the template attached and nothing learned (≤ 5% expected),
and the chat speed of the fine-tuned model (time to first token, tokens per second, KV cache, `threads` threads).
The header names the machine, commit and time; every step prints the CPU threads its process chose (its own log
line) and the load average before and after it; the last line says whether the machine was quiet or by how much it
was shared, so a time measured under load is never mistaken for a quiet one. `--device=cuda` runs the computing
steps and both side measurements there (tools/gpu_check.sh does); `--json=FILE` writes the figures as well.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nanogpt_lab.config import ConfigError, parse_overrides
from nanogpt_lab.fileio import atomic_write_text
from nanogpt_lab.revision import git_state
from nanogpt_lab.tools.bench.train import RECIPE

DEFAULTS: dict[str, Any] = {
    'input': '', 'threads': 2, 'recipe': str(RECIPE), 'sft_iters': 0, 'chat_prompts': 40, 'max_conversations': 1000,
    'device': 'cpu', 'json': '',
}  # fmt: skip
TARGET_ACCURACY, TARGET_WALL_S, BASE_CEILING = 0.90, 600.0, 0.05
# the environment as the user gave it, before main() lets cpu_threads set OMP_* for this process's own measurements:
# each step's process then chooses its threads and waiting itself, as it does for a user
USER_ENV = dict(os.environ)
THREADS_LINE = re.compile(r'CPU: (\d+ thread\(s\)[^\n]*)')  # the log line of cpu_threads' choice (messages/en.json)


def _lab(args: list[str], cwd: Path) -> tuple[float, tuple[float, float], str]:
    """Run `nanogpt-lab ARGS` in a fresh process: wall seconds, load before / after, its CPU threads log line."""
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    # as a user runs it: no OMP_* variables; the computing steps get --threads, prepare chooses as the CLI does
    cmd = [sys.executable, '-m', 'nanogpt_lab.cli', *args]
    proc = subprocess.run(cmd, cwd=cwd, env=USER_ENV, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f'nanogpt-lab {" ".join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}')
    found = THREADS_LINE.search(proc.stdout + proc.stderr)
    return wall, (load0, os.getloadavg()[0]), found.group(1).strip() if found else '-'


def _input(opts: dict[str, Any]) -> list[str]:
    """`--input FILE` for prepare when given (offline), else the workspace's cached copy, else the download."""
    from nanogpt_lab.data import dataset_dir

    given = opts['input'] or dataset_dir('shakespeare_char') / 'input.txt'
    return [f'--input={given}'] if Path(given).is_file() else []


def chain(opts: dict[str, Any], work: Path) -> list[dict[str, Any]]:
    """The five timed steps; each row: step, command, wall seconds, load before/after, CPU threads."""
    threads, data, device = int(opts['threads']), work / 'data', str(opts['device'])
    n = opts['sft_iters']
    sft_iters = [f'--max_iters={n}', f'--lr_decay_iters={n}'] if n else []
    steps = [
        ('prepare', ['prepare', 'shakespeare_char', *_input(opts), f'--data_dir={data}']),
        ('pretrain', ['train', opts['recipe'], f'--data_dir={data}', f'--out_dir={work / "base"}',
                      f'--device={device}', f'--threads={threads}']),
        ('prepare lab-tasks', ['prepare', 'lab-tasks', f'--data_dir={data}']),
        ('sft', ['sft', f'--init_from={work / "base"}', '--dataset=lab-tasks', f'--data_dir={data}',
                 f'--out_dir={work / "sft"}', f'--device={device}', '--compile=False', f'--threads={threads}',
                 *sft_iters]),
        ('eval', ['eval', f'--out_dir={work / "sft"}', '--dataset=lab-tasks', f'--data_dir={data}',
                  f'--device={device}', f'--threads={threads}', f'--max_conversations={opts["max_conversations"]}']),
    ]  # fmt: skip
    rows = []
    for name, args in steps:
        wall, load, cpu = _lab(args, work)
        rows.append({'step': name, 'command': 'nanogpt-lab ' + ' '.join(args), 'wall_s': wall, 'load': load})
        print(f'| {name} | {wall:.1f} | {load[0]:.1f} / {load[1]:.1f} | {cpu} |', flush=True)
    return rows


def base_accuracy(work: Path, limit: int, device: str = 'cpu') -> dict[str, Any]:
    """Exact match of the pretrained model, template attached with mean rows, nothing fine-tuned."""
    from nanogpt_lab.alignment.conversations import read_conversations
    from nanogpt_lab.alignment.embeddings import attach_template
    from nanogpt_lab.alignment.packed import needed_chars
    from nanogpt_lab.alignment.template import chat_tokenizer_for
    from nanogpt_lab.evaluation.tasks import exact_match
    from nanogpt_lab.inference.loader import open_model

    model, base, _ = open_model('resume', str(work / 'base'))
    conversations = work / 'data' / 'lab-tasks'
    tok = chat_tokenizer_for(base, needed_chars(conversations))
    attach_template(model, tok, base.vocab_size)
    return exact_match(model.to(device).eval(), tok, read_conversations(conversations, 'val')[:limit])


def chat_speed(work: Path, prompts: int, device: str = 'cpu') -> dict[str, float]:
    """Time to first token and tokens per second of the fine-tuned model answering held-out prompts (KV cache)."""
    from nanogpt_lab.alignment.conversations import read_conversations
    from nanogpt_lab.config import ChatConfig
    from nanogpt_lab.inference.chat import chat_stream
    from nanogpt_lab.inference.loader import open_model

    model, tok, _ = open_model('resume', str(work / 'sft'))
    model.to(device).eval()
    settings = ChatConfig().sampling()  # what `nanogpt-lab chat` samples with
    first, rates = [], []
    for conv in read_conversations(work / 'data' / 'lab-tasks', 'val')[:prompts]:
        t0 = time.perf_counter()
        times = [time.perf_counter() - t0 for _ in chat_stream(model, tok, conv['messages'][:-1], settings, 64)]
        first.append(times[0])
        if len(times) > 1:
            rates.append((len(times) - 1) / (times[-1] - times[0]))
    return {'ttft_ms': 1000 * statistics.median(first), 'ttft_ms_max': 1000 * max(first),
            'tokens_per_s': statistics.median(rates) if rates else 0.0}  # fmt: skip


def figures(rows: list[dict[str, Any]], work: Path, base: dict[str, Any], speed: dict[str, float]) -> dict[str, Any]:
    """Everything measured, as `--json` writes it: the steps, accuracy per kind before and after, the chat speed."""
    sft = json.loads((work / 'sft' / 'report.json').read_text(encoding='utf-8'))['tasks']['lab-tasks']
    return {'steps': rows, 'wall_s': sum(r['wall_s'] for r in rows), 'conversations': sft['conversations'],
            'accuracy': sft['accuracy'], 'base_accuracy': base['accuracy'],
            'kinds': {kind: {'sft': k['accuracy'], 'base': base['kinds'][kind]['accuracy']}
                      for kind, k in sft['kinds'].items()},
            'chat': speed}  # fmt: skip


def report(f: dict[str, Any], threads: int) -> list[str]:
    """The markdown docs/benchmarks.md holds: accuracy per kind before and after, wall time against the targets."""
    wall, speed, accuracy, base = f['wall_s'], f['chat'], f['accuracy'], f['base_accuracy']
    lines = ['', '| task kind | pretrained only | after SFT |', '|---|---:|---:|']
    for kind, k in f['kinds'].items():
        lines.append(f'| {kind} | {100 * k["base"]:.1f}% | {100 * k["sft"]:.1f}% |')
    lines += [
        f'| **all ({f["conversations"]} held-out)** | **{100 * base:.1f}%** | **{100 * accuracy:.1f}%** |',
        '',
        f'- wall time, everything included: **{wall:.0f} s** (target ≤ {TARGET_WALL_S:.0f} s: '
        f'{"met" if wall <= TARGET_WALL_S else "missed"}); held-out exact match **{100 * accuracy:.1f}%** '
        f'(target ≥ {100 * TARGET_ACCURACY:.0f}%: {"met" if accuracy >= TARGET_ACCURACY else "missed"}); '
        f'pretrained only {100 * base:.1f}% (≤ {100 * BASE_CEILING:.0f}%: '
        f'{"met" if base <= BASE_CEILING else "missed"})',
        f'- chat: time to first token {speed["ttft_ms"]:.1f} ms median ({speed["ttft_ms_max"]:.1f} ms worst), '
        f'{speed["tokens_per_s"]:.0f} tokens/s median (targets ≤ 100 ms, ≥ 200 tokens/s)',
        conditions(f['steps'], threads),
    ]
    return lines


def conditions(rows: list[dict[str, Any]], threads: int) -> str:
    """Quiet or shared: the 1-minute load around the steps beside the threads the chain itself ran."""
    loads = [x for r in rows for x in r['load']]
    peak = max(loads)
    verdict = 'quiet' if peak <= threads + 0.5 else f'measured under load {peak:.1f}: not a final figure'
    return (f'- conditions: load average (1 min) {min(loads):.1f}–{peak:.1f} around the steps, of which up to '
            f'{threads} is the chain\'s own threads: **{verdict}**')  # fmt: skip


def machine(threads: int, device: str = 'cpu') -> str:
    """One line naming where and when this ran, so a figure copied into docs keeps its conditions."""
    import torch

    from nanogpt_lab.hardware import cpu_model

    git = git_state()
    commit = (git['commit'] or 'unknown')[:7] + (' with uncommitted changes' if git['dirty'] else '')
    load = ', '.join(f'{x:.2f}' for x in os.getloadavg())
    gpu = f'{torch.cuda.get_device_name(device)}, ' if device.startswith('cuda') else ''
    return (f'bench sft: {gpu}{cpu_model()}, {os.cpu_count()} CPUs, {threads} threads, torch {torch.__version__}, '
            f'commit {commit}, {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, load average {load}')  # fmt: skip


def main(args: list[str]) -> int:
    """Run the chain, then the two side measurements, and print the markdown."""
    files, flags = parse_overrides(args)
    unknown = sorted(set(flags) - set(DEFAULTS)) + files
    if unknown:
        raise ConfigError('cli.bench_option', key=unknown[0], suite='sft', allowed=', '.join(DEFAULTS))
    opts = {**DEFAULTS, **flags}
    from nanogpt_lab import cpu_threads

    cpu_threads.configure(int(opts['threads']))  # as `nanogpt-lab chat` does: threads and OpenMP waiting, pre-torch
    with tempfile.TemporaryDirectory(prefix='bench-sft-') as tmp:
        work = Path(tmp)
        print((header := machine(int(opts['threads']), str(opts['device']))) + '\n', flush=True)
        print('| step | wall s | load before / after | CPU threads |\n|---|---:|---|---|', flush=True)
        rows = chain(opts, work)
        device = str(opts['device'])
        base = base_accuracy(work, int(opts['max_conversations']), device)
        found = figures(rows, work, base, chat_speed(work, int(opts['chat_prompts']), device))
        print('\n'.join(report(found, int(opts['threads']))), flush=True)
    if opts['json']:
        found['machine'] = header
        atomic_write_text(Path(str(opts['json'])), json.dumps(found, indent=2))
    return 0


if __name__ == '__main__':  # how a bench job runs it (jobs.specs.BENCH_PROGRAMS)
    raise SystemExit(main(sys.argv[1:]))
