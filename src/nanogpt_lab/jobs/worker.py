"""Runs one job (prepare-data, train, ...) in the current process: its run folder, job.json, events and end event.

The job manager starts this module in a subprocess for each background job (`python -m nanogpt_lab.jobs.worker
RUN_DIR`, reading the validated config from RUN_DIR/job.json); the CLI calls `run_foreground` directly. Either
way the engine only sees a config, an `emit` callback and a `should_stop` check.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from nanogpt_lab import workspace
from nanogpt_lab.errors import Coded, LabError, describe
from nanogpt_lab.events import Cancelled, Emit, EventLog, emit_log, last_seq
from nanogpt_lab.fileio import atomic_write_text

log = logging.getLogger(__name__)

JOB_FILE = 'job.json'


def _prepare_data(cfg: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.data import prepare

    return prepare(cfg, emit=emit)


def _train(cfg: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.training import train

    return train(cfg, emit=emit, should_stop=should_stop)


def _download_weights(params: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.model.pretrained import download_weights

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

    path = export_run(params['out_dir'], params['to'], fmt=params['format'])
    emit_log(emit, 'log.exported', format=params['format'], path=str(path))
    return {'path': str(path), 'format': params['format']}


def _bench(params: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    """A bench suite prints a table: each line becomes a log event so the UI and the API can show it."""
    import contextlib
    import importlib
    import io

    from nanogpt_lab.bench import SUITES

    argv = [f'--{k}={v}' for k, v in params.get('args', {}).items()]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = importlib.import_module(SUITES[params['suite']]).main(argv)
    for line in out.getvalue().splitlines():
        emit('log', level='info', code='bench', message=line)
    if code:
        raise LabError('job.bench_failed', suite=params['suite'], status=code)
    return {'suite': params['suite'], 'output': out.getvalue()}


def _simulate(params: Any, emit: Emit, should_stop: Callable[[], bool]) -> Any:
    from nanogpt_lab.simulation.replay import replay

    # the worker writes the job's own start and end; the recording's are left out
    return replay(params['asset'], params['speed'], emit, should_stop, bounds=False)


RUNNERS: dict[str, Callable[[Any, Emit, Callable[[], bool]], Any]] = {
    'prepare-data': _prepare_data,
    'train': _train,
    'finetune': _train,
    'download-weights': _download_weights,
    'sample': _sample,
    'export': _export,
    'bench': _bench,
    'simulate': _simulate,
}
# these poll should_stop and end cleanly; the others stop at the signal (their writes are atomic)
GRACEFUL = ('train', 'finetune', 'sample', 'simulate', 'download-weights')
COMPUTING = ('train', 'finetune', 'sample')  # torch-heavy kinds: their process picks its CPU threads at start


def choose_cpu_threads(kind: str, cfg: Any) -> None:
    """Before torch loads, a computing job's process picks its threads and OpenMP waiting (nanogpt_lab.cpu_threads)."""
    if kind in COMPUTING:
        from nanogpt_lab import cpu_threads

        cpu_threads.configure(getattr(cfg, 'threads', 0) or 0)


def run_dir_for(kind: str, cfg: Any) -> Path:
    """Training writes into its `out_dir` (nanoGPT's habit); every other job gets a fresh folder under runs/."""
    out_dir = getattr(cfg, 'out_dir', None) if kind in ('train', 'finetune') else None
    return Path(out_dir).expanduser().resolve() if out_dir else workspace.runs_root() / workspace.new_run_id(kind)


def write_job(run_dir: Path, **fields: Any) -> dict:
    """Merge `fields` into run_dir/job.json, atomically."""
    path = run_dir / JOB_FILE
    job = json.loads(path.read_text()) if path.exists() else {}
    job.update(fields)
    atomic_write_text(path, json.dumps(job, indent=2, default=str))
    return job


def _summary(result: Any) -> dict | None:
    """What a job returned, as JSON for its end event (a path, a dict, or a dataclass/pydantic result)."""
    if result is None:
        return None
    if isinstance(result, Path):
        return {'path': str(result)}
    if isinstance(result, dict):
        return json.loads(json.dumps(result, default=str))
    if hasattr(result, '__dataclass_fields__'):
        import dataclasses

        return json.loads(json.dumps(dataclasses.asdict(result), default=str))
    return {'result': str(result)}


def _dump(cfg: Any) -> Any:
    return cfg.model_dump() if isinstance(cfg, BaseModel) else cfg


