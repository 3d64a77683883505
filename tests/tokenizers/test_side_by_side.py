"""compare(): ids, spans and ratios per tokenizer, right for Chinese and emoji, never crashing on partial tokens."""

from __future__ import annotations

import json

import pytest

from nanogpt_lab.tokenizers import CharTokenizer, GPT2Tokenizer, UnigramTokenizer, compare

MIXED = 'Hello 世界! 🙂👍🏽 café'


@pytest.fixture(scope='module')
def tokenizers(shakespeare_txt):
    text = shakespeare_txt.read_text()[:20_000]
    return {
        'char': CharTokenizer.from_text(text + MIXED),
        'gpt2': GPT2Tokenizer(),
        'unigram': UnigramTokenizer.train(text, vocab_size=600),
    }


def test_hello_world_numbers():
    (report,) = compare('Hello world', [GPT2Tokenizer()])
    assert report.name == 'gpt2' and report.n_tokens == 2
    assert [t.id for t in report.tokens] == [15496, 995]
    assert [(t.start, t.end) for t in report.tokens] == [(0, 5), (5, 11)]
    assert report.chars_per_token == 5.5 and report.bytes_per_token == 5.5


def test_spans_cover_the_text_for_every_tokenizer(tokenizers):
    data = MIXED.encode('utf-8')
    for report in compare(MIXED, tokenizers):
        assert report.error is None
        assert report.n_chars == len(MIXED) and report.n_bytes == len(data)
        assert [t.byte_start for t in report.tokens[1:]] == [t.byte_end for t in report.tokens[:-1]]
        assert report.tokens[-1].byte_end == len(data)
        assert b''.join(bytes.fromhex(t.bytes) for t in report.tokens) == data
        for t in report.tokens:
            if not t.partial:
                assert t.text == MIXED[t.start : t.end]
        assert report.chars_per_token == pytest.approx(len(MIXED) / report.n_tokens)


def test_gpt2_partial_tokens_of_chinese_and_emoji_are_flagged(tokenizers):
    (report,) = compare('世🙂', {'gpt2': tokenizers['gpt2']})
    assert all(t.partial for t in report.tokens)
    assert {(t.start, t.end) for t in report.tokens} == {(0, 1), (1, 2)}
    assert report.tokens[0].text.startswith('\\x') and report.n_bytes == 7


def test_char_vocabulary_without_a_character_reports_an_error_not_a_crash():
    (report,) = compare('abc 中', [CharTokenizer.from_text('abc ')])
    assert report.error and '中' in report.error and report.tokens == []


def test_empty_text_and_json_output(tokenizers):
    reports = compare('', tokenizers)
    assert [r.name for r in reports] == ['char', 'gpt2', 'unigram']
    assert all(r.n_tokens == 0 and r.chars_per_token is None for r in reports)
    json.dumps([r.as_dict() for r in compare(MIXED, tokenizers)])  # JSON-ready for the API
