"""The one-job-per-device queue cannot be bypassed; a process the lab did not start is noticed when it dies.

Lanes: jobs run under a wrapper that sleeps (it stands for a long benchmark), so which jobs start and which wait
is visible without spending the CPU. Dead processes: real `nanogpt-lab train` runs from a terminal while a real
`nanogpt-lab serve` runs, one cancelled through the API and one killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nanogpt_lab.jobs.manager import JobManager
from nanogpt_lab.server.app import create_app


@pytest.fixture
def slow_lab(tmp_path: Path, workspace_home: Path) -> Any:
    """The API with workers that only sleep: a started job stays `starting` until cancelled."""
    sleeper = tmp_path / 'sleeper'
    sleeper.write_text('#!/bin/sh\nexec sleep 120\n')
    sleeper.chmod(0o755)
    manager = JobManager(python=str(sleeper), cancel_timeout=1, poll_s=0.05)
    yield TestClient(create_app(manager=manager), base_url='http://127.0.0.1', client=('127.0.0.1', 40000))
    for job in manager.list():
        if job['status'] in ('queued', 'starting', 'running'):
            manager.cancel(job['id'])
    manager.close()


def test_no_spelling_of_a_device_gets_a_lane_of_its_own(slow_lab: TestClient) -> None:
    import torch

    for body in ({'suite': 'sample', 'device': 'cpu2'}, {'suite': 'sample', 'device': 'x'},
                 {'suite': 'sample', 'args': {'device': 'cuda:9'}}):  # fmt: skip
        r = slow_lab.post('/api/jobs/bench', json=body)
        assert r.status_code == 422, r.text
    if not torch.cuda.is_available():  # devices that are not here are refused, not given a lane
        for kind, body in (('train', {'device': 'cuda'}), ('sample', {'device': 'cuda:1', 'init_from': 'bundled'}),
                           ('bench', {'suite': 'train', 'args': {'suite': 'gpu'}})):  # fmt: skip
            r = slow_lab.post(f'/api/jobs/{kind}', json=body)
            assert r.status_code == 422 and 'no CUDA GPU' in r.json()['error']['message'], r.text
    jobs = [slow_lab.post('/api/jobs/bench', json={'suite': 'sample', 'args': {'reps': 1}}).json() for _ in range(3)]
    jobs.append(slow_lab.post('/api/jobs/sample', json={'init_from': 'bundled', 'device': 'auto'}).json())
    jobs.append(slow_lab.post('/api/jobs/bench', json={'suite': 'train', 'args': {'suite': 'speed'}}).json())
    lanes = [j['devices'] for j in jobs]
    assert len({tuple(d) for d in lanes}) == 1 and lanes[0] == ['cpu' if not torch.cuda.is_available() else 'cuda:0']
    states = [slow_lab.get(f'/api/jobs/{j["id"]}').json() for j in jobs]
    assert [s['status'] for s in states].count('starting') == 1, states
    assert [s['queue_position'] for s in states[1:]] == [1, 2, 3, 4]


@pytest.fixture
def cli_train(tmp_path: Path, helpers: Any, char_data_dir: Path) -> Any:
    """Start `nanogpt-lab train` in a terminal of its own (not the lab's child); returns a function."""
    started: list[subprocess.Popen] = []

    def start(home: Path, run: str, *extra: str) -> subprocess.Popen:
        args = [str(helpers.LAB), 'train', *helpers.flags(helpers.TINY), f'--data_dir={char_data_dir}',
                f'--out_dir={home / "runs" / run}', '--max_iters=100000', '--eval_interval=5', *extra]  # fmt: skip
        proc = subprocess.Popen(args, env=helpers.lab_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def _running_on_disk(run_dir: Path, proc: subprocess.Popen) -> bool:
    try:
        job = json.loads((run_dir / 'job.json').read_text())
    except (OSError, ValueError):
        return False
    return job.get('status') == 'running' and job.get('pid') == proc.pid and (run_dir / 'ckpt.pt').is_file()


def test_a_cli_training_is_cancellable_and_noticed_dead_while_the_server_runs(
    tmp_path: Path, labs: Any, helpers: Any, cli_train: Any, char_data_dir: Path
) -> None:
    home = tmp_path / 'home'
    lab = labs(home).start()
    run_dir = home / 'runs' / 'from-terminal'

    # a training started in a terminal after the server: the lab shows it running and can stop it
    proc = cli_train(home, 'from-terminal')
    helpers.wait_for(lambda: _running_on_disk(run_dir, proc), 'the terminal training to save a checkpoint')
    assert lab.job('from-terminal')['status'] == 'running'
    r = lab.call('POST', '/api/jobs/from-terminal/cancel')
    assert r.status_code == 200, r.text
    assert proc.wait(120) == 130  # the terminal's run ended as a Ctrl-C would end it: saved, cancelled
    assert lab.ended('from-terminal')['status'] == 'cancelled'

    # resumed from the terminal, then killed before the lab ever looked: the lab says it is gone, not running
    proc = cli_train(home, 'from-terminal', '--init_from=resume')
    helpers.wait_for(lambda: _running_on_disk(run_dir, proc), 'the resumed training to run')
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(60)
    job = lab.job('from-terminal')
    assert job['status'] == 'failed' and f'pid {proc.pid}' in job['error'] and 'is gone' in job['error'], job
    assert 'last recorded iteration' in job['error']
    listed = {j['id']: j for j in lab.call('GET', '/api/jobs').json()['jobs']}
    assert listed['from-terminal']['status'] == 'failed'

    # and everything a stuck "running" refused now works: resume through the API, then delete
    last = lab.call('GET', '/api/runs/from-terminal').json()['last_iter']
    r = lab.call('POST', '/api/jobs/train', json={'out_dir': 'from-terminal', 'init_from': 'resume',
                                                 'data_dir': str(char_data_dir), 'max_iters': last + 2})  # fmt: skip
    assert r.status_code == 202, r.text
    assert lab.ended('from-terminal')['status'] == 'succeeded'
    assert lab.call('DELETE', '/api/runs/from-terminal').status_code == 200
