"""The run registry is the workspace on disk: each `runs/<id>/` folder's job.json and events.jsonl say everything.

Nothing here is kept only in memory, so runs survive a browser reload and a server restart; summaries are cached
by the events file's size and mtime so listing many runs stays cheap.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.errors import Coded, LabError
from nanogpt_lab.events import EventLog, read_events
from nanogpt_lab.fileio import strict_json
from nanogpt_lab.jobs.lifecycle import write_job
from nanogpt_lab.messages import ref

log = logging.getLogger(__name__)

TERMINAL = ('succeeded', 'failed', 'cancelled')
ACTIVE = ('queued', 'starting', 'running')
SUMMARY_KEYS = (
    'model', 'n_layer', 'n_head', 'n_embd', 'block_size', 'batch_size', 'gradient_accumulation_steps',
    'learning_rate', 'max_iters', 'dataset', 'device', 'dtype', 'init_from',
)  # fmt: skip


DAMAGED = 'damaged'  # the status of a run whose job.json cannot be read: listed, explained, deletable


class DamagedFile(LabError):
    """A workspace JSON file that exists but cannot be read as the lab writes it (edited by hand, cut, old)."""


def _read_json(path: Path) -> dict[str, Any] | None:
    """The file's JSON object; None when it does not exist; DamagedFile when it exists but is not one."""
    try:
        value = strict_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise DamagedFile('job.file_unreadable', file=path.name, detail=str(e)[:200]) from None
    if not isinstance(value, dict):
        raise DamagedFile('job.file_not_object', file=path.name, type=type(value).__name__)
    return value


# job.json's fields and the types a reader may rely on; any other type means the file is damaged
_NUMBER = (int, float)
_JOB_TYPES: dict[str, tuple[type, ...]] = {
    'id': (str,), 'kind': (str, type(None)), 'status': (str,), 'error': (str, type(None)),
    'pid': (int, type(None)), 'first_seq': (int,), 'devices': (list,), 'config': (dict,),
    'submitted': (*_NUMBER, type(None)), 'started': (*_NUMBER, type(None)), 'ended': (*_NUMBER, type(None)),
    'error_code': (str, type(None)), 'error_params': (dict, type(None)),
}  # fmt: skip
STATUSES = ('queued', 'starting', 'running', 'succeeded', 'failed', 'cancelled')


def read_job(run_dir: Path) -> dict[str, Any] | None:
    """The folder's job.json; None when there is none. A damaged one reads as a job with status `damaged` and
    the reason as its error, so one bad file shows as one damaged row instead of breaking every listing."""
    try:
        job = _read_json(run_dir / workspace.JOB_NAME)
        if job is not None:
            _check_job(job)
        return job
    except DamagedFile as e:
        return damaged_job(run_dir, e)


def _check_job(job: dict[str, Any]) -> None:
    wrong = next((k for k, types in _JOB_TYPES.items() if k in job and not isinstance(job[k], types)), None)
    if wrong:
        raise DamagedFile('job.field_type', name=wrong, type=type(job[wrong]).__name__)
    if job.get('status') not in (None, *STATUSES):
        raise DamagedFile('job.status_unknown', status=repr(str(job['status'])[:40]))
    if not all(isinstance(d, str) for d in job.get('devices') or []):
        raise DamagedFile('job.devices_type')


def damaged_job(run_dir: Path, reason: DamagedFile) -> dict[str, Any]:
    """The row shown for a run whose job.json cannot be trusted: what is wrong (in English and as a code the page
    words in its language) and what to do."""
    error = LabError('job.damaged', reason=ref(reason.code, **reason.params))
    return {'id': run_dir.name, 'kind': None, 'status': DAMAGED, 'error': str(error), 'error_code': error.code,
            'error_params': error.params, 'damaged': str(reason)}  # fmt: skip


