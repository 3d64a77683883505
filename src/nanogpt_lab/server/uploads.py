"""Dataset uploads: a multipart body streamed straight to a temp file in the workspace, cut off at the size limit.

The body is parsed as it arrives (python-multipart's streaming parser), so a 2 GB upload is refused after the
limit's worth of bytes, not after it has all been received. The stored name comes from `workspace.sanitize_name`
(letters of every script kept, no separators, no dot first), so `../../outside/pwned.txt` lands as
`uploads/pwned.txt` and nowhere else, and `诗经.txt` as `uploads/诗经.txt`; a different file of the same name gets
`-2`, `-3`… and never replaces the first. The text must be UTF-8 without NUL bytes: a binary file is refused with
the reason (the CLI's classifier: "looks like a PNG image", "looks like UTF-16") before it is ever prepared.

A dataset that comes as many files (the Tang poems' 58 `poet.tang.N.json`) arrives as several `file` parts in one
body, or as one .zip (`archive.py` bounds it); either becomes a folder `uploads/<name>/`, which is what `input`
then names, renamed into place whole.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from python_multipart.multipart import MultipartParser, parse_options_header

from nanogpt_lab import fileio, workspace
from nanogpt_lab.config import MAX_UPLOAD_FILES
from nanogpt_lab.data.sources import SNIFF_BYTES, sniff
from nanogpt_lab.jobs.specs import uploads_root
from nanogpt_lab.messages import ref
from nanogpt_lab.server.archive import is_archive, unpack_zip
from nanogpt_lab.server.errors import ApiError

ENV_UPLOAD_LIMIT = 'NANOGPT_LAB_UPLOAD_LIMIT_MB'
DEFAULT_LIMIT_MB = 200
ALLOWED_SUFFIXES = ('.txt', '.md', '.jsonl', '.json', '.csv', '.text')
MAX_SAME_NAME = 1000  # uploads that may share one name (name.txt, name-2.txt, …) before the next is refused


def upload_limit() -> int:
    """The largest upload in bytes ($NANOGPT_LAB_UPLOAD_LIMIT_MB, default 200 MB)."""
    try:
        return int(float(os.environ.get(ENV_UPLOAD_LIMIT, DEFAULT_LIMIT_MB)) * 1_000_000)
    except ValueError:
        return DEFAULT_LIMIT_MB * 1_000_000


class _File:
    """One `file` part of the body, streamed to a temp file in uploads/ and checked as it streams."""

    def __init__(self, folder: Path, filename: str):
        self.filename = filename
        self.archive = is_archive(filename)  # a zip: binary, unpacked after the body ends
        self.size = 0
        self.lines = 0  # newlines in the chunks already checked: where a bad byte is, as a line number
        self.fd: int | None
        self.fd, self.tmp = tempfile.mkstemp(prefix='.upload.', suffix='.tmp', dir=folder)
        self.decoder = codecs.getincrementaldecoder('utf-8')()
        self.head = b''  # the file's first bytes, for `sniff`
        self.digest = hashlib.sha256()
        self.problem: ApiError | None = None

    def write(self, chunk: bytes) -> None:
        """Keep a chunk; note the first reason it is not text (a zip is not checked: it is unpacked)."""
        self.size += len(chunk)
        if len(self.head) < SNIFF_BYTES:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]
        if not self.archive and self.problem is None:
            self._check_text(chunk)
        self.digest.update(chunk)
        os.write(self.fd, chunk)

    def check(self) -> None:
        """After the body: the refusal this file earned, if any."""
        if self.problem:
            raise self.problem
        if self.size == 0:
            raise ApiError(422, 'api.empty_file', 'file')
        try:
            self.decoder.decode(b'', final=True)
        except UnicodeDecodeError:
            raise ApiError(422, 'api.utf8_cut', 'file') from None

    def finish(self) -> None:
        """The part has ended: its bytes on disk, its descriptor closed (a thousand files never hold a thousand)."""
        if self.fd is not None:
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None

    def close(self) -> None:
        """Drop the temp file (a stored upload is a hard link to it by now)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def _check_text(self, chunk: bytes) -> None:
        nul = chunk.find(b'\x00')
        if nul >= 0:
            self.problem = self._not_text(ApiError(422, 'api.binary_file', 'file', offset=self.size - len(chunk) + nul))
            return
        try:
            self.decoder.decode(chunk)
        except UnicodeDecodeError as e:
            offset = self.size - len(chunk) + e.start
            line = self.lines + chunk[: max(e.start, 0)].count(b'\n') + 1
            self.problem = self._not_text(ApiError(422, 'api.not_utf8', 'file', offset=offset, line=line))
            return
        self.lines += chunk.count(b'\n')

    def _not_text(self, problem: ApiError) -> ApiError:
        """The refusal, explained by the classifier the CLI uses when it can name the format (a PNG, UTF-16)."""
        kind = sniff(self.head)
        if kind is None:
            return problem
        code = 'api.utf16' if kind == 'utf16' else 'api.not_text'
        return ApiError(422, code, 'file', kind=ref(f'data.filetype.{kind}'))


