"""GPT-2 BPE: known ids, tiktoken's own encoding, the offline sources and their error messages."""

from __future__ import annotations

import shutil

import pytest

from nanogpt_lab.tokenizers import GPT2Tokenizer, TokenizerError, gpt2_encoding

TEXTS = ['', 'Hello world', '你好，世界', 'emoji 🙂👍🏽 and é\n\n  spaces', "Shall I compare thee to a summer's day?"]


def test_known_ids():
    tok = GPT2Tokenizer()
    assert tok.encode('Hello world') == [15496, 995]
    assert tok.encode(' the') == [262]
    assert tok.encode("Shall I compare thee to a summer's day?")[:8] == [2484, 439, 314, 8996, 17903, 284, 257, 3931]
    assert tok.encode('<|endoftext|>') == [50256]  # read as the special token, as nanoGPT's sample.py does
    assert tok.encode_ordinary('<|endoftext|>') == [27, 91, 437, 1659, 5239, 91, 29]
    assert tok.vocab_size == 50257 and tok.eot_token == 50256


def test_whole_tiny_shakespeare_is_338025_tokens(shakespeare_txt):
    assert len(GPT2Tokenizer().encode_ordinary(shakespeare_txt.read_text())) == 338_025


@pytest.mark.parametrize('text', TEXTS)
def test_round_trip_and_bytes(text):
    tok = GPT2Tokenizer()
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert b''.join(tok.token_bytes(i) for i in ids) == text.encode('utf-8')


def test_partial_character_tokens_have_their_bytes():
    tok = GPT2Tokenizer()
    ids = tok.encode('你')
    assert len(ids) == 2 and tok.token_bytes(ids[0]) == b'\xe4\xbd'
    assert tok.token_text(ids[0]) == '\\xe4\\xbd'


def test_folder_and_tiktoken_cache_give_identical_encodings(monkeypatch, shared_data, tmp_path):
    from_folder = gpt2_encoding()  # NANOGPT_LAB_GPT2_BPE_DIR (conftest) holds gpt2.tiktoken
    json_dir = tmp_path / 'json'
    json_dir.mkdir()
    for name in ('encoder.json', 'vocab.bpe'):
        shutil.copyfile(shared_data / 'gpt2' / name, json_dir / name)
    monkeypatch.setenv('NANOGPT_LAB_GPT2_BPE_DIR', str(json_dir))
    from_json = gpt2_encoding()
    monkeypatch.delenv('NANOGPT_LAB_GPT2_BPE_DIR')
    from_cache = gpt2_encoding()  # tiktoken.get_encoding('gpt2') from the seeded cache
    assert from_folder is not from_json and from_json is not from_cache
    for text in TEXTS:
        assert from_folder.encode_ordinary(text) == from_json.encode_ordinary(text) == from_cache.encode_ordinary(text)


def test_wrong_or_missing_files_in_the_folder(monkeypatch, tmp_path):
    (tmp_path / 'gpt2.tiktoken').write_bytes(b'aGk= 0\n')
    monkeypatch.setenv('NANOGPT_LAB_GPT2_BPE_DIR', str(tmp_path))
    with pytest.raises(TokenizerError, match='sha256 differs'):
        GPT2Tokenizer()
    empty = tmp_path / 'empty'
    empty.mkdir()
    monkeypatch.setenv('NANOGPT_LAB_GPT2_BPE_DIR', str(empty))
    with pytest.raises(TokenizerError, match='neither gpt2.tiktoken nor encoder.json'):
        GPT2Tokenizer()


def test_no_files_and_no_network_says_how_to_place_them(monkeypatch, tmp_path):
    import tiktoken.registry

    monkeypatch.setattr(tiktoken.registry, 'ENCODINGS', {})  # forget the encoding an earlier test loaded
    monkeypatch.delenv('NANOGPT_LAB_GPT2_BPE_DIR')
    monkeypatch.setenv('TIKTOKEN_CACHE_DIR', str(tmp_path))  # empty: tiktoken would download
    for var in ('HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'):
        monkeypatch.setenv(var, 'http://127.0.0.1:9')  # a closed local port: the download fails at once, offline
    monkeypatch.delenv('NO_PROXY', raising=False)
    monkeypatch.delenv('no_proxy', raising=False)
    with pytest.raises(TokenizerError, match='NANOGPT_LAB_GPT2_BPE_DIR'):
        GPT2Tokenizer()


def test_bad_ids_are_errors():
    tok = GPT2Tokenizer()
    with pytest.raises(TokenizerError):
        tok.token_bytes(50257)
    with pytest.raises(TokenizerError):
        tok.decode([-1])
