"""Atomic file writes (a crash never leaves a half-written file that later loads as good), and a file's sha256."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

TEMP_SUFFIX = '.tmp'
# mkstemp's random part: 8 characters of tempfile's alphabet (a-z, 0-9, _), between '.NAME.' and TEMP_SUFFIX
_TEMP_RANDOM = r'[a-z0-9_]{8}'


@contextlib.contextmanager
def atomic_open(path: str | Path, *, mode: int | None = None, replace: bool = True) -> Iterator[BinaryIO]:
    """Write to a temp file beside `path`, fsync it, then rename it over `path`; on error the old file stays.

    `mode`: the file's permissions from its first byte (a secret is 0600 throughout); by default those a plain
    open() gives. `replace=False`: the file is linked into place only if `path` does not exist yet, else
    FileExistsError (two processes creating it at once: the first one's stands)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=TEMP_SUFFIX, dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK if mode is None else mode)  # mkstemp makes 0600; a plain open() 0644 usually
    try:
        with os.fdopen(fd, 'wb') as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic, and never over an existing file
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def _read_umask() -> int:
    """The process umask (reading it means setting it, so set it straight back; done once, at import)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def fsync_dir(folder: Path) -> None:
    """Make a rename or link itself durable (a no-op where directories cannot be opened, as on Windows)."""
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


def write_folder(folder: Path, fill: Callable[[Path], object], done: str) -> Path:
    """Write a whole folder at once: `fill(tmp)` writes every file into a temporary folder beside `folder`, which is
    then renamed into place, so the folder is either complete or absent. If another process renamed the same folder
    first, its copy stands (its `done` file says it is complete)."""
    tmp = Path(tempfile.mkdtemp(prefix=f'.{folder.name}.', dir=folder.parent))
    try:
        fill(tmp)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / done).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


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


# the integers every JSON client reads exactly (orjson, JavaScript's BigInt-free parsers stop at 64 bits)
JSON_INT_RANGE = (-(2**63), 2**64 - 1)


def _json_constant(name: str) -> Any:
    raise ValueError(f'{name} is not a JSON value')


def _check_numbers(value: Any) -> None:
    """Raise ValueError at the first number a strict JSON client could not read (beyond 64 bits, not finite)."""
    kind = type(value)
    if kind is dict:
        for v in value.values():
            _check_numbers(v)
    elif kind is list:
        for v in value:
            _check_numbers(v)
    elif kind is int and not JSON_INT_RANGE[0] <= value <= JSON_INT_RANGE[1]:
        raise ValueError(f'the number {value:.3g} does not fit in 64 bits')
    elif kind is float and not math.isfinite(value):
        raise ValueError(f'the number {value} is out of range')


def strict_json(text: str | bytes) -> Any:
    """Parse JSON the lab wrote (job.json, events, stats), refusing what a strict client could not send on: numbers
    beyond 64 bits, NaN, Infinity. A file someone edited by hand, or an old lab wrote, then reads as damaged
    instead of breaking every listing that includes it. Raises ValueError (json.JSONDecodeError is one)."""
    value = json.loads(text, parse_constant=_json_constant)
    _check_numbers(value)
    return value


def read_json_object(path: str | Path) -> dict[str, Any]:
    """A JSON object from a file, or {} when the file is missing, unreadable or holds something else: for facts a
    folder may lack, where absence and damage both mean "nothing to show"."""
    try:
        value = json.loads(Path(path).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
