"""Which tokenizer reads a prepared dataset: meta.pkl's characters if it has one, else GPT-2 BPE (nanoGPT's rule)."""

from __future__ import annotations

from pathlib import Path

from nanogpt_lab.tokenizers.base import Tokenizer
from nanogpt_lab.tokenizers.char import CharTokenizer, read_meta
from nanogpt_lab.tokenizers.gpt2 import GPT2Tokenizer

META_FILE = 'meta.pkl'


def tokenizer_for_dataset(dataset_dir: str | Path) -> Tokenizer:
    """The tokenizer nanoGPT's sample.py would use for this dataset folder."""
    meta = Path(dataset_dir) / META_FILE
    if meta.is_file():
        return CharTokenizer.from_meta(read_meta(meta))
    return GPT2Tokenizer()
