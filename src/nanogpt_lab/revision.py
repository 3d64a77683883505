"""Which code this is: the git commit of the lab's source tree, and whether the working tree differs from it.

Figures the lab records (simulation assets, the report card) carry it, so each names the code that produced it.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]  # src/nanogpt_lab → the repository
# the code a recording depends on; the recorded assets themselves are left out (they change as we record)
_CODE = ('src', 'config', 'pyproject.toml', ':(exclude)src/nanogpt_lab/simulation/assets')


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(['git', *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def git_state() -> dict[str, Any]:
    """HEAD's commit, whether tracked or untracked source differs from it, and a hash of that difference.

    Several engineers edit the tree at once, so a recording is often made from uncommitted code: `dirty` says so,
    and `diff_sha256` (of `git diff HEAD` over src/ plus the untracked files' names and bytes) tells two dirty
    states apart.
    """
    commit = (_git('rev-parse', 'HEAD') or '').strip() or None
    status = _git('status', '--porcelain', '--untracked-files=all', '--', *_CODE) or ''
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    digest = hashlib.sha256((_git('diff', 'HEAD', '--', *_CODE) or '').encode())
    for line in status.splitlines():
        if line.startswith('??'):
            path = REPO_ROOT / line[3:]
            if path.suffix != '.pyc' and path.is_file():
                digest.update(line[3:].encode() + b'\0' + path.read_bytes())
    return {
        'commit': commit,
        'dirty': bool(changed),
        'changed_files': len(changed),
        'diff_sha256': digest.hexdigest() if changed else None,
    }
