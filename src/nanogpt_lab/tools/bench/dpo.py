"""`nanogpt-lab bench dpo`: what DPO on lab-preferences does to `bench sft`'s assistant, and what it costs.

    nanogpt-lab bench dpo [--from=DIR] [--input=input.txt] [--threads=2] [--keep=DIR] [--dpo_iters=N] [--prompts=N]
                          [--max_conversations=1000]

`--from` names a folder holding base/, sft/ and data/ (what `--keep=DIR` of an earlier run kept); without it, bench
sft's chain runs first (untimed here; `--input` is its tiny Shakespeare file, for an offline machine). Then, each a
fresh `nanogpt-lab` process timed as a user runs it: `prepare lab-preferences --from=SFT` → `dpo` with the DPO preset.
Beside them, for memory: the SFT step again (same preset, as many iterations as DPO ran), so the two peaks come from the
same machine and the same hour. Before and after, the held-out tasks per kind (English and Chinese apart) and the style
preference's win rate (answers in the language asked), scored with the report card's own functions. Load averages go
with every step: on a shared machine they say how far to trust a time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nanogpt_lab.config import DPO_PRESET, ConfigError, parse_overrides
from nanogpt_lab.tools.bench import sft as bench_sft

DEFAULTS: dict[str, Any] = {
    'from': '',
    'input': '',
    'threads': 2,
    'keep': '',
    'dpo_iters': 0,
    'prompts': 0,
    'max_conversations': 1000,
}  # 0: the DPO preset's iterations, lab-preferences' prompts
TARGET_MINUTES, TARGET_MEMORY_RATIO = 5.0, 1.5
WEAKEST = 3  # task kinds compared: the ones SFT answered worst


def steps(work: Path, sft: Path, opts: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The two timed DPO steps and the SFT step measured beside them for memory (as many iterations as DPO's)."""
    data, dpo = work / 'data', work / 'dpo'
    common = ['--device=cpu', '--compile=False', f'--threads={opts["threads"]}']
    iters = int(opts['dpo_iters']) or DPO_PRESET['max_iters']
    prompts = [f'--prompts={opts["prompts"]}'] if int(opts['prompts']) else []
    return [
        ('prepare lab-preferences', ['prepare', 'lab-preferences', f'--from={sft}', f'--data_dir={data}',
                                     '--device=cpu', *prompts]),
        ('dpo', ['dpo', f'--init_from={sft}', '--dataset=lab-preferences', f'--data_dir={data}', f'--out_dir={dpo}',
                 f'--max_iters={iters}', *common]),
        ('sft (memory baseline)', ['sft', f'--init_from={work / "base"}', '--dataset=lab-tasks', f'--data_dir={data}',
                                   f'--out_dir={work / "sft-memory"}', f'--max_iters={iters}', *common]),
    ]  # fmt: skip


def run_lab(args: list[str], cwd: Path) -> tuple[float, int, tuple[float, float]]:
    """Run `nanogpt-lab ARGS` in a fresh process as a user does; (wall seconds, peak RSS bytes, load before / after).

    The peak is the process's own maximum resident set (wait4's rusage), so each step is measured alone.
    """
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, '-m', 'nanogpt_lab.cli', *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    output = proc.stdout.read() if proc.stdout else ''
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f'nanogpt-lab {" ".join(args)} failed ({proc.returncode}):\n{output[-3000:]}')
    peak = usage.ru_maxrss * (1 if sys.platform == 'darwin' else 1024)  # bytes on macOS, KiB on Linux
    return wall, peak, (load0, os.getloadavg()[0])


def scores(run: Path, data: Path, limit: int) -> dict[str, Any]:
    """Held-out exact match per language and kind, and the style win rate, as the report card scores them."""
    from nanogpt_lab.alignment.conversations import read_conversations
    from nanogpt_lab.evaluation.card import score_tasks
    from nanogpt_lab.inference.loader import open_model

    model, tok, _ = open_model('resume', str(run))
    return score_tasks(model.eval(), tok, read_conversations(data / 'lab-tasks', 'val')[:limit])


