"""An uploaded .zip unpacked into a folder of the workspace, refusing what could hurt the machine on the way.

A zip says how many entries and bytes it holds, and may lie. So: the central directory is bounded in size before
Python reads it (a million tiny entries cannot fill memory), entries are bounded in count
(`config.MAX_UPLOAD_FILES`), and the bytes really inflated are counted as they are written, stopped at the
upload limit whatever the headers claim (a zip bomb). Every entry's name is checked before anything is written: no
absolute path, no `..`, no link, each folder and file name one the workspace accepts; `__MACOSX/` and hidden files
(what Finder and Explorer add) are left out. The caller unpacks into a fresh temporary folder and renames it into
place only when all of it succeeded, so a refused archive leaves nothing behind.
"""

from __future__ import annotations

import re
import stat
import unicodedata
import zipfile
from pathlib import Path

from nanogpt_lab import workspace
from nanogpt_lab.config import MAX_UPLOAD_FILES
from nanogpt_lab.errors import LabError
from nanogpt_lab.server.errors import ApiError

ZIP_SUFFIX = '.zip'
_END_RECORD = b'PK\x05\x06'  # the end-of-central-directory record's signature
_END_RECORD_SPAN = 22 + 0xFFFF  # the record and the longest comment that may follow it
MAX_DIRECTORY_BYTES = MAX_UPLOAD_FILES * 1024  # a central directory entry is 46 bytes plus its name
_DRIVE = re.compile(r'^[A-Za-z]:')
SKIPPED = '__MACOSX'
COPY_BYTES = 1 << 20


def is_archive(filename: str) -> bool:
    """Whether an uploaded file is a zip to unpack (by the name the browser sent)."""
    return filename.lower().endswith(ZIP_SUFFIX)


def unpack_zip(archive: Path, dest: Path, limit: int) -> tuple[int, int]:
    """Unpack `archive` into the empty folder `dest`; return (files, bytes) written. ApiError says what is wrong."""
    _check_directory_size(archive)
    try:
        with zipfile.ZipFile(archive) as zf:
            entries = [info for info in zf.infolist() if not info.is_dir()]
            if len(entries) > MAX_UPLOAD_FILES:
                raise ApiError(413, 'api.archive_entries', 'file', count=f'{len(entries):,}', max=MAX_UPLOAD_FILES)
            kept = [(info, parts) for info in entries if (parts := _entry_parts(info)) is not None]
            declared = sum(info.file_size for info, _ in kept)
            if declared > limit:
                raise ApiError(413, 'api.archive_too_large', 'file', limit=limit)
            written = 0
            for info, parts in kept:
                written += _extract(zf, info, workspace.inside(dest, *parts), limit - written)
                if written > limit:
                    raise ApiError(413, 'api.archive_too_large', 'file', limit=limit)
            return len(kept), written
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError) as e:
        raise ApiError(422, 'api.archive_unreadable', 'file', detail=str(e) or type(e).__name__) from None


def _check_directory_size(archive: Path) -> None:
    """Refuse a zip whose central directory (read whole by zipfile) is larger than MAX_UPLOAD_FILES entries need."""
    with open(archive, 'rb') as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - _END_RECORD_SPAN))
        tail = f.read()
    at = tail.rfind(_END_RECORD)
    if at < 0 or len(tail) < at + 22:
        raise ApiError(422, 'api.archive_unreadable', 'file', detail='no end of central directory record')
    directory = int.from_bytes(tail[at + 12 : at + 16], 'little')
    if directory > MAX_DIRECTORY_BYTES:
        raise ApiError(413, 'api.archive_entries', 'file', count=f'~{directory // 46:,}', max=MAX_UPLOAD_FILES)


def _entry_parts(info: zipfile.ZipInfo) -> list[str] | None:
    """The checked path components of an entry; None for one left out (macOS metadata, hidden files)."""
    name = info.filename.replace('\\', '/')
    parts = [unicodedata.normalize('NFC', p) for p in name.split('/') if p not in ('', '.')]
    if name.startswith('/') or _DRIVE.match(name) or '..' in parts or not parts:
        raise ApiError(422, 'api.archive_name', 'file', name=info.filename)
    if parts[0] == SKIPPED or any(p.startswith('.') for p in parts):
        return None
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ApiError(422, 'api.archive_link', 'file', name=info.filename)
    try:
        return [workspace.check_name(p, 'file') for p in parts]
    except LabError:
        raise ApiError(422, 'api.archive_name', 'file', name=info.filename) from None


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, room: int) -> int:
    """Inflate one entry to `target`, counting real bytes: it stops one block past `room` (the caller refuses)."""
    written = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(target, 'xb') as out:  # 'x': never over a name an earlier entry took
            while block := src.read(COPY_BYTES):
                written += len(block)
                if written > room:
                    break
                out.write(block)
    except (FileExistsError, NotADirectoryError):  # two entries, one name (as a file or as a folder)
        raise ApiError(422, 'api.archive_name', 'file', name=info.filename) from None
    return written
