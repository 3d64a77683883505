"""The workspace folder: where data, weights and runs live, and the one place names become paths."""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from nanogpt_lab.errors import LabError

ENV_HOME = 'NANOGPT_LAB_HOME'
# A run folder's files, named here so the trainer (torch) and the run registry (torch-free) agree
CKPT_NAME = 'ckpt.pt'
RUN_CONFIG_NAME = 'config.json'  # the run's resolved settings (after a resume took the checkpoint's)
BEST_NAME = 'best.pt'  # a stopped best-only run keeps its best model here (ckpt.pt becomes the resume point)
EVENTS_NAME = 'events.jsonl'  # one JSON event per line, append-only (events.py)
JOB_NAME = 'job.json'  # kind, status, pid, times, error of the job that made the run
_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$')


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


def check_name(name: str, what: str = 'name') -> str:
    """Return `name` if it is a safe single path component (letters, digits, . _ -), else raise LabError."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or '..' in name:
        raise LabError('workspace.bad_name', key=what, name=repr(name))
    return name


def sanitize_name(raw: str, fallback: str = 'dataset') -> str:
    """Turn an uploaded file's name into a safe folder name (no separators, no dots first, at most 64 chars)."""
    stem = Path(str(raw).replace('\\', '/').split('/')[-1]).stem
    cleaned = re.sub(r'[^A-Za-z0-9._-]+', '_', stem).strip('._-')[:64].rstrip('._-')
    return cleaned if cleaned and '..' not in cleaned else fallback


def inside(root: Path, *names: str) -> Path:
    """Join checked names under `root` and prove the result stays inside it."""
    path = root.joinpath(*(check_name(n) for n in names)).resolve()
    if root.resolve() not in (path, *path.parents):
        raise LabError('workspace.outside', path=path, root=root)
    return path


def new_run_id(kind: str = 'train') -> str:
    """A sortable, unique run id such as `train-20261127-231500-3f2a`."""
    return f'{kind}-{time.strftime("%Y%m%d-%H%M%S")}-{secrets.token_hex(2)}'
