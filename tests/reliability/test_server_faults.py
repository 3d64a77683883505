"""The lab server (`nanogpt-lab serve`, a real process) killed and restarted while jobs run, a worker that hangs,
and a training that runs out of memory under a memory cap.

After each restart the job list is the truth: what finished is finished, what died is failed with the reason,
what still runs is watched again, what waited still waits, and nothing is marked running whose process is gone.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import psutil

from nanogpt_lab.events import read_events

ACTIVE = ('queued', 'starting', 'running')
MEMORY_CAP_KB = 2_000_000  # ulimit -v: enough for the server and a small training, not for a batch of 16,384


def _truthful(home: Path, jobs: list[dict]) -> None:
    """Every job marked running (in the API and in job.json on disk) has its own process alive."""
    on_disk = {p.parent.name: json.loads(p.read_text()) for p in (home / 'runs').glob('*/job.json')}
    assert {j['id'] for j in jobs} == set(on_disk)
    for job in [*jobs, *on_disk.values()]:
        if job['status'] in ('running', 'starting'):
            proc = psutil.Process(job['pid'])
            assert proc.status() != psutil.STATUS_ZOMBIE and abs(proc.create_time() - job['pid_started']) < 1


def _by_id(lab: Any) -> dict[str, dict]:
    r = lab.call('GET', '/api/jobs')
    assert r.status_code == 200
    return {j['id']: j for j in r.json()['jobs']}


def _submit(lab: Any, kind: str, body: dict) -> dict:
    r = lab.call('POST', f'/api/jobs/{kind}', json=body)
    assert r.status_code == 202, r.text
    return r.json()


def _dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _first_status(lab: Any, job_id: str, after: int) -> dict:
    """The first `event: status` message of the job's SSE stream (it comes at once, with the current state)."""
    with httpx.stream('GET', f'{lab.base}/api/jobs/{job_id}/events?after={after}', timeout=60) as r:
        assert r.headers['content-type'].startswith('text/event-stream')
        event = None
        for line in r.iter_lines():
            if line == 'event: status':
                event = 'status'
            elif line.startswith('data:') and event == 'status':
                return json.loads(line[5:])
    raise AssertionError('the stream ended without a status message')


def test_server_killed_and_restarted_while_jobs_run(tmp_path: Path, char_data_dir: Path, shakespeare_txt: Path,
                                                    labs: Any, helpers: Any) -> None:  # fmt: skip
    home = tmp_path / 'home'
    env = {'NANOGPT_LAB_HANG_TIMEOUT': '2'}
    base = {**helpers.TINY, 'data_dir': str(char_data_dir)}
    lab = labs(home, env=env).start()
    trains = _submit(lab, 'train', {**base, 'max_iters': 1_000_000, 'eval_interval': 50})
    waits = _submit(lab, 'train', {**base, 'max_iters': 3, 'eval_interval': 3})
    assert waits['status'] == 'queued' and waits['queue_position'] == 1  # one training per device
    from nanogpt_lab.simulation.assets import list_assets

    replays = _submit(lab, 'simulate', {'asset': list_assets(kind='run')[0].name, 'speed': 1})
    (tmp_path / 'poems.txt').write_text(shakespeare_txt.read_text()[:50_000])
    prepared = _submit(lab, 'prepare-data', {'dataset': 'custom', 'input': str(tmp_path / 'poems.txt')})
    assert lab.ended(prepared['id'])['status'] == 'succeeded'
    helpers.wait_for(lambda: lab.call('GET', f'/api/runs/{trains["id"]}').json().get('last_iter'), 'training')
    helpers.wait_for(lambda: lab.job(replays['id'])['status'] == 'running', 'the replay')
    pids = {j: lab.job(j)['pid'] for j in (trains['id'], replays['id'])}

    lab.kill()  # the server dies; its workers live on in their own sessions
    os.kill(pids[replays['id']], signal.SIGKILL)  # and one of them dies too while no server watches
    helpers.wait_for(lambda: _dead(pids[replays['id']]), 'the replay worker to die')
    assert not _dead(pids[trains['id']])

    lab = labs(home, env=env).start()
    jobs = _by_id(lab)
    _truthful(home, list(jobs.values()))
    assert jobs[prepared['id']]['status'] == 'succeeded'
    assert jobs[replays['id']]['status'] == 'failed' and 'is gone' in jobs[replays['id']]['error']
    assert list(read_events(home / 'runs' / replays['id'] / 'events.jsonl'))[-1]['status'] == 'failed'
    assert jobs[trains['id']]['status'] == 'running' and jobs[trains['id']]['pid'] == pids[trains['id']]
    assert jobs[waits['id']]['status'] == 'queued' and jobs[waits['id']]['queue_position'] == 1
    runs = {r['id'] for r in lab.call('GET', '/api/runs').json()['runs']}
    assert runs == set(jobs)

    # a worker that stops answering (SIGSTOP: alive, silent) is reported hung, then recovers
    os.kill(pids[trains['id']], signal.SIGSTOP)
    try:
        hung = helpers.wait_for(lambda: (j := lab.job(trains['id']))['hung'] and j, 'the hang to be noticed')
        assert hung['status'] == 'running' and hung['silent_s'] >= 2
        last = list(read_events(home / 'runs' / trains['id'] / 'events.jsonl'))[-1]['seq']
        assert _first_status(lab, trains['id'], last)['hung'] is True  # the event stream says so too
        assert lab.call('GET', '/api/jobs').status_code == 200  # the server keeps serving
    finally:
        os.kill(pids[trains['id']], signal.SIGCONT)
    helpers.wait_for(lambda: not lab.job(trains['id'])['hung'], 'the worker to be heard again')

    # the adopted worker still obeys a cancel; the waiting job then runs
    assert lab.call('POST', f'/api/jobs/{trains["id"]}/cancel').status_code == 200
    assert lab.ended(trains['id'])['status'] == 'cancelled'
    helpers.wait_for(lambda: lab.job(waits['id'])['status'] == 'running', 'the queued job to start')
    lab.kill()  # killed again: the queued-then-started job finishes while no server runs
    job_file = home / 'runs' / waits['id'] / 'job.json'
    helpers.wait_for(lambda: json.loads(job_file.read_text())['status'] == 'succeeded', 'the orphan to finish')

    lab = labs(home, env=env).start()
    jobs = _by_id(lab)
    _truthful(home, list(jobs.values()))
    assert not [j for j in jobs.values() if j['status'] in ACTIVE]
    assert [jobs[j]['status'] for j in (trains['id'], waits['id'])] == ['cancelled', 'succeeded']
    assert lab.call('GET', f'/api/runs/{waits["id"]}').json()['has_checkpoint']


