"""Upload names keep the letters of every script; a different file never replaces another; one classifier says
what a non-text file is, for the API and the CLI alike."""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nanogpt_lab import cli
from nanogpt_lab.jobs.manager import JobManager
from nanogpt_lab.server.app import create_app

POEM = '关关雎鸠，在河之洲。窈窕淑女，君子好逑。\n' * 40
NAMES = {  # a file name in each script → the name it is stored under
    '诗经.txt': '诗经.txt',
    '唐诗.txt': '唐诗.txt',
    'हिन्दी कविता.txt': 'हिन्दी_कविता.txt',
    'Ὀδύσσεια.md': 'Ὀδύσσεια.md',
    'قصيدة.txt': 'قصيدة.txt',
    'Пушкин.txt': 'Пушкин.txt',
    'ひらがな.txt': 'ひらがな.txt',
    '한국어 시.txt': '한국어_시.txt',
    'ስም.txt': 'ስም.txt',
    'e\u0301te\u0301.txt': '\u00e9t\u00e9.txt',  # NFD (as macOS names files) is stored NFC: one spelling per name
    'line\u2028sep\u200bzero\u00a0space.txt': 'line_sep_zero_space.txt',
    'CON.txt': 'CON_.txt',
    '../../诗/../经.txt': '经.txt',
    '😀.txt': 'upload.txt',
}


@pytest.fixture
def client(workspace_home: Path) -> TestClient:
    return TestClient(create_app(manager=JobManager()), base_url='http://127.0.0.1', client=('127.0.0.1', 40000))


def _upload(client: TestClient, filename: str, data: bytes, **form: str) -> Any:
    return client.post('/api/datasets/upload', files={'file': (filename, data, 'text/plain')}, data=form)


def test_names_in_every_script_are_kept_and_never_collapse(client: TestClient, workspace_home: Path) -> None:
    stored = {}
    for i, (name, expected) in enumerate(NAMES.items()):
        r = _upload(client, name, f'{i} {POEM}'.encode())
        assert r.status_code == 201, r.text
        stored[r.json()['name']] = i
        assert r.json()['name'] == expected, (name, r.json())
        assert unicodedata.is_normalized('NFC', r.json()['name'])
    uploads = workspace_home / 'uploads'
    assert sorted(p.name for p in uploads.iterdir()) == sorted(stored)  # one file each, none replaced
    for name, i in stored.items():
        assert (uploads / name).read_text().startswith(f'{i} ')


def test_a_different_file_of_the_same_name_never_replaces_the_first(client: TestClient, workspace_home: Path) -> None:
    first = _upload(client, '诗经.txt', POEM.encode())
    second = _upload(client, '诗经.txt', ('another ' + POEM).encode())
    again = _upload(client, '诗经.txt', POEM.encode())  # the same file once more: no copy, same name
    named = _upload(client, 'x.txt', ('third ' + POEM).encode(), name='诗经')
    names = [r.json()['name'] for r in (first, second, again, named)]
    assert names == ['诗经.txt', '诗经-2.txt', '诗经.txt', '诗经-3.txt']
    uploads = workspace_home / 'uploads'
    assert (uploads / '诗经.txt').read_text() == POEM
    assert (uploads / '诗经-2.txt').read_text().startswith('another')
    assert not [p for p in uploads.iterdir() if p.name.startswith('.')]  # no temp file left


def test_a_chinese_named_upload_prepares_into_a_chinese_named_dataset(client: TestClient, workspace_home: Path) -> None:
    name = _upload(client, '诗经.txt', POEM.encode() * 10).json()['name']
    body = {'dataset': 'custom', 'input': name, 'name': '诗经', 'block_size': 8}
    r = client.post('/api/jobs/prepare-data', json=body)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 120
    while (job := client.get(f'/api/jobs/{r.json()["id"]}').json())['status'] not in ('succeeded', 'failed'):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job['status'] == 'succeeded', job
    assert (workspace_home / 'data' / '诗经' / 'train.bin').is_file()
    assert client.get('/api/datasets/诗经/stats').status_code == 200


PNG = b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4
UTF16 = ('To be, or not to be: that is the question.\n' * 20).encode('utf-16')  # with its BOM
UTF16_NO_BOM = ('To be, or not to be: that is the question.\n' * 20).encode('utf-16-le')


@pytest.mark.parametrize(
    ('data', 'code', 'words'),
    [
        (PNG, 'api.not_text', 'is not text: it looks like a PNG image'),
        (UTF16, 'api.utf16', 'it looks like UTF-16 text (save it as UTF-8)'),
        (UTF16_NO_BOM, 'api.utf16', 'it looks like UTF-16 text (save it as UTF-8)'),
        (b'%PDF-1.7\n' + bytes(range(128, 256)), 'api.not_text', 'is not text: it looks like a PDF document'),
    ],
    ids=['png', 'utf16', 'utf16-no-bom', 'pdf'],
)
def test_the_api_and_the_cli_say_the_same_thing_about_a_file_that_is_not_text(
    client: TestClient, workspace_home: Path, tmp_path: Path, capsys: Any, own_signals: None,
    data: bytes, code: str, words: str,
) -> None:  # fmt: skip
    r = _upload(client, 'poem.txt', data)
    assert r.status_code == 422 and r.json()['error']['code'] == code, r.text
    assert words in r.json()['error']['message']
    assert not (workspace_home / 'uploads' / 'poem.txt').exists()
    f = tmp_path / 'poem.txt'
    f.write_bytes(data)
    assert cli.main(['prepare', 'custom', '--input', str(f), '--data_dir', str(tmp_path / 'data')]) != 0
    assert words in capsys.readouterr().err
