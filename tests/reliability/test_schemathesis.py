"""Schemathesis over every operation of a real lab's /openapi.json: no answer is a server error.

A real `nanogpt-lab serve` with real job workers (what it answers with is NiceGUI's orjson response, as a learner
gets). For each operation schemathesis generates valid requests and invalid ones (wrong types, missing and extra
fields, out-of-range numbers, odd strings and headers) from the schema, with a fixed seed and a fixed number of
examples, so the run is the same every time and bounded. Each job it starts is cancelled as soon as the lab
accepts it (a real cancel request, answered without a 5xx, while the worker starts): else a dozen workers, each
importing torch, compete with the fuzzing for the CPU. Nothing is written outside the workspace. The counts are
printed (`-s`).
"""

from __future__ import annotations

import collections
import contextlib
import time
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

SEED = 20261127
EXAMPLES = 5  # per operation and mode: 36 operations × 2 modes × 5 ≈ 260 requests (the suite's time stays bounded)
ACTIVE = ('queued', 'starting', 'running')


def _fuzz(operation: Any, mode: GenerationMode, lab: Any, requests: collections.Counter, errors: list[str]) -> None:
    """Send EXAMPLES generated requests of one mode to one operation; count them and every 5xx; cancel the jobs."""
    name = f'{operation.method.upper()} {operation.path}'

    @seed(SEED)
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              phases=[Phase.explicit, Phase.generate])  # fmt: skip
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=lab.base, timeout=120)
        requests[name] += 1
        if response.status_code >= 500:
            errors.append(f'{name} ({mode.value}) → {response.status_code}: {response.text[:300]}\n'
                          f'  {case.as_curl_command()[:1500]}')  # fmt: skip
        if response.status_code == 202:  # a job accepted: cancel it now (409: it has ended already)
            cancel = lab.call('POST', f'/api/jobs/{response.json()["id"]}/cancel')
            if cancel.status_code not in (200, 409):
                errors.append(f'cancel of a job {name} started → {cancel.status_code}: {cancel.text[:300]}')

    with contextlib.suppress(Unsatisfiable):  # nothing in this operation can be made invalid (no parameters, body)
        check()


def test_no_server_error_from_any_operation(tmp_path: Path, labs: Any, helpers: Any) -> None:
    home = tmp_path / 'home'
    lab = labs(home).start()
    before = helpers.snapshot(tmp_path, skip=home)
    schema = schemathesis.openapi.from_url(f'{lab.base}/openapi.json')
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    requests: collections.Counter[str] = collections.Counter()
    errors: list[str] = []
    started = time.monotonic()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, lab, requests, errors)
    seconds = time.monotonic() - started
    print(f'\nschemathesis: {len(operations)} operations, {sum(requests.values())} requests, {len(errors)} 5xx, '
          f'{seconds:.0f} s (seed {SEED}, {EXAMPLES} examples per operation and mode)')  # fmt: skip
    assert set(requests) == {f'{o.method.upper()} {o.path}' for o in operations}  # every operation was called
    assert not errors, '\n'.join(errors)

    assert lab.call('GET', '/api/jobs').json()['jobs']  # valid requests started jobs (and cancelled them)
    helpers.wait_for(lambda: not [j for j in lab.call('GET', '/api/jobs').json()['jobs'] if j['status'] in ACTIVE],
                     'the jobs the fuzzing started to end')  # fmt: skip
    assert lab.call('GET', '/api/runs').status_code == 200
    outside = {k: v for k, v in helpers.snapshot(tmp_path, skip=home).items() if not k.startswith('lab-')}
    assert outside == {k: v for k, v in before.items() if not k.startswith('lab-')}  # the server's log aside
