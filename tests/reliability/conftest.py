"""Fixtures for the reliability suites: subprocess environments, a real `nanogpt-lab serve`, waits, snapshots.

Everything here drives the lab from outside, as a learner's machine would: real processes, real signals, real
files. Waits poll a condition (a file, an HTTP answer) with generous deadlines, never a fixed sleep, because the
machines these run on are shared and busy.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

LAB = Path(sys.executable).with_name('nanogpt-lab')  # the console script, as a learner runs it
TLS = ssl.create_default_context()  # made once: httpx loads the CA store (~56 ms CPU) for each request otherwise
DEADLINE_S = 180.0  # the longest any single wait may take on a loaded machine before the test fails

# A model small enough that a step costs milliseconds on one thread, big enough (~1.3 MB checkpoint) that writing
# a checkpoint takes long enough to be caught in the act.
TINY = dict(
    dataset='shakespeare_char', device='cpu', compile=False, dtype='float32', threads=1, n_layer=2, n_head=2,
    n_embd=64, block_size=64, batch_size=4, gradient_accumulation_steps=1, dropout=0.0, learning_rate=1e-3,
    warmup_iters=0, lr_decay_iters=1000, eval_iters=1, log_interval=1,
)  # fmt: skip


def flags(values: dict[str, Any]) -> list[str]:
    """`--key=value` arguments for the CLI."""
    return [f'--{k}={v}' for k, v in values.items()]


def lab_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a lab subprocess: its workspace, one thread, no CPU peak measurement, no pytest mode."""
    env = {
        **os.environ,
        'NANOGPT_LAB_HOME': str(home),
        'NANOGPT_LAB_CPU_PEAK_TFLOPS': '0.1',  # MFU needs a peak; measuring one costs seconds per start
        'OMP_NUM_THREADS': '1',
        'PYTHONUNBUFFERED': '1',
        **extra,
    }
    env.pop('PYTEST_CURRENT_TEST', None)  # else a NiceGUI child switches into its screen-test mode
    return env


def wait_for(check: Callable[[], Any], what: str, timeout: float = DEADLINE_S, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f'timed out after {timeout:.0f} s waiting for {what}')
        time.sleep(interval)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Lab:
    """A real `nanogpt-lab serve` in a subprocess, on a loopback port, with its own workspace."""

    def __init__(self, home: Path, log: Path, *, port: int | None = None, env: dict[str, str] | None = None,
                 limit_kb: int | None = None, host: str = '127.0.0.1'):  # fmt: skip
        self.home, self.log, self.limit_kb, self.host = home, log, limit_kb, host
        self.port = port or free_port()
        self.base = f'http://127.0.0.1:{self.port}'
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None

    def start(self, *args: str) -> Lab:
        """Start the server and wait until its API answers."""
        cmd = [str(LAB), 'serve', '--host', self.host, '--port', str(self.port), '--no-browser', *args]
        if self.limit_kb:  # a memory cap on the server and every worker it starts, as on a small machine
            cmd = ['sh', '-c', f'ulimit -v {int(self.limit_kb)} && exec "$@"', 'sh', *cmd]
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log, 'ab') as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=lab_env(self.home,
                                         **self.extra_env), cwd=self.home.parent)  # fmt: skip

        def up() -> bool:
            assert self.proc.poll() is None, f'the lab exited: {self.log.read_text()[-2000:]}'
            try:
                answer = httpx.get(self.base + '/api/jobs', timeout=5, verify=TLS)
                return answer.status_code in (200, 401)  # 401: needs a token
            except httpx.TransportError:
                return False

        wait_for(up, 'the lab to answer', interval=0.2)
        return self

    def kill(self) -> None:
        """SIGKILL: the server dies on the spot, as when a laptop's power fails."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(60)

    def stop(self) -> None:
        """SIGTERM (a normal shutdown), SIGKILL if it hangs."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One HTTP request to the lab."""
        return httpx.request(method, self.base + path, timeout=kw.pop('timeout', 60), verify=TLS, **kw)

    def job(self, job_id: str) -> dict:
        """GET /api/jobs/{id}."""
        r = self.call('GET', f'/api/jobs/{job_id}')
        assert r.status_code == 200, r.text
        return r.json()

    def ended(self, job_id: str, timeout: float = DEADLINE_S) -> dict:
        """Wait for a job to reach succeeded, failed or cancelled; return it."""
        return wait_for(lambda: (j := self.job(job_id))['status'] in ('succeeded', 'failed', 'cancelled') and j,
                        f'job {job_id} to end', timeout, 0.2)  # fmt: skip


@pytest.fixture
def labs(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    """labs(home, **kw) -> a Lab (not started); every lab is killed at the end of the test."""
    made: list[Lab] = []

    def make(home: Path, **kw: Any) -> Lab:
        lab = Lab(home, tmp_path / f'lab-{len(made)}.log', **kw)
        made.append(lab)
        return lab

    yield make
    for lab in made:
        lab.stop()


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file under `root` (but not under `skip`) with its size and mtime: to prove nothing was written there."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if skip is not None and Path(dirpath).resolve() == skip.resolve():
            dirnames[:] = []
            continue
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            if skip is not None and p.resolve() == skip.resolve():
                continue  # the workspace itself may appear
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            out[str(p.relative_to(root))] = (st.st_size if p.is_file() else -1, st.st_mtime_ns)
    return out


def events_of(path: Path) -> list[dict]:
    """A run's readable events (complete lines), as the lab reads them."""
    from nanogpt_lab.events import read_events

    return list(read_events(path))


@pytest.fixture(scope='session')
def helpers() -> Any:
    """The module-level helpers above, for test modules (importlib mode cannot import a conftest)."""
    import types

    return types.SimpleNamespace(TINY=TINY, flags=flags, lab_env=lab_env, wait_for=wait_for, snapshot=snapshot,
                                 events_of=events_of, free_port=free_port, LAB=LAB, Lab=Lab)  # fmt: skip
