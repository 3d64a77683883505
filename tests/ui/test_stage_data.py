"""Stage 1: dataset cards, recorded statistics (simulation), real preparation jobs, bad uploads, batch inspector."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from nicegui import app
from nicegui.testing import User

from nanogpt_lab.ui.components.token_view import token_view

from .conftest import send_upload


def _error(user: User, found, text, card: str = 'custom') -> str:
    """What the card says went wrong: the upload route's refusal, or the preparation job's error."""
    for marker in (f'card-{card}-result', f'card-{card}-job-error'):
        if found(user, marker=marker) and text(user, marker) and not text(user, marker).startswith('✓'):
            return text(user, marker)
    return ''


async def _upload(user: User, one, name: str, data: bytes, card: str = 'custom', dataset: str | None = None) -> None:
    """What the browser does: pick a file (the card names the dataset), send it to the lab's upload route, and hand
    the route's answer to the page (the user fixture runs no JavaScript, so the XHR is made here, for real)."""
    user.find(marker=f'upload-{card}').trigger('added', name)
    form = {}
    if card == 'custom':
        if dataset is not None:
            one(user, 'upload-name').value = dataset
        user.find(marker='upload-send').click()
        form = {'name': one(user, 'upload-name').value}
    await send_upload(user, f'upload-{card}', name, data, form)


async def test_simulation_shows_recorded_shakespeare_stats_at_once(user: User, text, one) -> None:
    await user.open('/data?lang=en')
    assert text(user, 'stat-characters-value') == '1,115,394'
    assert text(user, 'stat-tokens-value') == '1,115,394'
    assert text(user, 'stat-vocab-value') == '65'
    assert text(user, 'stats-provenance').startswith('simulated · recorded: dataset-shakespeare_char')
    split = one(user, 'split-chart').options['series']
    assert [s['data'][0] for s in split] == [1_003_854, 111_540]
    assert one(user, 'split-summary').text.startswith('1,003,854 tokens for training and 111,540 held out')
    assert 'First' not in one(user, 'freq-summary').text  # the most frequent character is a space
    await user.should_see('The first 64 tokens of train.bin')


async def test_gpt2_card_and_openwebtext_stand_in(user: User, text, one) -> None:
    await user.open('/data?lang=en&dataset=shakespeare')
    assert text(user, 'stat-tokens-value') == '338,025'
    assert text(user, 'stat-vocab-value') == '50,257'
    await user.open('/data?lang=en&dataset=openwebtext')
    await user.should_see('9,040,017,095')  # nanoGPT's published train + val token counts
    await user.should_see('a recorded stand-in, not OpenWebText itself')
    assert 'State of the Union' in one(user, 'stand-in').props['title']


async def test_openwebtext_card_estimates_time_before_starting(user: User, until, text) -> None:
    await user.open('/data?lang=en')
    assert '8,013,769 documents · 54 GB to download' in text(user, 'owt-facts')
    await until(lambda: text(user, 'owt-estimate').startswith('Tokenizing here takes about'), timeout=30)
    assert 'tokens/s per process measured now' in text(user, 'owt-estimate')


async def test_batch_inspector_shifts_y_by_one(user: User, until, one) -> None:
    await user.open('/data?lang=en&block=8&seed=7')
    rows = user.find(marker='batch-row').elements
    assert len(rows) == 4
    await user.should_see('Offsets are drawn from train.bin only')
    slider = one(user, 'batch-block')
    slider.value = 16
    await until(lambda: slider.is_deleted)  # the inspector redraws with the new block size
    row = next(iter(user.find(marker='batch-row').elements))
    x, y = (_ids(view.content) for view in row.descendants() if isinstance(view, token_view))
    assert len(x) == len(y) == 16
    assert x[1:] == y[:-1]  # y is x shifted one token to the left: the next token at every position


def _ids(chips: str) -> list[int]:
    return [int(i) for i in re.findall(r'monospace;">(\d+)</span>', chips)]


async def test_real_mode_upload_prepares_and_shows_statistics(user: User, until, shakespeare_txt, one, found) -> None:
    await user.open('/data?lang=en&mode=real')
    await user.should_see('Not prepared here yet.')
    await _upload(user, one, 'My play.txt', shakespeare_txt.read_bytes()[:30_000])
    assert one(user, 'upload-name').value == 'My_play'  # the name is asked for, prefilled from the file's
    await until(lambda: found(user, content='Statistics: My_play'), timeout=60)
    await user.should_see('live · this machine · data/My_play')
    await user.should_see('30,000')
    assert one(user, 'card-custom-result').text == '✓ My_play is prepared.'
    one(user, 'card-My_play')  # it became a card of its own
    rows = user.find(marker='batch-row').elements
    assert len(rows) == 4 and 'data/My_play/train.bin' in one(user, 'batch-provenance').text


async def test_a_card_prepares_its_dataset_from_a_file_offline(user: User, until, shakespeare_txt, one, found) -> None:
    await user.open('/data?lang=zh-CN')  # simulation mode: the learner's own copy is prepared for real all the same
    assert not one(user, 'card-shakespeare_char-result').text
    await _upload(user, one, 'input.txt', shakespeare_txt.read_bytes(), card='shakespeare_char')
    await until(lambda: one(user, 'card-shakespeare_char-result').text == '✓ shakespeare_char 已准备好。', timeout=120)
    from nanogpt_lab import workspace

    assert (workspace.data_root() / 'shakespeare_char' / 'train.bin').stat().st_size == 1_003_854 * 2


