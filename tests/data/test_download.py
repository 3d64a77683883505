"""Downloading tiny Shakespeare: sha256-checked, progress events, atomic, a fast clear error offline.

A loopback HTTP server stands in for the canonical URL (tests never use the network).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import time

import pytest

from nanogpt_lab.data import DataError, load_stats
from nanogpt_lab.data import dataset as prepare_module
from nanogpt_lab.data.download import SHAKESPEARE_SHA256, download


@pytest.fixture
def server(tmp_path, shakespeare_txt):
    root = tmp_path / 'www'
    root.mkdir()
    (root / 'input.txt').write_bytes(shakespeare_txt.read_bytes())
    (root / 'wrong.txt').write_bytes(b'not shakespeare\n' * 100)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    httpd.server_close()


def test_prepare_downloads_checks_and_reports_progress(run, server, monkeypatch):
    monkeypatch.setattr(prepare_module, 'SHAKESPEARE_URL', f'{server}/input.txt')
    folder, events = run(dataset='shakespeare_char')
    assert hashlib.sha256((folder / 'input.txt').read_bytes()).hexdigest() == SHAKESPEARE_SHA256
    progress = events.of('progress', 'download')
    assert progress[-1] == {'type': 'progress', 'done': 1_115_394, 'total': 1_115_394, 'unit': 'B', 'label': 'download',
                            'label_code': 'progress.download', 'label_params': {}}  # fmt: skip
    stats = load_stats(folder)
    assert stats['source']['kind'] == 'url' and stats['source']['sha256'] == SHAKESPEARE_SHA256
    assert stats['tokens']['train'] == 1_003_854
    # the BPE dataset reuses the verified copy instead of downloading again
    monkeypatch.setattr(prepare_module, 'SHAKESPEARE_URL', f'{server}/missing.txt')
    folder, events = run(dataset='shakespeare')
    assert not events.of('progress', 'download') and load_stats(folder)['tokens']['train'] == 301_966


def test_a_wrong_download_keeps_nothing(server, tmp_path):
    dest = tmp_path / 'input.txt'
    with pytest.raises(DataError, match='expected 86c4e6aa.*nothing was kept'):
        download(f'{server}/wrong.txt', dest, SHAKESPEARE_SHA256)
    assert list(tmp_path.iterdir()) == [tmp_path / 'www']


def test_offline_fails_fast_and_says_to_pass_input(run, monkeypatch):
    monkeypatch.setattr(prepare_module, 'SHAKESPEARE_URL', 'http://127.0.0.1:9/input.txt')  # nothing listens
    t0 = time.perf_counter()
    with pytest.raises(DataError, match=r'could not download .* pass --input PATH'):
        run(dataset='shakespeare_char')
    assert time.perf_counter() - t0 < 5
