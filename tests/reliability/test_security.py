"""Security: a public address needs a token and nothing passes without it; no name reaches outside the workspace;
untrusted pickles never run; exports are safetensors.

The token check runs against a real `nanogpt-lab serve --host 0.0.0.0` (pages, API, event streams, NiceGUI's
websocket) and lets schemathesis generate requests for every operation of its OpenAPI, sent without the token.
tests/server/test_openapi_fuzz.py is the no-5xx fuzz run with the token-less loopback app; this one adds the
token-guarded, served app.
"""

from __future__ import annotations

import pickle
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from nanogpt_lab.jobs.manager import JobManager
from nanogpt_lab.server.app import create_app

EXAMPLES = 5  # generated requests per operation and mode


def _websocket_answer(port: int, path: str) -> str:
    """The status line a websocket handshake gets (101 would mean it was let in)."""
    with socket.create_connection(('127.0.0.1', port), timeout=30) as s:
        head = f'GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        s.sendall((head + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n').encode())
        return s.recv(4096).split(b'\r\n', 1)[0].decode()


def test_a_public_address_needs_the_token_everywhere(tmp_path: Path, labs: Any, helpers: Any) -> None:
    import schemathesis
    from schemathesis.generation import GenerationMode

    home = tmp_path / 'home'
    lab = labs(home, host='0.0.0.0').start()  # no --token: one is generated and printed, as Jupyter does
    found = re.search(r'token: (\S+)', lab.log.read_text())
    assert found, 'no generated token was printed'
    token = found.group(1)
    auth = {'Authorization': f'Bearer {token}'}
    spec = lab.call('GET', '/openapi.json', headers=auth).json()
    paths = [p.replace('{job_id}', 'x').replace('{run_id}', 'x').replace('{name}', 'x') for p in spec['paths']]
    pages = ['/', '/data', '/tokenizers', '/architecture', '/pretraining', '/docs', '/openapi.json',
             '/_nicegui_ws/socket.io/?EIO=4&transport=polling', '/api/jobs/x/events']  # fmt: skip
    for path in [*paths, *pages]:
        for headers in ({}, {'Authorization': 'Bearer wrong'}, {'Cookie': 'nanogpt_lab_token=wrong'}):
            r = lab.call('GET', path, headers=headers)
            assert r.status_code == 401 and r.json()['error']['code'] == 'api.token_required', (path, r.status_code)
    assert lab.call('POST', '/api/jobs/prepare-data', json={'dataset': 'custom'}).status_code == 401
    assert not _websocket_answer(lab.port, '/_nicegui_ws/socket.io/?EIO=4&transport=websocket').endswith(' 101')
    # with the token: the bearer header, or ?token= once and then the cookie the browser keeps
    assert lab.call('GET', '/api/jobs', headers=auth).status_code == 200
    first = httpx.get(f'{lab.base}/data?token={token}', timeout=60)
    assert first.status_code == 200 and 'HttpOnly' in first.headers['set-cookie']
    assert httpx.get(f'{lab.base}/data', cookies=first.cookies, timeout=60).status_code == 200

    # every operation, positive and negative generated requests, all without the token: every one is refused
    schema = schemathesis.openapi.from_dict(spec)
    answers: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                      database=None)  # fmt: skip
            def refused(case: Any) -> None:
                response = case.call(base_url=lab.base, headers={'Authorization': 'Bearer not-the-token'})
                answers.append(response.status_code)
                assert response.status_code == 401, (case.method, case.formatted_path, response.status_code)

            try:
                refused()
            except Unsatisfiable:
                continue
    assert len(answers) >= 40 and set(answers) == {401}
    assert not (home / 'runs').exists() and not (home / 'uploads').exists()  # nothing reached a handler


# --- path traversal: every endpoint that takes a name ----------------------------------------------------------------