def _process_started() -> float | None:
    """This process's start time as the OS records it: with the pid, it tells a restarted server this worker
    from another process that later got the same pid."""
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:  # psutil missing or the OS refuses: the server then treats the worker as gone
        return None


def run_job(
    kind: str,
    cfg: Any,
    run_dir: Path,
    listeners: Iterable[Callable[[dict], None]] = (),
    should_stop: Callable[[], bool] = lambda: False,
    *,
    runner: Callable[[Any, Emit, Callable[[], bool]], Any] | None = None,
    first_seq: int | None = None,
) -> str:
    """Run `kind` to its end, recording job.json and events.jsonl in `run_dir`; return the end status."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if kind in ('train', 'finetune') and getattr(cfg, 'out_dir', None) != str(run_dir):
        cfg = cfg.model_copy(update={'out_dir': str(run_dir)})
    events_path = run_dir / 'events.jsonl'
    write_job(
        run_dir,
        id=run_dir.name,
        kind=kind,
        status='running',
        pid=os.getpid(),
        pid_started=_process_started(),
        started=time.time(),
        ended=None,
        error=None,
        config=_dump(cfg),
        first_seq=first_seq if first_seq is not None else last_seq(events_path) + 1,
    )
    status, error, summary, extra = 'succeeded', None, None, {}
    with EventLog(events_path, listeners) as emit:
        emit('start', kind=kind, run_id=run_dir.name, pid=os.getpid(), config=_dump(cfg))
        try:
            summary = _summary((runner or RUNNERS[kind])(cfg, emit, should_stop))
        except Cancelled as e:
            status, error, extra = 'cancelled', *_coded(e)
        except Exception as e:  # the job fails; the process (and the server) does not
            status, error, extra = 'failed', *_coded(e)
            log.debug('job %s failed:\n%s', kind, traceback.format_exc())
            fields = {'code': extra['error_code'], 'params': extra['error_params']} if extra else {}
            emit('log', level='error', message=error, traceback=traceback.format_exc(limit=20), **fields)
        emit('end', status=status, error=error, **({'summary': summary} if summary else extra))
    write_job(run_dir, status=status, ended=time.time(), error=error, summary=summary, **extra)
    return status


def _coded(e: Exception) -> tuple[str, dict[str, Any]]:
    """An end's English error and, for a coded one, `error_code` + `error_params` (pages say them in their language)."""
    message, code, params = describe(e)
    return message, ({'error_code': code, 'error_params': params} if isinstance(e, Coded) else {})


def stop_on_signals(graceful: bool = True) -> Callable[[], bool]:
    """SIGINT/SIGTERM set a flag the engine polls, so a run saves its checkpoint and ends cleanly.

    Jobs that never poll (`graceful=False`: prepare, download, export; their writes are atomic) stop at once.
    """
    flag = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if not graceful:
            flag.set()
            raise Cancelled('job.cancelled')
        if flag.is_set():  # a second Ctrl-C means now
            raise KeyboardInterrupt
        flag.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    return flag.is_set


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
    run_dir = run_dir_for(kind, cfg)
    with TerminalProgress() as bar:
        status = run_job(kind, cfg, run_dir, listeners=[bar], should_stop=stop_on_signals())
    return {'succeeded': 0, 'cancelled': 130}.get(status, 1)


def main(argv: list[str] | None = None) -> int:
    """`python -m nanogpt_lab.jobs.worker RUN_DIR`: run the job the manager described in RUN_DIR/job.json."""
    import functools
    import sys

    from nanogpt_lab.jobs.params import load_config

    logging.basicConfig(level=logging.WARNING, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print('usage: python -m nanogpt_lab.jobs.worker RUN_DIR', file=sys.stderr)
        return 2
    run_dir = Path(args[0]).resolve()
    job = json.loads((run_dir / JOB_FILE).read_text(encoding='utf-8'))
    kind = job['kind']
    should_stop = stop_on_signals(graceful=kind in GRACEFUL or job.get('runner') == 'nanogpt-checkout')
    cfg = load_config(kind, job['config'])
    choose_cpu_threads(kind, cfg)
    runner = None
    if job.get('runner') == 'nanogpt-checkout':
        from nanogpt_lab.jobs import nanogpt_checkout

        runner = functools.partial(nanogpt_checkout.run, kind=kind, checkout=job['checkout'], run_dir=run_dir)
    status = run_job(kind, cfg, run_dir, should_stop=should_stop, runner=runner, first_seq=job.get('first_seq'))
    return {'succeeded': 0, 'cancelled': 0}.get(status, 1)


if __name__ == '__main__':
    raise SystemExit(main())
