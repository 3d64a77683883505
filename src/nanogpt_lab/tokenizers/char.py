"""Character-level tokenizer: one id per distinct character, nanoGPT's `meta.pkl` format (vocab_size, itos, stoi)."""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from nanogpt_lab.tokenizers.base import Tokenizer, TokenizerError

META_PICKLE_PROTOCOL = 4  # Python 3.8-3.13's default, the one nanoGPT's meta.pkl was written with; 3.14 moved to 5


class CharTokenizer(Tokenizer):
    """Maps each character to its index in `chars`, e.g. sorted(set(text)) as nanoGPT's prepare.py does."""

    name = 'char'

    def __init__(self, chars: Sequence[str]):
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise TokenizerError('tokenizer.char.not_single')
        if len(set(chars)) != len(chars):
            raise TokenizerError('tokenizer.char.repeat')
        self.chars = list(chars)
        # itos and stoi share the same string objects, as nanoGPT's do: pickle then writes each character once
        self.itos = dict(enumerate(self.chars))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        codepoints = np.array([ord(c) for c in self.chars], dtype=np.int64)
        order = np.argsort(codepoints, kind='stable')
        self._sorted_cps, self._sorted_ids = codepoints[order], order.astype(np.int64)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The vocabulary nanoGPT builds: every distinct character of `text`, sorted."""
        return cls(sorted(set(text)))

    @classmethod
    def from_meta(cls, meta: Mapping) -> CharTokenizer:
        """Rebuild from a nanoGPT meta dict ({'vocab_size', 'itos', 'stoi'})."""
        itos = meta.get('itos')
        if not isinstance(itos, Mapping) or sorted(itos) != list(range(len(itos))):
            raise TokenizerError('tokenizer.char.no_itos')
        return cls([itos[i] for i in range(len(itos))])

    def meta(self) -> dict:
        """The nanoGPT `meta.pkl` dictionary for this vocabulary."""
        return {'vocab_size': self.vocab_size, 'itos': self.itos, 'stoi': self.stoi}

    def encode(self, text: str) -> list[int]:
        """Text -> ids; a character outside the vocabulary is an error naming it and its position."""
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            raise self._unknown(text) from None

    def encode_array(self, text: str) -> np.ndarray:
        """Like `encode`, vectorised with numpy for the megabytes that data preparation feeds it."""
        cps = np.frombuffer(text.encode('utf-32-le'), dtype=np.uint32).astype(np.int64)
        if not len(cps):
            return np.zeros(0, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._sorted_cps, cps), len(self._sorted_cps) - 1)
        if not np.array_equal(self._sorted_cps[pos], cps):
            raise self._unknown(text)
        return self._sorted_ids[pos]

    def _unknown(self, text: str) -> TokenizerError:
        i, c = next((i, c) for i, c in enumerate(text) if c not in self.stoi)
        return TokenizerError(
            'tokenizer.char.unknown', char=repr(c), codepoint=f'U+{ord(c):04X}', position=i, vocab_size=self.vocab_size
        )

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> text; an id outside 0..vocab_size-1 is an error."""
        try:
            return ''.join(self.itos[int(i)] for i in ids)
        except KeyError as e:
            raise TokenizerError('tokenizer.bad_id', id=e.args[0], max=self.vocab_size - 1) from None

    def token_bytes(self, id: int) -> bytes:
        """The character's UTF-8 bytes."""
        return self.decode([id]).encode('utf-8')


class _MetaUnpickler(pickle.Unpickler):
    """meta.pkl holds only dicts, ints and strings; refusing every class keeps a crafted pickle from running code."""

    def find_class(self, module: str, name: str) -> type:
        raise TokenizerError('tokenizer.char.meta_refers', name=f'{module}.{name}')


def read_meta(path: str | Path) -> dict:
    """Load a nanoGPT meta.pkl safely (no code execution) and check it has vocab_size, itos and stoi."""
    try:
        with open(path, 'rb') as f:
            meta = _MetaUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError, OverflowError, MemoryError, TypeError) as e:
        # a corrupt pickle fails in many ways (a huge length: OverflowError, MemoryError); each is a bad file
        if isinstance(e, TokenizerError):
            raise
        raise TokenizerError(
            'tokenizer.char.meta_unreadable', path=path, detail=f'{e.__class__.__name__}: {e}'
        ) from None
    if not isinstance(meta, dict) or not {'vocab_size', 'itos', 'stoi'} <= set(meta):
        raise TokenizerError('tokenizer.char.meta_keys', path=path)
    return meta


def meta_bytes(tokenizer: CharTokenizer) -> bytes:
    """meta.pkl's bytes exactly as nanoGPT's prepare.py writes them (pickle protocol 4)."""
    return pickle.dumps(tokenizer.meta(), protocol=META_PICKLE_PROTOCOL)
