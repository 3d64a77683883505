"""A byte-level BPE trained on the learner's own text with Hugging Face `tokenizers` (the nanochat / minbpe way).

GPT-2's recipe at a size the learner picks: the text is cut by GPT-2's pre-tokenizer pattern, every byte is a
starting token (so any text round-trips, Chinese and emoji included), and the trainer merges the most frequent
pairs until the vocabulary is full. Saved as `tokenizer.json`, the file `transformers` loads as a fast tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from nanogpt_lab.tokenizers.base import Tokenizer, TokenizerError
from nanogpt_lab.tokenizers.gpt2 import bytes_to_unicode

MIN_VOCAB = 257  # the 256 bytes and at least one merge
FILE_NAME = 'tokenizer.json'


class BPETokenizer(Tokenizer):
    """A byte-level BPE in Hugging Face's format; ids 0..255 are the bytes, the rest are merges in learned order."""

    name = 'bpe'

    def __init__(self, hf: Any):
        self.hf = hf
        self._byte_of = {c: b for b, c in bytes_to_unicode().items()}

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> BPETokenizer:
        """Learn merges from `texts` (any iterable of strings, e.g. lines) until `vocab_size` tokens or no pair left."""
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        if vocab_size < MIN_VOCAB:
            raise TokenizerError('tokenizer.bpe.vocab_small', key='vocab_size', vocab_size=vocab_size, min=MIN_VOCAB)
        hf = HFTokenizer(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)  # GPT-2's pattern
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes, seen or not
            show_progress=False,
            special_tokens=[],
        )
        hf.train_from_iterator(texts, trainer)
        if hf.get_vocab_size() == 0:
            raise TokenizerError('tokenizer.bpe.no_text')
        return cls(hf)

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        """Read a `tokenizer.json` written by `save`."""
        from tokenizers import Tokenizer as HFTokenizer

        try:
            return cls(HFTokenizer.from_file(str(path)))
        except Exception as e:  # the Rust side raises a plain Exception for any unreadable file
            raise TokenizerError('tokenizer.bpe.unreadable', path=path, detail=str(e)) from None

    def save(self, path: str | Path) -> None:
        """Write Hugging Face's `tokenizer.json` atomically."""
        from nanogpt_lab.fileio import atomic_write_text

        atomic_write_text(path, self.hf.to_str())

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """Text -> ids."""
        return self.hf.encode(text, add_special_tokens=False).ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Text -> ids (no special tokens exist here; the name matches GPT-2's data-preparation call)."""
        return self.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> text; bytes that do not form whole characters become U+FFFD."""
        ids = [int(i) for i in ids]
        bad = next((i for i in ids if not 0 <= i < self.vocab_size), None)
        if bad is not None:
            raise TokenizerError('tokenizer.bad_id', id=bad, max=self.vocab_size - 1)
        return self.hf.decode(ids, skip_special_tokens=False)

    def token_bytes(self, id: int) -> bytes:
        """The bytes one token stands for, read back through GPT-2's byte-to-printable-character table."""
        piece = self.hf.id_to_token(int(id)) if 0 <= int(id) < self.vocab_size else None
        if piece is None:
            raise TokenizerError('tokenizer.bad_id', id=int(id), max=self.vocab_size - 1)
        return bytes(self._byte_of[c] for c in piece)
