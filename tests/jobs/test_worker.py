"""The worker: one job in one process, its job.json and events, its end whatever happens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nanogpt_lab.config import DataConfig
from nanogpt_lab.events import read_events
from nanogpt_lab.jobs import lifecycle, worker
from nanogpt_lab.jobs.registry import read_job
from nanogpt_lab.jobs.specs import build_job


def test_worker_main_runs_the_job_described_in_job_json(tmp_path: Path, shakespeare_txt: Path, own_signals) -> None:
    spec = build_job('prepare-data', {'dataset': 'shakespeare_char', 'input': str(shakespeare_txt)}, local=True)
    run = tmp_path / 'runs' / 'prep'
    lifecycle.write_job(run, id='prep', kind=spec.kind, config=spec.config, status='starting', first_seq=1)
    assert worker.main([str(run)]) == 0
    job = read_job(run)
    assert job['status'] == 'succeeded' and job['pid'] == os.getpid() and job['pid_started'] and job['ended']
    events = list(read_events(run / 'events.jsonl'))
    assert events[0]['type'] == 'start' and events[-1]['type'] == 'end' and events[-1]['status'] == 'succeeded'
    assert any(e['type'] == 'progress' for e in events)


def test_a_failing_job_ends_failed_with_its_message(tmp_path: Path) -> None:
    cfg = DataConfig(dataset='custom', input=str(tmp_path / 'missing.txt'), data_dir=str(tmp_path / 'data'))
    assert lifecycle.run_job('prepare-data', cfg, tmp_path / 'run', runner=worker.RUNNERS['prepare-data']) == 'failed'
    job = read_job(tmp_path / 'run')
    end = list(read_events(tmp_path / 'run' / 'events.jsonl'))[-1]
    assert job['status'] == 'failed' and job['error'] == end['error'] and 'missing.txt' in end['error']


def test_a_non_graceful_job_stops_at_the_signal() -> None:
    code = (
        'import os, signal, time\n'
        'from nanogpt_lab.events import Cancelled\n'
        'from nanogpt_lab.jobs.lifecycle import stop_on_signals\n'
        'stop_on_signals(graceful=False)\n'
        'try:\n'
        '    print("ready", flush=True)\n'
        '    time.sleep(30)\n'
        'except Cancelled as e:\n'
        '    print("cancelled:", e, flush=True)\n'
    )
    proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'ready'
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert 'cancelled: cancelled by the user' in out and time.monotonic() - t0 < 10


def test_a_graceful_job_only_raises_its_flag(own_signals) -> None:
    should_stop = lifecycle.stop_on_signals(graceful=True)
    assert not should_stop()
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)
    assert should_stop()
    with pytest.raises(KeyboardInterrupt):  # a second signal means now
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
