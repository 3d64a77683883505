"""Downloading GPT-2 weights from the Hub: offline and unreachable fail fast with instructions, a cut-off download
resumes, a hanging DNS lookup is cut short. A local server stands in for the Hub."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import time

import pytest

from nanogpt_lab import workspace
from nanogpt_lab.data import hub
from nanogpt_lab.data.hub import download_weights
from nanogpt_lab.model.pretrained import WeightsError


def test_download_offline_fails_fast_with_instructions():
    t0 = time.monotonic()
    with pytest.raises(WeightsError) as e:
        download_weights('gpt2-xl')
    assert time.monotonic() - t0 < 3
    msg = str(e.value)
    assert 'offline' in msg and str(workspace.weights_root() / 'gpt2-xl') in msg and 'model.safetensors' in msg
    with pytest.raises(WeightsError, match='not one of'):
        download_weights('gpt5')


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def online(monkeypatch):
    """Lift the suite's offline switch for a test that talks to a local server only."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', False)
    for var in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_download_unreachable_hub_fails_fast(online):
    online.setenv('HF_ENDPOINT', f'http://127.0.0.1:{_closed_port()}')
    from huggingface_hub.utils import get_session

    get_session()  # its first HTTP client (imports, CA certificates) is made before the clock: the bound is on tries
    t0 = time.monotonic()
    with pytest.raises(WeightsError, match='cannot reach the Hugging Face Hub for gpt2.*put both in'):
        download_weights('gpt2')
    assert time.monotonic() - t0 < 5


class _FakeHub(http.server.BaseHTTPRequestHandler):
    """Serves files like the Hub's resolve endpoint (HEAD metadata, GET with Range), recording each Range asked."""

    files: dict[str, bytes] = {}
    ranges: list[str | None] = []

    def _file(self) -> bytes | None:
        return self.files.get(self.path.rsplit('/', 1)[-1])

    def do_HEAD(self):  # noqa: N802 - http.server's naming
        data = self._file()
        self.send_response(200 if data is not None else 404)
        if data is not None:
            self.send_header('ETag', f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header('X-Repo-Commit', 'a' * 40)
            self.send_header('Content-Length', str(len(data)))
        self.end_headers()

    def do_GET(self):  # noqa: N802
        data = self._file() or b''
        rng = self.headers.get('Range')
        self.ranges.append(rng)
        start = int(rng.split('=')[1].split('-')[0]) if rng else 0
        self.send_response(206 if rng else 200)
        self.send_header('Content-Length', str(len(data) - start))
        if rng:
            self.send_header('Content-Range', f'bytes {start}-{len(data) - 1}/{len(data)}')
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


def test_download_resumes_from_a_partial_file(online, tmp_path):
    payload = bytes(range(256)) * 4000  # ~1 MB
    _FakeHub.files, _FakeHub.ranges = {'model.safetensors': payload}, []
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    online.setenv('HF_ENDPOINT', f'http://127.0.0.1:{server.server_port}')
    folder = tmp_path / 'gpt2'
    folder.mkdir()
    try:
        # an earlier attempt was killed after 300,000 bytes of the same file version
        (folder / 'model.safetensors.part').write_bytes(payload[:300_000])
        etag = hashlib.sha256(payload).hexdigest()
        (folder / 'model.safetensors.part.json').write_text(json.dumps({'etag': etag, 'size': len(payload)}))
        events = []
        hub._download_file('gpt2', 'model.safetensors', folder, lambda t, **f: events.append(f), lambda: False)
        assert _FakeHub.ranges == ['bytes=300000-']
        assert (folder / 'model.safetensors').read_bytes() == payload
        assert not (folder / 'model.safetensors.part').exists()
        assert events[0]['done'] == 300_000 and events[-1] == {
            'done': len(payload),
            'total': len(payload),
            'unit': 'B',
            'label': 'gpt2/model.safetensors',
        }
        # a part file from another version of the file is not trusted: start over
        (folder / 'model.safetensors').unlink()
        (folder / 'model.safetensors.part').write_bytes(b'x' * 1000)
        (folder / 'model.safetensors.part.json').write_text(json.dumps({'etag': 'old'}))
        hub._download_file('gpt2', 'model.safetensors', folder, lambda t, **f: None, lambda: False)
        assert _FakeHub.ranges[-1] is None and (folder / 'model.safetensors').read_bytes() == payload
    finally:
        server.shutdown()


def test_a_hanging_dns_lookup_is_cut_short(monkeypatch):
    monkeypatch.setattr(hub.socket, 'getaddrinfo', lambda *a: time.sleep(3))
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match='looking up huggingface.co'):
        hub._resolve('huggingface.co', 0.2)
    assert time.monotonic() - t0 < 1
