"""Reading batches back: nanoGPT's `get_batch` for training, and a torch-free view of a batch for the UI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nanogpt_lab.data.errors import DataError

Data = str | Path | np.ndarray


def _open(data: Data) -> np.ndarray:
    """A .bin path opens as a fresh read-only memmap; an array (or memmap) is used as it is."""
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise DataError('data.bin_missing', path=path)
        return np.memmap(path, dtype=np.uint16, mode='r')
    return data


def _check_length(data: np.ndarray, block_size: int, where: Data) -> None:
    if len(data) <= block_size:
        name = where if isinstance(where, (str, Path)) else 'the data'
        raise DataError('data.too_few_tokens', name=name, tokens=len(data), block_size=block_size, need=block_size + 1)


def get_batch(
    data: Data, batch_size: int, block_size: int, device: Any = 'cpu', generator: Any = None
) -> tuple[Any, Any]:
    """nanoGPT's train.py sampling: `batch_size` random windows of `block_size` tokens, y = x shifted by one.

    Pass the path of train.bin / val.bin to get nanoGPT's behaviour exactly: the memmap is re-created on every
    call, because a long-lived np.memmap keeps every page it touched and memory grows through a long run
    (https://stackoverflow.com/questions/45132940). Offsets come from `torch.randint` on the global generator,
    so with the same torch.manual_seed the batches equal nanoGPT's; pass a `torch.Generator` to keep a
    separate sampling stream whose state a resumed run can save and restore.
    """
    import torch

    arr = _open(data)
    _check_length(arr, block_size, data)
    ix = torch.randint(len(arr) - block_size, (batch_size,), generator=generator)
    # one gather of each window plus its next token (nanoGPT stacks 2 * batch_size slices: the same tensors)
    windows = torch.from_numpy(arr[ix.numpy()[:, None] + np.arange(block_size + 1)].astype(np.int64))
    x, y = windows[:, :-1].contiguous(), windows[:, 1:].contiguous()
    if torch.device(device).type == 'cuda':
        # pin arrays x,y, which allows us to move them to GPU asynchronously (non_blocking=True)
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x.to(device), y.to(device)


@dataclass(frozen=True)
class BatchRow:
    """One row of a batch as the batch inspector shows it: where it starts, its ids, and their text."""

    offset: int
    x: list[int]
    y: list[int]
    x_tokens: list[str]  # each token of x as text
    y_tokens: list[str]
    x_text: str  # x decoded as a whole
    y_text: str


def inspect_batch(
    dataset_dir: str | Path,
    split: str = 'train',
    batch_size: int = 4,
    block_size: int = 8,
    seed: int | None = None,
    offsets: list[int] | None = None,
) -> list[BatchRow]:
    """A batch as nanoGPT builds it, with text, for the UI (no torch): random offsets or the ones given.

    Offsets are drawn uniformly from [0, len - block_size) as `get_batch` does, but with numpy, so they are
    not the same numbers training draws for the same seed; pass `offsets` to show a particular batch.
    """
    from nanogpt_lab.tokenizers import tokenizer_for_dataset

    if split not in ('train', 'val'):
        raise DataError('data.bad_split', split=split)
    path = Path(dataset_dir) / f'{split}.bin'
    arr = _open(path)
    _check_length(arr, block_size, path)
    hi = len(arr) - block_size
    if offsets is None:
        offsets = [int(i) for i in np.random.default_rng(seed).integers(0, hi, size=batch_size)]
    bad = [o for o in offsets if not 0 <= o < hi]
    if bad:
        raise DataError('data.bad_offset', offset=bad[0], max=hi - 1, path=path, block_size=block_size)
    tok = tokenizer_for_dataset(dataset_dir)
    rows = []
    for o in offsets:
        x = [int(i) for i in arr[o : o + block_size]]
        y = [int(i) for i in arr[o + 1 : o + 1 + block_size]]
        rows.append(
            BatchRow(
                o, x, y, [tok.token_text(i) for i in x], [tok.token_text(i) for i in y], tok.decode(x), tok.decode(y)
            )
        )
    return rows
