"""GPT-2's tokenizer files in Hugging Face's layout (vocab.json, merges.txt), rebuilt from the BPE ranks that the
lab's GPT-2 tokenizer loads (offline from its cache or NANOGPT_LAB_GPT2_BPE_DIR), so an export needs no download.

tiktoken keeps only each token's rank; a merge rule is recovered by running BPE on the token's bytes with only
the lower-ranked tokens allowed, which leaves exactly the two parts that merged into it (the conversion
Hugging Face and tiktoken document). The result equals OpenAI's encoder.json and vocab.bpe (tested).
"""

from __future__ import annotations

import functools

from nanogpt_lab.tokenizers.gpt2 import EOT_TEXT, EOT_TOKEN, bytes_to_unicode, gpt2_encoding


def _ranks() -> dict[bytes, int]:
    return gpt2_encoding()._mergeable_ranks  # tiktoken's byte sequence -> rank table


@functools.lru_cache(maxsize=1)
def _alphabet() -> dict[int, str]:
    return bytes_to_unicode()


def _printable(token: bytes) -> str:
    """A token's bytes in GPT-2's reversible byte-to-printable-character alphabet."""
    table = _alphabet()
    return ''.join(table[b] for b in token)


def gpt2_vocab() -> dict[str, int]:
    """vocab.json: every token in GPT-2's printable alphabet, by id, plus <|endoftext|> = 50256."""
    vocab = {_printable(token): rank for token, rank in sorted(_ranks().items(), key=lambda kv: kv[1])}
    vocab[EOT_TEXT] = EOT_TOKEN
    return vocab


def _merge_of(ranks: dict[bytes, int], token: bytes, rank: int) -> tuple[bytes, bytes]:
    """The two parts that merged into `token`: BPE on its bytes using only merges ranked below it."""
    parts = [bytes([b]) for b in token]
    while len(parts) > 2:
        pairs = [(ranks.get(parts[i] + parts[i + 1], rank), i) for i in range(len(parts) - 1)]
        best, i = min(pairs)
        assert best < rank, f'no merge path to {token!r}'
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
    return parts[0], parts[1]


@functools.lru_cache(maxsize=1)
def gpt2_merges() -> tuple[str, ...]:
    """merges.txt's lines (without its '#version' header), in merge order."""
    ranks = _ranks()
    lines = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) > 1:
            a, b = _merge_of(ranks, token, rank)
            lines.append(f'{_printable(a)} {_printable(b)}')
    return tuple(lines)
