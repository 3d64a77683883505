"""Every number has an upper bound; wrong types are 422s; one damaged record never breaks a listing.

The class, not the example: the tests walk every numeric key of every config model and every operation of
/openapi.json, and send each one a number no device or counter can hold. The listings are read through the JSON
response NiceGUI's app uses (orjson), which is what `nanogpt-lab serve` answers with.
"""

from __future__ import annotations

import json
import math
import shutil
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from nicegui.json import NiceGUIJSONResponse
from pydantic import BaseModel

from nanogpt_lab import config
from nanogpt_lab.jobs.manager import JobManager
from nanogpt_lab.jobs.specs import BENCH_ARGS, BENCH_SUITES
from nanogpt_lab.server import schemas
from nanogpt_lab.server.app import install

HUGE = 2**70
# every config model config.py defines (a new one is walked without being listed here), and the API's own bodies
_CONFIGS = [m for m in vars(config).values() if isinstance(m, type) and issubclass(m, config._Config)]
MODELS: tuple[type[BaseModel], ...] = tuple(
    m
    for m in dict.fromkeys([*_CONFIGS, config.PlanConfig, schemas.TokenizeIn, schemas.GenerateIn])
    if m is not config._Config
)


def _numeric(annotation: Any) -> bool:
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return any(a in (int, float) for a in args)


def _upper(field: Any) -> float | None:
    return next((getattr(m, 'le', None) or getattr(m, 'lt', None) for m in field.metadata
                 if getattr(m, 'le', None) is not None or getattr(m, 'lt', None) is not None), None)  # fmt: skip


@pytest.fixture
def client(workspace_home: Path) -> TestClient:
    """The API on an app that answers as NiceGUI's does (orjson), with workers that exit at once."""
    app = FastAPI(default_response_class=NiceGUIJSONResponse)
    install(app, manager=JobManager(python=shutil.which('true') or '/bin/true', poll_s=0.05))
    return TestClient(app, base_url='http://127.0.0.1:8765', client=('127.0.0.1', 40000))


def test_every_numeric_key_of_every_config_has_an_upper_bound() -> None:
    missing = [f'{m.__name__}.{k}' for m in MODELS for k, f in m.model_fields.items()
               if _numeric(f.annotation) and _upper(f) is None]  # fmt: skip
    assert not missing, f'numbers without an upper bound: {missing}'


def _number_schemas(node: Any, path: str = '') -> list[tuple[str, dict]]:
    """Every integer/number schema in an OpenAPI document, with where it is."""
    found = []
    if isinstance(node, dict):
        if node.get('type') in ('integer', 'number'):
            found.append((path, node))
        for k, v in node.items():
            found += _number_schemas(v, f'{path}/{k}')
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _number_schemas(v, f'{path}/{i}')
    return found


def test_every_number_in_the_api_has_a_maximum(client: TestClient) -> None:
    api = client.get('/openapi.json').json()
    requests = {p: {m: {k: v for k, v in op.items() if k in ('parameters', 'requestBody')} for m, op in ops.items()}
                for p, ops in api['paths'].items()}  # fmt: skip
    numbers = _number_schemas(requests)
    assert len(numbers) > 50
    missing = [path for path, s in numbers if 'maximum' not in s and 'exclusiveMaximum' not in s and 'enum' not in s]
    assert not missing, f'numbers the API accepts without a maximum: {missing}'


def _numeric_keys(schema: dict) -> list[str]:
    return [k for k, s in schema['properties'].items() if _number_schemas(s)]


@pytest.mark.parametrize('kind', ['train', 'finetune', 'sample', 'prepare-data'])
def test_a_huge_number_for_any_key_is_refused_with_the_key_and_the_bound(client: TestClient, kind: str) -> None:
    keys = _numeric_keys(schemas.JOB_BODIES[kind])
    assert len(keys) >= 3
    base = {'out_dir': 'some-run'} if kind == 'sample' else {}
    for key in keys:
        for value in (HUGE, -HUGE, 10**400 if key != 'seed' else HUGE * HUGE):
            r = client.post(f'/api/jobs/{kind}', json={**base, key: value})
            assert r.status_code == 422, f'{kind} {key}={value}: {r.status_code} {r.text[:300]}'
            err = r.json()['error']
            assert err['field'] == key and key in err['message'], err
    r = client.post('/api/jobs/train', json={'batch_size': HUGE})
    assert r.json()['error']['message'] == 'batch_size (1.18e+21): Input should be less than or equal to 65536'
    assert client.get('/api/jobs').json()['jobs'] == []  # nothing was created


