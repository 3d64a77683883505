"""The guard: loopback needs no token; any other bind gets one; with a token every request must carry it."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nanogpt_lab.server.app import create_app
from nanogpt_lab.server.security import TOKEN_COOKIE, check_bind, is_loopback


@pytest.mark.parametrize('host', ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]'])
def test_loopback_needs_no_token(host: str, capsys: pytest.CaptureFixture) -> None:
    assert is_loopback(host)
    assert check_bind(host, None) is None
    assert check_bind(host, 'given') == 'given'
    assert capsys.readouterr().err == ''


@pytest.mark.parametrize('host', ['0.0.0.0', '::', '192.168.1.20', 'lab.example.org', ''])
def test_other_addresses_get_a_generated_token_printed(host: str, capsys: pytest.CaptureFixture) -> None:
    assert not is_loopback(host)
    token = check_bind(host, None)
    assert token and len(token) >= 24
    assert token in capsys.readouterr().err
    assert check_bind(host, '  ') != '  '  # a blank token is no token
    assert check_bind(host, 'mine') == 'mine'


def test_two_generated_tokens_differ() -> None:
    assert check_bind('0.0.0.0', None) != check_bind('0.0.0.0', None)


@pytest.fixture
def guarded() -> TestClient:
    app = create_app(token='s3cret-token')

    @app.get('/page')
    def page() -> dict:  # stands for a NiceGUI page: the guard covers every path, not only /api
        return {'page': True}

    return TestClient(app, base_url='http://192.168.1.20:8765', client=('192.168.1.30', 40000))


@pytest.mark.parametrize('path', ['/api/jobs', '/api/runs', '/api/jobs/x/events', '/page', '/openapi.json', '/docs'])
def test_token_is_checked_on_every_path(guarded: TestClient, path: str) -> None:
    r = guarded.get(path)
    assert r.status_code == 401
    assert r.json()['error']['code'] == 'api.token_required'
    assert guarded.get(path, headers={'Authorization': 'Bearer wrong'}).status_code == 401


def test_bearer_header_query_and_cookie_are_accepted(guarded: TestClient) -> None:
    assert guarded.get('/api/jobs', headers={'Authorization': 'Bearer s3cret-token'}).status_code == 200
    r = guarded.get('/page?token=s3cret-token')
    assert r.status_code == 200
    assert TOKEN_COOKIE in r.headers['set-cookie'] and 'HttpOnly' in r.headers['set-cookie']
    # the browser now sends the cookie: pages and event streams work without the query
    assert guarded.get('/page').status_code == 200
    assert guarded.get('/api/jobs').status_code == 200


def test_without_token_only_this_machine_may_drive_the_lab() -> None:
    client = TestClient(create_app(), base_url='http://127.0.0.1:8765', client=('127.0.0.1', 40000))
    assert client.get('/api/jobs').status_code == 200
    # DNS rebinding: a web page at evil.example re-resolved to 127.0.0.1 sends its own Host
    r = client.get('/api/jobs', headers={'Host': 'evil.example:8765'})
    assert r.status_code == 403 and r.json()['error']['code'] == 'api.forbidden_host'
    r = client.post('/api/jobs/download-weights', json={'model': 'gpt2'}, headers={'Origin': 'https://evil.example'})
    assert r.status_code == 403
    assert client.get('/api/jobs', headers={'Origin': 'http://localhost:8765'}).status_code == 200


def test_install_works_on_any_fastapi_app() -> None:
    from nanogpt_lab.server.app import install

    app = FastAPI(openapi_url=None)
    manager = install(app)
    assert app.state.jobs is manager
    client = TestClient(app, base_url='http://localhost')
    assert '/api/jobs/train' in client.get('/openapi.json').json()['paths']
