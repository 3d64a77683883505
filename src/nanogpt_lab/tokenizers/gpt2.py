"""GPT-2's byte-level BPE through tiktoken, working offline from a pre-seeded cache or a folder of its files.

Where the vocabulary comes from, in order: `NANOGPT_LAB_GPT2_BPE_DIR` (a folder holding `gpt2.tiktoken`, or
`encoder.json` + `vocab.bpe`; the Encoding is built directly from them), else `tiktoken.get_encoding('gpt2')`,
which reads tiktoken's cache ($TIKTOKEN_CACHE_DIR) or downloads the two files once.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nanogpt_lab.tokenizers.base import Tokenizer, TokenizerError

ENV_BPE_DIR = 'NANOGPT_LAB_GPT2_BPE_DIR'
EOT_TOKEN = 50256
EOT_TEXT = '<|endoftext|>'
VOCAB_SIZE = 50257
# tiktoken's r50k/gpt2 split pattern (tiktoken_ext/openai_public.py: r50k_pat_str)
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
# the sha256 tiktoken itself pins for these files (tiktoken_ext/openai_public.py)
SHA256 = {
    'gpt2.tiktoken': '306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930',
    'encoder.json': '196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783',
    'vocab.bpe': '1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5',
}


def _read_checked(path: Path) -> bytes:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != SHA256[path.name]:
        raise TokenizerError('tokenizer.gpt2.sha256', path=path, name=path.name)
    return data


def _ranks_from_tiktoken_file(path: Path) -> dict[bytes, int]:
    ranks = {}
    for line in _read_checked(path).splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table used by encoder.json (openai/gpt-2 encoder.py)."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


def _ranks_from_encoder_json(folder: Path) -> dict[bytes, int]:
    _read_checked(folder / 'vocab.bpe')  # the merges are implied by the ranks; checked so a stray file is caught
    encoder = json.loads(_read_checked(folder / 'encoder.json'))
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    encoder.pop(EOT_TEXT, None)
    return {bytes(byte_of[c] for c in token): rank for token, rank in encoder.items()}


def _encoding_from_folder(folder: Path) -> Any:
    import tiktoken

    if (folder / 'gpt2.tiktoken').is_file():
        ranks = _ranks_from_tiktoken_file(folder / 'gpt2.tiktoken')
    elif (folder / 'encoder.json').is_file() and (folder / 'vocab.bpe').is_file():
        ranks = _ranks_from_encoder_json(folder)
    else:
        raise TokenizerError('tokenizer.gpt2.no_files', env=ENV_BPE_DIR, path=folder)
    return tiktoken.Encoding(
        name='gpt2',
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={EOT_TEXT: EOT_TOKEN},
        explicit_n_vocab=VOCAB_SIZE,
    )


@functools.lru_cache(maxsize=4)
def _cached_encoding(folder: str | None, cache_dir: str | None) -> Any:
    if folder:
        return _encoding_from_folder(Path(folder).expanduser())
    import tiktoken

    try:
        return tiktoken.get_encoding('gpt2')
    except (OSError, ValueError) as e:  # requests' ConnectionError is an OSError; a bad download a ValueError
        raise TokenizerError('tokenizer.gpt2.offline', reason=e.__class__.__name__, env=ENV_BPE_DIR) from None


def gpt2_encoding() -> Any:
    """The `tiktoken.Encoding` for GPT-2 (cached per process and per source folder)."""
    return _cached_encoding(os.environ.get(ENV_BPE_DIR) or None, os.environ.get('TIKTOKEN_CACHE_DIR'))


class GPT2Tokenizer(Tokenizer):
    """GPT-2's 50,257-token byte-level BPE, the tokenizer of every GPT-2 checkpoint and of nanoGPT's BPE data."""

    name = 'gpt2'
    vocab_size = VOCAB_SIZE
    eot_token = EOT_TOKEN

    def __init__(self) -> None:
        self.enc = gpt2_encoding()

    def encode(self, text: str) -> list[int]:
        """Text -> ids, reading a literal <|endoftext|> as the end-of-text token as nanoGPT's sample.py does."""
        return self.enc.encode(text, allowed_special={EOT_TEXT})

    def encode_ordinary(self, text: str) -> list[int]:
        """Text -> ids with no special tokens (what data preparation uses)."""
        return self.enc.encode_ordinary(text)

    def encode_ordinary_batch(self, texts: list[str], num_threads: int = 8) -> list[list[int]]:
        """Many texts at once on `num_threads` threads (tiktoken releases the GIL while it encodes)."""
        return self.enc.encode_ordinary_batch(texts, num_threads=num_threads)

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> text; bytes that do not form whole characters become U+FFFD."""
        try:
            return self.enc.decode([int(i) for i in ids])
        except (KeyError, ValueError, OverflowError):
            raise TokenizerError('tokenizer.gpt2.bad_ids', max=VOCAB_SIZE - 1) from None

    def token_bytes(self, id: int) -> bytes:
        """The bytes one token stands for; some are only part of a multi-byte character."""
        try:
            return self.enc.decode_single_token_bytes(int(id))
        except (KeyError, ValueError, OverflowError):
            raise TokenizerError('tokenizer.gpt2.bad_id', id=id, max=VOCAB_SIZE - 1) from None
