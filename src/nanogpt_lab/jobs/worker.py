"""Runs one job (prepare-data, train, ...) in the current process: which engine function each kind calls.

The job manager starts this module in a subprocess for each background job (`python -m nanogpt_lab.jobs.worker
RUN_DIR`, reading the validated config from RUN_DIR/job.json); the CLI calls `run_foreground` directly. Either
way the engine only sees a config, an `emit` callback and a `should_stop` check; `lifecycle.run_job` records it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.errors import LabError
from nanogpt_lab.events import Cancelled, Emit, emit_log
from nanogpt_lab.jobs import lifecycle
from nanogpt_lab.jobs.lifecycle import Runner, refuse_early, run_dir_for, stop_on_signals
from nanogpt_lab.messages import ref

log = logging.getLogger(__name__)


def _prepare_data(cfg: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.data import prepare

    return prepare(cfg, emit=emit)


def _train(cfg: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.training import train

    return train(cfg, emit=emit, should_stop=should_stop)


def _sft(cfg: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.alignment.sft import sft

    return sft(cfg, emit=emit, should_stop=should_stop)


def _prepare_conversations(cfg: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.alignment.prepare import prepare_conversations

    return prepare_conversations(cfg, emit=emit)


def _eval(cfg: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab import cpu_threads
    from nanogpt_lab.evaluation.report import evaluate_run, summary

    if (choice := cpu_threads.chosen()) is not None:  # the log says what the greedy answers ran on, as train's does
        emit_log(emit, 'log.cpu_threads.chosen', **choice.params)
    return summary(evaluate_run(cfg.out_dir, cfg.dataset, cfg.data_dir, cfg.device, emit, cfg.max_conversations))


def _dpo(cfg: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.alignment.dpo import dpo

    return dpo(cfg, emit=emit, should_stop=should_stop)


def _prepare_preferences(cfg: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.alignment.prepare import prepare_preferences

    return prepare_preferences(cfg, emit=emit)


def _report(cfg: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.evaluation.card import card_summary, report_card

    return card_summary(report_card(cfg.out_dir, cfg.data_dir, cfg.device, emit, cfg.max_conversations))


def _download_weights(params: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.data.hub import download_weights

    return download_weights(params['model'], emit=emit, should_stop=should_stop)


def _sample(cfg: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.inference import sample

    count = 0
    for i, text in enumerate(sample(cfg)):
        emit('sample', iter=None, index=i, text=text)
        count += 1
        if should_stop():
            raise Cancelled('job.sample_cancelled', count=count, total=cfg.num_samples)
    return {'samples': count}


def _export(params: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.export import export_run

    def phase(code: str) -> None:  # each step as it begins: a page shows it on the export's bar
        emit_log(emit, 'log.phase', phase=ref(code))

    path = export_run(params['out_dir'], params['to'], fmt=params['format'], on_phase=phase)
    emit_log(emit, 'log.exported', format=params['format'], path=str(path))
    return {'path': str(path), 'format': params['format']}


def _bench(params: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    """A bench suite prints a table: it runs as its own process, and each line it prints becomes a log event."""
    argv = [f'--{k}={v}' for k, v in params.get('args', {}).items()]
    from nanogpt_lab.jobs.specs import BENCH_PROGRAMS

    cmd = [sys.executable, '-m', BENCH_PROGRAMS[params['suite']], *argv]
    lines: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        try:
            for line in proc.stdout or ():
                lines.append(line.rstrip('\n'))
                emit('log', level='info', code='bench', message=lines[-1])
            code = proc.wait()
        finally:
            if proc.poll() is None:  # the job was cancelled while the suite ran: it goes too
                proc.kill()
    if code:
        raise LabError('job.bench_failed', suite=params['suite'], status=code)
    output = ''.join(f'{line}\n' for line in lines)
    return {'suite': params['suite'], 'output': output}


def _simulate(params: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.simulation.replay import replay

    # the worker writes the job's own start and end; the recording's are left out
    return replay(params['asset'], params['speed'], emit, should_stop, bounds=False)


RUNNERS: dict[str, Runner] = {
    'prepare-data': _prepare_data,
    'train': _train,
    'finetune': _train,
    'sft': _sft,
    'prepare-conversations': _prepare_conversations,
    'eval': _eval,
    'dpo': _dpo,
    'prepare-preferences': _prepare_preferences,
    'report': _report,
    'download-weights': _download_weights,
    'sample': _sample,
    'export': _export,
    'bench': _bench,
    'simulate': _simulate,
}
# these poll should_stop and end cleanly; the others stop at the signal (their writes are atomic)
GRACEFUL = ('train', 'finetune', 'sft', 'dpo', 'sample', 'simulate', 'download-weights')
# torch-heavy kinds: their process picks its CPU threads at start
COMPUTING = ('train', 'finetune', 'sft', 'dpo', 'eval', 'report', 'prepare-preferences', 'sample')


def choose_cpu_threads(kind: str, cfg: Any) -> None:
    """Before torch loads, a computing job's process picks its threads and OpenMP waiting (nanogpt_lab.cpu_threads)."""
    if kind in COMPUTING:
        from nanogpt_lab import cpu_threads

        cpu_threads.configure(getattr(cfg, 'threads', 0) or 0)


def run_foreground(kind: str, cfg: Any) -> int:
    """Run a job in this terminal with a progress bar; exit status 0 succeeded, 1 failed, 130 cancelled."""
    from nanogpt_lab.terminal import TerminalProgress

    choose_cpu_threads(kind, cfg)
    if int(os.environ.get('RANK', '0')) > 0:  # a torchrun rank other than 0 trains silently: rank 0 records the run
        from nanogpt_lab.events import null_emit

        try:
            RUNNERS[kind](cfg, null_emit, stop_on_signals())
        except Cancelled:
            return 130
        return 0
    refuse_early(kind, cfg)
    run_dir = run_dir_for(kind, cfg)
    with TerminalProgress() as bar:
        status = lifecycle.run_job(kind, cfg, run_dir, [bar], stop_on_signals(), runner=RUNNERS[kind])
    return {'succeeded': 0, 'cancelled': 130}.get(status, 1)


def main(argv: list[str] | None = None) -> int:
    """`python -m nanogpt_lab.jobs.worker RUN_DIR`: run the job the manager described in RUN_DIR/job.json."""
    import functools

    from nanogpt_lab.jobs.specs import load_config

    logging.basicConfig(level=logging.WARNING, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print('usage: python -m nanogpt_lab.jobs.worker RUN_DIR', file=sys.stderr)
        return 2
    run_dir = Path(args[0]).resolve()
    job = json.loads((run_dir / workspace.JOB_NAME).read_text(encoding='utf-8'))
    kind = job['kind']
    should_stop = stop_on_signals(graceful=kind in GRACEFUL or job.get('runner') == 'nanogpt-checkout')
    cfg = load_config(kind, job['config'])
    choose_cpu_threads(kind, cfg)
    runner = RUNNERS[kind]
    if job.get('runner') == 'nanogpt-checkout':
        from nanogpt_lab.jobs import nanogpt_checkout

        runner = functools.partial(nanogpt_checkout.run, kind=kind, checkout=job['checkout'], run_dir=run_dir)
    first = job.get('first_seq')
    status = lifecycle.run_job(kind, cfg, run_dir, should_stop=should_stop, runner=runner, first_seq=first)
    return {'succeeded': 0, 'cancelled': 0}.get(status, 1)


if __name__ == '__main__':
    raise SystemExit(main())
