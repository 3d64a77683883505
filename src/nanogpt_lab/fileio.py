"""Atomic file writes (a crash never leaves a half-written file that later loads as good), and a file's sha256."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = '.tmp'
# mkstemp's random part: 8 characters of tempfile's alphabet (a-z, 0-9, _), between '.NAME.' and TEMP_SUFFIX
_TEMP_RANDOM = r'[a-z0-9_]{8}'


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """Write to a temp file beside `path`, fsync it, then rename it over `path`; on error the old file stays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=TEMP_SUFFIX, dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the mode a plain open() would (0644 usually)
    try:
        with os.fdopen(fd, 'wb') as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _read_umask() -> int:
    """The process umask (reading it means setting it, so set it straight back; done once, at import)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace `path` with `data` atomically."""
    with atomic_open(path) as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Replace `path` with UTF-8 `text` atomically."""
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_write_with(path: str | Path, writer: Callable[[BinaryIO], object]) -> None:
    """Replace `path` with whatever `writer(fileobj)` writes (torch.save, np.save, pickle.dump...)."""
    with atomic_open(path) as f:
        writer(f)


def remove_stale_temp_files(path: str | Path) -> list[Path]:
    """Delete the temp files `atomic_open(path)` leaves beside `path` when its process is killed mid-write
    (`.NAME.xxxxxxxx.tmp`: plain files of exactly that pattern, nothing else); return what was removed.
    Call it only where no writer of `path` can be running, e.g. when a run starts in its folder."""
    path = Path(path)
    pattern = re.compile(rf'\.{re.escape(path.name)}\.{_TEMP_RANDOM}{re.escape(TEMP_SUFFIX)}')
    if not path.parent.is_dir():
        return []
    removed = []
    for tmp in sorted(path.parent.iterdir()):
        if pattern.fullmatch(tmp.name) and tmp.is_file() and not tmp.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks (downloads, inputs and Hub files are checked with it)."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
