"""Bits per character: the one loss unit that compares models with different tokenizers fairly.

A model's loss is its mean cross-entropy in nats per token. A char model's token is one character; a BPE token a
word piece; GPT-2 spends one to three tokens on each Chinese character. So nats per token of two tokenizers are
not comparable, but the information the model needs for the same text is:

    bits/char = (nats/token) × (tokens / characters) / ln 2 = (nats/token) / (characters per token × ln 2)

Characters per token come from the dataset itself: stats.json's character count of each split and its tokens,
or, for a folder nanoGPT prepared (no stats.json), by decoding the split's token ids.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from nanogpt_lab.errors import LabError

LN2 = math.log(2)
DECODE_LIMIT = 2_000_000  # tokens decoded to count characters when a dataset has no stats.json (an estimate beyond)


def bits_per_char(nats_per_token: float, chars_per_token: float) -> float:
    """Convert a loss in nats per token to bits per character. Example: ln 65 nats with 1 char/token -> log2 65."""
    if not chars_per_token > 0:
        raise LabError('config.not_positive', key='chars_per_token', value=chars_per_token)
    return nats_per_token / (chars_per_token * LN2)


def nats_per_token(bits_per_char_: float, chars_per_token: float) -> float:
    """The inverse of `bits_per_char`."""
    return bits_per_char_ * chars_per_token * LN2


def split_chars_per_token(folder: str | Path, split: str = 'val') -> float | None:
    """Characters per token of one split of a prepared dataset; None if it cannot be told (an empty split)."""
    folder = Path(folder)
    counted = _from_stats(folder, split)
    return counted if counted is not None else _by_decoding(folder, split)


def _from_stats(folder: Path, split: str) -> float | None:
    """stats.json records the characters before the split point and in all; a split's tokens beside them."""
    try:
        stats = json.loads((folder / 'stats.json').read_text(encoding='utf-8'))
        at, total, tokens = stats['split']['split_at_char'], stats['characters'], stats['tokens'][split]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    chars = at if split == 'train' else total - at
    return chars / tokens if tokens and chars else None


def _by_decoding(folder: Path, split: str) -> float | None:
    """Decode the split's first DECODE_LIMIT tokens with the dataset's tokenizer and count characters."""
    from nanogpt_lab.tokenizers import EOT_TOKEN, GPT2Tokenizer, tokenizer_for_dataset

    path = folder / f'{split}.bin'
    if not path.is_file():
        return None
    ids = np.memmap(path, dtype=np.uint16, mode='r')[:DECODE_LIMIT]
    if not len(ids):
        return None
    tok = tokenizer_for_dataset(folder)
    text_ids = ids[ids != EOT_TOKEN] if isinstance(tok, GPT2Tokenizer) else ids  # a document end holds no text
    return len(tok.decode(text_ids.tolist())) / len(ids)  # every token is predicted, the end token too