class _Body:
    """Collects one multipart body: each `file` part to a temp file (all of them within the size limit together),
    `name` into memory."""

    def __init__(self, folder: Path, limit: int):
        self.limit, self.folder = limit, folder
        self.headers: dict[bytes, bytes] = {}
        self._field, self._value = b'', b''
        self.current: str | None = None
        self.files: list[_File] = []
        self.name_field = b''
        self.size = 0

    def callbacks(self) -> dict:
        """python-multipart's callbacks, bound to this upload."""
        return {
            'on_part_begin': self._begin,
            'on_header_field': lambda d, s, e: setattr(self, '_field', self._field + d[s:e]),
            'on_header_value': lambda d, s, e: setattr(self, '_value', self._value + d[s:e]),
            'on_header_end': self._header_end,
            'on_headers_finished': self._headers_done,
            'on_part_data': self._data,
            'on_part_end': self._end,
        }

    def close(self) -> None:
        for file in self.files:
            file.close()

    def _begin(self) -> None:
        self.headers, self.current = {}, None

    def _header_end(self) -> None:
        self.headers[self._field.lower()] = self._value
        self._field, self._value = b'', b''

    def _headers_done(self) -> None:
        _, opts = parse_options_header(self.headers.get(b'content-disposition', b''))
        field = opts.get(b'name', b'').decode('utf-8', 'replace')
        if field == 'file':
            if len(self.files) >= MAX_UPLOAD_FILES:
                raise ApiError(413, 'api.too_many_files', 'file', max=MAX_UPLOAD_FILES)
            filename = opts.get(b'filename', b'upload.txt').decode('utf-8', 'replace')
            self.files.append(_File(self.folder, filename))
            self.current = 'file'
        elif field == 'name':
            self.current = 'name'

    def _end(self) -> None:
        if self.current == 'file':
            self.files[-1].finish()

    def _data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.current == 'name':
            self.name_field = (self.name_field + chunk)[:200]
        elif self.current == 'file':
            self.size += len(chunk)
            if self.size > self.limit:
                raise ApiError(413, 'api.upload_too_large', limit=self.limit)
            self.files[-1].write(chunk)


def _target_name(raw_filename: str, requested: str) -> str:
    stem = workspace.sanitize_name(requested or raw_filename, fallback='upload')
    suffix = Path(raw_filename.replace('\\', '/').split('/')[-1]).suffix.lower()
    if not re.fullmatch(r'\.[a-z0-9]{1,8}', suffix or '') or suffix not in ALLOWED_SUFFIXES:
        suffix = '.txt'
    return stem + suffix


