"""Uploads of a dataset that comes as many files (the Tang poems): several files at once, or one .zip, become one
folder in uploads/ that prepares as the download would; hostile archives are refused and leave nothing behind."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nanogpt_lab.config import MAX_UPLOAD_FILES, DataConfig
from nanogpt_lab.data import load_stats, prepare
from nanogpt_lab.jobs.specs import build_job
from nanogpt_lab.server import archive, uploads
from nanogpt_lab.server.app import create_app

TWO = ('poet.tang.0.json', 'poet.tang.1000.json')


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(), base_url='http://127.0.0.1', client=('127.0.0.1', 40000))


@pytest.fixture
def poems(shared_data: Path) -> dict[str, bytes]:
    folder = shared_data / 'chinese-poetry' / 'quantangshi'
    return {name: (folder / name).read_bytes() for name in TWO}


def _zip(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, '/etc/passwd')
    return buffer.getvalue()


def _send(client: TestClient, *files: tuple[str, bytes], **form: str):
    parts = [('file', (name, data, 'application/octet-stream')) for name, data in files]
    return client.post('/api/datasets/upload', files=parts, data=form, headers={'Accept-Language': 'zh-CN'})


def _left_behind(home: Path) -> list[Path]:
    """Everything in uploads/ (a refusal leaves it empty: no folder, no temp file)."""
    root = home / 'uploads'
    return sorted(root.rglob('*')) if root.exists() else []


def test_a_zip_of_the_poems_folder_prepares_as_the_download_would(
    client: TestClient, workspace_home: Path, poems: dict[str, bytes]
) -> None:
    """Zipping a folder puts the folder's name first; Finder adds __MACOSX/ and .DS_Store: all as a learner has it."""
    entries = {f'我的唐诗/全唐诗/{name}': data for name, data in poems.items()}
    entries |= {'我的唐诗/.DS_Store': b'\x00\x01', '__MACOSX/我的唐诗/._poet.tang.0.json': b'\x00\x05'}
    r = _send(client, ('my poems.zip', _zip(entries)), name='tang_poems')
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer['name'] == 'tang_poems' and answer['files'] == 2 and answer['bytes'] == sum(map(len, poems.values()))
    folder = workspace_home / 'uploads' / 'tang_poems'
    assert sorted(p.name for p in (folder / '全唐诗').iterdir()) == sorted(TWO)
    spec = build_job('prepare-data', {'dataset': 'tang_poems', 'input': answer['name']})  # a remote caller's names
    assert spec.config['input'] == str(folder.resolve())
    data = prepare(DataConfig(**spec.config))
    stats = load_stats(data)
    assert stats['source']['kind'] == 'folder' and stats['source']['files'] == 2 and stats['source']['poems'] > 1900
    assert (data / 'input.txt').read_text(encoding='utf-8').startswith('帝京篇十首 一\n')
    again = _send(client, ('my poems.zip', _zip(entries)), name='tang_poems')
    assert again.json()['name'] == 'tang_poems-2'  # never over the first


def test_several_json_files_sent_together_become_one_folder(
    client: TestClient, workspace_home: Path, poems: dict[str, bytes]
) -> None:
    r = _send(client, *poems.items(), name='tang_poems')
    assert r.status_code == 201, r.text
    assert r.json()['files'] == 2
    folder = workspace_home / 'uploads' / 'tang_poems'
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == poems


