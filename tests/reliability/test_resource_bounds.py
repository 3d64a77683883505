"""Every input channel refuses or serves within a bound of time and memory that the test asserts.

Channels: a config file and a CLI flag (the real `nanogpt-lab` script in a process of its own, its peak memory read
from the kernel with wait4), a JSON body, an upload and event-stream reconnects (a real `nanogpt-lab serve`, its
resident memory sampled every 20 ms while the requests run). The bounds are generous for a loaded 2-core machine;
what they rule out is the old behaviour: gigabytes and tens of seconds, or memory that grows with the input.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

MB = 1 << 20


class PeakRss:
    """The highest resident memory of a process while the block runs, sampled every 20 ms."""

    def __init__(self, pid: int):
        self.proc = psutil.Process(pid)
        try:
            self.start = self.peak = self.proc.memory_info().rss
        except psutil.Error:  # it has already exited
            self.start = self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:  # it has exited
                return

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


def _run(helpers: Any, home: Path, *args: str, cwd: Path) -> tuple[int, str, float, int]:
    """Run the `nanogpt-lab` script; return (exit status, output, seconds, peak resident bytes of that process)."""
    start = time.monotonic()
    proc = subprocess.Popen([str(helpers.LAB), *args], env=helpers.lab_env(home), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    with PeakRss(proc.pid) as rss:  # (wait4's maxrss would count the pages it shared with pytest before exec)
        out = proc.communicate()[0].decode(errors='replace')
    return proc.returncode, out, time.monotonic() - start, rss.peak


@pytest.mark.parametrize(
    ('name', 'source', 'words'),
    [
        ('big_str.py', "dataset = 'a' * 10**10\n", 'characters'),
        ('big_pow.py', 'n_layer = 10**10**10\n', 'bits'),
        ('digits.py', 'n = str(10**5000)\n', 'bits'),
        ('nested.py', 'x = ' + '(' * 50_000 + '1' + ')' * 50_000 + '\n', 'larger than'),
        ('sum.py', 'x = ' + '+'.join(['1'] * 30_000) + '\n', 'nested'),
    ],
)
def test_config_file_channel(tmp_path: Path, helpers: Any, name: str, source: str, words: str) -> None:
    (tmp_path / name).write_text(source)
    code, out, seconds, peak = _run(helpers, tmp_path / 'home', 'train', name, '--device=cpu', cwd=tmp_path)
    assert code != 0 and name in out and words in out, out
    assert len(out.strip().splitlines()) == 1, out
    assert seconds < 20, f'{seconds:.1f} s'  # the process start dominates; the refusal itself takes milliseconds
    assert peak < 250 * MB, f'{peak / MB:.0f} MB'


@pytest.mark.parametrize(
    ('flag', 'key'),
    [
        ('--batch_size=' + '9' * 100_000, 'batch_size'),
        ('--batch_size=99999999999999999999', 'batch_size'),
        ('--n_layer=' + '[' * 100_000, 'n_layer'),
        ('--seed=' + str(2**70), 'seed'),
        ('--dataset=' + 'a' * 100_000, 'dataset'),
        ('--learning_rate=1e999', 'learning_rate'),
    ],
    ids=['100k-digits', '1e20', 'nested', 'seed', 'long-name', 'inf'],
)
def test_cli_flag_channel(tmp_path: Path, helpers: Any, flag: str, key: str) -> None:
    code, out, seconds, peak = _run(helpers, tmp_path / 'home', 'train', flag, '--device=cpu', cwd=tmp_path)
    assert code != 0 and key in out, out[:500]
    assert len(out.strip().splitlines()) <= 3 and 'Traceback' not in out, out[:2000]
    assert len(out) < 2000  # the value is quoted short, not echoed back whole
    assert seconds < 20, f'{seconds:.1f} s'
    assert peak < 250 * MB, f'{peak / MB:.0f} MB'


def test_a_failed_cli_job_says_so_once_on_one_line(tmp_path: Path, helpers: Any, char_data_dir: Path) -> None:
    long_name = 'a' * 5000  # a name no folder can have: refused before a run starts, quoted cut short
    for flag, status, words in (('--dataset=nope', 1, "dataset 'nope' is not prepared"),
                                (f'--dataset={long_name}', 2, '(5,000 characters) is not allowed')):  # fmt: skip
        code, out, _, _ = _run(helpers, tmp_path / 'home', 'train', flag, f'--data_dir={char_data_dir}',
                               '--device=cpu', '--compile=False', cwd=tmp_path)  # fmt: skip
        # what the run was doing ('now: reading the data') may come first; the failure is one line, said once
        lines = [line for line in out.splitlines() if line.strip() and not line.startswith('now: ')]
        assert code == status and len(lines) == 1 and words in lines[0], out[:3000]
        assert 'Traceback' not in out and len(out) < 1000
    assert not (tmp_path / 'home' / 'runs').exists() or len(list((tmp_path / 'home' / 'runs').iterdir())) == 1


@pytest.fixture(scope='module')
def lab(tmp_path_factory: pytest.TempPathFactory, helpers: Any) -> Iterator[Any]:
    """A real server whose uploads are capped at 20 MB (NANOGPT_LAB_UPLOAD_LIMIT_MB), one for the module's channels
    (each measures its own memory growth; the JSON channel, first, sees an empty job list)."""
    folder = tmp_path_factory.mktemp('bounds_lab')
    served = helpers.Lab(folder / 'home', folder / 'lab.log', env={'NANOGPT_LAB_UPLOAD_LIMIT_MB': '20'}).start()
    try:
        served.call('GET', '/api/jobs')  # the first request's imports are not part of any measurement
        served.call('POST', '/api/jobs/train', json={'batch_size': 0})
        yield served
    finally:
        served.stop()


def _timed(lab: Any, method: str, path: str, **kw: Any) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    r = lab.call(method, path, **kw)
    return r, time.monotonic() - start


def test_json_body_channel(lab: Any) -> None:
    bodies = {
        'nested arrays': (b'[' * 500_000 + b']' * 500_000, 400),
        'nested objects': (b'{"a":' * 150_000 + b'1' + b'}' * 150_000, 400),
        'a million-digit number': (b'{"batch_size": ' + b'9' * 1_000_000 + b'}', 400),
        'huge numbers': (json.dumps({k: 2**70 for k in ('batch_size', 'max_iters', 'seed', 'n_layer')}).encode(), 422),
        '50,000 keys': (json.dumps({f'k{i}': i for i in range(50_000)}).encode(), 422),
        'a 1.1 MB name': (json.dumps({'dataset': 'a' * 1_100_000}).encode(), 413),
        'a 900 KB name': (json.dumps({'dataset': 'a' * 900_000}).encode(), 422),
    }
    with PeakRss(lab.proc.pid) as rss:
        for what, (body, status) in bodies.items():
            r, seconds = _timed(lab, 'POST', '/api/jobs/train', content=body,
                                headers={'Content-Type': 'application/json'})  # fmt: skip
            assert r.status_code == status, f'{what}: {r.status_code} {r.text[:300]}'
            assert len(r.content) < 4000, f'{what}: a {len(r.content)}-byte answer'
            assert seconds < 10, f'{what}: {seconds:.1f} s'
    assert rss.growth < 150 * MB, f'{rss.growth / MB:.0f} MB'
    assert lab.call('GET', '/api/jobs').json()['jobs'] == []


def _chunks(total: int, sent: list[int]) -> Iterator[bytes]:
    block = ('To be, or not to be, that is the question.\n' * 1500).encode()[: 64 * 1024]
    while sent[0] < total:
        sent[0] += len(block)
        yield block


def _multipart(total: int, sent: list[int], boundary: str = 'b0undary') -> Iterator[bytes]:
    yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'.encode()
    yield from _chunks(total, sent)
    yield f'\r\n--{boundary}--\r\n'.encode()


def test_upload_channel(lab: Any) -> None:
    headers = {'Content-Type': 'multipart/form-data; boundary=b0undary'}
    uploads = lab.home / 'uploads'
    with PeakRss(lab.proc.pid) as rss:
        sent = [0]
        r, seconds = _timed(lab, 'POST', '/api/datasets/upload', content=_multipart(15 * MB, sent), headers=headers)
        assert r.status_code == 201, r.text
        assert (uploads / 'big.txt').stat().st_size == sent[0] and seconds < 60
        sent = [0]  # 1 GB streamed without a length: refused once 20 MB have arrived
        try:
            r, seconds = _timed(lab, 'POST', '/api/datasets/upload', content=_multipart(1 << 30, sent),
                                headers=headers)  # fmt: skip
            assert r.status_code == 413, r.text
        except httpx.HTTPError:
            pass  # the server answered 413 and closed the connection while the client was still sending
        assert sent[0] < 200 * MB, f'{sent[0] / MB:.0f} MB were read before the refusal'
        start = time.monotonic()  # a body that says it is 1 TB: refused before any of it is read
        with socket.create_connection(('127.0.0.1', lab.port), timeout=30) as conn:
            conn.sendall(
                f'POST /api/datasets/upload HTTP/1.1\r\nHost: 127.0.0.1:{lab.port}\r\n'
                f'Content-Type: {headers["Content-Type"]}\r\nContent-Length: {1 << 40}\r\n\r\n'.encode()
            )
            answer = conn.recv(4096).decode(errors='replace')
        assert answer.startswith('HTTP/1.1 413') and time.monotonic() - start < 5, answer
    assert rss.growth < 100 * MB, f'{rss.growth / MB:.0f} MB for a 15 MB upload and a refused 1 GB one'
    assert sorted(p.name for p in uploads.iterdir()) == ['big.txt']  # no temp file left


def test_event_stream_reconnect_channel(lab: Any) -> None:
    from nanogpt_lab.events import EventLog
    from nanogpt_lab.jobs.lifecycle import write_job

    run = lab.home / 'runs' / 'long-run'
    n = 100_000  # a long training's events (~13 MB)
    with EventLog(run / 'events.jsonl') as emit:
        emit('start', kind='train', run_id='long-run', pid=1, config={})
        for i in range(n - 2):
            emit('train', iter=i, loss=2.0, lr=6e-4, tokens=i * 512, dt_ms=30.0)
        emit('end', status='succeeded', error=None)
    write_job(run, id='long-run', kind='train', status='succeeded', submitted=1.0, first_seq=1, config={})
    with PeakRss(lab.proc.pid) as rss:
        worst = 0.0
        for k in range(30):  # an EventSource reconnecting after a network blip: it sends Last-Event-ID
            start = time.monotonic()
            with httpx.stream('GET', f'{lab.base}/api/jobs/long-run/events', timeout=60,
                              headers={'Last-Event-ID': str(n - 3 - k % 3)}) as r:  # fmt: skip
                ids = [int(line[4:]) for line in r.iter_lines() if line.startswith('id: ')]
            worst = max(worst, time.monotonic() - start)
            assert ids == list(range(n - 2 - k % 3, n + 1)), ids
        r, seconds = _timed(lab, 'GET', '/api/runs/long-run/events', params={'after': n - 5})
        assert [e['seq'] for e in r.json()['events']] == list(range(n - 4, n + 1)) and seconds < 5
    assert worst < 3.0, f'a reconnect took {worst:.2f} s'
    assert rss.growth < 100 * MB, f'{rss.growth / MB:.0f} MB'
