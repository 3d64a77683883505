"""SentencePiece unigram: trains quietly in memory, round-trips any text, saves and loads."""

from __future__ import annotations

import pytest

from nanogpt_lab.tokenizers import TokenizerError, UnigramTokenizer

TEXTS = ['', 'a', 'hello world', '  two  spaces\n\nand lines\n', '你好，世界', 'emoji 🙂👍🏽 mix 中文 and é']


@pytest.fixture(scope='module')
def unigram(shakespeare_txt) -> UnigramTokenizer:
    return UnigramTokenizer.train(shakespeare_txt.read_text()[:20_000], vocab_size=1000)


def test_training_is_quiet_and_gives_the_vocabulary(shakespeare_txt, capfd):
    tok = UnigramTokenizer.train(shakespeare_txt.read_text()[:5_000], vocab_size=400)
    out, err = capfd.readouterr()
    assert out == '' and err == ''
    assert 300 <= tok.vocab_size <= 400


@pytest.mark.parametrize('text', TEXTS)
def test_round_trip_including_unseen_characters(unigram, text):
    ids = unigram.encode(text)
    assert unigram.decode(ids) == text
    assert b''.join(unigram.token_bytes(i) for i in ids) == text.encode('utf-8')


def test_it_learns_words_of_its_text(unigram):
    assert len(unigram.encode('the king')) < len('the king')


def test_save_and_load(unigram, tmp_path):
    unigram.save(tmp_path / 'u.model')
    again = UnigramTokenizer.load(tmp_path / 'u.model')
    assert again.encode('ROMEO: 你好') == unigram.encode('ROMEO: 你好')


def test_bad_requests_are_errors(unigram):
    with pytest.raises(TokenizerError, match='at least 300'):
        UnigramTokenizer.train('some text', vocab_size=50)
    with pytest.raises(TokenizerError, match='non-blank text'):
        UnigramTokenizer.train('  \n\n ')
    with pytest.raises(TokenizerError, match='outside'):
        unigram.decode([unigram.vocab_size])
