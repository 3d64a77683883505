"""The job manager with real workers: queueing per device, cancel with a checkpoint, hangs, forced kills, restarts.

kill -9 of a worker through the live server: tests/server/test_http.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nanogpt_lab.events import read_events
from nanogpt_lab.jobs.lifecycle import write_job
from nanogpt_lab.jobs.manager import JobConflict, JobManager, JobNotFound

TINY = dict(dataset='shakespeare_char', device='cpu', n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=4,
            gradient_accumulation_steps=1, eval_iters=2, warmup_iters=2, learning_rate=1e-3, compile=False,
            dtype='float32', threads=1)  # fmt: skip
LONG = dict(TINY, max_iters=100_000, lr_decay_iters=100_000, eval_interval=20)


def wait_for(check: Callable[[], object], timeout: float = 60.0, what: str = 'condition') -> object:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f'timed out waiting for {what}')


def _train(manager: JobManager, data_dir: Path, **overrides) -> dict:
    return manager.submit('train', {**LONG, 'data_dir': str(data_dir), **overrides}, local=True)


def _ended(manager: JobManager, job_id: str, timeout: float = 90.0) -> dict:
    return wait_for(lambda: (j := manager.get(job_id))['status'] in ('succeeded', 'failed', 'cancelled') and j,
                    timeout, f'job {job_id} to end')  # fmt: skip


def _iters(manager: JobManager, job_id: str) -> list[int]:
    return [e['iter'] for e in read_events(manager.root / job_id / 'events.jsonl') if e['type'] == 'train']


def _collect(manager: JobManager, job_id: str, after: int = 0) -> list[dict]:
    async def run() -> list[dict]:
        return [e async for e in manager.subscribe(job_id, after)]

    return asyncio.run(run())


def test_device_jobs_queue_and_watchers_see_everything(char_data_dir: Path) -> None:
    manager = JobManager(poll_s=0.05)
    first = _train(manager, char_data_dir, max_iters=20, lr_decay_iters=20, eval_interval=10)
    second = _train(manager, char_data_dir, max_iters=10, lr_decay_iters=10, eval_interval=10)
    assert second['status'] == 'queued' and second['queue_position'] == 1
    queued = next(read_events(manager.root / second['id'] / 'events.jsonl'))
    assert queued['type'] == 'log' and queued['code'] == 'log.queued' and queued['params']['position'] == 1
    events = _collect(manager, second['id'])  # subscribes while queued, follows it to its end
    statuses = [e['job']['status'] for e in events if e['type'] == 'status']
    assert statuses[0] == 'queued' and 'running' in statuses
    log = [e for e in events if 'seq' in e]
    assert [e['seq'] for e in log] == list(range(1, len(log) + 1)) and log[-1]['type'] == 'end'
    assert log[-1]['status'] == 'succeeded'
    done = manager.get(first['id'])
    assert done['status'] == 'succeeded' and done['ended'] <= manager.get(second['id'])['started']
    assert {j['id'] for j in manager.list()} == {first['id'], second['id']}
    assert manager.runs()[0]['last_iter'] is not None


def test_cancel_saves_a_checkpoint_that_resumes(char_data_dir: Path) -> None:
    manager = JobManager(poll_s=0.05)
    job = _train(manager, char_data_dir)
    wait_for(lambda: len(_iters(manager, job['id'])) >= 5, what='5 iterations')
    manager.cancel(job['id'])
    ended = _ended(manager, job['id'])
    assert ended['status'] == 'cancelled', ended['error']
    assert (manager.root / job['id'] / 'ckpt.pt').exists()
    with pytest.raises(JobConflict, match='already ended'):
        manager.cancel(job['id'])
    stopped_at = max(_iters(manager, job['id']))
    resumed = _train(manager, char_data_dir, out_dir=job['id'], init_from='resume', max_iters=stopped_at + 5)
    assert resumed['id'] == job['id'] and resumed['first_seq'] > 1
    events = _collect(manager, job['id'])  # only the resumed job's events: the old `end` is not replayed
    assert events[0].get('type') != 'end' and [e for e in events if e.get('type') == 'end'][0]['status'] == 'succeeded'
    train = [e['iter'] for e in events if e.get('type') == 'train']
    assert train and min(train) >= stopped_at - 1 and max(train) >= stopped_at + 4


def test_a_resume_job_inherits_the_checkpoints_settings(char_data_dir: Path) -> None:
    """Only the keys a request sets reach the worker, so `{out_dir, init_from: resume}` continues the run as it was
    configured (shape, batch, schedule, data) instead of taking every default as asked for."""
    manager = JobManager(poll_s=0.05)
    first = _train(manager, char_data_dir, max_iters=4, lr_decay_iters=20, eval_interval=2)
    assert _ended(manager, first['id'])['status'] == 'succeeded'
    again = {'out_dir': first['id'], 'init_from': 'resume', 'maxIters': 6, 'device': 'cpu', 'compile': False}
    resumed = manager.submit('train', again)  # a remote caller's request: names the run, no paths
    assert resumed['config'] == {'out_dir': None, 'init_from': 'resume', 'max_iters': 6, 'device': 'cpu',
                                 'compile': False}  # fmt: skip
    ended = _ended(manager, first['id'])
    assert ended['status'] == 'succeeded', ended['error']
    events = _collect(manager, first['id'])
    inherited = [e['message'] for e in events if e.get('code') == 'log.resume_settings']
    assert inherited and all(k in inherited[0] for k in ('batch_size', 'n_layer', 'data_dir', 'lr_decay_iters'))
    assert [e['iter'] for e in events if e.get('type') == 'train'] == [4, 5]
    row = next(r for r in manager.runs() if r['id'] == first['id'])  # the run list shows what it trained with
    assert (row['config']['batch_size'], row['config']['n_embd']) == (TINY['batch_size'], TINY['n_embd'])


def test_a_hung_worker_is_reported_and_a_cancel_it_ignores_ends_in_a_kill(char_data_dir: Path) -> None:
    manager = JobManager(poll_s=0.05, hang_timeout=1.0, cancel_timeout=1.0)
    job = _train(manager, char_data_dir)
    wait_for(lambda: _iters(manager, job['id']), what='training to start')
    pid = manager.get(job['id'])['pid']
    os.kill(pid, signal.SIGSTOP)  # alive and silent: hung; a SIGTERM stays pending, unanswered
    hung = wait_for(lambda: (j := manager.get(job['id']))['hung'] and j, 10, 'the hang to be noticed')
    assert hung['status'] == 'running' and hung['silent_s'] >= 1.0
    manager.cancel(job['id'])
    ended = _ended(manager, job['id'], timeout=30)
    assert ended['status'] == 'cancelled' and 'did not stop within 1 s' in ended['error'] and ended['exit_code'] == -9
    end = list(read_events(manager.root / job['id'] / 'events.jsonl'))[-1]
    assert end['type'] == 'end' and end['status'] == 'cancelled'  # written for the killed worker, after its events
    nxt = _train(manager, char_data_dir, max_iters=2, lr_decay_iters=2, eval_interval=2)
    assert _ended(manager, nxt['id'])['status'] == 'succeeded'  # the device was given back


def test_a_restarted_manager_tells_the_truth(char_data_dir: Path) -> None:
    first = JobManager(poll_s=0.05)
    job = _train(first, char_data_dir)
    wait_for(lambda: _iters(first, job['id']), what='training to start')
    root = first.root
    # jobs a dead server left behind: one whose worker is gone, one still queued
    write_job(root / 'ghost', id='ghost', kind='train', status='running', pid=2**22 - 1, pid_started=1.0, first_seq=1)
    write_job(root / 'waiting', id='waiting', kind='prepare-data', status='queued', submitted=time.time(), first_seq=1,
              devices=[], config={'dataset': 'nope-not-valid'})  # fmt: skip
    second = JobManager(poll_s=0.05)  # "the server restarted": the worker keeps running and is watched again
    assert second.get(job['id'])['status'] == 'running'
    ghost = second.get('ghost')
    assert ghost['status'] == 'failed' and 'is gone' in ghost['error']
    assert _ended(second, 'waiting')['status'] == 'failed'  # it was started again (and its bad config failed)
    second.cancel(job['id'])  # the adopted worker still obeys
    ended = _ended(second, job['id'])
    assert ended['status'] == 'cancelled'
    assert not [j for j in second.list() if j['status'] in ('running', 'starting', 'queued')]


def test_unknown_ids_and_running_runs_are_guarded(char_data_dir: Path) -> None:
    manager = JobManager(poll_s=0.05)
    for bad in ('nope', '../etc', '..', 'a/b', ''):
        with pytest.raises(JobNotFound):
            manager.get(bad)
    job = _train(manager, char_data_dir)
    with pytest.raises(JobConflict):
        manager.delete_run(job['id'])
    with pytest.raises(JobConflict, match='already has'):
        _train(manager, char_data_dir, out_dir=job['id'])
    manager.close()  # shutting down asks workers to stop (they save and end cancelled)
    ended = _ended(manager, job['id'])
    assert ended['status'] == 'cancelled', ended['error']
    manager.delete_run(job['id'])
    assert not (manager.root / job['id']).exists()
