"""The byte-level BPE trained with Hugging Face tokenizers: round trips any text, learns words, saves and loads."""

from __future__ import annotations

import pytest

from nanogpt_lab.tokenizers import BPETokenizer, TokenizerError

TEXTS = ['', 'a', 'hello world', '  two  spaces\n\nand lines\r\n', '你好，世界', 'emoji 🙂👍🏽 mix 中文 and é']


@pytest.fixture(scope='module')
def bpe(shakespeare_txt) -> BPETokenizer:
    return BPETokenizer.train(shakespeare_txt.read_text().splitlines(keepends=True)[:2000], vocab_size=600)


def test_training_gives_the_vocabulary_quietly(shakespeare_txt, capfd):
    tok = BPETokenizer.train([shakespeare_txt.read_text()[:5_000]], vocab_size=300)
    out, err = capfd.readouterr()
    assert out == '' and err == ''
    assert tok.vocab_size == 300
    assert {tok.token_bytes(i) for i in range(256)} == {bytes([b]) for b in range(256)}  # ids 0..255: the bytes


@pytest.mark.parametrize('text', TEXTS)
def test_round_trip_including_unseen_characters(bpe, text):
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text
    assert b''.join(bpe.token_bytes(i) for i in ids) == text.encode('utf-8')


def test_it_learns_words_of_its_text(bpe):
    assert len(bpe.encode(' the king')) <= 3 < len(' the king')
    assert all(len(bpe.token_bytes(i)) == 1 for i in bpe.encode('你'))  # never seen: three byte tokens
    assert len(bpe.encode('你')) == 3


def test_save_and_load(bpe, tmp_path):
    bpe.save(tmp_path / 'tokenizer.json')
    again = BPETokenizer.load(tmp_path / 'tokenizer.json')
    assert again.encode('ROMEO: 你好') == bpe.encode('ROMEO: 你好') and again.vocab_size == bpe.vocab_size


def test_transformers_reads_the_file(bpe, tmp_path):
    from transformers import PreTrainedTokenizerFast

    bpe.save(tmp_path / 'tokenizer.json')
    hf = PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / 'tokenizer.json'))
    assert hf.encode('First Citizen: 你好') == bpe.encode('First Citizen: 你好')


def test_bad_requests_are_errors(bpe, tmp_path):
    with pytest.raises(TokenizerError, match='at least 257'):
        BPETokenizer.train(['some text'], vocab_size=100)
    with pytest.raises(TokenizerError, match='outside'):
        bpe.decode([bpe.vocab_size])
    with pytest.raises(TokenizerError, match='outside'):
        bpe.token_bytes(-1)
    (tmp_path / 'tokenizer.json').write_text('{not json')
    with pytest.raises(TokenizerError, match='not a readable tokenizer.json'):
        BPETokenizer.load(tmp_path / 'tokenizer.json')
