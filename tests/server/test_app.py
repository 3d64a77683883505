"""The API on a real app: JSON errors, and real jobs end to end (prepare → train → sample → export → generate)."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nanogpt_lab.jobs.manager import JobManager
from nanogpt_lab.server.app import create_app

TINY = dict(dataset='shakespeare_char', device='cpu', n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=4,
            gradient_accumulation_steps=1, eval_iters=2, warmup_iters=2, learning_rate=1e-3, compile=False,
            dtype='float32', threads=1)  # fmt: skip


def local_client(app) -> TestClient:
    """A client on this machine (loopback), as the lab's own browser and the acceptance check are."""
    return TestClient(app, base_url='http://127.0.0.1:8765', client=('127.0.0.1', 40000))


def wait_job(client: TestClient, job_id: str, timeout: float = 120.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f'/api/jobs/{job_id}').json()
        if job['status'] in ('succeeded', 'failed', 'cancelled'):
            return job
        time.sleep(0.2)
    raise AssertionError(f'job {job_id} did not end in {timeout} s')


@pytest.fixture
def fast_client(workspace_home: Path) -> TestClient:
    """Jobs whose worker is `true` (it exits at once): for the bookkeeping, not the engine."""
    return local_client(create_app(manager=JobManager(python=shutil.which('true') or '/bin/true', poll_s=0.05)))