async def test_a_bad_name_is_refused_before_anything_is_sent(user: User, one) -> None:
    await user.open('/data?lang=en&mode=real')
    user.find(marker='upload-custom').trigger('added', 'notes.txt')
    one(user, 'upload-name').value = 'shakespeare'
    user.find(marker='upload-send').click()
    await user.should_see('not one of the cards above')


@pytest.mark.parametrize(
    ('name', 'data', 'expected'),
    [
        ('empty.txt', b'', 'This file is empty'),
        ('picture.txt', b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 8, 'This file is not text'),
        ('latin1.txt', 'Grüße aus Köln, '.encode('latin-1') * 200, 'This file is not UTF-8 text'),
        ('short.txt', b'To be, or not to be, that is the question.\n', 'This text is too small'),
        ('bad.jsonl', b'{"text": "fine"}\nnot json\n', 'This JSONL file has a bad line'),
    ],
)
async def test_bad_uploads_get_their_own_message(
    user: User, until, name: str, data: bytes, expected: str, one, found, text
) -> None:
    await user.open('/data?lang=en&mode=real')
    await _upload(user, one, name, data)
    await until(lambda: _error(user, found, text) != '', timeout=60)
    assert _error(user, found, text).startswith(expected) and '--' not in _error(user, found, text)  # no CLI flags


async def test_too_large_upload_is_refused(monkeypatch, user: User, one) -> None:
    monkeypatch.setenv('NANOGPT_LAB_UPLOAD_LIMIT_MB', '0.001')  # 1,000 bytes
    await user.open('/data?lang=zh-CN&mode=real')
    await _upload(user, one, 'big.txt', b'x' * 5000)
    await user.should_see('文件被拒绝：只接受 .txt, .md, .jsonl 文件，且不超过 0.001 MB。')
    one(user, 'card-custom-result').set_text('')
    user.find(marker='upload-shakespeare').trigger(
        'rejected'
    )  # what the browser reports when it refuses the file itself
    await user.should_see('文件被拒绝')


async def test_bad_upload_message_in_chinese(user: User, until, one, found, text) -> None:
    await user.open('/data?lang=zh-CN&mode=real')
    await _upload(user, one, 'empty.txt', b'')
    await until(lambda: _error(user, found, text) != '', timeout=60)
    assert _error(user, found, text).startswith('文件是空的')


async def test_openwebtext_asks_before_a_54_gb_download(user: User) -> None:
    await user.open('/data?lang=en&mode=real')
    user.find(marker='prepare-openwebtext').click()
    await user.should_see('downloads about 54 GB')
    user.find('Not now').click()
    await user.should_not_see('downloads about 54 GB')

    assert app.state.jobs.list() == []  # nothing started


async def test_the_dialogue_card_prepares_the_chosen_language_and_shows_its_licence(user: User, until, one, found):
    await user.open('/data?lang=en&mode=real')
    assert one(user, 'card-dialogue-license').text.startswith('Licence: BSD-3-Clause')
    assert one(user, 'card-tang_poems-license').text.startswith('Licence: MIT')
    one(user, 'dialogue-lang').value = 'zh'
    user.find(marker='prepare-dialogue').click()
    await until(lambda: one(user, 'card-dialogue-result').text == '✓ dialogue is prepared.', timeout=120)
    from nanogpt_lab import workspace

    assert (workspace.data_root() / 'dialogue' / 'conversations.jsonl').is_file()
    text = (workspace.data_root() / 'dialogue' / 'input.txt').read_text(encoding='utf-8')
    assert '你好' in text and 'What is AI?' not in text


async def test_thousands_of_chinese_characters_stay_readable(user: User, shared_data, one) -> None:
    """The whole Tang poetry: about 9,000 characters. The page draws a top-30 bar chart and a ~40-point coverage
    curve from stats.json, never one entry per character."""
    import time

    from nanogpt_lab.config import DataConfig
    from nanogpt_lab.data import prepare

    prepare(DataConfig(dataset='tang_poems', input=str(shared_data / 'chinese-poetry'), simplified=True))
    started = time.perf_counter()
    await user.open('/data?lang=zh-CN&mode=real&dataset=tang_poems')
    assert time.perf_counter() - started < 10  # generous on a loaded machine; about a second when quiet
    vocab = int(one(user, 'stat-vocab-value').text.replace(',', ''))
    assert vocab > 7000
    assert len(one(user, 'freq-chart').options['series'][0]['data']) == 30
    points = one(user, 'coverage-chart').options['series'][0]['data']
    assert len(points) <= 40 and points[-1][1] == 100.0
    assert one(user, 'coverage-chart').options['xAxis']['type'] == 'log'
    assert one(user, 'coverage-sentence').text.startswith('在用到的')


async def test_the_tang_card_refuses_a_hostile_zip_with_the_reason(user: User, until, one, found, text) -> None:
    """Offline, the Tang poems come as the learner has them (a .zip of the folder: tests/server/test_upload_archives
    prepares one; the Chromium walk prepares the files). One that reaches outside its folder is refused with the
    reason on the card, in English (the walk says it in Chinese), and no ✓."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as zf:
        zf.writestr('../../outside.json', '[]')
    await user.open('/data?lang=en&mode=real')
    await _upload(user, one, 'evil.zip', buffer.getvalue(), card='tang_poems')
    await until(lambda: _error(user, found, text, 'tang_poems') != '')
    assert _error(user, found, text, 'tang_poems').startswith('This .zip was refused and nothing was unpacked. (the')