def run_dirs(root: Path | None = None) -> list[Path]:
    """Every run folder, newest first: one holding job.json or events.jsonl, or only a ckpt.pt (a nanoGPT
    out_dir copied into runs/, listed as 'imported')."""
    root = root or workspace.runs_root()
    if not root.is_dir():
        return []
    found = [
        p
        for p in root.iterdir()
        if p.is_dir()
        and any((p / n).exists() for n in (workspace.JOB_NAME, workspace.EVENTS_NAME, workspace.CKPT_NAME))
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def repair_tail(path: Path) -> None:
    """Cut a torn last line (a killed writer's) so the next appended event starts on a line of its own."""
    try:
        with open(path, 'rb+') as f:
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - 65536)
            f.seek(start)
            tail = f.read()
            if not tail or tail.endswith(b'\n'):
                return
            cut = tail.rfind(b'\n')
            if cut >= 0 or start == 0:
                f.truncate(start + cut + 1)
            else:  # a torn line longer than we look back: end it; readers skip it as unparseable
                f.write(b'\n')
    except FileNotFoundError:
        return


def append_events(run_dir: Path, events: list[tuple[str, dict[str, Any]]]) -> list[dict]:
    """Append events for a job whose worker is not running (queued, or dead): numbered after the last one."""
    path = run_dir / workspace.EVENTS_NAME
    repair_tail(path)
    with EventLog(path) as emit:
        return [emit(type_, **fields) for type_, fields in events]


def last_event(run_dir: Path, after: int = 0) -> dict | None:
    """The last complete event with seq > after (None when there is none)."""
    last = None
    for event in read_events(run_dir / workspace.EVENTS_NAME, after=after):
        last = event
    return last


def finish(run_dir: Path, status: str, reason: Coded, **job_fields: Any) -> dict:
    """End a job the worker could not end itself: an `end` event (unless one is there) and job.json."""
    job = read_job(run_dir) or {}
    end = last_event(run_dir, after=int(job.get('first_seq', 1)) - 1)
    error = {'error': str(reason), 'error_code': reason.code, 'error_params': reason.params}
    if end and end.get('type') == 'end':  # the worker wrote its end but died before job.json
        status = end.get('status', status)
        error = {k: end.get(k) for k in error}
    else:
        append_events(run_dir, [('end', {'status': status, **error})])
    return write_job(run_dir, status=status, ended=time.time(), pid=None, **error, **job_fields)


class _SummaryCache:
    """Run summaries keyed by folder, recomputed only when events.jsonl or job.json changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple, dict]] = {}

    def get(self, run_dir: Path) -> dict[str, Any]:
        """The folder's summary, recomputed only if its files changed."""
        stamp = tuple(
            _stamp(run_dir / n)
            for n in (workspace.EVENTS_NAME, workspace.JOB_NAME, workspace.RUN_CONFIG_NAME, workspace.CKPT_NAME)
        )
        with self._lock:
            hit = self._cache.get(str(run_dir))
        if hit and hit[0] == stamp:
            return hit[1]
        summary = _summarize(run_dir)
        with self._lock:
            self._cache[str(run_dir)] = (stamp, summary)
        return summary


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_size, st.st_mtime_ns)


SUMMARIES = _SummaryCache()


def _status(job: dict[str, Any] | None, has_checkpoint: bool) -> str:
    """job.json's status; a folder with only a checkpoint (no job ever ran here) is 'imported'."""
    if job is None:
        return 'imported' if has_checkpoint else 'unknown'
    return job.get('status', 'unknown')


