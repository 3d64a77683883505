"""The job manager: each job in its own worker subprocess, one device-heavy job per device, the rest queued.

A crash, an OOM kill or a segfault ends one worker, never the server. The registry is the workspace on disk
(`runs/<id>/job.json` + `events.jsonl`), so a new manager (a restarted server) picks up where the last one was:
live workers are watched again, dead ones are marked failed with the reason, queued jobs queue again.
The UI and the HTTP API share one manager: `submit`, `get`, `list`, `cancel` and the async `subscribe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.errors import Coded, LabError
from nanogpt_lab.events import Cancelled, last_seq, log_fields, parse_event, seek_after
from nanogpt_lab.jobs import registry
from nanogpt_lab.jobs.lifecycle import refuse_early, write_job
from nanogpt_lab.jobs.registry import ACTIVE, TERMINAL, read_job
from nanogpt_lab.jobs.specs import JobSpec, build_job, load_config
from nanogpt_lab.messages import ref

log = logging.getLogger(__name__)

ENV_HANG = 'NANOGPT_LAB_HANG_TIMEOUT'  # seconds without an event before a running job is reported hung
ENV_CANCEL = 'NANOGPT_LAB_CANCEL_TIMEOUT'  # seconds a cancelled job has to stop before it is killed
WORKER_LOG = 'worker.log'
STATUS_EVERY_S = 1.0  # how often a watcher re-reads job.json for status, queue position and hang changes


# set when the server begins to shut down: open event streams end, so a graceful shutdown is not held up by them
STOPPING = threading.Event()


def watch_server_exit() -> None:
    """End event streams as soon as uvicorn is told to stop (Ctrl-C, SIGTERM): it waits for open responses before
    it runs any shutdown handler, and an event stream never finishes on its own. Idempotent."""
    try:
        import uvicorn
    except ImportError:
        return
    original = uvicorn.Server.handle_exit
    if getattr(original, 'nanogpt_lab', False):
        return

    def handle_exit(self: Any, sig: int, frame: Any) -> None:
        STOPPING.set()
        original(self, sig, frame)

    handle_exit.nanogpt_lab = True  # type: ignore[attr-defined]
    uvicorn.Server.handle_exit = handle_exit  # type: ignore[method-assign]


class JobNotFound(LabError, LookupError):
    """No job (or run) has this id in the workspace."""


class JobConflict(LabError):
    """The job or run is in a state that does not allow this (cancel a finished job, delete a running run).

    Its `field` parameter, when given, names the request key at fault.
    """


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class JobManager:
    """Starts, queues, watches and cancels jobs; every fact lives in the run folders under `root`."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        cancel_timeout: float | None = None,
        hang_timeout: float | None = None,
        poll_s: float = 0.2,
        python: str | None = None,
    ):
        self.home = workspace.home()  # workers see the same workspace even if the environment changes later
        self.root = (root or workspace.runs_root()).resolve()
        self.cancel_timeout = cancel_timeout if cancel_timeout is not None else _env_float(ENV_CANCEL, 30.0)
        self.hang_timeout = hang_timeout if hang_timeout is not None else _env_float(ENV_HANG, 600.0)
        self.poll_s = poll_s
        self.python = python or sys.executable
        self._lock = threading.RLock()
        self._queue: list[str] = []  # waiting job ids, oldest first
        self._procs: dict[str, subprocess.Popen | int] = {}  # running: our child, or an adopted pid
        self._holding: dict[str, list[str]] = {}  # running job id -> devices it holds
        self._cancelled: dict[str, bool] = {}  # job id -> True once it had to be killed
        self._stop_asked: set[str] = set()  # job ids asked to stop (cancel, shutdown), known before any signal
        self._closed = False
        self.recover()

    # --- the public API (UI in-process, HTTP routes) ------------------------------------------------------------

    def submit(self, kind: str, params: dict[str, Any], *, local: bool = False) -> dict:
        """Validate and queue a job; it starts at once unless a device-heavy job holds its device."""
        spec = build_job(kind, params, local=local)
        if spec.run_id:
            self._wait_for_exit(spec.run_id)
        if spec.runner == 'engine':
            out_dir = str(self._dir(spec.run_id)) if spec.run_id else None
            refuse_early(kind, load_config(kind, {**spec.config, 'out_dir': out_dir} if out_dir else spec.config))
        with self._lock:
            if self._closed:
                raise JobConflict('job.shutting_down')
            run_dir = self._claim_folder(spec)
            job = self._write_queued(run_dir, spec)
            self._queue.append(job['id'])
            position = self._position(job['id'], job['devices'])
            if position:
                registry.append_events(run_dir, [('log', log_fields('log.queued', position=position))])
            self._pump()
        return self.get(job['id'])

    def get(self, job_id: str) -> dict:
        """One job: job.json plus its queue position and, when running, whether it has gone silent (hung)."""
        run_dir = self._dir(job_id)
        job = read_job(run_dir)
        if job is None:
            raise JobNotFound('job.no_job', id=job_id)
        return self._decorate(self._reconcile(run_dir, job), run_dir)

    def list(self) -> list[dict]:
        """Every job in the workspace, newest first."""
        out = []
        for run_dir in registry.run_dirs(self.root):
            job = read_job(run_dir)
            if job is not None and (job.get('kind') or job.get('damaged')):
                out.append(self._decorate(self._reconcile(run_dir, job), run_dir))
        return sorted(out, key=lambda j: j.get('submitted') or j.get('started') or 0, reverse=True)

    def cancel(self, job_id: str) -> dict:
        """Stop a job: a queued one never starts; a running one gets SIGTERM (it saves and ends), SIGKILL later."""
        job = self.get(job_id)
        if job.get('damaged'):
            raise JobConflict('job.damaged_cancel', id=job_id, reason=job['error_params']['reason'])
        if job['status'] in TERMINAL:
            raise JobConflict('job.already_ended', id=job_id, status=ref(f'job.status.{job["status"]}'))
        with self._lock:
            if job_id in self._queue:
                self._queue.remove(job_id)
                registry.finish(self._dir(job_id), 'cancelled', Cancelled('job.cancelled_queued'))
                self._pump()
                return self.get(job_id)
            target = self._procs.get(job_id)
        if target is None:
            raise JobConflict('job.not_ours', id=job_id, status=ref(f'job.status.{job["status"]}'))
        self._ask_to_stop(job_id, target)
        threading.Thread(target=self._force_stop, args=(job_id, target), daemon=True).start()
        return self.get(job_id)

    async def subscribe(
        self, job_id: str, after_seq: int = 0, *, heartbeat_s: float | None = None
    ) -> AsyncIterator[dict]:
        """The job's events after `after_seq`, live, ending after its `end` event.

        Between events it yields `{'type': 'status', 'job': {...}}` when the status, queue position or hung flag
        changes (no seq: not part of the log), and `{'type': 'heartbeat'}` every `heartbeat_s` of silence.
        """
        job = self.get(job_id)
        after = max(int(after_seq), int(job.get('first_seq', 1)) - 1)
        tail = _Tail(self._dir(job_id) / workspace.EVENTS_NAME, after)
        shown, quiet_since, checked, ended_reads = None, time.monotonic(), 0.0, 0
        while True:
            for event in tail.read():
                if event.get('seq', 0) <= after:
                    continue
                after, quiet_since = event['seq'], time.monotonic()
                yield event
                if event['type'] == 'end':
                    return
            now = time.monotonic()
            if now - checked >= STATUS_EVERY_S or ended_reads:  # job.json is read at most once a second
                checked = now
                try:
                    job = self.get(job_id)
                except JobNotFound:
                    return  # the run was deleted
                state = (job['status'], job.get('queue_position'), job.get('hung'))
                if state != shown:
                    shown, quiet_since = state, now
                    yield {'type': 'status', 'job': job}
                if job['status'] in TERMINAL:
                    ended_reads += 1
                    if ended_reads > 2 or not tail.pending():
                        return  # its end event came before `after_seq`: nothing more will come
            if STOPPING.is_set() or self._closed:
                return  # the server is shutting down: end the stream (EventSource reconnects to the next server)
            if heartbeat_s and now - quiet_since >= heartbeat_s:
                quiet_since = now
                yield {'type': 'heartbeat', 't': round(time.time(), 3)}
            await asyncio.sleep(self.poll_s)

    # --- runs (the registry, guarded by the manager so a running run is never deleted) -------------------------

    def runs(self) -> list[dict]:
        """Every run's summary row, newest first."""
        return [registry.run_summary(d) for d in registry.run_dirs(self.root)]

    def run_dir(self, run_id: str) -> Path:
        """The folder of an existing run, or JobNotFound."""
        run_dir = self._dir(run_id)
        if not run_dir.is_dir():
            raise JobNotFound('job.no_run', id=run_id)
        return run_dir

    def delete_run(self, run_id: str) -> None:
        """Delete a run's folder; refused while its job is queued or running."""
        run_dir = self.run_dir(run_id)
        self._wait_for_exit(run_id)  # its end is written but its process may still be exiting: not a conflict
        job = read_job(run_dir) or {}
        with self._lock:
            if job.get('status') in ACTIVE or run_id in self._procs or run_id in self._queue:
                raise JobConflict('job.delete_running', id=run_id, status=ref(f'job.status.{job.get("status")}'))
            registry.delete_run(run_dir)

    def close(self, *, cancel_running: bool = True) -> None:
        """Stop taking jobs and end event streams; the workers of jobs submitted to a lab are asked to stop (they
        save a checkpoint). A CLI run this manager only watches is left alone."""
        with self._lock:
            self._closed = True
            running = list(self._procs.items())
        if not cancel_running:
            return
        for job_id, target in running:
            if isinstance(target, subprocess.Popen) or (read_job(self._dir(job_id)) or {}).get('submitted'):
                self._ask_to_stop(job_id, target)

    def _ask_to_stop(self, job_id: str, target: subprocess.Popen | int) -> None:
        """SIGTERM: the worker's should_stop turns true (training saves and ends cancelled)."""
        with self._lock:
            self._stop_asked.add(job_id)  # before the signal: a worker that dies at once still ends `cancelled`
        with contextlib.suppress(OSError):
            self._signal(target, signal.SIGTERM)

    # --- internals --------------------------------------------------------------------------------------------

    def _dir(self, job_id: str) -> Path:
        try:
            return workspace.inside(self.root, job_id)
        except (ValueError, TypeError):
            raise JobNotFound('job.bad_id', id=job_id) from None

    def _wait_for_exit(self, run_id: str, timeout: float = 15.0) -> None:
        """A job that has written its end may still be exiting: resuming its run waits for that, briefly."""
        job = read_job(self._dir(run_id)) or {}
        deadline = time.monotonic() + timeout
        while job.get('status') in TERMINAL and run_id in self._procs and time.monotonic() < deadline:
            time.sleep(0.05)

    def _claim_folder(self, spec: JobSpec) -> Path:
        if spec.run_id is None:
            run_dir = self.root / workspace.new_run_id(spec.kind)
            while run_dir.exists():
                run_dir = self.root / workspace.new_run_id(spec.kind)
            return run_dir
        run_dir = self._dir(spec.run_id)
        job = read_job(run_dir) or {}
        if job.get('status') in ACTIVE or spec.run_id in self._queue or spec.run_id in self._procs:
            raise JobConflict(
                'job.run_busy', id=spec.run_id, status=ref(f'job.status.{job.get("status")}'), field='out_dir'
            )
        return run_dir

    def _write_queued(self, run_dir: Path, spec: JobSpec) -> dict:
        run_dir.mkdir(parents=True, exist_ok=True)
        return write_job(
            run_dir,
            id=run_dir.name,
            kind=spec.kind,
            status='queued',
            submitted=time.time(),
            started=None,
            ended=None,
            pid=None,
            error=None,
            exit_code=None,
            summary=None,
            devices=spec.devices,
            runner=spec.runner,
            checkout=spec.checkout,
            config=spec.config,
            first_seq=last_seq(run_dir / workspace.EVENTS_NAME) + 1,
        )

    def _decorate(self, job: dict, run_dir: Path) -> dict:
        job = dict(job)
        job['id'] = run_dir.name
        job.setdefault('status', 'unknown')
        queued = job['status'] == 'queued'
        job['queue_position'] = self._position(job['id'], job.get('devices') or []) if queued else None
        job['hung'], job['silent_s'] = False, None
        if job['status'] == 'running':
            silent = time.time() - max(_mtime(run_dir / workspace.EVENTS_NAME), _mtime(run_dir / workspace.JOB_NAME))
            job['silent_s'] = round(silent, 1)
            job['hung'] = silent > self.hang_timeout
        return job

    def _position(self, job_id: str, devices: list[str]) -> int | None:
        """1 + the queued jobs ahead that want one of the same devices; None if it is not queued."""
        with self._lock:
            if job_id not in self._queue:
                return None
            ahead = self._queue[: self._queue.index(job_id)]
            wanted = set(devices)
            busy = any(wanted & set(d) for d in self._holding.values())
            count = sum(1 for j in ahead if wanted & set(self._devices_of(j)))
            return count + 1 if (busy or count) else 0

    def _devices_of(self, job_id: str) -> list[str]:
        return (read_job(self._dir(job_id)) or {}).get('devices') or []

    def _pump(self) -> None:
        """Start every queued job whose devices are free, oldest first (an earlier waiter reserves its devices)."""
        with self._lock:
            if self._closed:
                return
            held = {d for ds in self._holding.values() for d in ds}
            for job_id in list(self._queue):
                devices = self._devices_of(job_id)
                if held & set(devices):
                    held |= set(devices)  # reserved: a later job may not jump ahead on these
                    continue
                self._queue.remove(job_id)
                held |= set(devices)
                self._start(job_id, devices)

    def _start(self, job_id: str, devices: list[str]) -> None:
        run_dir = self._dir(job_id)
        write_job(run_dir, status='starting')
        env = {**os.environ, 'PYTHONUNBUFFERED': '1', workspace.ENV_HOME: str(self.home)}
        env.pop('PYTEST_CURRENT_TEST', None)
        try:
            with open(run_dir / WORKER_LOG, 'ab') as out:
                proc = subprocess.Popen(
                    [self.python, '-m', 'nanogpt_lab.jobs.worker', str(run_dir)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # its own process group: signals reach its children; Ctrl-C does not
                )
        except OSError as e:
            registry.finish(run_dir, 'failed', LabError('job.worker_start_failed', detail=str(e)))
            return
        self._procs[job_id], self._holding[job_id] = proc, devices
        threading.Thread(target=self._watch_child, args=(job_id, proc), daemon=True, name=f'job-{job_id}').start()

    def _watch_child(self, job_id: str, proc: subprocess.Popen) -> None:
        self._on_exit(job_id, proc.wait())

    def _watch_adopted(self, job_id: str, pid: int) -> None:
        while _alive(pid):
            time.sleep(max(self.poll_s, 0.5))
        self._on_exit(job_id, None)

    def _on_exit(self, job_id: str, rc: int | None) -> None:
        """A worker ended: if it could not write its own end (killed, crashed), write it with the reason."""
        with self._lock:
            forced = self._cancelled.pop(job_id, False)
            asked = job_id in self._stop_asked
            self._stop_asked.discard(job_id)
        run_dir = self._dir(job_id)
        job = read_job(run_dir) or {}
        try:
            if job.get('status') in TERMINAL:
                write_job(run_dir, exit_code=rc)
            else:
                status, error = _exit_reason(rc, asked, forced, self.cancel_timeout, run_dir)
                registry.finish(run_dir, status, error, exit_code=rc)
        except OSError as e:  # the folder was removed under us; nothing to record
            log.warning('could not record the end of job %s: %s', job_id, e)
        except Exception:  # a bug here must not leave the run marked running, nor its device taken
            log.exception('recording the end of job %s failed', job_id)
        with self._lock:  # only now: until its end is recorded, the run and its devices stay taken
            self._procs.pop(job_id, None)
            self._holding.pop(job_id, None)
            self._pump()

    def _force_stop(self, job_id: str, target: subprocess.Popen | int) -> None:
        deadline = time.monotonic() + self.cancel_timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._procs.get(job_id) is not target:
                    return
            time.sleep(0.2)
        with self._lock:
            if self._procs.get(job_id) is not target:
                return
            self._cancelled[job_id] = True
        log.warning('job %s did not stop within %.0f s of cancel: killing it', job_id, self.cancel_timeout)
        with contextlib.suppress(OSError):
            self._signal(target, signal.SIGKILL)

    @staticmethod
    def _signal(target: subprocess.Popen | int, sig: int) -> None:
        pid = target.pid if isinstance(target, subprocess.Popen) else target
        try:
            os.killpg(pid, sig)  # the worker leads its own group: its children (nanoGPT's train.py) get it too
        except (ProcessLookupError, PermissionError, AttributeError):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    # --- start-up and every read: make the registry true again ------------------------------------------------

    def _reconcile(self, run_dir: Path, job: dict, *, starting: bool = False) -> dict:
        """A job recorded as running that this manager does not run (a CLI training, another server's worker, or
        one from before a restart): watch it if its process (same pid, same start time) lives, else end it as
        failed with the reason and its last state. At start-up (`starting`) a job left `starting` is ended too."""
        if job.get('status') not in (('starting', 'running') if starting else ('running',)):
            return job
        with self._lock:  # _start writes 'starting' and registers the child under this lock
            if run_dir.name in self._procs or run_dir.name in self._queue:
                return job
            job = read_job(run_dir) or job
            if job.get('status') not in ('starting', 'running'):
                return job
            if _same_process(job):
                self._procs[run_dir.name], self._holding[run_dir.name] = job['pid'], job.get('devices') or []
                threading.Thread(target=self._watch_adopted, args=(run_dir.name, job['pid']), daemon=True).start()
                return job
            return registry.finish(run_dir, 'failed', _gone(job, run_dir))

    def recover(self) -> None:
        """Watch workers that still run, mark dead ones failed with the reason, queue again what was queued."""
        queued = []
        for run_dir in registry.run_dirs(self.root):
            job = read_job(run_dir)
            if not job or job.get('status') not in ACTIVE:
                continue
            if job['status'] == 'queued':
                queued.append((job.get('submitted') or 0, run_dir.name))
            else:
                self._reconcile(run_dir, job, starting=True)
        with self._lock:
            self._queue.extend(job_id for _, job_id in sorted(queued))
            self._pump()


def _gone(job: dict, run_dir: Path) -> LabError:
    """Why a job recorded as running is not: its process is gone; and how far it got."""
    last = registry.run_summary(run_dir).get('last_iter')
    if last is None:
        return LabError('job.worker_gone', pid=job.get('pid'))
    return LabError('job.worker_gone_at', pid=job.get('pid'), iter=last)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _same_process(job: dict) -> bool:
    """The job's pid is alive and is the process that wrote job.json (its start time matches), not a reused pid."""
    import psutil

    pid, started = job.get('pid'), job.get('pid_started')
    if not isinstance(pid, int) or not _alive(pid):
        return False
    try:
        return started is not None and abs(psutil.Process(pid).create_time() - float(started)) < 1.0
    except (psutil.Error, TypeError, ValueError):
        return False


_SIGNAL_REASONS = {  # the catalog's job.signal.<name> says why each one usually happens
    signal.SIGKILL: 'sigkill',
    signal.SIGSEGV: 'sigsegv',
    signal.SIGTERM: 'sigterm',
    signal.SIGABRT: 'sigabrt',
}


def _exit_reason(rc: int | None, asked: bool, forced: bool, timeout: float, run_dir: Path) -> tuple[str, Coded]:
    """Status and reason for a worker that ended without writing its own end."""
    if forced:
        return 'cancelled', Cancelled('job.killed_after_cancel', timeout=round(timeout))
    if asked and rc != 0:
        return 'cancelled', Cancelled('job.cancelled_unrecorded')
    if rc is None:
        return 'failed', LabError('job.exit_unknown')
    if rc < 0:
        sig = -rc
        if sig in _SIGNAL_REASONS:
            return 'failed', LabError('job.died', reason=ref(f'job.signal.{_SIGNAL_REASONS[sig]}'))
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f'signal {sig}'
        return 'failed', LabError('job.died', reason=ref('job.signal.other', name=name))
    tail = _log_tail(run_dir / WORKER_LOG)
    return 'failed', LabError('job.exit_code_tail' if tail else 'job.exit_code', code=rc, tail=tail)


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding='utf-8', errors='replace')
    except OSError:
        return ''
    return '\n'.join(text.strip().splitlines()[-lines:])


class _Tail:
    """Reads the complete new lines of an append-only events file; a torn last line waits for its newline."""

    def __init__(self, path: Path, after: int = 0):
        self.path = path
        self.offset = 0
        try:
            with open(path, 'rb') as f:  # a reconnect that wants the last events reads from near the end
                self.offset = seek_after(f, after)
        except OSError:
            pass

    def read(self) -> list[dict]:
        """The complete events appended since the last read."""
        if not self.pending():  # one stat per poll while nothing is new: many watchers cost next to nothing
            return []
        try:
            with open(self.path, 'rb') as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b'\n')
        if end < 0:
            return []
        self.offset += end + 1
        events = []
        for line in data[: end + 1].splitlines():
            event = parse_event(line)  # None: a line a killed writer left half-done, or a damaged one
            if event is not None:
                events.append(event)
        return events

    def pending(self) -> bool:
        """Whether complete lines are waiting to be read."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return False
        return size > self.offset
