"""stats.json: what the stage-1 charts show about a prepared dataset (schema in docs/data.md, versioned)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nanogpt_lab import __version__
from nanogpt_lab.data.errors import DataError
from nanogpt_lab.tokenizers import Tokenizer, TokenizerError

STATS_VERSION = 1
TOP_K = 50
COVERAGE_POINTS = 40
PREVIEW_TOKENS = 64


def top_tokens(counts: np.ndarray, tok: Tokenizer, k: int = TOP_K) -> list[dict]:
    """The k most frequent ids with their text and count (ties: smaller id first)."""
    nonzero = np.flatnonzero(counts)
    order = nonzero[np.lexsort((nonzero, -counts[nonzero]))][:k]
    return [{'id': int(i), 'text': _text(tok, int(i)), 'count': int(counts[i])} for i in order]


def coverage(counts: np.ndarray, points: int = COVERAGE_POINTS) -> list[list[float]]:
    """[rank, share of all tokens that the `rank` most frequent ids make up] at log-spaced ranks: how few symbols
    carry most of the text, readable at any vocabulary size (a Chinese char vocabulary has 7,000+).

    Example: counts [6, 3, 1] -> [[1, 0.6], [2, 0.9], [3, 1.0]].
    """
    used = np.sort(counts[counts > 0])[::-1]
    if not len(used):
        return []
    share = np.cumsum(used) / used.sum()
    ranks = np.unique(np.geomspace(1, len(used), num=min(points, len(used))).round().astype(int))
    return [[int(r), round(float(share[r - 1]), 6)] for r in ranks]


def preview(ids: Sequence[int], tok: Tokenizer) -> list[dict]:
    """The first tokens of train.bin as (id, text) pairs."""
    return [{'id': int(i), 'text': _text(tok, int(i))} for i in ids[:PREVIEW_TOKENS]]


def _text(tok: Tokenizer, i: int) -> str:
    try:
        return tok.token_text(i)
    except TokenizerError:
        return ''  # an id the tokenizer does not know (only in a foreign file): shown without text


def build_stats(
    *,
    name: str,
    dataset: str,
    tok: Tokenizer,
    tokens: dict[str, int],
    counts: np.ndarray,
    head: Sequence[int],
    characters: int | None,
    documents: int | None,
    split: dict,
    source: dict | None,
    started: float,
) -> dict:
    """Assemble the stats.json dictionary (version 1)."""
    total = tokens['train'] + tokens['val']
    return {
        'version': STATS_VERSION,
        'dataset': name,
        'kind': dataset,
        'tokenizer': tok.name,
        'vocab_size': tok.vocab_size,
        'characters': characters,
        'documents': documents,
        'tokens': {'train': tokens['train'], 'val': tokens['val'], 'total': total},
        'split': {**split, 'val_share': tokens['val'] / total if total else None},
        'top_tokens': top_tokens(counts, tok),
        'distinct_tokens': int((counts > 0).sum()),  # the vocabulary the text actually uses
        'coverage': coverage(counts),
        'preview': preview(head, tok),
        'source': source,
        'seconds': round(time.time() - started, 3),
        'created': round(time.time(), 3),
        'lab_version': __version__,
    }


def stats_from_bins(folder: Path, tok: Tokenizer) -> dict:
    """Stats for a folder that has only nanoGPT's files (no stats.json): what the .bin files themselves tell."""
    started = time.time()
    tokens, counts, head = {}, np.zeros(max(tok.vocab_size, 1), dtype=np.int64), []
    for split in ('train', 'val'):
        path = folder / f'{split}.bin'
        if not path.is_file():
            raise DataError('data.split_missing', path=folder, split=split)
        data = np.memmap(path, dtype=np.uint16, mode='r')
        tokens[split] = len(data)
        for start in range(0, len(data), 1 << 24):  # 32 MiB at a time
            block = np.asarray(data[start : start + (1 << 24)])
            counts = _add_counts(counts, block)
        if split == 'train':
            head = [int(i) for i in data[:PREVIEW_TOKENS]]
    stats = build_stats(
        name=folder.name,
        dataset=folder.name,
        tok=tok,
        tokens=tokens,
        counts=counts,
        head=head,
        characters=None,
        documents=None,
        split={'method': 'unknown'},
        source=None,
        started=started,
    )
    return {**stats, 'derived': True}


def _add_counts(counts: np.ndarray, block: np.ndarray) -> np.ndarray:
    add = np.bincount(block, minlength=len(counts))
    if len(add) > len(counts):  # ids beyond the vocabulary: count them anyway, the file is what it is
        counts = np.concatenate([counts, np.zeros(len(add) - len(counts), dtype=np.int64)])
    counts[: len(add)] += add
    return counts
