"""Side-by-side tokenization of one text: every token with its id, bytes and character span, plus the ratios.

Spans are computed on UTF-8 bytes and mapped back to characters, so a BPE token holding only part of a Chinese
character or an emoji is reported as a partial token (its bytes shown) instead of breaking the view.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from nanogpt_lab.tokenizers.base import Tokenizer, TokenizerError


@dataclass(frozen=True)
class TokenInfo:
    """One token: its id, readable text, bytes (hex), character span [start, end) and byte span."""

    id: int
    text: str  # the token's bytes as UTF-8; bytes that are not whole characters show as \xNN
    bytes: str  # hex, e.g. 'e4 bd'
    start: int  # first character it touches
    end: int  # one past the last character it touches
    byte_start: int
    byte_end: int
    partial: bool  # it starts or ends inside a multi-byte character


@dataclass(frozen=True)
class Comparison:
    """How one tokenizer cuts the text, with the numbers the stage-2 charts show."""

    name: str
    vocab_size: int
    n_chars: int
    n_bytes: int
    n_tokens: int
    chars_per_token: float | None  # None for empty text (no tokens to divide by)
    bytes_per_token: float | None
    # bits per character when each token is coded by its frequency in this text: what a model that sees no
    # context pays, so it falls as tokens grow longer; None for empty text
    bits_per_char: float | None = None
    tokens: list[TokenInfo] = field(default_factory=list)
    error: str | None = None  # e.g. a char vocabulary that lacks a character of the text (in English)
    error_code: str | None = None  # the error's catalog code and parameters, for a page in another language
    error_params: dict | None = None

    def as_dict(self) -> dict:
        """Plain JSON-ready dict (for the API and the UI)."""
        return asdict(self)


def _char_starts(text: str) -> list[int]:
    """Byte offset where each character starts, plus the total byte length at the end."""
    starts, pos = [], 0
    for c in text:
        starts.append(pos)
        pos += len(c.encode('utf-8'))
    starts.append(pos)
    return starts


def _token_info(tok: Tokenizer, id: int, b0: int, b1: int, starts: list[int]) -> TokenInfo:
    raw = tok.token_bytes(id)
    start = bisect.bisect_right(starts, b0) - 1  # the character holding the first byte
    end = bisect.bisect_left(starts, b1) if b1 > b0 else start  # one past the character holding the last byte
    partial = starts[start] != b0 or (b1 > b0 and starts[end] != b1)
    return TokenInfo(id, tok.token_text(id), raw.hex(' '), start, end, b0, b1, partial)


def frequency_bits(ids: Sequence[int]) -> float:
    """Total bits to code `ids` when each id costs -log2 of its share of them (their 0-order entropy × count).

    Example: [1, 1, 2, 2] -> 4.0 (two equally frequent ids: one bit each).
    """
    n = len(ids)
    return sum(c * math.log2(n / c) for c in Counter(ids).values())


def error_fields(e: TokenizerError) -> tuple[str, str, dict]:
    """A Comparison's error, error_code and error_params for a tokenizer that cannot cut this text."""
    return str(e), e.code, e.params


def compare_one(text: str, tok: Tokenizer, name: str | None = None) -> Comparison:
    """Tokenize `text` with `tok` and report each token and the compression ratios."""
    name = name or tok.name
    n_chars, n_bytes = len(text), len(text.encode('utf-8'))
    try:
        spans = tok.byte_spans(text)
    except TokenizerError as e:
        return Comparison(name, tok.vocab_size, n_chars, n_bytes, 0, None, None, None, [], *error_fields(e))
    starts = _char_starts(text)
    tokens = [_token_info(tok, i, b0, b1, starts) for i, b0, b1 in spans]
    n = len(tokens)
    bits = frequency_bits([t.id for t in tokens]) / n_chars if n else None
    return Comparison(
        name, tok.vocab_size, n_chars, n_bytes, n, n_chars / n if n else None, n_bytes / n if n else None, bits, tokens
    )


def compare(text: str, tokenizers: Sequence[Tokenizer] | Mapping[str, Tokenizer]) -> list[Comparison]:
    """Tokenize the same text with each tokenizer (a list, or a dict of display name -> tokenizer)."""
    items = tokenizers.items() if isinstance(tokenizers, Mapping) else ((t.name, t) for t in tokenizers)
    return [compare_one(text, tok, name) for name, tok in items]
