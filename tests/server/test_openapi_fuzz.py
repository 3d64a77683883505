"""Schema-driven fuzzing (schemathesis) of every /api operation: whatever it sends, no 5xx and no crash.

Job workers are replaced by `true` here (a job starts and its worker exits at once), so the fuzzer exercises the
API's validation, routing and job bookkeeping without spawning trainings; real workers are tested elsewhere.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from nanogpt_lab.jobs.manager import JobManager
from nanogpt_lab.server.app import create_app

EXAMPLES = 8  # per operation and mode: ~20 operations x 2 modes, bounded so the run stays well under a minute


def test_no_server_errors_anywhere(workspace_home: Path) -> None:
    app = create_app(manager=JobManager(python=shutil.which('true') or '/bin/true'))
    schema = schemathesis.openapi.from_asgi('/openapi.json', app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                      database=None)  # fmt: skip
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(checks=[not_a_server_error])

            try:
                check()
            except Unsatisfiable:
                continue  # nothing in this operation can be made invalid (no parameters, no body)
            except Exception as e:  # collect all, then fail once with every operation that broke
                failures.append(f'{operation.method.upper()} {operation.path} ({mode.value}): {e}'[:2000])
    assert not failures, '\n\n'.join(failures)
    assert not [p for p in workspace_home.parent.rglob('*') if workspace_home not in p.parents and p.is_file()
                and p.parent != workspace_home.parent]  # fmt: skip
