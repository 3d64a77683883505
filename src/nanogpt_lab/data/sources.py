"""Where prepare's text comes from, read as validated UTF-8 in bounded chunks, one document after another.

An input is a text file, a folder of .txt/.md files (one document each), a JSONL file (one document per line,
its `text` field) or a folder written by Hugging Face `save_to_disk`. Every byte is checked as it is read:
a known binary signature or a NUL byte rejects the file at once, invalid UTF-8 names its byte offset, and no
file is ever read whole, so a huge or wrong file cannot exhaust memory before it is rejected.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nanogpt_lab.data.errors import DataError
from nanogpt_lab.fileio import sha256_of
from nanogpt_lab.messages import ref

CHUNK_BYTES = 1 << 20  # 1 MiB of input per chunk: bounded memory (~30 MB while encoding) whatever the file size
MAX_LINE_BYTES = 1 << 28  # one JSONL document may be at most 256 MiB
TEXT_SUFFIXES = ('.txt', '.md')
JSONL_SUFFIXES = ('.jsonl', '.ndjson')
HF_DISK_MARKERS = ('dataset_info.json', 'dataset_dict.json', 'state.json')
# file signatures worth naming in the error (a NUL byte or bad UTF-8 catches the rest)
MAGIC = {  # signature -> the catalog's data.filetype.<name>
    b'\x89PNG\r\n\x1a\n': 'png',
    b'\xff\xd8\xff': 'jpeg',
    b'GIF87a': 'gif',
    b'GIF89a': 'gif',
    b'%PDF-': 'pdf',
    b'PK\x03\x04': 'zip',
    b'\x1f\x8b': 'gzip',
    b'BZh': 'bzip2',
    b'\xfd7zXZ\x00': 'xz',
    b"7z\xbc\xaf'\x1c": '7z',
    b'\x7fELF': 'executable',
    b'SQLite format 3\x00': 'sqlite',
    b'\x93NUMPY': 'numpy',
    b'\xff\xfe': 'utf16',
    b'\xfe\xff': 'utf16',
}


@dataclass
class Source:
    """A resolved input: its kind, its path and the files it will be read from."""

    kind: str  # 'file' | 'folder' | 'jsonl' | 'hf_disk'
    path: Path
    files: list[Path] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        """Total size of the files to read."""
        return sum(f.stat().st_size for f in self.files)

    def describe(self, sha256: dict[Path, str] | None = None) -> dict:
        """The `source` entry of stats.json: kind, path, bytes, sha256 (a folder's: sha256 of its sha256sum list).

        `sha256` holds file hashes already computed while reading (TextReader.sha256); others are computed here.
        """
        known = sha256 or {}
        digest = {f: known.get(f) or sha256_of(f) for f in self.files}
        info = {'kind': self.kind, 'path': str(self.path), 'bytes': self.bytes, 'sha256': None}
        if self.kind == 'folder':
            lines = ''.join(f'{digest[f]}  {f.relative_to(self.path).as_posix()}\n' for f in self.files)
            info.update(sha256=hashlib.sha256(lines.encode()).hexdigest(), files=len(self.files))
        elif self.kind in ('file', 'jsonl'):
            info['sha256'] = digest[self.files[0]]
        return info


def resolve_input(input: str | Path) -> Source:
    """Work out what kind of input `input` is, or say why it cannot be used."""
    path = Path(input).expanduser().resolve()
    try:
        exists = path.exists()
    except OSError as e:  # a name longer than the filesystem allows, say
        raise DataError('data.input_unreadable', path=str(path)[:120] + '...', reason=e.strerror) from None
    if not exists:
        raise DataError('data.input_missing', path=path)
    if path.is_dir():
        if any((path / m).is_file() for m in HF_DISK_MARKERS):
            return Source('hf_disk', path)
        files = sorted(
            p
            for p in path.rglob('*')
            if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES and not _hidden(p.relative_to(path))
        )
        if not files:
            raise DataError('data.folder_empty', path=path)
        return Source('folder', path, files)
    if path.suffix.lower() == '.json':
        raise DataError('data.json_not_jsonl', path=path)
    kind = 'jsonl' if path.suffix.lower() in JSONL_SUFFIXES else 'file'
    return Source(kind, path, [path])


def _hidden(rel: Path) -> bool:
    return any(part.startswith('.') for part in rel.parts)


SNIFF_BYTES = 64  # how much of a file's start `sniff` looks at


def sniff(head: bytes) -> str | None:
    """What a file that is not UTF-8 text is, from its first bytes: a `data.filetype.<name>` ('png', 'utf16', ...),
    or None when it may be text. The CLI and the API upload both ask this, so a PNG or a UTF-16 file gets the same
    explanation wherever it is given."""
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    pairs = len(head) // 2
    if pairs >= 2:  # UTF-16 without a BOM: Latin text has a NUL in every other byte, all on one side
        even = sum(1 for i in range(pairs) if head[2 * i] == 0)
        odd = sum(1 for i in range(pairs) if head[2 * i + 1] == 0)
        if max(even, odd) >= pairs * 3 // 4 and min(even, odd) == 0:
            return 'utf16'
    return None


def _check_signature(path: Path, head: bytes) -> None:
    kind = sniff(head)
    if kind:
        code = 'data.utf16' if kind == 'utf16' else 'data.binary'
        raise DataError(code, path=path, kind=ref(f'data.filetype.{kind}'))


def _decode(path: Path, data: bytes, offset: int, final: bool) -> tuple[str, bytes]:
    """Decode a block; return (text, undecoded tail) where the tail is a character cut by the block's end."""
    nul = data.find(b'\x00')
    if nul >= 0:
        raise DataError('data.nul_byte', path=path, offset=offset + nul)
    try:
        return data.decode('utf-8'), b''
    except UnicodeDecodeError as e:
        if not final and e.reason == 'unexpected end of data' and e.start >= len(data) - 3:
            return data[: e.start].decode('utf-8'), data[e.start :]
        bad = data[e.start]
        raise DataError(
            'data.not_utf8', path=path, byte=f'0x{bad:02x}', offset=offset + e.start, reason=e.reason
        ) from None


class TextReader:
    """Iterates a Source as text chunks, with None after each document; `bytes_done` follows the reading."""

    def __init__(self, source: Source, chunk_bytes: int | None = None):
        if source.kind == 'hf_disk':
            raise DataError('data.hf_disk_input', path=source.path)
        self.source = source
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES
        self.bytes_done = 0
        self.sha256: dict[Path, str] = {}  # each file's hash, computed on the way (no extra pass)

    def __iter__(self) -> Iterator[str | None]:
        self.bytes_done = 0
        for path in self.source.files:
            if self.source.kind == 'jsonl':
                yield from self._jsonl(path)
            else:
                yield from _universal_newlines(self._file_chunks(path))
                yield None

    def _file_chunks(self, path: Path) -> Iterator[str]:
        """Raw UTF-8 chunks of one file (newlines as in the file)."""
        offset, carry, h = 0, b'', hashlib.sha256()
        with open(path, 'rb') as f:
            _check_signature(path, f.read(SNIFF_BYTES))
            f.seek(0)
            while True:
                block = f.read(self.chunk_bytes)
                h.update(block)
                data = carry + block
                if not data:
                    self.sha256[path] = h.hexdigest()
                    return
                text, carry = _decode(path, data, offset, final=not block)
                offset += len(data) - len(carry)
                self.bytes_done += len(block)
                if text:
                    yield text

    def _jsonl(self, path: Path) -> Iterator[str | None]:
        """One document per non-blank line: the line's `text` field."""
        offset, h = 0, hashlib.sha256()
        with open(path, 'rb') as f:
            _check_signature(path, f.read(SNIFF_BYTES))
            f.seek(0)
            for lineno in itertools.count(1):
                line = f.readline(MAX_LINE_BYTES + 1)
                h.update(line)
                if not line:
                    self.sha256[path] = h.hexdigest()
                    return
                if len(line) > MAX_LINE_BYTES:
                    raise DataError('data.line_too_long', path=path, line=lineno, mib=MAX_LINE_BYTES >> 20)
                text = _decode(path, line, offset, final=True)[0]
                offset += len(line)
                self.bytes_done += len(line)
                if text.strip():
                    yield _jsonl_text(path, lineno, text)
                    yield None


def _jsonl_text(path: Path, lineno: int, line: str) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError('data.jsonl_invalid', path=path, line=lineno, column=e.colno, detail=e.msg) from None
    if not isinstance(record, dict) or not isinstance(record.get('text'), str):
        raise DataError('data.jsonl_no_text', path=path, line=lineno)
    return record['text']


def _universal_newlines(chunks: Iterator[str]) -> Iterator[str]:
    """\\r\\n and lone \\r become \\n, as Python's text mode (and so nanoGPT's prepare.py) reads files."""
    pending = ''
    for chunk in chunks:
        text = pending + chunk
        pending = '\r' if text.endswith('\r') else ''  # its \n may start the next chunk
        if pending:
            text = text[:-1]
        if '\r' in text:
            text = text.replace('\r\n', '\n').replace('\r', '\n')
        if text:
            yield text
    if pending:
        yield '\n'


def iter_documents(source: Source) -> Iterator[str]:
    """Each document of a text/folder/JSONL source as one string (for the Hugging Face `datasets` path)."""
    parts: list[str] = []
    for piece in TextReader(source):
        if piece is None:
            yield ''.join(parts)
            parts = []
        else:
            parts.append(piece)
