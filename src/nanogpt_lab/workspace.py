"""The workspace folder: where data, weights and runs live, and the one place names become paths."""

from __future__ import annotations

import os
import re
import secrets
import time
import unicodedata
from pathlib import Path

from nanogpt_lab.errors import LabError

ENV_HOME = 'NANOGPT_LAB_HOME'
# A run folder's files, named here so the trainer (torch) and the run registry (torch-free) agree
CKPT_NAME = 'ckpt.pt'
RUN_CONFIG_NAME = 'config.json'  # the run's resolved settings (after a resume took the checkpoint's)
BEST_NAME = 'best.pt'  # a stopped best-only run keeps its best model here (ckpt.pt becomes the resume point)
EVENTS_NAME = 'events.jsonl'  # one JSON event per line, append-only (events.py)
JOB_NAME = 'job.json'  # kind, status, pid, times, error of the job that made the run
MAX_NAME_CHARS, MAX_NAME_BYTES = 100, 200  # a folder name: 100 letters of any script, within 255-byte filesystems
# Windows' reserved device names: a folder called `con` or `nul.txt` cannot be copied to a Windows machine
RESERVED_NAMES = frozenset(
    ('con', 'prn', 'aux', 'nul', *(f'com{i}' for i in range(1, 10)), *(f'lpt{i}' for i in range(1, 10)))
)


def home() -> Path:
    """The workspace root: $NANOGPT_LAB_HOME, else ~/.nanogpt-lab."""
    return Path(os.environ.get(ENV_HOME) or Path.home() / '.nanogpt-lab').expanduser().resolve()


def data_root(data_dir: str | None = None) -> Path:
    """The folder that holds the `<dataset>/` folders: `data_dir` if given, else the workspace's data/."""
    return Path(data_dir).expanduser().resolve() if data_dir else home() / 'data'


def runs_root() -> Path:
    """The folder that holds one folder per run or job."""
    return home() / 'runs'


def weights_root() -> Path:
    """The folder that holds downloaded GPT-2 weights, one folder per model."""
    return home() / 'weights'


def _word_char(c: str) -> bool:
    """A letter, mark or digit of any script (诗, é, क्, ٣), or one of . _ -"""
    return c in '._-' or unicodedata.category(c)[0] in 'LMN'


def _is_name(name: str) -> bool:
    return (
        0 < len(name) <= MAX_NAME_CHARS
        and len(name.encode('utf-8')) <= MAX_NAME_BYTES
        and unicodedata.category(name[0])[0] in 'LN'
        and all(_word_char(c) for c in name)
        and '..' not in name
        and unicodedata.normalize('NFC', name) == name  # one spelling per name: 'é' is never also 'e' + '́'
        and name.split('.')[0].lower() not in RESERVED_NAMES
    )


def check_name(name: str, what: str = 'name') -> str:
    """Return `name` if it is a safe single path component, else raise LabError: letters and digits of any
    script, . _ -; NFC; no separators, control characters or reserved device names."""
    if not isinstance(name, str) or not _is_name(name):
        shown = repr(name) if len(repr(name)) <= 80 else f'{repr(name)[:60]}… ({len(str(name)):,} characters)'
        raise LabError('workspace.bad_name', key=what, name=shown)
    return name


def sanitize_name(raw: str, fallback: str = 'dataset', max_chars: int = 64, *, is_file: bool = True) -> str:
    """Turn an uploaded file's name into a safe folder name that keeps its letters, in every script (诗经.txt →
    诗经): NFC; separators, control and other characters become '_'; no dot first; reserved names get a '_'.
    `is_file=False` for a name that has no extension to drop (a Hugging Face dataset: llama3.1-2k stays whole)."""
    last = unicodedata.normalize('NFC', str(raw)).replace('\\', '/').split('/')[-1]
    stem = Path(last).stem if is_file else last
    cleaned = re.sub('_+', '_', ''.join(c if _word_char(c) else '_' for c in stem))
    cleaned = re.sub(r'\.{2,}', '.', cleaned)
    while cleaned and unicodedata.category(cleaned[0])[0] not in 'LN':  # a letter or digit first
        cleaned = cleaned[1:]
    while len(cleaned) > max_chars or len(cleaned.encode('utf-8')) > MAX_NAME_BYTES - 20:
        cleaned = cleaned[:-1]  # room left for a suffix ('-2', '.txt')
    cleaned = cleaned.rstrip('._-')
    if cleaned.split('.')[0].lower() in RESERVED_NAMES:
        cleaned += '_'
    return cleaned if cleaned and _is_name(cleaned) else fallback


def inside(root: Path, *names: str) -> Path:
    """Join checked names under `root` and prove the result stays inside it."""
    path = root.joinpath(*(check_name(n) for n in names)).resolve()
    if root.resolve() not in (path, *path.parents):
        raise LabError('workspace.outside', path=path, root=root)
    return path


def new_run_id(kind: str = 'train') -> str:
    """A sortable, unique run id such as `train-20261127-231500-3f2a`."""
    return f'{kind}-{time.strftime("%Y%m%d-%H%M%S")}-{secrets.token_hex(2)}'