def _error(r, status: int, code: str | None = None, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()['error']
    assert set(err) == {'code', 'message', 'field', 'params'} and err['message'] and isinstance(err['params'], dict)
    assert code is None or err['code'] == code
    assert field is None or err['field'] == field
    assert 'Traceback' not in r.text
    return err


@pytest.mark.parametrize(
    ('accept', 'expected'),
    [
        ('zh-CN', 'n_embd（100）必须能被 n_head（3）整除'),
        ('en-US,en;q=0.9,zh-CN;q=0.8', 'n_embd (100) must be divisible by n_head (3)'),
        ('fr-FR, zh;q=0.7, en;q=0.3', 'n_embd（100）必须能被 n_head（3）整除'),
        ('zh-CN;q=0, de', 'n_embd (100) must be divisible by n_head (3)'),
    ],
)
def test_errors_speak_the_requested_language(fast_client: TestClient, accept: str, expected: str) -> None:
    r = fast_client.post(
        '/api/jobs/train', json={'nLayer': 2, 'nHead': 3, 'nEmbd': 100}, headers={'Accept-Language': accept}
    )
    assert _error(r, 422, 'config.divisible', 'n_embd')['message'] == expected
    r = fast_client.get('/api/no-such-endpoint', headers={'Accept-Language': accept})
    assert ('找不到' in _error(r, 404, 'api.http.not_found')['message']) == expected.startswith('n_embd（')


def test_errors_are_json_with_the_right_status(fast_client: TestClient) -> None:
    c = fast_client
    err = _error(
        c.post('/api/jobs/train', json={'nLayer': 2, 'nHead': 3, 'nEmbd': 100}), 422, 'config.divisible', 'n_embd'
    )
    assert err['params'] == {'key': 'n_embd', 'n_embd': 100, 'n_head': 3}
    assert err['message'] == 'n_embd (100) must be divisible by n_head (3)'
    _error(c.post('/api/jobs/train', json={'max_iter': 10}), 422, 'config.unknown_key_close', 'max_iter')
    _error(c.post('/api/jobs/train', json=[1, 2]), 422)
    _error(c.post('/api/jobs/train', content=b'{not json', headers={'Content-Type': 'application/json'}), 400,
           'api.malformed_json')  # fmt: skip
    _error(c.post('/api/jobs/train', content=b'max_iters=5', headers={'Content-Type': 'text/plain'}), 415)
    big = b'{"x": "' + b'a' * (2 << 20) + b'"}'
    _error(c.post('/api/jobs/train', content=big, headers={'Content-Type': 'application/json'}), 413,
           'api.too_large_declared')  # fmt: skip
    _error(c.get('/api/jobs/does-not-exist'), 404, 'job.no_job')
    _error(c.get('/api/jobs/does-not-exist/events'), 404)
    _error(c.post('/api/jobs/..%2F..%2Fetc/cancel'), 404)
    _error(c.get('/api/runs/nope/events'), 404)
    _error(c.delete('/api/runs/nope'), 404)
    _error(c.get('/api/no-such-endpoint'), 404)
    _error(c.put('/api/jobs/train', json={}), 405)
    _error(c.get('/api/runs/compare', params={'a': 'x'}), 422, field='b')
    _error(c.post('/api/jobs/download-weights', json={'model': 'gpt-5'}), 422, field='model')
    _error(c.post('/api/jobs/prepare-data', json={'dataset': 'custom', 'data_dir': '/tmp/x'}), 422, field='data_dir')


def test_job_bookkeeping_cancel_twice_and_delete(fast_client: TestClient) -> None:
    c = fast_client
    r = c.post('/api/jobs/prepare-data', json={'dataset': 'shakespeare_char'})
    assert r.status_code == 202 and r.headers['location'] == f'/api/jobs/{r.json()["id"]}'
    job = wait_job(c, r.json()['id'])
    assert job['status'] == 'failed' and 'without recording an end' in job['error']  # `true` wrote nothing
    _error(c.post(f'/api/jobs/{job["id"]}/cancel'), 409, 'job.already_ended')
    assert [j['id'] for j in c.get('/api/jobs').json()['jobs']] == [job['id']]
    assert c.get('/api/runs').json()['runs'][0]['status'] == 'failed'
    events = c.get(f'/api/runs/{job["id"]}/events').json()['events']
    assert [e['type'] for e in events] == ['end'] and events[0]['status'] == 'failed'
    assert c.delete(f'/api/runs/{job["id"]}').json() == {'deleted': job['id']}
    assert c.get('/api/jobs').json()['jobs'] == []


def test_datasets_tokenize_sizes_and_device(fast_client: TestClient, char_data_dir: Path, workspace_home: Path) -> None:
    c = fast_client
    assert c.get('/api/datasets').json() == {'datasets': []}
    shutil.copytree(char_data_dir / 'shakespeare_char', workspace_home / 'data' / 'shakespeare_char')
    (ds,) = c.get('/api/datasets').json()['datasets']
    assert ds['name'] == 'shakespeare_char' and ds['prepared'] and ds['files']['train.bin'] == 2 * 1_003_854
    stats = c.get('/api/datasets/shakespeare_char/stats').json()
    assert stats == json.loads((workspace_home / 'data' / 'shakespeare_char' / 'stats.json').read_text())  # as is
    _error(c.get('/api/datasets/nope/stats'), 404)
    r = c.post('/api/tokenize', json={'text': 'Hello, world! 你好', 'tokenizers': ['char', 'gpt2']})
    char, gpt2 = r.json()['results']
    assert char['n_tokens'] == 16 and gpt2['n_tokens'] < char['n_tokens']
    r = c.post('/api/tokenize', json={'text': 'To be', 'tokenizers': ['char'], 'dataset': 'shakespeare_char'})
    assert r.json()['results'][0]['vocab_size'] == 65
    _error(c.post('/api/tokenize', json={'text': 'x', 'tokenizers': ['klingon']}), 422, field='tokenizers')
    _error(c.post('/api/tokenize', json={'text': 'x' * 100_001}), 422, field='text')
    sizes = c.get('/api/models/sizes', params={'model': 'gpt2'}).json()
    assert sizes['params']['total'] == 124_439_808 and len(sizes['presets']) == 4
    baby = c.get('/api/models/sizes', params={'model': 'custom', 'n_layer': 4, 'n_head': 4, 'n_embd': 128,
                                              'block_size': 64, 'vocab_size': 65, 'bias': False}).json()  # fmt: skip
    assert baby['params']['nanogpt'] == 795_904  # DESIGN's golden number for nanoGPT's CPU baby model
    _error(c.get('/api/models/sizes', params={'model': 'custom', 'n_head': 3, 'n_embd': 100}), 422)
    device = c.get('/api/device').json()
    assert device['cpu']['threads'] >= 1 and 'torch' in device


def test_generate_warns_of_float16_on_a_cpu_as_the_cli_does() -> None:
    """float16 on a CPU is emulated, many times slower: the answer says so by code and in the caller's language (as
    `nanogpt-lab sample` does on stderr), first in a stream; float32 gets no warning."""
    c = local_client(create_app(manager=JobManager(poll_s=0.05)))
    body = {'init_from': 'bundled', 'prompt': 'ROMEO:', 'max_new_tokens': 2, 'device': 'cpu', 'stream': False}
    slow = c.post('/api/generate', json={**body, 'dtype': 'float16'}, headers={'Accept-Language': 'zh-CN'}).json()
    (warning,) = slow['warnings']
    assert warning['code'] == 'log.slow_dtype' and warning['params'] == {'dtype': 'float16'}
    assert '模拟' in warning['message'] and len(slow['samples']) == 1
    assert c.post('/api/generate', json={**body, 'dtype': 'float32'}).json()['warnings'] == []
    with c.stream('POST', '/api/generate', json={**body, 'dtype': 'float16', 'stream': True}) as r:
        first = next(json.loads(line[5:]) for line in r.iter_lines() if line.startswith('data:'))
    assert first['type'] == 'warning' and 'emulated' in first['message']


def test_prepare_train_sample_export_generate(shakespeare_txt: Path, workspace_home: Path) -> None:
    c = local_client(create_app(manager=JobManager(poll_s=0.05)))
    up = c.post('/api/datasets/upload', files={'file': ('input.txt', shakespeare_txt.read_bytes(), 'text/plain')})
    assert up.status_code == 201
    prep = c.post('/api/jobs/prepare-data', json={'dataset': 'shakespeare_char', 'input': up.json()['name']})
    assert wait_job(c, prep.json()['id'])['status'] == 'succeeded'

    train = c.post('/api/jobs/train', json={**TINY, 'maxIters': 50, 'lr_decay_iters': 50, 'evalInterval': 25})
    run_id = train.json()['id']
    job = wait_job(c, run_id)
    assert job['status'] == 'succeeded', job['error']
    (run,) = [r for r in c.get('/api/runs').json()['runs'] if r['id'] == run_id]
    assert run['last_iter'] == 50 and run['best_val_loss'] < 4.2 and run['tokens'] and run['has_checkpoint']

    sample = c.post('/api/jobs/sample', json={'out_dir': run_id, 'device': 'cpu', 'num_samples': 2,
                                              'max_new_tokens': 20, 'start': 'ROMEO:'})  # fmt: skip
    assert wait_job(c, sample.json()['id'])['status'] == 'succeeded'
    events = c.get(f'/api/runs/{sample.json()["id"]}/events').json()['events']
    texts = [e['text'] for e in events if e['type'] == 'sample']
    assert len(texts) == 2 and all(t.startswith('ROMEO:') for t in texts)

    with c.stream('POST', '/api/generate', json={'out_dir': run_id, 'prompt': 'ROMEO:', 'max_new_tokens': 8,
                                                 'device': 'cpu', 'probabilities': True}) as r:  # fmt: skip
        assert r.headers['content-type'].startswith('text/event-stream')
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith('data:')]
    tokens = [e for e in events if e['type'] == 'token']
    assert len(tokens) == 8 and 0 < tokens[0]['prob'] <= 1 and tokens[0]['stages'] and events[-1]['type'] == 'done'
    plain = c.post('/api/generate', json={'out_dir': run_id, 'prompt': 'ROMEO:', 'max_new_tokens': 8,
                                          'device': 'cpu', 'stream': False}).json()  # fmt: skip
    assert plain['samples'] == [e['text'] for e in events if e['type'] == 'sample']  # same seed, same text
    _error(c.post('/api/generate', json={'out_dir': 'nope', 'prompt': 'x'}), 422)
    _error(c.post('/api/generate', json={'out_dir': run_id, 'prompt': '☃ snowman', 'device': 'cpu'}), 422)

    export = c.post('/api/jobs/export', json={'out_dir': run_id, 'format': 'hf'})
    job = wait_job(c, export.json()['id'])
    assert job['status'] == 'succeeded', job['error']
    assert (workspace_home / 'exports' / f'{run_id}-hf' / 'config.json').is_file()
    phases = [e['params']['phase']['code'] for e in c.get(f'/api/runs/{job["id"]}/events').json()['events']
              if e.get('code') == 'log.phase']  # fmt: skip
    assert phases == ['export.phase.reading', 'export.phase.hf']  # what the export panel's bar says as it goes
    download = c.get(f'/api/exports/{run_id}-hf/download')
    assert download.status_code == 200 and download.headers['content-type'] == 'application/zip'
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert {f'{run_id}-hf/config.json', f'{run_id}-hf/model.safetensors'} <= set(archive.namelist())
    _error(c.get('/api/exports/nope/download'), 404, 'api.export_not_found')
    _error(c.get('/api/exports/..%2F..%2Fetc/download'), 404)


