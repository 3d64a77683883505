"""The guard: loopback needs no token; any other bind gets one; with a token every request must carry it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nanogpt_lab.config import ConfigError
from nanogpt_lab.server.app import create_app
from nanogpt_lab.server.security import ENV_TOKEN, TOKEN_COOKIE, check_bind, is_loopback


@pytest.mark.parametrize('host', ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]'])
def test_loopback_needs_no_token(host: str, capsys: pytest.CaptureFixture) -> None:
    assert is_loopback(host)
    assert check_bind(host, None) is None
    assert check_bind(host, 'given-token-16chars') == 'given-token-16chars'
    assert capsys.readouterr().err == ''


@pytest.mark.parametrize('host', ['0.0.0.0', '::', '192.168.1.20', 'lab.example.org', ''])
def test_other_addresses_get_a_generated_token_printed(host: str, capsys: pytest.CaptureFixture) -> None:
    assert not is_loopback(host)
    token = check_bind(host, None)
    assert token and len(token) >= 24
    assert token in capsys.readouterr().err
    assert check_bind(host, '  ') != '  '  # a blank token is no token
    assert check_bind(host, 'mine-is-long-enough') == 'mine-is-long-enough'


def test_a_short_token_is_refused_and_one_can_come_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for short in ('a', 'x' * 15):
        with pytest.raises(ConfigError, match='at least 16') as e:
            check_bind('0.0.0.0', short)
        assert e.value.key == 'token'
    secret = tmp_path / 'token'
    secret.write_text('from-a-file-0123456789\nignored second line\n')
    assert check_bind('0.0.0.0', None, str(secret)) == 'from-a-file-0123456789'
    with pytest.raises(ConfigError, match='cannot be read'):
        check_bind('0.0.0.0', None, str(tmp_path / 'missing'))
    monkeypatch.setenv(ENV_TOKEN, 'from-the-environment-42')
    assert check_bind('0.0.0.0', None) == 'from-the-environment-42'
    assert check_bind('127.0.0.1', None) == 'from-the-environment-42'  # given, it is used even on loopback
    monkeypatch.setenv(ENV_TOKEN, 'short')
    with pytest.raises(ConfigError, match='at least 16'):
        check_bind('0.0.0.0', None)


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
