"""One job's life in this process: its run folder, job.json, the start and end events, and stopping on a signal.

The worker (a job subprocess or the CLI in a terminal) and nanoGPT's own scripts (`jobs.nanogpt_checkout`) both run
their work through `run_job`, so every job leaves the same record however it ran.
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
from nanogpt_lab.errors import Coded, describe
from nanogpt_lab.events import Cancelled, Emit, EventLog, last_seq
from nanogpt_lab.fileio import atomic_write_text, strict_json

log = logging.getLogger(__name__)

Runner = Callable[[Any, Emit, Callable[[], bool]], Any]  # (config, emit, should_stop) -> summary


TRAINING_KINDS = ('train', 'finetune', 'sft', 'dpo')  # jobs whose run folder is the config's out_dir


def run_dir_for(kind: str, cfg: Any) -> Path:
    """Training writes into its `out_dir` (nanoGPT's habit); every other job gets a fresh folder under runs/."""
    out_dir = getattr(cfg, 'out_dir', None) if kind in TRAINING_KINDS else None
    return Path(out_dir).expanduser().resolve() if out_dir else workspace.runs_root() / workspace.new_run_id(kind)


def write_job(run_dir: Path, **fields: Any) -> dict:
    """Merge `fields` into run_dir/job.json, atomically."""
    path = run_dir / workspace.JOB_NAME
    try:
        job = strict_json(path.read_bytes())
    except (FileNotFoundError, ValueError):  # none yet, or a damaged one: the fields given start it afresh
        job = {}
    job = job if isinstance(job, dict) else {}
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
    runner: Runner,
    first_seq: int | None = None,
) -> str:
    """Run `kind` to its end, recording job.json and events.jsonl in `run_dir`; return the end status."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if kind in TRAINING_KINDS and getattr(cfg, 'out_dir', None) != str(run_dir):
        cfg = cfg.model_copy(update={'out_dir': str(run_dir)})
    events_path = run_dir / workspace.EVENTS_NAME
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
    with EventLog(events_path, listeners, kind=kind) as emit:
        emit('start', kind=kind, run_id=run_dir.name, pid=os.getpid(), config=_dump(cfg))
        try:
            summary = _summary(runner(cfg, emit, should_stop))
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
    if not isinstance(e, Coded):
        return readable_error(message), {}
    return message, {'error_code': code, 'error_params': params}


def readable_error(text: str) -> str:
    """A library's error as a person reads it: without the C++ stack torch appends to native errors ("Exception
    raised from … frame #0: …"), which says nothing to a learner and made one error fill a screen."""
    cut = text.find('Exception raised from')
    lines = [line for line in text[: cut if cut >= 0 else None].splitlines() if not line.startswith('frame #')]
    return '\n'.join(lines).strip() or text.strip()


def refuse_early(kind: str, cfg: Any) -> None:
    """The refusals that need no run, made before a job writes anything, so that a refused request leaves the
    disk as it was (a resume of another shape used to turn a finished run's job.json into `failed`)."""
    if kind in ('train', 'finetune') and cfg.init_from != 'scratch':  # (a scratch start needs no torch import)
        from nanogpt_lab.training.model_init import check_start

        check_start(cfg)


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
