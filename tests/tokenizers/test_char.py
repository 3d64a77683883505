"""Char tokenizer: round trips, nanoGPT's meta.pkl byte for byte, clear errors, and a meta.pkl that cannot run code."""

from __future__ import annotations

import hashlib
import os
import pickle

import numpy as np
import pytest

from nanogpt_lab.tokenizers import CharTokenizer, TokenizerError, read_meta
from nanogpt_lab.tokenizers.char import meta_bytes

NANOGPT_META_SHA256 = '6ee5a37533af83b67fcbe6b93705fde9e15e78bafe895f54b2cb2cb32534526c'
TEXTS = ['', 'a', 'hello world\n', '你好，世界', 'emoji 🙂👍🏽 mix 中文 and é']


@pytest.mark.parametrize('text', TEXTS)
def test_round_trip_and_vectorised_encode_agree(text):
    tok = CharTokenizer.from_text(text + 'xyz')
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.encode_array(text).tolist() == ids
    assert b''.join(tok.token_bytes(i) for i in ids) == text.encode('utf-8')


def test_vocabulary_is_sorted_distinct_characters_like_nanogpt(shakespeare_txt):
    text = shakespeare_txt.read_text()
    tok = CharTokenizer.from_text(text)
    assert tok.vocab_size == 65
    assert ''.join(tok.chars) == "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    assert len(tok.encode_array(text)) == 1_115_394


def test_meta_bytes_equal_nanogpts_meta_pkl(shakespeare_txt):
    tok = CharTokenizer.from_text(shakespeare_txt.read_text())
    assert hashlib.sha256(meta_bytes(tok)).hexdigest() == NANOGPT_META_SHA256


def test_meta_round_trip(tmp_path):
    tok = CharTokenizer.from_text('ab中🙂')
    (tmp_path / 'meta.pkl').write_bytes(meta_bytes(tok))
    again = CharTokenizer.from_meta(read_meta(tmp_path / 'meta.pkl'))
    assert again.chars == tok.chars and again.encode('🙂a') == tok.encode('🙂a')


def test_unknown_character_is_named_with_its_position():
    tok = CharTokenizer.from_text('abc')
    with pytest.raises(TokenizerError, match=r"'z' \(U\+007A\) at position 2"):
        tok.encode('abz')
    with pytest.raises(TokenizerError, match='position 1'):
        tok.encode_array('a中')
    with pytest.raises(TokenizerError, match='outside this vocabulary'):
        tok.decode([0, 3])


def test_bad_vocabularies_are_rejected():
    with pytest.raises(TokenizerError, match='single characters'):
        CharTokenizer(['ab'])
    with pytest.raises(TokenizerError, match='repeat'):
        CharTokenizer(['a', 'a'])


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_a_meta_pkl_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / 'meta.pkl'
    path.write_bytes(pickle.dumps({'vocab_size': 1, 'itos': {0: 'a'}, 'stoi': {'a': 0}, 'x': _Evil()}))
    with pytest.raises(TokenizerError, match='posix.system|os.system'):
        read_meta(path)
    path.write_bytes(b'not a pickle')
    with pytest.raises(TokenizerError, match='not a readable meta.pkl'):
        read_meta(path)
    path.write_bytes(pickle.dumps({'vocab_size': 1}))
    with pytest.raises(TokenizerError, match='needs the keys'):
        read_meta(path)


def test_encode_array_is_int64_for_torch_and_numpy_users():
    assert CharTokenizer.from_text('ab').encode_array('ba').dtype == np.int64
