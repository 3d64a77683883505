"""Runs one job (prepare-data, train, ...) in the current process: its run folder, job.json, events and end event.

The job manager starts this module in a subprocess for each background job; the CLI calls `run_foreground`
directly. Either way the engine only sees a config, an `emit` callback and a `should_stop` check.
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
from nanogpt_lab.events import Cancelled, Emit, EventLog
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

    return download_weights(params['model'], emit=emit)


RUNNERS: dict[str, Callable[[Any, Emit, Callable[[], bool]], Any]] = {
    'prepare-data': _prepare_data,
    'train': _train,
    'finetune': _train,
    'download-weights': _download_weights,
}


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


def run_job(
    kind: str,
    cfg: Any,
    run_dir: Path,
    listeners: Iterable[Callable[[dict], None]] = (),
    should_stop: Callable[[], bool] = lambda: False,
) -> str:
    """Run `kind` to its end, recording job.json and events.jsonl in `run_dir`; return the end status."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if kind in ('train', 'finetune') and getattr(cfg, 'out_dir', None) != str(run_dir):
        cfg = cfg.model_copy(update={'out_dir': str(run_dir)})
    write_job(
        run_dir,
        id=run_dir.name,
        kind=kind,
        status='running',
        pid=os.getpid(),
        started=time.time(),
        ended=None,
        error=None,
        config=_dump(cfg),
    )
    status, error, summary = 'succeeded', None, None
    with EventLog(run_dir / 'events.jsonl', listeners) as emit:
        emit('start', kind=kind, run_id=run_dir.name, pid=os.getpid(), config=_dump(cfg))
        try:
            summary = _summary(RUNNERS[kind](cfg, emit, should_stop))
        except Cancelled as e:
            status, error = 'cancelled', str(e) or 'cancelled by the user'
        except Exception as e:  # the job fails; the process (and the server) does not
            status, error = 'failed', str(e) or e.__class__.__name__
            log.debug('job %s failed:\n%s', kind, traceback.format_exc())
            emit('log', level='error', message=error, traceback=traceback.format_exc(limit=20))
        emit('end', status=status, error=error, **({'summary': summary} if summary else {}))
    write_job(run_dir, status=status, ended=time.time(), error=error, summary=summary)
    return status


def stop_on_signals() -> Callable[[], bool]:
    """SIGINT/SIGTERM set a flag the engine polls, so a run saves its checkpoint and ends cleanly."""
    flag = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if flag.is_set():  # a second Ctrl-C means now
            raise KeyboardInterrupt
        flag.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    return flag.is_set


def run_foreground(kind: str, cfg: Any) -> int:
    """Run a job in this terminal with a progress bar; exit status 0 succeeded, 1 failed, 130 cancelled."""
    from nanogpt_lab.terminal import TerminalProgress

    run_dir = run_dir_for(kind, cfg)
    with TerminalProgress() as bar:
        status = run_job(kind, cfg, run_dir, listeners=[bar], should_stop=stop_on_signals())
    return {'succeeded': 0, 'cancelled': 130}.get(status, 1)
