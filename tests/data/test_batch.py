"""get_batch reads .bin files as nanoGPT's train.py does; inspect_batch shows a batch with text, without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from nanogpt_lab.data import DataError, get_batch, inspect_batch


@pytest.fixture(scope='module')
def char_dir(char_data_dir):
    return char_data_dir / 'shakespeare_char'


def test_y_is_x_shifted_and_rows_are_windows_of_the_file(char_dir):
    data = np.fromfile(char_dir / 'train.bin', dtype=np.uint16)
    g = torch.Generator().manual_seed(7)
    x, y = get_batch(char_dir / 'train.bin', 8, 64, 'cpu', generator=g)
    assert x.shape == y.shape == (8, 64) and x.dtype == y.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    offsets = torch.randint(len(data) - 64, (8,), generator=torch.Generator().manual_seed(7))
    for row, target, o in zip(x, y, offsets.tolist(), strict=True):
        assert 0 <= o < len(data) - 64
        assert row.tolist() == data[o : o + 64].tolist()
        assert target.tolist() == data[o + 1 : o + 65].tolist()


def test_global_seed_gives_nanogpts_offsets(char_dir):
    data = np.fromfile(char_dir / 'val.bin', dtype=np.uint16)
    torch.manual_seed(1337)
    x, _ = get_batch(char_dir / 'val.bin', 4, 32)
    torch.manual_seed(1337)
    ix = torch.randint(len(data) - 32, (4,))  # what nanoGPT's get_batch draws after the same seed
    assert [r.tolist() for r in x] == [data[i : i + 32].tolist() for i in ix]


def test_generator_state_can_be_saved_and_restored(char_dir):
    g = torch.Generator().manual_seed(3)
    get_batch(char_dir / 'train.bin', 4, 16, generator=g)
    state = g.get_state()
    first, _ = get_batch(char_dir / 'train.bin', 4, 16, generator=g)
    g.set_state(state)
    again, _ = get_batch(char_dir / 'train.bin', 4, 16, generator=g)
    assert torch.equal(first, again)


def test_arrays_and_errors(char_dir, tmp_path):
    x, y = get_batch(np.arange(10, dtype=np.uint16), 2, 9)
    assert x.tolist() == [list(range(9))] * 2 and y.tolist() == [list(range(1, 10))] * 2
    with pytest.raises(DataError, match='block_size 10 needs at least 11'):
        get_batch(np.arange(10, dtype=np.uint16), 2, 10)
    with pytest.raises(DataError, match='does not exist'):
        get_batch(tmp_path / 'train.bin', 2, 4)


def test_inspect_batch_shows_ids_and_text(char_dir):
    rows = inspect_batch(char_dir, 'train', block_size=12, offsets=[0, 100])
    assert rows[0].offset == 0 and rows[0].x_text == 'First Citize' and rows[0].y_text == 'irst Citizen'
    assert rows[0].x[1:] == rows[0].y[:-1] and rows[0].x_tokens[:3] == ['F', 'i', 'r']
    seeded = inspect_batch(char_dir, 'val', batch_size=3, block_size=8, seed=5)
    assert [r.offset for r in seeded] == [r.offset for r in inspect_batch(char_dir, 'val', 3, 8, seed=5)]
    with pytest.raises(DataError, match='outside'):
        inspect_batch(char_dir, 'train', block_size=8, offsets=[10**9])
    with pytest.raises(DataError, match="split 'test'"):
        inspect_batch(char_dir, 'test')


def test_data_and_tokenizers_import_without_torch(char_dir):
    code = (
        'import sys, nanogpt_lab.data as d, nanogpt_lab.tokenizers;'
        f'rows = d.inspect_batch({str(char_dir)!r}, block_size=8, seed=1);'
        'assert "torch" not in sys.modules, "torch was imported"; print(rows[0].x_text)'
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
