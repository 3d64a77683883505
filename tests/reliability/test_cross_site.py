"""Cross-site requests in real Chromium: a page on another site cannot change anything in the lab.

The attacker's page is served from `evil.test` (mapped to this machine by Chromium's host resolver, so it is
another site with its own origin). It posts forms to the lab the way a browser does without asking first (no CORS
preflight): a multipart upload from a sandboxed iframe (`Origin: null`), the same from the page itself, a
url-encoded job submission, and it opens NiceGUI's websocket. Every one must be refused (403) with nothing
written; the lab's own page must still upload.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from nanogpt_lab.tools.bench.ui import CHROMIUM, CHROMIUM_ARGS

EVIL = 'evil.test'


def _attack_pages(lab: str) -> dict[str, str]:
    """The attacker's pages: each posts to the lab as soon as it loads."""
    upload = (
        f'<form method="post" enctype="multipart/form-data" action="{lab}/api/datasets/upload">'
        '<input name="name" value="poem"><textarea name="file">written by another site</textarea></form>'
        '<script>document.forms[0].submit()</script>'
    )
    job = (
        f'<form method="post" action="{lab}/api/jobs/download-weights"><input name="model" value="gpt2"></form>'
        '<script>document.forms[0].submit()</script>'
    )
    socket = (
        '<script>const ws = new WebSocket("' + lab.replace('http', 'ws') + '/_nicegui_ws/socket.io/?EIO=4&transport='
        'websocket"); ws.onopen = () => { document.title = "open" }; ws.onerror = () => { document.title = "refused" }'
        '</script>'
    )
    return {
        '/upload': upload,
        '/job': job,
        '/socket': socket,
        '/sandboxed-upload': '<iframe sandbox="allow-forms allow-scripts" src="/upload"></iframe>',
        '/sandboxed-socket': '<iframe sandbox="allow-scripts" src="/socket"></iframe>',
    }


@pytest.fixture
def evil_site() -> Iterator[tuple[dict[str, str], int]]:
    """An HTTP server on this machine that serves whatever `pages[path]` holds."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = pages.get(self.path, '').encode()
            self.send_response(200 if body else 404)
            self.send_header('Content-Type', 'text/html; charset=utf-8')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield pages, server.server_address[1]
    server.shutdown()


def test_another_site_cannot_post_forms_uploads_or_open_the_socket(
    tmp_path: Path, labs: Any, helpers: Any, evil_site: tuple[dict[str, str], int]
) -> None:
    from playwright.sync_api import sync_playwright

    lab = labs(tmp_path / 'home').start()
    learner = lab.call('POST', '/api/datasets/upload', files={'file': ('poem.txt', b"the learner's poem\n" * 20)})
    assert learner.status_code == 201, learner.text
    before = helpers.snapshot(tmp_path / 'home')

    pages, port = evil_site
    pages.update(_attack_pages(lab.base))
    args = [*CHROMIUM_ARGS, f'--host-resolver-rules=MAP {EVIL} 127.0.0.1']
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page()
        seen: list[tuple[str, int, str]] = []
        page.on('response', lambda r: seen.append((r.request.method, r.status, r.url)) if lab.base in r.url else None)
        try:
            for path in ('/sandboxed-upload', '/upload', '/job'):
                with page.expect_response(lambda r: r.request.method == 'POST' and lab.base in r.url) as answer:
                    page.goto(f'http://{EVIL}:{port}{path}')
                response = answer.value
                assert response.status == 403, f'{path}: {response.status} {response.text()}'
                assert response.json()['error']['code'].startswith('api.cross_site'), response.text()
                origin = response.request.header_value('origin')
                assert origin == ('null' if 'sandboxed' in path else f'http://{EVIL}:{port}')
            for path in ('/socket', '/sandboxed-socket'):
                page.goto(f'http://{EVIL}:{port}{path}')
                frame = page.frames[-1]
                frame.wait_for_function('document.title !== ""', timeout=30_000)
                assert frame.evaluate('document.title') == 'refused', path

            # the lab's own page is the lab: the same upload from there works
            page.goto(lab.base + '/api/jobs')
            status = page.evaluate(
                """async () => {
                    const form = new FormData();
                    form.append('file', new Blob(['from the lab itself\\n'.repeat(20)]), 'own.txt');
                    return (await fetch('/api/datasets/upload', {method: 'POST', body: form})).status;
                }"""
            )
            assert status == 201
        finally:
            browser.close()
    after = helpers.snapshot(tmp_path / 'home')
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= {'uploads', 'uploads/own.txt'}, changed  # only the lab's own upload; the poem is intact
    assert (tmp_path / 'home' / 'uploads' / 'poem.txt').read_bytes() == b"the learner's poem\n" * 20
    assert not list((tmp_path / 'home').glob('runs/*')), 'a job was started from another site'