def _num(value: Any) -> float | int | None:
    """A number from an event, or None when the field holds something else (a hand-edited or foreign line)."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _summarize(run_dir: Path) -> dict[str, Any]:
    found = read_job(run_dir)
    job = found or {}
    damaged = job.get('damaged')
    try:
        config = _read_json(run_dir / workspace.RUN_CONFIG_NAME) or job.get('config') or {}
    except DamagedFile as e:
        config, damaged = job.get('config') or {}, damaged or str(e)
    best = last_iter = tokens = None
    start_t = end_t = None
    simulated = False
    for e in read_events(run_dir / workspace.EVENTS_NAME):
        start_t = _num(e.get('t')) if start_t is None else start_t
        end_t = _num(e.get('t')) or end_t
        simulated = simulated or bool(e.get('simulated'))
        if e['type'] == 'start' and not config:
            config = e.get('config') or {}
        elif e['type'] == 'train':
            last_iter, tokens = _num(e.get('iter')) or last_iter, _num(e.get('tokens')) or tokens
        elif e['type'] == 'eval' and _num(e.get('val_loss')) is not None:
            best = e['val_loss'] if best is None else min(best, e['val_loss'])
            last_iter = max(last_iter or 0, _num(e.get('iter')) or 0)
    started, ended = job.get('started') or start_t, job.get('ended')
    has_checkpoint = (run_dir / workspace.CKPT_NAME).exists()
    return {
        'id': run_dir.name,
        'kind': job.get('kind'),
        'status': _status(found, has_checkpoint),
        'runner': job.get('runner') if isinstance(job.get('runner'), str) else 'engine',
        'config': {k: config[k] for k in SUMMARY_KEYS if isinstance(config, dict) and k in config},
        'best_val_loss': best,
        'last_iter': last_iter,
        'tokens': tokens,
        'started': started,
        'ended': ended,
        'duration_s': round((ended or end_t or time.time()) - started, 3) if started else None,
        'has_checkpoint': has_checkpoint,
        'simulated': simulated,
        'error': job.get('error'),
        'damaged': damaged,
    }


def run_summary(run_dir: Path) -> dict[str, Any]:
    """One run's row for GET /api/runs: config summary, status, best val loss, last iter, tokens, duration."""
    return SUMMARIES.get(run_dir)


def curves(run_dir: Path) -> dict[str, list[dict]]:
    """A run's train and eval points (iter, tokens, losses) for charts and comparison."""
    train, evals = [], []
    for e in read_events(run_dir / workspace.EVENTS_NAME):
        if e['type'] == 'train' and e.get('loss') is not None:
            train.append({'iter': e.get('iter'), 'tokens': e.get('tokens'), 'loss': e['loss']})
        elif e['type'] == 'eval':
            evals.append(
                {
                    'iter': e.get('iter'),
                    'tokens': e.get('tokens'),
                    'train_loss': e.get('train_loss'),
                    'val_loss': e.get('val_loss'),
                }  # fmt: skip
            )
    return {'train': train, 'eval': evals}


def _aligned(a: list[dict], b: list[dict], x: str, y: str) -> dict[str, list]:
    """Two series on one shared x axis (the union of both runs' x values), None where a run has no point."""
    amap = {p[x]: p[y] for p in a if p.get(x) is not None}
    bmap = {p[x]: p[y] for p in b if p.get(x) is not None}
    xs = sorted(set(amap) | set(bmap))
    return {'x': xs, 'a': [amap.get(v) for v in xs], 'b': [bmap.get(v) for v in xs]}


def compare(a_dir: Path, b_dir: Path) -> dict[str, Any]:
    """Two runs' curves aligned by iteration and by tokens seen (runs with different batch sizes differ)."""
    ca, cb = curves(a_dir), curves(b_dir)
    out: dict[str, Any] = {'a': run_summary(a_dir), 'b': run_summary(b_dir)}
    for x in ('iter', 'tokens'):
        out[f'by_{x}'] = {
            'train_loss': _aligned(ca['train'], cb['train'], x, 'loss'),
            'val_loss': _aligned(ca['eval'], cb['eval'], x, 'val_loss'),
        }
    return out


def delete_run(run_dir: Path) -> None:
    """Remove a run folder (the caller has checked it is not running)."""
    shutil.rmtree(run_dir)
