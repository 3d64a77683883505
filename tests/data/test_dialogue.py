"""The dialogue dataset from chatterbot-corpus: a pretraining text and the same conversations as OpenAI messages."""

from __future__ import annotations

import json

import pytest

from nanogpt_lab.data import DataError, load_stats
from nanogpt_lab.data.dialogue import as_messages


@pytest.mark.parametrize('lang', ['en', 'zh', 'all'])
def test_prepared_in_each_language(run, lang):
    folder, _ = run(dataset='dialogue', lang=lang, name=f'd_{lang}')
    stats = load_stats(folder)
    source = stats['source']
    assert source['package'] == 'chatterbot-corpus' and source['license'].startswith('BSD-3-Clause')
    rows = [json.loads(line) for line in (folder / 'conversations.jsonl').read_text(encoding='utf-8').splitlines()]
    assert len(rows) == source['conversations'] > 400
    for row in rows:
        roles = [m['role'] for m in row['messages']]
        assert roles[0] == 'user' and roles[-1] == 'assistant' and len(roles) % 2 == 0
    chat = folder.parent / f'd_{lang}-chat'  # stage 7's conversations set, made by its own preparation
    assert source['conversations_set'] == chat.name
    assert all((chat / name).is_file() for name in ('train.jsonl', 'val.jsonl', 'conversations.json'))
    text = (folder / 'input.txt').read_text(encoding='utf-8')
    has_zh = any('\u4e00' <= c <= '\u9fff' for c in text)
    assert has_zh == (lang != 'en')
    if lang == 'all':  # shuffled: the training split holds both languages
        train = text[: stats['split']['split_at_char']]
        assert any('\u4e00' <= c <= '\u9fff' for c in train) and 'What is AI?' in text


def test_unanswered_turns_are_left_out():
    assert as_messages(['hi', 'hello', 'bye']) == [
        {'role': 'user', 'content': 'hi'},
        {'role': 'assistant', 'content': 'hello'},
    ]


def test_options_belong_to_their_dataset(run):
    with pytest.raises(DataError, match='only `prepare tang_poems` reads --simplified'):
        run(dataset='dialogue', simplified=True)
