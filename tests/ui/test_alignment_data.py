"""Stage 7's dataset cards (real mode): an upload of the learner's JSONL through the lab's upload route, the named
Hugging Face datasets with their licence (offline here, and the page says so); what a preparation found (shape,
skipped lines with their numbers, statistics, tokens for the base) and what it refuses, in both languages. Every
preparation is a real `prepare-conversations` job; the tokens are measured with the real bundled base. The lab-tasks
card is clicked by test_alignment's real SFT, which trains on what it prepares."""

from __future__ import annotations

import json
from pathlib import Path

from nicegui.testing import User

from .conftest import send_upload

CARD = 'conv-card-upload'
DOLLY = 'conv-card-databricks-databricks-dolly-15k'


def _line(messages: list[tuple[str, str]]) -> str:
    return json.dumps({'messages': [{'role': r, 'content': c} for r, c in messages]}, ensure_ascii=False)


def _good(word: str) -> str:
    return _line([('user', f'Spell {word}.'), ('assistant', ' '.join(word))])


BAD_LINES = [  # each kind of bad line the engine names, with its line number (good lines 1 and 2 come first)
    _line([('assistant', 'no question first'), ('user', 'x')]),  # 3: roles out of order
    json.dumps({'messages': [{'content': 'who said this?'}, {'role': 'assistant', 'content': 'x'}]}),  # 4: no role
    _line([('robot', 'beep'), ('assistant', 'x')]),  # 5: an unknown role
    _line([('user', 'say nothing'), ('assistant', '')]),  # 6: an empty answer
    'not json at all',  # 7
    _line([('user', 'a long one'), ('assistant', 'x' * 10_000_000)]),  # 8: a 10 MB turn
]


async def _upload(user: User, one, filename: str, data: bytes, name: str | None = None) -> None:
    """What the browser does: pick a file, name the dataset, send it to the lab's upload route and hand the route's
    answer to the page (the user fixture runs no JavaScript, so the request is made here, for real)."""
    user.find(marker='conv-upload').trigger('added', filename)
    if name is not None:
        one(user, 'conv-upload-name').value = name
    user.find(marker='conv-upload-send').click()
    await send_upload(user, 'conv-upload', filename, data, {'name': one(user, 'conv-upload-name').value})


async def test_an_uploaded_jsonl_is_prepared_its_bad_lines_listed_and_it_becomes_selectable_offline_hub(
    user: User, workspace_home: Path, until, one, text, found
) -> None:
    await user.open('/alignment?lang=en&mode=real')
    assert text(user, 'conv-card-databricks-databricks-dolly-15k-licence') == 'CC BY-SA 3.0'
    assert text(user, 'conv-card-huggingfacetb-everyday-conversations-llama3-1-2k-licence') == 'Apache-2.0'
    assert 'set offline' in text(user, f'{DOLLY}-offline')  # tests run with HF_DATASETS_OFFLINE=1
    user.find(marker=f'{DOLLY}-prepare').click()  # fails (offline), beside the upload's job
    data = '\n'.join([_good('cat'), _good('dog'), *BAD_LINES, _good('sun'), _good('moon')]) + '\n'
    await _upload(user, one, 'my chats.jsonl', data.encode())
    assert one(user, 'conv-upload-name').value == 'my_chats'  # asked for, prefilled from the file's name
    await until(lambda: text(user, f'{CARD}-result') == '✓ my_chats is prepared.', timeout=90)
    assert one(user, 'sft-form-dataset').value == 'my_chats'  # selectable in the SFT form, and chosen
    await until(lambda: found(user, marker='conv-conversations'))
    assert text(user, 'conv-facts-source') == 'Shape found: OpenAI messages (4). 10 lines read, 6 skipped.'
    skipped = [label.text for label in one(user, 'conv-facts-skipped').default_slot.children]
    assert skipped == [
        "line 3: message 1 is 'assistant' where 'user' was expected (system first, then user and assistant in turns)",
        'line 4: message 1 has no role',
        "line 5: message 1 has role 'robot'; use system, user or assistant",
        'line 6: message 2 is an empty assistant answer',
        'line 7: not JSON (Expecting value)',
        'line 8: message 2 has 10,000,000 characters; the limit is 32,768',
    ]
    await until(lambda: found(user, marker='conv-tokens'), timeout=60)  # measured with the bundled base
    assert text(user, 'conv-conversations-value') == '3 train · 1 held out'
    await user.should_see('Too long for block_size ')
    assert text(user, 'sft-form-error') == ''
    error = f'{DOLLY}-job-error'
    await until(lambda: found(user, marker=error) and text(user, error) != '', timeout=90)
    assert text(user, error).startswith('This dataset cannot be downloaded here (no network, or Hugging Face is set')
    assert 'databricks/databricks-dolly-15k' in text(user, error) and '--' not in text(user, error)  # no CLI flags
    assert not (workspace_home / 'data' / 'databricks-dolly-15k').exists()


async def test_bad_files_and_a_set_too_long_for_the_base_are_refused_in_chinese(
    user: User, workspace_home: Path, until, one, text, found
) -> None:
    await user.open('/alignment?lang=zh-CN&mode=real')
    await _upload(user, one, 'bad.jsonl', ('\n'.join(BAD_LINES[:5]) + '\n').encode())  # no usable line at all
    error = f'{CARD}-job-error'
    await until(lambda: found(user, marker=error) and text(user, error) != '', timeout=90)
    assert text(user, error).startswith('这个文件没有一行是可用的对话，所以什么也没有准备。')
    assert '第 1 行' in text(user, error) and '第 3 行' in text(user, error)
    assert not (workspace_home / 'data' / 'bad').exists()  # nothing half-written
    latin = (_good('cat') + '\n' + _good('Grüße')).encode('latin-1') + b'\n'  # line 2 is Latin-1
    await _upload(user, one, 'latin.jsonl', latin)  # the upload route refuses it, with the line
    await until(lambda: text(user, f'{CARD}-result') != '')
    assert text(user, f'{CARD}-result').startswith('这个文件不是 UTF-8 文本')
    assert '第 2 行' in text(user, f'{CARD}-result')
    long = [_line([('user', f'Tell story {i}.'), ('assistant', 'once upon a time ' * 300)]) for i in range(4)]
    await _upload(user, one, 'stories.jsonl', ('\n'.join(long) + '\n').encode())  # nothing fits the base's context
    await until(lambda: found(user, marker='conv-facts-error'), timeout=120)
    assert '段训练对话都比这个模型的上下文长' in text(user, 'conv-facts-error')
    assert '都比这个模型的上下文长' in text(user, 'sft-form-error') and not one(user, 'sft-start').enabled
    assert [p.name for p in (workspace_home / 'data').iterdir() if p.name.startswith('stories')] == ['stories']