SEGMENTS = ['..', '..%2F..%2Foutside', '%2E%2E', '..%5C..%5Coutside', '%2Fetc%2Fpasswd', 'a%00b', 'x' * 300]
NAMES = ['../outside', '../../outside/x', 'a/../../outside', '..', '.', './x', 'x/..', 'a\0b', 'C:\\outside', 'x' * 300]
ABSOLUTE = ['/etc/passwd', '/tmp', '~/.ssh/id_rsa']
NAME_KEYS = {
    'prepare-data': {'input': {'dataset': 'custom'}, 'name': {'dataset': 'custom', 'input': 'poem.txt'}},
    'train': {'out_dir': {}, 'init_from': {}, 'data_dir': {}, 'dataset': {}, 'nanogpt_checkout': {}},
    'finetune': {'out_dir': {}, 'init_from': {}, 'data_dir': {}, 'dataset': {}},
    'sample': {'out_dir': {}, 'data_dir': {'out_dir': 'run'}, 'nanogpt_checkout': {'out_dir': 'run'}},
    'export': {'out_dir': {}, 'to': {'out_dir': 'run'}},
    'simulate': {'asset': {}},
}


@pytest.fixture
def clients(workspace_home: Path) -> tuple[TestClient, TestClient]:
    """The API in-process: as seen from this machine, and from another one (with the token it needs there)."""
    manager = JobManager(python=shutil.which('true') or '/bin/true')  # a submitted job's worker exits at once
    local = TestClient(create_app(manager=manager), base_url='http://127.0.0.1:8765', client=('127.0.0.1', 5000))
    remote = TestClient(create_app(token='t0ken', manager=manager), base_url='http://192.168.1.20:8765',
                        client=('192.168.1.30', 5000), headers={'Authorization': 'Bearer t0ken'})  # fmt: skip
    (workspace_home / 'uploads').mkdir(parents=True)
    (workspace_home / 'uploads' / 'poem.txt').write_text('To be, or not to be\n' * 100)
    (workspace_home / 'runs' / 'run').mkdir(parents=True)
    return local, remote