def test_bench_args_are_bounded_and_take_no_paths(client: TestClient) -> None:
    assert set(BENCH_ARGS) == set(BENCH_SUITES), 'each bench suite needs its bounded args model in BENCH_ARGS'
    for suite, model in BENCH_ARGS.items():
        for key in _numeric_keys(model.model_json_schema()):
            r = client.post('/api/jobs/bench', json={'suite': suite, 'args': {key: HUGE}})
            assert r.status_code == 422 and key in r.json()['error']['message'], r.text
    for path_key in ('json', 'vs_nanogpt', 'data_dir', 'recipe'):  # files a bench would write or read
        r = client.post('/api/jobs/bench', json={'suite': 'train', 'args': {path_key: '/tmp/x'}})
        assert r.status_code == 422, r.text


def test_seed_and_every_number_of_generate_are_bounded(client: TestClient) -> None:
    for key in _numeric_keys(schemas.GenerateIn.model_json_schema()):
        r = client.post('/api/generate', json={'init_from': 'bundled', key: HUGE})
        assert r.status_code == 422, f'{key}: {r.status_code} {r.text[:300]}'
        assert r.json()['error']['field'] == key


@pytest.mark.parametrize('kind', ['train', 'finetune'])
def test_the_plans_camel_case_fields_refuse_every_wrong_type(client: TestClient, kind: str) -> None:
    for key in config.PLAN_KEYS:
        for wrong in ({}, [], [1], {'a': 1}, 'four', HUGE, 1.5 if key != 'learningRate' else 'x', None):
            if key == 'initFrom' and isinstance(wrong, str):
                continue  # any string names a source; the source itself is checked later
            r = client.post(f'/api/jobs/{kind}', json={key: wrong})
            assert r.status_code == 422, f'{key}={wrong!r}: {r.status_code} {r.text[:300]}'
            assert r.json()['error']['field'] == key, r.text


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _job(run: str, **fields: Any) -> str:
    job = {'id': run, 'kind': 'train', 'status': 'succeeded', 'submitted': 1.0, 'config': {}, **fields}
    return json.dumps(job, allow_nan=True)


def test_a_damaged_record_is_listed_as_damaged_and_never_breaks_a_listing(
    client: TestClient, workspace_home: Path
) -> None:
    runs = workspace_home / 'runs'
    event = json.dumps({'seq': 1, 't': 1.0, 'type': 'train', 'iter': 1, 'loss': 2.5, 'tokens': 10}) + '\n'
    _write(runs / 'good' / 'job.json', _job('good'))
    _write(runs / 'good' / 'events.jsonl', event)
    _write(runs / 'huge' / 'job.json', _job('huge', config={'batch_size': HUGE}))  # what a58796a accepted
    _write(runs / 'nan' / 'job.json', _job('nan', started=math.nan))
    _write(runs / 'typed' / 'job.json', _job('typed', status=5))
    _write(runs / 'torn' / 'job.json', '{"id": "torn", "stat')
    _write(runs / 'list' / 'job.json', '[1, 2]')
    _write(runs / 'cfg' / 'job.json', _job('cfg'))
    _write(runs / 'cfg' / 'config.json', json.dumps({'n_layer': HUGE}))
    _write(runs / 'events' / 'job.json', _job('events'))
    bad_lines = [{'seq': 2, 'type': 'train', 'iter': HUGE}, {'seq': 'x', 'type': 'eval'}, {'seq': 3},
                 {'seq': 4, 'type': 'eval', 'val_loss': 'low', 'iter': 'x'}]  # fmt: skip
    _write(runs / 'events' / 'events.jsonl', event + ''.join(json.dumps(e) + '\n' for e in bad_lines) + 'NaN\n')

    jobs = client.get('/api/jobs')
    assert jobs.status_code == 200, jobs.text
    by_id = {j['id']: j for j in jobs.json()['jobs']}
    for damaged in ('huge', 'nan', 'typed', 'torn', 'list'):
        assert by_id[damaged]['status'] == 'damaged' and by_id[damaged]['damaged'], by_id[damaged]
        assert 'delete the run' in by_id[damaged]['error']
        r = client.get(f'/api/jobs/{damaged}')
        assert r.status_code == 200 and r.json()['status'] == 'damaged'
        r = client.post(f'/api/jobs/{damaged}/cancel')
        assert r.status_code == 409 and 'delete the run' in r.json()['error']['message']
    assert by_id['good']['status'] == by_id['events']['status'] == 'succeeded'

    listed = client.get('/api/runs')
    assert listed.status_code == 200, listed.text
    rows = {r['id']: r for r in listed.json()['runs']}
    assert rows['cfg']['damaged'] and 'config.json' in rows['cfg']['damaged']
    assert rows['events']['last_iter'] == 1 and rows['events']['best_val_loss'] is None
    for run in rows:
        assert client.get(f'/api/runs/{run}').status_code == 200
        assert client.get(f'/api/runs/{run}/events').status_code == 200
    assert [e['seq'] for e in client.get('/api/runs/events/events').json()['events']] == [1, 4]
    assert client.get('/api/runs/compare', params={'a': 'events', 'b': 'huge'}).status_code == 200
    assert client.delete('/api/runs/huge').status_code == 200  # what the row says to do works
    assert not (runs / 'huge').exists()


