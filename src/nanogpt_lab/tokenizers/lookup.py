"""Which tokenizer reads a prepared dataset or a run: the files beside the token ids say it.

meta.pkl: nanoGPT's char vocabulary. tokenizer.model: a SentencePiece unigram trained by `prepare custom
--tokenizer sentencepiece`. tokenizer.json: a byte-level BPE trained by `--tokenizer bpe`. None of them: GPT-2 BPE,
nanoGPT's rule. A folder holds at most one of them (data preparation removes the others).
"""

from __future__ import annotations

from pathlib import Path

from nanogpt_lab.tokenizers.base import Tokenizer
from nanogpt_lab.tokenizers.bpe import FILE_NAME as BPE_FILE
from nanogpt_lab.tokenizers.bpe import BPETokenizer
from nanogpt_lab.tokenizers.char import CharTokenizer, read_meta
from nanogpt_lab.tokenizers.gpt2 import GPT2Tokenizer
from nanogpt_lab.tokenizers.unigram import FILE_NAME as UNIGRAM_FILE
from nanogpt_lab.tokenizers.unigram import UnigramTokenizer

META_FILE = 'meta.pkl'
VOCAB_FILES = (META_FILE, UNIGRAM_FILE, BPE_FILE)  # every file that names a folder's tokenizer


def vocab_file(folder: str | Path) -> Path | None:
    """The file in `folder` that defines its tokenizer (meta.pkl, tokenizer.model or tokenizer.json), if any."""
    return next((Path(folder) / n for n in VOCAB_FILES if (Path(folder) / n).is_file()), None)


def load_vocab_file(path: str | Path) -> Tokenizer:
    """The tokenizer one of `VOCAB_FILES` holds."""
    path = Path(path)
    if path.name == UNIGRAM_FILE:
        return UnigramTokenizer.load(path)
    if path.name == BPE_FILE:
        return BPETokenizer.load(path)
    return CharTokenizer.from_meta(read_meta(path))


def tokenizer_for_dataset(dataset_dir: str | Path) -> Tokenizer:
    """The tokenizer that wrote this dataset folder (what sampling and export decode with)."""
    found = vocab_file(dataset_dir)
    return load_vocab_file(found) if found else GPT2Tokenizer()
