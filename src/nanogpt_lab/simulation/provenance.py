"""Where a recording came from: the exact command, the git commit (and whether the tree was dirty), the software,
the machine, threads and load, the date and the wall time. Written beside every asset as provenance.json.
"""

from __future__ import annotations

import hashlib
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]  # src/nanogpt_lab/simulation → the repository
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


def machine(device: str, threads: int) -> dict[str, Any]:
    """Software and hardware a recording ran on: torch, Python, OS, the CPU or GPU name and the thread count."""
    import torch

    from nanogpt_lab import hardware

    name = torch.cuda.get_device_name(torch.device(device)) if device.startswith('cuda') else hardware.cpu_model()
    return {
        'torch': torch.__version__,
        'python': platform.python_version(),
        'platform': platform.platform(),
        'device': device,
        'device_name': f'{device} ({name}, {threads} thread{"s" if threads != 1 else ""})',
        'cpu': hardware.cpu_model(),
        'cpu_threads_available': hardware.cpu_threads(),
        'threads': threads,
    }


def same_torch_release(recorded: str) -> bool:
    """Whether this torch is the release a recording used: `2.13.0+cpu` and `2.13.0+cu126` are both 2.13.0, so
    the local build tag is ignored and the golden numbers are checked under any build of the release."""
    import torch

    return recorded.split('+', 1)[0] == torch.__version__.split('+', 1)[0]


def command_line(argv: list[str] | None = None) -> str:
    """The command that is running, as a person would type it (`nanogpt-lab sim record ...`)."""
    args = sys.argv if argv is None else argv
    prog = Path(args[0]).name
    if prog in ('nanogpt-lab', '__main__.py', 'cli.py'):
        return shlex.join(['nanogpt-lab', *args[1:]])
    return shlex.join([prog if prog.endswith('.py') else args[0], *args[1:]])


def file_record(path: Path) -> dict[str, Any]:
    """Size and sha256 of one asset file, so a changed or truncated file is caught."""
    return {'bytes': path.stat().st_size, 'sha256': hashlib.sha256(path.read_bytes()).hexdigest()}


def iso_now() -> str:
    """UTC time, ISO 8601 to the second."""
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