# --- the bounds table in docs/reliability.md -------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / 'docs' / 'reliability.md'
CROSS_KEY = (
    f'| batch_size × block_size | at most {config.MAX_BATCH_TOKENS:,} tokens per forward pass | | TrainConfig |',
    f'| batch_size × block_size × gradient_accumulation_steps | at most {config.MAX_STEP_TOKENS:,} tokens per step '
    '(tokens seen stay within 64 bits at max_iters) | | TrainConfig |',
)


def _number(v: Any) -> str:
    return f'{v:,}' if isinstance(v, int) else f'{v:g}'


def _limit(field: Any, names: tuple[str, str], signs: tuple[str, str]) -> str | None:
    """'> 0' or '≥ 0' (names gt/ge), '< 1' or '≤ 10' (lt/le) from a field's constraints; None if it has none."""
    for m in field.metadata:
        for name, sign in zip(names, signs, strict=True):
            if getattr(m, name, None) is not None:
                return f'{sign} {_number(getattr(m, name))}'
    return None


def _range(field: Any) -> str:
    low, high = _limit(field, ('gt', 'ge'), ('>', '≥')), _limit(field, ('lt', 'le'), ('<', '≤'))
    return f'{low}, {high}' if low else str(high)


def bounds_table() -> list[str]:
    """One row per numeric key and range: the models that take it, its default."""
    rows: dict[tuple[str, str], list[str]] = {}
    defaults: dict[tuple[str, str], Any] = {}
    for model in MODELS:
        for key, field in model.model_fields.items():
            if _numeric(field.annotation) and model is not config.PlanConfig:  # camelCase: its snake key's bounds
                row = (key, _range(field))
                rows.setdefault(row, []).append(model.__name__)
                defaults.setdefault(row, field.default)
    lines = ['| key | accepted | default | in |', '|---|---|---|---|']
    for (key, accepted), models in sorted(rows.items()):
        default = defaults[(key, accepted)]
        shown = '' if default is None else _number(default)
        lines.append(f'| `{key}` | {accepted} | {shown} | {", ".join(models)} |')
    return [*lines, *CROSS_KEY]


def _doc_section() -> list[str]:
    text = DOC.read_text(encoding='utf-8')
    return text.split('<!-- bounds:start -->\n', 1)[1].split('<!-- bounds:end -->', 1)[0].strip().splitlines()


def test_the_doc_lists_every_bound() -> None:
    assert _doc_section() == bounds_table(), 'run `.venv/bin/python tests/reliability/test_bounds.py` to update it'


if __name__ == '__main__':  # rewrite the table in docs/reliability.md
    text = DOC.read_text(encoding='utf-8')
    head, rest = text.split('<!-- bounds:start -->\n', 1)
    tail = rest.split('<!-- bounds:end -->', 1)[1]
    DOC.write_text(f'{head}<!-- bounds:start -->\n' + '\n'.join(bounds_table()) + f'\n<!-- bounds:end -->{tail}')
