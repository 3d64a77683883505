"""Writing a dataset folder so that a crash or a full disk never leaves a file that loads as good.

Every file is written to a temp file beside its target (`nanogpt_lab.fileio.atomic_open`), and the renames
happen only after everything succeeded, in this order: stale files removed, val.bin, train.bin, the vocabulary
file (meta.pkl, tokenizer.model or tokenizer.json), then stats.json last, so a folder with a stats.json is a
finished dataset. On any error the temp files are deleted and the folder keeps what it had.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nanogpt_lab.data.errors import DataError
from nanogpt_lab.fileio import atomic_open
from nanogpt_lab.tokenizers.lookup import VOCAB_FILES

DTYPE = np.uint16  # nanoGPT's token file format: headerless little-endian uint16
PREVIEW_TOKENS = 64


class TokenWriter:
    """Appends token ids to one .bin temp file, counting them and their frequencies as they go."""

    def __init__(self, f: BinaryIO, vocab_size: int):
        self.f = f
        self.n = 0
        self.counts = np.zeros(vocab_size, dtype=np.int64)
        self.head: list[int] = []  # the first tokens, for the stats preview

    def write(self, ids: Sequence[int] | np.ndarray) -> None:
        """Append ids (each must fit uint16: the caller's vocabulary guarantees it)."""
        arr = np.asarray(ids)
        if not len(arr):
            return
        assert arr.min() >= 0 and arr.max() < len(self.counts), 'token id outside the vocabulary'
        self.f.write(arr.astype('<u2', copy=False).tobytes())
        self.counts += np.bincount(arr, minlength=len(self.counts))
        if len(self.head) < PREVIEW_TOKENS:
            self.head.extend(int(i) for i in arr[: PREVIEW_TOKENS - len(self.head)])
        self.n += len(arr)


def memmap_output(f: BinaryIO, n_tokens: int) -> np.ndarray:
    """A writable uint16 memmap over temp file `f`, its space reserved first so a full disk fails here, cleanly.

    Without the reservation the file is sparse, and running out of space while writing through the mapping
    kills the process with SIGBUS instead of raising an error.
    """
    if not n_tokens:
        return np.zeros(0, dtype=DTYPE)  # an empty file: nothing to map
    if hasattr(os, 'posix_fallocate'):
        try:
            os.posix_fallocate(f.fileno(), 0, n_tokens * np.dtype(DTYPE).itemsize)
        except OSError as e:
            if e.errno in (28, 122):  # ENOSPC, EDQUOT
                raise DataError('data.no_space', tokens=n_tokens, reason=e.strerror) from None
            # some filesystems cannot preallocate: write without the reservation
    return np.memmap(f, dtype=DTYPE, mode='w+', shape=(n_tokens,))


@dataclass
class Outputs:
    """The open temp files of one dataset being written."""

    train: BinaryIO
    val: BinaryIO
    vocab: BinaryIO | None  # meta.pkl, tokenizer.model or tokenizer.json; None for GPT-2 BPE
    stats: BinaryIO

    def write_stats(self, stats: dict) -> None:
        """Fill stats.json (it is renamed into place last)."""
        self.stats.write((json.dumps(stats, indent=2, ensure_ascii=False) + '\n').encode('utf-8'))


@contextlib.contextmanager
def dataset_output(folder: Path, vocab_file: str | None) -> Iterator[Outputs]:
    """Open temp files for a dataset's files (`vocab_file`: the vocabulary's file name, None for GPT-2 BPE); on
    success put them all in place (stats.json last), else drop them."""
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        # entered first, renamed last: ExitStack unwinds in reverse
        stats = stack.enter_context(atomic_open(folder / 'stats.json'))
        vocab = stack.enter_context(atomic_open(folder / vocab_file)) if vocab_file else None
        train = stack.enter_context(atomic_open(folder / 'train.bin'))
        val = stack.enter_context(atomic_open(folder / 'val.bin'))
        stack.push(_remove_stale(folder, vocab_file))
        yield Outputs(train, val, vocab, stats)


def _remove_stale(folder: Path, vocab_file: str | None) -> Callable[..., bool]:
    """Before the renames: drop the old stats.json (the folder is incomplete until the new one lands) and any other
    tokenizer's vocabulary file (else an old meta.pkl's characters would be used to decode BPE ids)."""

    def on_exit(exc_type: type | None, exc: BaseException | None, tb: object) -> bool:
        if exc_type is None:
            for name in ('stats.json', *(f for f in VOCAB_FILES if f != vocab_file)):
                with contextlib.suppress(FileNotFoundError):
                    (folder / name).unlink()
        return False

    return on_exit