@pytest.mark.parametrize(
    ('entries', 'links', 'code'),
    [
        ({'../evil.json': b'[]'}, (), 'api.archive_name'),
        ({'poems/../../evil.json': b'[]'}, (), 'api.archive_name'),
        ({'/etc/cron.d/evil': b'x'}, (), 'api.archive_name'),
        ({'C:/Windows/evil.json': b'[]'}, (), 'api.archive_name'),
        ({'..\\..\\evil.json': b'[]'}, (), 'api.archive_name'),
        ({'poems/a:b.json': b'[]'}, (), 'api.archive_name'),
        ({'p/a.json': b'[]', 'p/a.json/b.json': b'[]'}, (), 'api.archive_name'),  # a file, then a folder of its name
        ({'poet.tang.0.json': b'[]'}, ('poet.tang.1000.json',), 'api.archive_link'),
        ({f'p/{i}.json': b'[]' for i in range(MAX_UPLOAD_FILES + 1)}, (), 'api.archive_entries'),
        ({'bomb.json': b'\x00' * 3_000_000}, (), 'api.archive_too_large'),  # 3 KB packed, over the 2 MB limit
        ({}, (), 'api.empty_file'),
    ],
)
def test_hostile_archives_are_refused_and_leave_nothing(
    client: TestClient,
    workspace_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    entries: dict[str, bytes],
    links: tuple[str, ...],
    code: str,
) -> None:
    monkeypatch.setenv('NANOGPT_LAB_UPLOAD_LIMIT_MB', '2')
    r = _send(client, ('poems.zip', _zip(entries, links)))
    assert 400 <= r.status_code < 500 and r.json()['error']['code'] == code, r.text
    assert any('\u4e00' <= c <= '\u9fff' for c in r.json()['error']['message'])  # said in the asker's language
    assert _left_behind(workspace_home) == []
    assert not (workspace_home.parent / 'evil.json').exists() and not (workspace_home / 'evil.json').exists()


def test_a_zip_that_lies_about_its_size_is_stopped(client: TestClient, workspace_home: Path) -> None:
    """The headers say 10 bytes; the data inflates to 3 MB: never written past what was declared."""
    packed = bytearray(_zip({'bomb.json': b'[' + b' ' * 3_000_000 + b']'}))
    for signature, offset in ((b'PK\x03\x04', 22), (b'PK\x01\x02', 24)):  # local header, central directory
        at = packed.find(signature)
        packed[at + offset : at + offset + 4] = (10).to_bytes(4, 'little')
    r = _send(client, ('bomb.zip', bytes(packed)))
    assert r.status_code in (413, 422) and r.json()['error']['code'].startswith('api.archive_')
    assert _left_behind(workspace_home) == []


def test_a_huge_central_directory_is_refused_before_it_is_read(
    client: TestClient, workspace_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, 'MAX_DIRECTORY_BYTES', 2000)
    r = _send(client, ('many.zip', _zip({f'{i}.json': b'[]' for i in range(100)})))
    assert r.status_code == 413 and r.json()['error']['code'] == 'api.archive_entries'
    assert _left_behind(workspace_home) == []


@pytest.mark.parametrize(
    ('files', 'code'),
    [
        ((('a.zip', b'PK'), ('b.json', b'[]')), 'api.archive_alone'),
        ((('a.zip', b'not a zip at all'),), 'api.archive_unreadable'),
        ((('a.json', b'[]'), ('b.json', b'\x00\x01')), 'api.binary_file'),
    ],
)
def test_mixed_or_broken_uploads_are_refused(
    client: TestClient, workspace_home: Path, files: tuple[tuple[str, bytes], ...], code: str
) -> None:
    r = _send(client, *files)
    assert r.status_code == 422 and r.json()['error']['code'] == code, r.text
    assert _left_behind(workspace_home) == []


def test_two_uploads_of_one_name_placed_at_once_each_get_their_own(
    workspace_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another upload of the same name lands while ours is being renamed into place: it takes `-2` (ours is
    claimed), nobody fails or replaces the other; a rename that fails leaves no empty claim behind."""
    (workspace_home / 'uploads').mkdir(parents=True)
    ours, theirs = tmp_path / 'ours', tmp_path / 'theirs'
    for folder in (ours, theirs):
        folder.mkdir()
        (folder / 'poems.json').write_text(folder.name)
    rename, raced = os.rename, []

    def racing_rename(src, dst) -> None:
        if not raced:
            raced.append('racing')
            raced[0] = uploads._place_folder(theirs, 'poems')  # the other upload, all the way through
        rename(src, dst)

    monkeypatch.setattr(os, 'rename', racing_rename)
    assert uploads._place_folder(ours, 'poems') == 'poems' and raced == ['poems-2']
    assert (workspace_home / 'uploads' / 'poems' / 'poems.json').read_text() == 'ours'
    assert (workspace_home / 'uploads' / 'poems-2' / 'poems.json').read_text() == 'theirs'

    def failing_rename(src, dst) -> None:
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'rename', failing_rename)
    (tmp_path / 'more').mkdir()
    with pytest.raises(OSError):
        uploads._place_folder(tmp_path / 'more', 'poems')
    assert sorted(p.name for p in (workspace_home / 'uploads').iterdir()) == ['poems', 'poems-2']