def _path_params(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get('/openapi.json').json()
    return [(m.upper(), p) for p, ops in spec['paths'].items() if '{' in p for m in ops]


def test_no_name_reaches_outside_the_workspace(clients: tuple[TestClient, TestClient], tmp_path: Path,
                                               workspace_home: Path, helpers: Any) -> None:  # fmt: skip
    local, remote = clients
    outside = tmp_path / 'outside'
    outside.mkdir()
    before = helpers.snapshot(tmp_path, skip=workspace_home)
    tried = 0
    for client in (local, remote):
        for method, path in _path_params(client):  # every endpoint with a name in its path
            for bad in SEGMENTS:
                url = re.sub(r'\{[^}]+\}', bad, path)
                r = client.request(method, url, json={} if method == 'POST' else None)
                assert r.status_code in (404, 405, 422), (method, url, r.status_code, r.text[:300])
                tried += 1
        for kind, keys in NAME_KEYS.items():  # every job parameter that names a file or folder
            for key, base in keys.items():
                for bad in NAMES + (ABSOLUTE if client is remote else []):
                    r = client.post(f'/api/jobs/{kind}', json={**base, key: bad})
                    assert r.status_code == 422 and r.json()['error']['field'] == key, (kind, key, bad, r.text[:300])
                    tried += 1
        for a, b in (('../outside', 'run'), ('run', '/etc'), ('..', '.')):
            assert client.get('/api/runs/compare', params={'a': a, 'b': b}).status_code == 404
        for body in ({'out_dir': '../outside'}, {'init_from': '/etc/passwd'} if client is remote else {},
                     {'init_from': 'bundled', 'data_dir': '../outside'}):  # fmt: skip
            if body:
                assert client.post('/api/generate', json={**body, 'max_new_tokens': 1}).status_code == 422
        for name in ('../../outside/x.txt', '/outside/x.txt', '..\\..\\outside\\x.txt', '....//outside/x.txt'):
            r = client.post('/api/datasets/upload', files={'file': (name, b'some text\n')})
            assert r.status_code == 201 and '/' not in r.json()['name'] and '..' not in r.json()['name']
            tried += 1
    assert tried > 450, tried
    assert helpers.snapshot(tmp_path, skip=workspace_home) == before and not list(outside.iterdir())


# --- untrusted pickles and exports -----------------------------------------------------------------------------------


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (exec, (f'open({str(self.marker)!r}, "w").write("ran")',))


@pytest.mark.filterwarnings('error')  # our refusal is the only word: no torch warning before it (it used to note the
def test_untrusted_pickles_never_run_in_any_loader(tmp_path: Path) -> None:  # bare pickle's protocol first)
    """Every loader of a pickle-based file: checkpoints, meta.pkl, pytorch_model.bin, sampling's own loading."""
    import torch

    from nanogpt_lab.config import SampleConfig
    from nanogpt_lab.inference import load
    from nanogpt_lab.model.checkpoint import CheckpointError, load_checkpoint
    from nanogpt_lab.model.pretrained import load_pretrained
    from nanogpt_lab.tokenizers import TokenizerError, read_meta

    marker = tmp_path / 'RAN'
    zipped, legacy, meta = tmp_path / 'zipped.pt', tmp_path / 'legacy.pt', tmp_path / 'meta.pkl'
    torch.save({'model': _Payload(marker), 'model_args': {}}, zipped)  # torch's zip format
    legacy.write_bytes(pickle.dumps({'model': _Payload(marker)}))  # a bare pickle, as old tools wrote
    meta.write_bytes(pickle.dumps(_Payload(marker)))
    hf = tmp_path / 'hf'
    hf.mkdir()
    (hf / 'config.json').write_text('{"model_type": "gpt2", "n_layer": 1, "n_head": 2, "n_embd": 32, '
                                    '"n_positions": 32, "vocab_size": 65}')  # fmt: skip
    torch.save({'h.0.attn.c_attn.weight': _Payload(marker)}, hf / 'pytorch_model.bin')
    with pytest.raises(CheckpointError, match=r'was refused: .*\(it asks for exec\); nothing in it was run'):
        load_checkpoint(zipped)
    with pytest.raises(CheckpointError, match='refused without running anything'):
        load_checkpoint(legacy)
    with pytest.raises(TokenizerError, match='meta.pkl refers to builtins.exec'):
        read_meta(meta)
    with pytest.raises(ValueError, match='cannot be loaded'):
        load_pretrained(hf)
    with pytest.raises(ValueError, match='was refused'):
        load(SampleConfig(init_from=str(zipped), device='cpu'))
    assert not marker.exists()


def test_exports_are_safetensors_only(tmp_path: Path, char_data_dir: Path) -> None:
    """A Hugging Face export holds tensors in safetensors and nothing that unpickles."""
    from safetensors.torch import load_file

    from nanogpt_lab.config import ModelConfig
    from nanogpt_lab.export import export_run
    from nanogpt_lab.model import GPT
    from nanogpt_lab.model.checkpoint import save_checkpoint

    run = tmp_path / 'run'
    cfg = ModelConfig(n_layer=1, n_head=2, n_embd=32, block_size=32, vocab_size=65, bias=False)
    save_checkpoint(run, model=GPT(cfg), optimizer=None, model_args=cfg, iter_num=1, best_val_loss=4.0,
                    config={'dataset': 'shakespeare_char', 'data_dir': str(char_data_dir)})  # fmt: skip
    shutil.copyfile(char_data_dir / 'shakespeare_char' / 'meta.pkl', run / 'meta.pkl')
    out = export_run(run, tmp_path / 'export', fmt='hf')
    files = [p for p in out.rglob('*') if p.is_file()]
    assert any(p.name == 'model.safetensors' for p in files)
    assert not [p for p in files if p.suffix in ('.bin', '.pt', '.pth', '.pkl', '.ckpt')], files
    for p in files:  # no file in the export is a pickle (a pickle starts with opcode PROTO, 0x80)
        assert p.read_bytes()[:1] != b'\x80', p
    tensors = load_file(str(out / 'model.safetensors'))
    assert tensors and all(t.dtype.is_floating_point for t in tensors.values())
