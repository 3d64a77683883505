"""What every tokenizer offers: encode, decode, the bytes behind one id, and where each token sits in the text."""

from __future__ import annotations

from collections.abc import Sequence

from nanogpt_lab.errors import LabError


class TokenizerError(LabError):
    """A tokenizer cannot do what was asked (unknown character, missing vocabulary files, bad id)."""


class Tokenizer:
    """The shared interface: subclasses override encode, decode, token_bytes and set `name` and `vocab_size`."""

    name = 'base'
    vocab_size = 0

    def encode(self, text: str) -> list[int]:
        """Text -> token ids."""
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        """Token ids -> text."""
        raise NotImplementedError

    def token_bytes(self, id: int) -> bytes:
        """The UTF-8 bytes one token stands for (a BPE token may hold only part of a character)."""
        raise NotImplementedError

    def token_text(self, id: int) -> str:
        """One token as readable text; bytes that are not whole UTF-8 characters show as \\xNN."""
        return self.token_bytes(id).decode('utf-8', errors='backslashreplace')

    def byte_spans(self, text: str) -> list[tuple[int, int, int]]:
        """(id, byte_start, byte_end) per token of `text`, found by laying the tokens' bytes end to end."""
        spans, pos = [], 0
        for i in self.encode(text):
            n = len(self.token_bytes(i))
            spans.append((i, pos, pos + n))
            pos += n
        return spans

    def __repr__(self) -> str:
        return f'{type(self).__name__}(vocab_size={self.vocab_size})'


def prompt_ids(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """A prompt's token ids. An empty prompt starts a document at GPT-2's <|endoftext|>, as nanoGPT's sample.py
    does; a tokenizer without that token gives [] (each caller says what its empty start is)."""
    if prompt:
        return tokenizer.encode(prompt)
    eot = getattr(tokenizer, 'eot_token', None)
    return [] if eot is None else [eot]