def test_simulate_replays_a_recorded_run_marked_simulated(workspace_home: Path) -> None:
    from nanogpt_lab.simulation.assets import list_assets

    runs = [a for a in list_assets(kind='run') if (a.path / 'events.jsonl.gz').exists()]
    assert runs, 'the recorded runs ship with the package'
    c = local_client(create_app(manager=JobManager(poll_s=0.05)))
    job = c.post('/api/jobs/simulate', json={'asset': runs[0].name, 'speed': 'instant'}).json()
    assert wait_job(c, job['id'])['status'] == 'succeeded'
    with c.stream('GET', f'/api/jobs/{job["id"]}/events') as r:
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith('data:')]
    log = [e for e in events if 'seq' in e]
    assert [e['type'] for e in log if e['type'] in ('start', 'end')] == ['start', 'end']  # the job's own, once
    replayed = log[1:-1]
    assert replayed and all(e['simulated']['asset'] == runs[0].name for e in replayed)
    assert any(e['type'] == 'train' for e in replayed)
    (row,) = [r for r in c.get('/api/runs').json()['runs'] if r['id'] == job['id']]
    assert row['simulated'] and row['last_iter'] is not None
    _error(c.post('/api/jobs/simulate', json={'asset': 'no-such-recording'}), 422, field='asset')


