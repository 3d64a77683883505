"""A warm parent for the kill loop: it imports the lab once and forks one `nanogpt-lab train` per request.

Each training the loop kills is a fresh process running the console script's own entry point (`cli.main`),
forked from this parent instead of started from scratch: importing torch costs 2-5 s on a busy machine, twenty
times over, while a fork costs milliseconds. The parent has run no torch operation and holds one thread, so the
children start clean.

Protocol, one JSON object per line: `{"run": [argv...], "log": PATH}` -> `{"pid": N}`; `{"wait": N}` ->
`{"status": S}`, S as `os.waitstatus_to_exitcode` gives it (-9 for SIGKILL).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import torch
import torch._dynamo  # noqa: F401 - AdamW imports it on first use: 3 s per child otherwise

from nanogpt_lab import cli
from nanogpt_lab.data import get_batch  # noqa: F401 - imported once here, inherited by every child
from nanogpt_lab.jobs import worker  # noqa: F401
from nanogpt_lab.model import checkpoint  # noqa: F401
from nanogpt_lab.training import trainer  # noqa: F401

assert torch.get_num_threads() >= 1


def _child(argv: list[str], log: str) -> None:
    """Run the CLI with stdout/stderr in `log`; never return into the parent's loop."""
    code = 1
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = cli.main(argv)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    """Serve requests until stdin closes."""
    for line in sys.stdin:
        request = json.loads(line)
        if 'run' in request:
            pid = os.fork()
            if pid == 0:
                _child(request['run'], request['log'])
            reply = {'pid': pid}
        else:
            _, status = os.waitpid(int(request['wait']), 0)
            reply = {'status': os.waitstatus_to_exitcode(status)}
        print(json.dumps(reply), flush=True)


if __name__ == '__main__':
    main()
