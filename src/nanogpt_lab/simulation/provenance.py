"""Where a recording came from: the exact command, the git commit (and whether the tree was dirty), the software,
the machine, threads and load, the date and the wall time. Written beside every asset as provenance.json.
"""

from __future__ import annotations

import hashlib
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any


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