def test_download_weights_offline_fails_with_instructions(workspace_home: Path) -> None:
    c = local_client(create_app(manager=JobManager(poll_s=0.05)))
    job = c.post('/api/jobs/download-weights', json={'model': 'gpt2'}).json()
    ended = wait_job(c, job['id'], timeout=60)  # tests are offline (HF_HUB_OFFLINE=1): it must fail fast and say why
    assert ended['status'] == 'failed' and 'gpt2' in ended['error']
    assert not (workspace_home / 'weights' / 'gpt2' / 'model.safetensors').exists()


def test_installing_again_does_not_nest_the_lifespan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NiceGUI's test plugin installs the API on its one app per test: each install used to wrap the lifespan deeper."""
    from fastapi import FastAPI

    from nanogpt_lab.server.app import install

    monkeypatch.setenv('NANOGPT_LAB_HOME', str(tmp_path))
    app = FastAPI()
    lifespan = app.router.lifespan_context
    for _ in range(3):
        install(app, manager=JobManager())
    assert app.router.lifespan_context is lifespan
    with TestClient(app) as client:  # the lifespan still runs
        assert client.get('/v1/models').status_code == 200


def test_a_failed_export_zip_leaves_no_half_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nanogpt_lab.server.routes.exports import zip_folder

    (tmp_path / 'model-hf').mkdir()
    (tmp_path / 'model-hf' / 'config.json').write_text('{}')
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path / 'tmp'))
    (tmp_path / 'tmp').mkdir()

    def disk_full(*args, **kwargs) -> None:
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(zipfile.ZipFile, 'write', disk_full)
    with pytest.raises(OSError):
        zip_folder(tmp_path / 'model-hf')
    assert list((tmp_path / 'tmp').iterdir()) == []
