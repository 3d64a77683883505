"""Conversations from JSONL: the three shapes, every kind of bad line named by its number, the split by prompt."""

from __future__ import annotations

import json

import pytest

from nanogpt_lab.alignment.conversations import (
    MAX_TURN_CHARS,
    parse_jsonl,
    prepare_file,
    prepare_hf,
    read_conversations,
    read_manifest,
    split_by_prompt,
)
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.events import null_emit


def _line(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


OPENAI = {'messages': [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello!'}]}
SHAREGPT = {'conversations': [{'from': 'system', 'value': 'Be kind.'}, {'from': 'human', 'value': '你好'},
                              {'from': 'gpt', 'value': '你好！'}]}  # fmt: skip
ALPACA = {'instruction': 'Add the numbers.', 'input': '2 and 3', 'output': '5'}
DOLLY = {'instruction': 'Name a colour.', 'context': '', 'response': 'Blue', 'category': 'open_qa'}


def test_the_three_shapes_become_messages(tmp_path):
    path = tmp_path / 'mixed.jsonl'
    path.write_text('\n'.join(_line(o) for o in (OPENAI, SHAREGPT, ALPACA, DOLLY)) + '\n', encoding='utf-8')
    parsed = parse_jsonl(path)
    assert not parsed.problems
    assert dict(parsed.shapes) == {'openai': 1, 'sharegpt': 1, 'alpaca': 2}
    sharegpt, alpaca = parsed.conversations[1]['messages'], parsed.conversations[2]['messages']
    assert [m['role'] for m in sharegpt] == ['system', 'user', 'assistant']
    assert alpaca == [{'role': 'user', 'content': 'Add the numbers.\n\n2 and 3'}, {'role': 'assistant', 'content': '5'}]


BAD_LINES = [
    (b'{"messages": [{"content": "hi"}, {"role": "assistant", "content": "yo"}]}', 'alignment_engine.missing_role'),
    (
        b'{"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "yo"}]}',
        'alignment_engine.unknown_role',
    ),
    (
        b'{"messages": [{"role": "assistant", "content": "yo"}, {"role": "user", "content": "hi"}]}',
        'alignment_engine.role_order',
    ),
    (
        b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}',
        'alignment_engine.empty_assistant',
    ),
    (b'{"messages": [{"role": "user", "content": "hi"}]}', 'alignment_engine.no_answer'),
    (b'{"text": "a pretraining line"}', 'alignment_engine.unknown_shape'),
    (
        b'{"messages": [{"role": "user", "content": "caf\xe9"}, {"role": "assistant", "content": "yo"}]}',
        'alignment_engine.not_utf8',
    ),
    (b'{"messages": [', 'alignment_engine.not_json'),
    (b'[1, 2]', 'alignment_engine.not_object'),
]


def test_every_bad_line_is_skipped_with_its_number_and_reason(tmp_path):
    huge = _line({'messages': [{'role': 'user', 'content': 'x' * (10 << 20)}, {'role': 'assistant', 'content': 'ok'}]})
    lines = [_line(OPENAI).encode()] + [raw for raw, _ in BAD_LINES] + [huge.encode(), b'', _line(ALPACA).encode()]
    path = tmp_path / 'bad.jsonl'
    path.write_bytes(b'\n'.join(lines) + b'\n')
    parsed = parse_jsonl(path)
    assert len(parsed.conversations) == 2
    got = [(p.line, p.code) for p in parsed.problems]
    want = [(i + 2, code) for i, (_, code) in enumerate(BAD_LINES)] + [
        (len(BAD_LINES) + 2, 'alignment_engine.turn_too_long')
    ]
    assert got == want
    assert all(p.message.startswith(f'line {p.line}') for p in parsed.problems)
    assert str(MAX_TURN_CHARS) not in parsed.problems[-1].message  # numbers are written for people: 32,768
    assert f'{MAX_TURN_CHARS:,}' in parsed.problems[-1].message


def test_a_file_without_one_good_conversation_is_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / 'none.jsonl'
    path.write_bytes(b'\n'.join(raw for raw, _ in BAD_LINES) + b'\n')
    with pytest.raises(AlignmentError) as e:
        prepare_file(str(path), tmp_path / 'data' / 'none', 0.1)
    assert e.value.code == 'alignment_engine.no_conversations' and 'line 1' in str(e.value)
    assert not (tmp_path / 'data').exists()


def test_prepare_reports_the_shape_and_splits_by_prompt(tmp_path):
    rows = [{'messages': [{'role': 'user', 'content': f'q{i % 40}'}, {'role': 'assistant', 'content': f'a{i}'}]}
            for i in range(200)]  # fmt: skip
    path = tmp_path / 'chat.jsonl'
    path.write_text('\ufeff' + '\n'.join(map(_line, rows)) + '\n', encoding='utf-8')  # with a byte order mark
    events = []
    folder = prepare_file(str(path), tmp_path / 'data' / 'chat', 0.2, lambda kind, **f: events.append(f))
    shape = next(e for e in events if e.get('code') == 'log.alignment_engine.shape_found')
    assert shape['params']['shape_counts'] == {'openai': 200} and 'openai' in shape['message']
    train, val = read_conversations(folder, 'train'), read_conversations(folder, 'val')
    assert len(train) + len(val) == 200 and val
    prompts = lambda convs: {c['messages'][0]['content'] for c in convs}  # noqa: E731
    assert not prompts(train) & prompts(val)
    manifest = read_manifest(folder)
    assert manifest['source']['shapes'] == {'openai': 200} and manifest['source']['skipped'] == 0
    stats = json.loads((folder / 'stats.json').read_text(encoding='utf-8'))
    assert stats['train']['conversations'] == len(train) and stats['val']['turns'] == 2 * len(val)


def test_the_split_keeps_two_or_more_prompts_apart():
    convs = [{'messages': [{'role': 'user', 'content': p}, {'role': 'assistant', 'content': 'x'}]} for p in 'ab']
    split = split_by_prompt(convs, 0.01)
    assert len(split['train']) == 1 and len(split['val']) == 1


def test_a_named_dataset_offline_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    with pytest.raises(AlignmentError) as e:
        prepare_hf('HuggingFaceTB/everyday-conversations-llama3.1-2k', tmp_path / 'x', 0.1, 100, null_emit)
    assert e.value.code == 'alignment_engine.hf_unavailable' and 'network' in str(e.value)
    assert not (tmp_path / 'x').exists()
