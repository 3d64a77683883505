"""Server-sent events on a live server: heartbeats, status, disconnect and resume with Last-Event-ID, kill -9."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nanogpt_lab.jobs.manager import JobManager
from nanogpt_lab.server.app import create_app
from nanogpt_lab.server.routes import jobs as job_routes

LONG = dict(dataset='shakespeare_char', device='cpu', n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=4,
            gradient_accumulation_steps=1, eval_iters=2, warmup_iters=2, learning_rate=1e-3, compile=False,
            dtype='float32', threads=1, max_iters=100_000, lr_decay_iters=100_000, eval_interval=20)  # fmt: skip


@pytest.fixture
def live(workspace_home: Path, monkeypatch: pytest.MonkeyPatch, serve: Any) -> Iterator[str]:
    """The API on a real loopback port (uvicorn in a thread), torn down after the test."""
    monkeypatch.setattr(job_routes, 'HEARTBEAT_S', 0.3)
    manager = JobManager(poll_s=0.05)
    with serve(create_app(manager=manager)) as base:
        yield base
        manager.close()


def _messages(response: httpx.Response) -> Iterator[dict]:
    """Parse an SSE stream into {'id', 'event', 'data', 'comment'} messages."""
    msg: dict = {}
    for line in response.iter_lines():
        if not line:
            if msg:
                yield msg
            msg = {}
        elif line.startswith(':'):
            msg['comment'] = line[1:].strip()
        else:
            field, _, value = line.partition(':')
            msg[field] = value.strip()


def test_watchers_disconnect_and_resume_without_loss_then_kill_9(live: str, char_data_dir: Path) -> None:
    body = {**LONG, 'data_dir': str(char_data_dir)}
    job = httpx.post(f'{live}/api/jobs/train', json=body).json()
    queued = httpx.post(f'{live}/api/jobs/train', json=body).json()
    assert queued['status'] == 'queued' and queued['queue_position'] == 1

    # a watcher of the queued job sees its status and heartbeats while it waits
    with httpx.stream('GET', f'{live}/api/jobs/{queued["id"]}/events', timeout=30) as r:
        assert r.headers['content-type'].startswith('text/event-stream')
        seen = []
        for msg in _messages(r):
            seen.append(msg)
            if any('comment' in m for m in seen) and any(m.get('event') == 'status' for m in seen):
                break
    status = json.loads(next(m for m in seen if m.get('event') == 'status')['data'])
    assert status['status'] == 'queued' and status['queue_position'] == 1

    # watch the running job, drop the connection after a few events, come back with Last-Event-ID
    first: list[dict] = []
    with httpx.stream('GET', f'{live}/api/jobs/{job["id"]}/events', timeout=60) as r:
        for msg in _messages(r):
            if 'id' in msg:
                first.append(json.loads(msg['data']))
                assert int(msg['id']) == first[-1]['seq']
            if len([e for e in first if e['type'] == 'train']) >= 3:
                break
    assert first, httpx.get(f'{live}/api/jobs/{job["id"]}').json()
    time.sleep(1.0)  # events keep coming while nobody watches
    rest: list[dict] = []
    headers = {'Last-Event-ID': str(first[-1]['seq'])}
    with httpx.stream('GET', f'{live}/api/jobs/{job["id"]}/events', headers=headers, timeout=60) as r:
        for msg in _messages(r):
            if 'id' in msg:
                rest.append(json.loads(msg['data']))
            if len(rest) == 3:
                os.kill(httpx.get(f'{live}/api/jobs/{job["id"]}').json()['pid'], signal.SIGKILL)
            if rest and rest[-1]['type'] == 'end':
                break  # the stream ends after `end` by itself; this only guards the loop
    seqs = [e['seq'] for e in first + rest]
    assert seqs == list(range(1, len(seqs) + 1))  # nothing lost, nothing twice
    assert rest[-1]['type'] == 'end' and rest[-1]['status'] == 'failed' and 'SIGKILL' in rest[-1]['error']
    # the server lives on, and the queued job got the device
    assert httpx.get(f'{live}/api/jobs/{job["id"]}').json()['status'] == 'failed'
    deadline = time.monotonic() + 60
    while httpx.get(f'{live}/api/jobs/{queued["id"]}').json()['status'] != 'running':
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert httpx.post(f'{live}/api/jobs/{queued["id"]}/cancel').json()['id'] == queued['id']


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _serve(home: Path, port: int) -> subprocess.Popen:
    cmd = [sys.executable, '-m', 'uvicorn', '--factory', 'nanogpt_lab.server.app:create_app', '--host', '127.0.0.1',
           '--port', str(port), '--log-level', 'warning']  # fmt: skip
    proc = subprocess.Popen(cmd, env={**os.environ, 'NANOGPT_LAB_HOME': str(home)})
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f'http://127.0.0.1:{port}/api/jobs', timeout=2)
            return proc
        except httpx.TransportError:
            assert proc.poll() is None and time.monotonic() < deadline, 'the server did not start'
            time.sleep(0.2)


def test_server_killed_and_restarted_reports_jobs_truthfully(workspace_home: Path, char_data_dir: Path) -> None:
    """kill -9 of the server: its worker keeps training; the next server watches it again and can cancel it."""
    port = _free_port()
    base = f'http://127.0.0.1:{port}'
    server = _serve(workspace_home, port)
    try:
        job = httpx.post(f'{base}/api/jobs/train', json={**LONG, 'data_dir': str(char_data_dir)}).json()
        while not httpx.get(f'{base}/api/runs/{job["id"]}').json().get('last_iter'):
            time.sleep(0.2)
        pid = httpx.get(f'{base}/api/jobs/{job["id"]}').json()['pid']
    finally:
        server.kill()
        server.wait()
    os.kill(pid, 0)  # the worker outlived its server
    server = _serve(workspace_home, port)
    try:
        again = httpx.get(f'{base}/api/jobs/{job["id"]}').json()
        assert again['status'] == 'running' and again['pid'] == pid
        assert httpx.post(f'{base}/api/jobs/{job["id"]}/cancel').status_code == 200
        deadline = time.monotonic() + 60
        while (status := httpx.get(f'{base}/api/jobs/{job["id"]}').json()['status']) == 'running':
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert status == 'cancelled'
        assert httpx.get(f'{base}/api/runs/{job["id"]}').json()['has_checkpoint']
    finally:
        server.terminate()
        server.wait(20)