def test_out_of_memory_fails_the_job_names_the_knob_and_the_server_lives(tmp_path: Path, char_data_dir: Path,
                                                                         labs: Any, helpers: Any) -> None:  # fmt: skip
    """The whole lab runs under `ulimit -v` (as on a small machine); a batch that cannot fit fails its job only."""
    home = tmp_path / 'home'
    lab = labs(home, limit_kb=MEMORY_CAP_KB).start()
    base = {**helpers.TINY, 'data_dir': str(char_data_dir), 'max_iters': 2, 'eval_interval': 2}
    big = _submit(lab, 'train', {**base, 'n_embd': 128, 'n_head': 4, 'block_size': 256, 'batch_size': 16384})
    failed = lab.ended(big['id'])
    assert failed['status'] == 'failed', failed
    error = failed['error']
    assert error.startswith('out of memory on cpu while'), error
    for knob in ('batch_size (now 16384)', 'gradient_accumulation_steps (now 1)', 'block_size (now 256)'):
        assert knob in error, error
    assert lab.call('GET', '/api/jobs').status_code == 200  # the server lives
    small = _submit(lab, 'train', base)  # and still trains what fits, under the same cap
    assert lab.ended(small['id'])['status'] == 'succeeded'


def test_a_job_that_ended_but_is_still_exiting_can_be_deleted(tmp_path: Path, shakespeare_txt: Path,
                                                              helpers: Any) -> None:  # fmt: skip
    """Its end is written but its process lingers a moment: deleting the run waits for it instead of a 409."""
    from nanogpt_lab.jobs.manager import JobManager

    slow = tmp_path / 'slow-exit'  # the real worker, then 1.5 s before the process really ends
    slow.write_text(f'#!/bin/sh\n"{sys.executable}" "$@"\ncode=$?\nsleep 1.5\nexit $code\n')
    slow.chmod(0o755)
    (tmp_path / 'poem.txt').write_text(shakespeare_txt.read_text()[:20_000])
    manager = JobManager(python=str(slow), poll_s=0.05)
    job = manager.submit('prepare-data', {'dataset': 'custom', 'input': str(tmp_path / 'poem.txt')}, local=True)
    job_file = manager.root / job['id'] / 'job.json'
    helpers.wait_for(lambda: json.loads(job_file.read_text())['status'] == 'succeeded', 'the job to end', interval=0.02)
    manager.delete_run(job['id'])  # its worker has not exited yet
    assert not job_file.parent.exists()
