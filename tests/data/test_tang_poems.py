"""Tang poems: prepared from chinese-poetry's own files (the shared fixture), cleaned, optionally simplified, and
downloaded from a stand-in of the npm registry with checksums and progress; a clear error offline."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import shutil
import tarfile
import threading

import numpy as np
import pytest

from nanogpt_lab.data import DataError, load_stats
from nanogpt_lab.data import tang_poems as tang
from nanogpt_lab.tokenizers import tokenizer_for_dataset

TWO = ('poet.tang.0.json', 'poet.tang.1000.json')


@pytest.fixture
def poems_folder(tmp_path, shared_data):
    folder = tmp_path / 'mine' / 'quantangshi'  # the npm package's layout: the files one folder down
    folder.mkdir(parents=True)
    for name in TWO:
        shutil.copyfile(shared_data / 'chinese-poetry' / 'quantangshi' / name, folder / name)
    return folder.parent


def test_prepared_from_the_users_folder(run, poems_folder):
    folder, events = run(dataset='tang_poems', input=str(poems_folder))
    text = (folder / 'input.txt').read_text(encoding='utf-8')
    assert text.startswith('帝京篇十首 一\n秦川雄帝宅，函谷壯皇居。\n綺殿千尋起，離宮百雉餘。\n')
    assert '一作' not in text and '[' not in text and '{' not in text
    stats = load_stats(folder)
    assert stats['tokenizer'] == 'char' and stats['vocab_size'] > 3000
    assert stats['source']['poems'] > 1900 and stats['source']['files'] == 2 and 'MIT' in stats['source']['license']
    tok = tokenizer_for_dataset(folder)
    ids = np.concatenate([np.fromfile(folder / f'{s}.bin', dtype='<u2') for s in ('train', 'val')])
    assert tok.decode(ids.tolist()) == text
    lines = [line for line in text.splitlines() if '，' in line]
    # most lines are couplets of five or seven characters: 12 or 16 with the two punctuation marks
    assert sum(len(line) in (12, 16) for line in lines) > 0.7 * len(lines)


def test_simplified_with_opencc(run, poems_folder):
    folder, _ = run(dataset='tang_poems', input=str(poems_folder), simplified=True)
    text = (folder / 'input.txt').read_text(encoding='utf-8')
    assert text.startswith('帝京篇十首 一\n秦川雄帝宅，函谷壮皇居。\n绮殿千寻起，离宫百雉余。\n')
    assert load_stats(folder)['source']['simplified'] is True


def test_a_folder_without_poems_is_named(run, tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataError, match='holds no poet.tang.N.json') as e:
        run(dataset='tang_poems', input=str(tmp_path / 'empty'))
    assert e.value.code == 'data.tang.no_files'
    with pytest.raises(DataError, match='only `prepare dialogue` reads --lang'):
        run(dataset='tang_poems', input=str(tmp_path / 'empty'), lang='zh')


@pytest.fixture
def registry(tmp_path, shared_data, monkeypatch):
    """A loopback server with an archive in the npm package's layout holding two of the files."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        for name in TWO:
            tar.add(shared_data / 'chinese-poetry' / 'quantangshi' / name, arcname=tang.ARCHIVE_FOLDER + name)
    root = tmp_path / 'www'
    root.mkdir()
    (root / 'poems.tgz').write_bytes(buf.getvalue())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True).start()
    monkeypatch.setattr(tang, 'ARCHIVE_URL', f'http://127.0.0.1:{httpd.server_address[1]}/poems.tgz')
    monkeypatch.setattr(tang, 'ARCHIVE_SHA256', hashlib.sha256(buf.getvalue()).hexdigest())
    monkeypatch.setattr(tang, 'FILE_SHA256', {n: tang.FILE_SHA256[n] for n in (0, 1000)})
    yield root
    httpd.shutdown()
    httpd.server_close()


def test_downloaded_checked_and_kept(run, registry):
    folder, events = run(dataset='tang_poems')
    assert events.of('progress', 'download')[-1]['done'] == (registry / 'poems.tgz').stat().st_size
    assert sorted(p.name for p in (folder / 'quantangshi').iterdir()) == sorted(TWO)
    assert not list(folder.glob('*.tgz'))  # the archive is not kept
    assert load_stats(folder)['source']['kind'] == 'url'
    (registry / 'poems.tgz').unlink()  # a second prepare reads the checked files, no download
    folder, events = run(dataset='tang_poems')
    assert not events.of('progress', 'download')


def test_an_altered_archive_keeps_nothing(run, registry, monkeypatch):
    monkeypatch.setattr(tang, 'FILE_SHA256', {0: '0' * 64})
    with pytest.raises(DataError, match='missing or altered'):
        run(dataset='tang_poems')


def test_offline_says_so(run, monkeypatch):
    monkeypatch.setattr(tang, 'ARCHIVE_URL', 'http://127.0.0.1:9/none.tgz')
    with pytest.raises(DataError, match='could not download.*offline.*--input'):
        run(dataset='tang_poems')


def test_a_large_char_vocabulary_stays_readable(run, poems_folder):
    """Thousands of characters: stats.json keeps a top-50 and a coverage curve, never one entry per character."""
    folder, _ = run(dataset='tang_poems', input=str(poems_folder))
    stats = load_stats(folder)
    assert stats['vocab_size'] > 3000 and len(stats['top_tokens']) == 50 and len(stats['coverage']) <= 40
    ranks = dict(stats['coverage'])
    assert stats['coverage'][-1] == [stats['distinct_tokens'], 1.0]
    assert max(share for rank, share in ranks.items() if rank <= 1000) > 0.8  # a thousand characters carry most