def _kinds(s: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(correct, total) per kind over both languages."""
    out: dict[str, tuple[int, int]] = {}
    for column in s['tasks'].values():
        for kind, k in column['kinds'].items():
            c, t = out.get(kind, (0, 0))
            out[kind] = (c + k['correct'], t + k['total'])
    return out


def report(rows: list[dict[str, Any]], before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The markdown for docs/benchmarks.md: the weakest kinds and the style win rate before and after, time, memory."""
    b, a = _kinds(before), _kinds(after)
    pct = {k: (100 * b[k][0] / b[k][1], 100 * a[k][0] / a[k][1]) for k in b}
    weakest = sorted(pct, key=lambda k: pct[k][0])[:WEAKEST]
    lines = ['', '| task kind (held out) | after SFT | after DPO | change |', '|---|---:|---:|---:|']
    for kind in sorted(pct, key=lambda k: pct[k][0]):
        mark = ' (weakest)' if kind in weakest else ''
        s, d = pct[kind]
        lines.append(f'| {kind}{mark} | {s:.1f}% | {d:.1f}% | {d - s:+.1f} |')
    total_b = 100 * sum(c for c, _ in b.values()) / sum(t for _, t in b.values())
    total_a = 100 * sum(c for c, _ in a.values()) / sum(t for _, t in a.values())
    lines.append(f'| **all** | **{total_b:.1f}%** | **{total_a:.1f}%** | **{total_a - total_b:+.1f}** |')
    sb, sa = before['style']['win_rate'], after['style']['win_rate']
    minutes = sum(r['wall_s'] for r in rows[:2]) / 60
    ratio = rows[1]['peak_bytes'] / rows[2]['peak_bytes']
    lines += [
        '',
        f'- style preference (answer in the script asked), win rate on {after["style"]["answers"]} held-out answers: '
        f'{100 * sb:.1f}% → {100 * sa:.1f}% ({100 * (sa - sb):+.1f} points)',
        f'- weakest kinds after SFT ({", ".join(weakest)}): '
        + ', '.join(f'{k} {pct[k][1] - pct[k][0]:+.1f}' for k in weakest)
        + ' points',
        f'- wall time, prepare lab-preferences + dpo: **{minutes:.1f} min** (target ≤ {TARGET_MINUTES:.0f}: '
        f'{"met" if minutes <= TARGET_MINUTES else "missed"})',
        f'- peak memory (max RSS): dpo {rows[1]["peak_bytes"] / 2**20:.0f} MiB, sft '
        f'{rows[2]["peak_bytes"] / 2**20:.0f} MiB: **{ratio:.2f}×** '
        f'(target < {TARGET_MEMORY_RATIO}: {"met" if ratio < TARGET_MEMORY_RATIO else "missed"})',
    ]
    return lines


def main(args: list[str]) -> int:
    """Run (or reuse) bench sft's chain, then the DPO steps; print the markdown."""
    files, flags = parse_overrides(args)
    unknown = sorted(set(flags) - set(DEFAULTS)) + files
    if unknown:
        raise ConfigError('cli.bench_option', key=unknown[0], suite='dpo', allowed=', '.join(DEFAULTS))
    opts = {**DEFAULTS, **flags}
    threads = int(opts['threads'])
    from nanogpt_lab import cpu_threads

    cpu_threads.configure(threads)  # as `nanogpt-lab chat` does: threads and OpenMP waiting, before torch loads
    import torch

    with tempfile.TemporaryDirectory(prefix='bench-dpo-') as tmp:
        work = Path(tmp)
        if opts['from']:
            for name in ('base', 'sft', 'data'):
                shutil.copytree(Path(str(opts['from'])) / name, work / name)
        else:
            print('bench dpo: running bench sft first (not timed here)\n', flush=True)
            print('| step | wall s | load before / after |\n|---|---:|---|', flush=True)
            bench_sft.chain({**bench_sft.DEFAULTS, 'threads': threads, 'input': opts['input']}, work)
        print(f'\nbench dpo: {os.cpu_count()} CPUs, {threads} threads, torch {torch.__version__}\n', flush=True)
        before = scores(work / 'sft', work / 'data', int(opts['max_conversations']))
        print('| step | wall s | peak MiB | load before / after |\n|---|---:|---:|---|', flush=True)
        rows = []
        for name, argv in steps(work, work / 'sft', opts):
            wall, peak, load = run_lab(argv, work)
            rows.append({'step': name, 'wall_s': wall, 'peak_bytes': peak, 'load': load})
            print(f'| {name} | {wall:.1f} | {peak / 2**20:.0f} | {load[0]:.1f} / {load[1]:.1f} |', flush=True)
        after = scores(work / 'dpo', work / 'data', int(opts['max_conversations']))
        print('\n'.join(report(rows, before, after)), flush=True)
        if opts['keep']:
            shutil.copytree(work, Path(str(opts['keep'])), dirs_exist_ok=True)
    return 0


if __name__ == '__main__':  # how a bench job runs it (jobs.specs.BENCH_PROGRAMS)
    raise SystemExit(main(sys.argv[1:]))
