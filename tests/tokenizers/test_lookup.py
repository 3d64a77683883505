"""tokenizer_for_dataset: nanoGPT's rule (meta.pkl -> its characters, else GPT-2 BPE)."""

from __future__ import annotations

from nanogpt_lab.tokenizers import CharTokenizer, GPT2Tokenizer, tokenizer_for_dataset


def test_char_dataset_gets_its_meta_vocabulary(char_data_dir):
    tok = tokenizer_for_dataset(char_data_dir / 'shakespeare_char')
    assert isinstance(tok, CharTokenizer) and tok.vocab_size == 65
    assert tok.decode(tok.encode('ROMEO:')) == 'ROMEO:'


def test_a_folder_without_meta_is_gpt2(tmp_path):
    assert isinstance(tokenizer_for_dataset(tmp_path), GPT2Tokenizer)
