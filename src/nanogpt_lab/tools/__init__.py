"""Scripts behind `nanogpt-lab bench` and `nanogpt-lab sim record`: they drive the engine, the server and the UI
from outside, so they may import anything, and only `cli.py` imports them (import-linter checks it)."""

from __future__ import annotations

import os
from pathlib import Path

from nanogpt_lab.revision import REPO_ROOT


def shared_data() -> Path:
    """This project's offline copies of the data (`../shared/data` beside the repository, or
    $NANOGPT_LAB_SHARED_DATA): what the tools read when given no input, so they run without the network."""
    return Path(os.environ.get('NANOGPT_LAB_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data'))