async def receive_upload(request: Request) -> dict:
    """Stream a multipart `file` (plus an optional `name`) into the workspace's uploads/; return where it went."""
    ctype, opts = parse_options_header(request.headers.get('content-type', ''))
    if ctype != b'multipart/form-data' or not opts.get(b'boundary'):
        raise ApiError(415, 'api.not_multipart')
    limit = upload_limit()
    declared = request.headers.get('content-length', '')
    if declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise ApiError(413, 'api.upload_too_large_declared', size=int(declared), limit=limit)
    folder = uploads_root()
    folder.mkdir(parents=True, exist_ok=True)
    body = _Body(folder, limit)
    try:
        parser = MultipartParser(opts[b'boundary'], body.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        return await run_in_threadpool(_store, body)
    except ApiError:
        raise
    except ValueError as e:  # python-multipart's parse errors
        raise ApiError(400, 'api.malformed_multipart', detail=str(e)) from None
    finally:
        body.close()


def _store(body: _Body) -> dict:
    """One text file stays a file; several files, or one zip, become a folder (what `input` takes either way)."""
    if not body.files:
        raise ApiError(422, 'api.missing_file', 'file')
    requested = body.name_field.decode('utf-8', 'replace').strip()
    if len(body.files) == 1 and not body.files[0].archive:
        part = body.files[0]
        part.check()
        part.finish()
        name = _place(part, _target_name(part.filename, requested))
        return {'name': name, 'bytes': part.size, 'files': 1, 'suggested_dataset_name': Path(name).stem}
    return _store_folder(body, requested)


def _store_folder(body: _Body, requested: str) -> dict:
    """Several files or one zip, gathered in a temp folder and renamed into uploads/ only once all of it is there."""
    if any(f.archive for f in body.files) and len(body.files) > 1:
        raise ApiError(422, 'api.archive_alone', 'file')
    tmp = Path(tempfile.mkdtemp(prefix='.upload.', suffix='.tmp', dir=body.folder))
    try:
        if body.files[0].archive:
            files, size = unpack_zip(Path(body.files[0].tmp), tmp, body.limit)
        else:
            files, size = _gather(body.files, tmp)
        if not files:
            raise ApiError(422, 'api.empty_file', 'file')
        fileio.fsync_dir(tmp)
        name = _place_folder(_content(tmp), workspace.sanitize_name(requested or body.files[0].filename, 'upload'))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {'name': name, 'bytes': size, 'files': files, 'suggested_dataset_name': name}


def _gather(files: list[_File], folder: Path) -> tuple[int, int]:
    """Link each checked text file into `folder` under its sanitised name (`-2` for a second of the same name)."""
    for file in files:
        file.check()
        file.finish()
        name = Path(_target_name(file.filename, ''))
        _claim_name(
            name.stem, name.suffix, lambda candidate, tmp=file.tmp: os.link(tmp, workspace.inside(folder, candidate))
        )
    return len(files), sum(f.size for f in files)


def _content(folder: Path) -> Path:
    """A zip of one folder (what zipping a folder makes) stands for that folder's content, not a folder in a folder."""
    inner = list(folder.iterdir())
    return inner[0] if len(inner) == 1 and inner[0].is_dir() else folder


def _claim_name(stem: str, suffix: str, claim: Callable[[str], object]) -> str:
    """The first of `stem`, `stem-2`, `stem-3`… (each + `suffix`) that `claim` takes: `claim` creates the name
    atomically and raises FileExistsError when it is taken, so two uploads of one name never both get it."""
    for n in range(1, MAX_SAME_NAME + 1):
        candidate = f'{stem}{suffix}' if n == 1 else f'{stem}-{n}{suffix}'
        try:
            claim(candidate)
        except FileExistsError:
            continue
        return candidate
    raise ApiError(409, 'api.name_taken', 'name', count=MAX_SAME_NAME, name=f'{stem}{suffix}')


def _place_folder(tmp: Path, stem: str) -> str:
    """Rename the finished folder to uploads/<stem>, or `stem-2`… when that name is taken (never over another).

    The name is claimed first by creating it as an empty folder (mkdir refuses a name that exists, so a second
    upload of the same name moves on to `-2`); the rename then replaces only our own empty claim."""
    root = uploads_root()
    name = _claim_name(stem, '', lambda candidate: os.mkdir(workspace.inside(root, candidate)))
    target = workspace.inside(root, name)
    try:
        os.rename(tmp, target)  # atomic: the folder's content appears whole or not at all
    except BaseException:
        os.rmdir(target)  # a refusal leaves uploads/ as it was: no empty claim behind
        raise
    fileio.fsync_dir(root)
    return name


def _place(part: _File, name: str) -> str:
    """Move the upload into uploads/ under `name`, or `stem-2.txt`, `stem-3.txt`… when another file has that
    name: a different file never replaces one already there (the same file again keeps its name)."""
    root, digest = uploads_root(), part.digest.hexdigest()

    def link(candidate: str) -> None:
        target = workspace.inside(root, candidate)
        try:
            os.link(part.tmp, target)  # atomic, and never over an existing file (unlike a rename)
        except FileExistsError:
            if not _same_file(target, digest):
                raise

    placed = _claim_name(Path(name).stem, Path(name).suffix, link)
    fileio.fsync_dir(root)
    return placed


def _same_file(path: Path, sha256: str) -> bool:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest() == sha256
