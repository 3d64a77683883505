"""A disk that fills up while data is prepared and while a checkpoint is written.

As root (CI) the disk is a real 1 MiB tmpfs, so the kernel itself answers ENOSPC; otherwise every file the lab
writes through `fileio.atomic_open` in that folder is given a 1 MiB budget and a write past it raises ENOSPC.
Either way: a clear error, no file that later loads as good, and the previous checkpoint or dataset intact.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nanogpt_lab.cli import main
from nanogpt_lab.data import DataError, load_stats
from nanogpt_lab.model.checkpoint import load_checkpoint

DISK_BYTES = 1 << 20
SMALL = dict(n_layer=1, n_head=2, n_embd=32, block_size=32)  # a ~200 KB checkpoint: a few fit, then none


def _usage(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob('*') if p.is_file())


class _Budget:
    """A file whose writes fail with ENOSPC once the folder it is in would pass `capacity` bytes."""

    def __init__(self, f: Any, folder: Path, capacity: int):
        self.f, self.folder, self.capacity = f, folder, capacity

    def write(self, data: bytes) -> int:
        self.f.flush()
        if _usage(self.folder) + len(data) > self.capacity:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.f.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.f, name)

    def __enter__(self) -> _Budget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()


@contextlib.contextmanager
def _tmpfs(folder: Path, size: int) -> Iterator[bool]:
    """Mount a tmpfs of `size` bytes on `folder` when this process may; say whether it did."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which('mount'):
        yield False
        return
    done = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(folder)], capture_output=True)
    try:
        yield done.returncode == 0
    finally:
        if done.returncode == 0 and subprocess.run(['umount', str(folder)]).returncode:
            subprocess.run(['umount', '-l', str(folder)])  # still busy: detach it now, it goes when released


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Path]]:
    """A 1 MiB disk at tmp_path/disk: a real tmpfs as root, else ENOSPC injected past 1 MiB of lab writes."""
    folder = tmp_path / 'disk'
    with _tmpfs(folder, DISK_BYTES) as mounted:
        if not mounted:
            real_fdopen = os.fdopen

            def fdopen(fd: int, *args: Any, **kw: Any) -> Any:
                f = real_fdopen(fd, *args, **kw)
                inside = Path(os.readlink(f'/proc/self/fd/{fd}')).is_relative_to(folder.resolve())
                return _Budget(f, folder, DISK_BYTES) if inside else f

            monkeypatch.setattr(os, 'fdopen', fdopen)  # only atomic_open's temp files use fdopen
        yield folder
        monkeypatch.undo()


def _fill(folder: Path, leave: int) -> Path:
    """Fill the disk until only `leave` bytes are free."""
    free = DISK_BYTES - _usage(folder)
    if os.path.ismount(folder):
        st = os.statvfs(folder)
        free = st.f_bavail * st.f_frsize
    filler = folder / 'filler'
    filler.write_bytes(b'\0' * max(0, free - leave))
    return filler


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_disk_full_while_checkpointing(small_disk: Path, char_data_dir: Path, helpers: Any, capsys,
                                       own_signals: None) -> None:  # fmt: skip
    run = small_disk / 'run'
    train = ['train', *helpers.flags({**helpers.TINY, **SMALL, 'data_dir': char_data_dir, 'out_dir': run,
                                      'eval_interval': 1})]  # fmt: skip
    assert main([*train, '--max_iters=2']) == 0
    before = _sha(run / 'ckpt.pt')
    filler = _fill(small_disk, leave=80_000)  # room for events and job.json, not for another checkpoint
    capsys.readouterr()
    assert main([*train, '--max_iters=6', '--init_from=resume']) == 1
    err = capsys.readouterr().err
    assert 'could not save the checkpoint' in err and 'the disk is full' in err, err[-2000:]
    assert 'The previous checkpoint there is unchanged' in err
    # the previous checkpoint is intact and nothing else looks like one
    assert _sha(run / 'ckpt.pt') == before and load_checkpoint(run)['iter_num'] == 2
    assert sorted(p.name for p in run.iterdir()) == ['ckpt.pt', 'config.json', 'events.jsonl', 'job.json', 'meta.pkl']
    end = helpers.events_of(run / 'events.jsonl')[-1]
    assert end['type'] == 'end' and end['status'] == 'failed' and 'the disk is full' in end['error']
    # free the space and resume, as the message says
    filler.unlink()
    assert main([*train, '--max_iters=4', '--init_from=resume']) == 0
    assert load_checkpoint(run)['iter_num'] == 4


def test_disk_full_while_preparing_data(small_disk: Path, shakespeare_txt: Path, tmp_path: Path, capsys,
                                        own_signals: None) -> None:  # fmt: skip
    text = shakespeare_txt.read_text()
    small, big = tmp_path / 'small.txt', tmp_path / 'big.txt'
    small.write_text(text[:150_000])  # 300 KB of token files: fits
    big.write_text(text * 2)  # 4.5 MB of token files: does not
    prepare = ['prepare', 'custom', '--data_dir', str(small_disk), '--name']
    assert main([*prepare, 'poems', '--input', str(small)]) == 0
    folder = small_disk / 'poems'
    kept = {p.name: _sha(p) for p in folder.iterdir()}
    capsys.readouterr()
    assert main([*prepare, 'poems', '--input', str(big)]) == 1
    err = capsys.readouterr().err
    assert 'not enough disk space' in err and 'keeps what it had' in err, err[-2000:]
    assert {p.name: _sha(p) for p in folder.iterdir()} == kept  # the old dataset, byte for byte, and no temp files
    assert load_stats(folder)['tokens']['total'] == 150_000
    assert len(np.memmap(folder / 'train.bin', dtype=np.uint16, mode='r')) == 135_000
    # a new dataset that does not fit leaves nothing that loads as a dataset
    assert main([*prepare, 'other', '--input', str(big)]) == 1
    assert not [p for p in (small_disk / 'other').iterdir()]
    with pytest.raises(DataError, match='not a prepared dataset'):
        load_stats(small_disk / 'other')
