"""Uploads: streamed to the workspace, size-limited, names sanitised, binary and non-UTF-8 refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nanogpt_lab.server.app import create_app


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(), base_url='http://127.0.0.1', client=('127.0.0.1', 40000))


def _upload(client: TestClient, data: bytes, filename: str, **form: str):
    return client.post('/api/datasets/upload', files={'file': (filename, data, 'text/plain')}, data=form)


def test_upload_is_stored_under_the_workspace(client: TestClient, workspace_home: Path) -> None:
    r = _upload(client, 'To be, or not to be 你好\n'.encode() * 50, 'hamlet.txt')
    assert r.status_code == 201, r.text
    body = r.json()
    assert body['name'] == 'hamlet.txt' and body['bytes'] == len('To be, or not to be 你好\n'.encode()) * 50
    assert (workspace_home / 'uploads' / 'hamlet.txt').read_bytes().startswith(b'To be')


@pytest.mark.parametrize(
    'filename', ['../../outside/pwned.txt', '/etc/passwd', '..\\..\\win.txt', '....//x.txt', '.bashrc', '']
)
def test_traversal_names_land_inside_the_workspace(client: TestClient, workspace_home: Path, filename: str) -> None:
    r = _upload(client, b'hello world\n', filename)
    assert r.status_code < 500
    if r.status_code == 201:
        stored = (workspace_home / 'uploads' / r.json()['name']).resolve()
        assert stored.parent == (workspace_home / 'uploads').resolve() and stored.is_file()
    assert not (workspace_home.parent / 'outside').exists()
    files = {p.resolve() for p in workspace_home.parent.rglob('*') if p.is_file()}
    assert all(workspace_home.resolve() in p.parents for p in files)


def test_name_field_picks_the_stored_name(client: TestClient) -> None:
    r = _upload(client, b'some text\n', 'a.md', name='../my corpus')
    assert r.json()['name'] == 'my_corpus.md'


@pytest.mark.parametrize(
    ('data', 'code'),
    [
        (b'', 'api.empty_file'),
        (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR', 'api.not_text'),
        (b'plain text, then a NUL \x00 byte', 'api.binary_file'),
        (b'caf\xe9 au lait', 'api.not_utf8'),
    ],
)
def test_bad_files_get_their_reason(client: TestClient, workspace_home: Path, data: bytes, code: str) -> None:
    r = _upload(client, data, 'x.txt')
    assert r.status_code == 422 and r.json()['error']['code'] == code
    assert not (workspace_home / 'uploads' / 'x.txt').exists()


def test_size_limit_cuts_off_early(client: TestClient, monkeypatch: pytest.MonkeyPatch, workspace_home: Path) -> None:
    monkeypatch.setenv('NANOGPT_LAB_UPLOAD_LIMIT_MB', '0.001')  # 1,000 bytes
    r = _upload(client, b'a' * 5000, 'big.txt')
    assert r.status_code == 413 and r.json()['error']['code'] == 'api.upload_too_large'
    assert list((workspace_home / 'uploads').iterdir()) == []  # no temp file left behind
    assert _upload(client, b'a' * 900, 'small.txt').status_code == 201


def test_chunked_body_without_length_is_cut_off(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGPT_LAB_UPLOAD_LIMIT_MB', '0.01')
    boundary = 'XyZ'
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.txt"\r\n\r\n'.encode()

    def body():
        yield head
        for _ in range(100):  # 100 x 1 KB, never announced in a Content-Length
            yield b'b' * 1024

    r = client.post('/api/datasets/upload', content=body(),
                    headers={'Content-Type': f'multipart/form-data; boundary={boundary}'})  # fmt: skip
    assert r.status_code == 413


def test_wrong_content_type_and_missing_field(client: TestClient) -> None:
    r = client.post('/api/datasets/upload', json={'file': 'x'})
    assert r.status_code == 415
    r = client.post('/api/datasets/upload', files={'other': ('a.txt', b'hi', 'text/plain')})
    assert r.status_code == 422 and r.json()['error']['field'] == 'file'


@pytest.mark.parametrize('name', ['..%2F..%2Fetc%2Fpasswd', '..', '.hidden', 'a%00b'])
def test_dataset_names_with_traversal_are_refused(client: TestClient, name: str) -> None:
    r = client.get(f'/api/datasets/{name}/stats')
    assert 400 <= r.status_code < 500
    assert 'error' in r.json()
