"""The server's guard: loopback by default, an access token (as Jupyter's) for any other address.

`check_bind` runs before the server starts; `Guard` is pure ASGI middleware (so event streams pass through
untouched) that checks the token on every request — API calls, event streams, pages, assets and NiceGUI's
websocket — and, on a token-less loopback server, refuses requests whose Host or Origin is not this machine
(DNS rebinding). With or without a token, a request that can change something (any method but GET/HEAD/OPTIONS,
and every websocket, which drives the pages) must come from the lab's own pages: its Origin — or, when a browser
sends none, its Sec-Fetch-Site or Referer — must be the lab itself. `Origin: null` (a sandboxed iframe, a file://
page) is not, and neither is a form or a multipart post from another site, which a browser sends without asking
the server first (no CORS preflight). Requests with none of these headers come from programs (curl, the openai
client), not from a web page, and pass.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nanogpt_lab.config import ConfigError
from nanogpt_lab.errors import LabError
from nanogpt_lab.messages import DEFAULT_LANGUAGE, from_accept_language

log = logging.getLogger(__name__)

TOKEN_COOKIE = 'nanogpt_lab_token'
LOOPBACK_NAMES = ('localhost', 'localhost.localdomain', 'ip6-localhost')

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach."""
    if not host:
        return False
    host = host.strip('[]').lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


ENV_TOKEN = 'NANOGPT_LAB_TOKEN'  # a token from the environment: `ps` shows a process's arguments, not this
MIN_TOKEN_CHARS = 16  # a guessable token is no protection: at least 16 characters (a generated one has 32)
MAX_TOKEN_FILE_BYTES = 4096


def check_bind(host: str, token: str | None, token_file: str | None = None) -> str | None:
    """The token a server bound to `host` must use: none needed on loopback; elsewhere the given one or a new one.

    The token comes from `--token-file` (its first line), else `--token`, else $NANOGPT_LAB_TOKEN; the first and
    the last keep it out of `ps`. One shorter than MIN_TOKEN_CHARS is refused. A generated token is printed to
    stderr (as Jupyter does) so the person starting the server can log in.
    """
    if token_file is not None:
        token = _read_token_file(token_file)
    token = (token or os.environ.get(ENV_TOKEN) or '').strip() or None
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError('cli.token_short', key='token', n=len(token), min=MIN_TOKEN_CHARS)
    if token is not None or is_loopback(host):
        return token
    token = secrets.token_urlsafe(24)
    print(
        f'nanoGPT Lab: {host!r} is reachable from other machines, so every request needs an access token.\n'
        f'  token: {token}\n'
        f'  open http://<this machine>:<port>/?token={token} once; the browser then keeps it in a cookie.',
        file=sys.stderr,
        flush=True,
    )
    return token


def _read_token_file(path: str) -> str:
    try:
        with open(path, 'rb') as f:
            first = f.read(MAX_TOKEN_FILE_BYTES).decode('utf-8').splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError('cli.token_file', key='token_file', path=path, reason=type(e).__name__) from None
    return first[0] if first else ''


def _local_name(host: str | None) -> bool:
    """Loopback, or a bare single-label name ('localhost', a test client's 'testserver'): nothing a remote web
    page can point at this machine, unlike `evil.example` re-resolved to 127.0.0.1 (DNS rebinding)."""
    if not host:
        return False
    return is_loopback(host) or not any(c in host for c in '.:[]')


def _host_of(value: str) -> str:
    """'127.0.0.1:8765' or '[::1]:8765' → the host part."""
    if value.startswith('['):
        return value[1:].split(']', 1)[0]
    return value.rsplit(':', 1)[0] if value.count(':') == 1 else value


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode('latin-1').lower(): v.decode('latin-1') for k, v in scope.get('headers', [])}


def _token_in_request(scope: Scope, headers: dict[str, str]) -> tuple[str | None, bool]:
    """The token a request carries (bearer header, cookie or ?token=), and whether it came in the query."""
    auth = headers.get('authorization', '')
    if auth.lower().startswith('bearer '):
        return auth[7:].strip(), False
    query = parse_qs(scope.get('query_string', b'').decode('latin-1'))
    if query.get('token'):
        return query['token'][0], True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get('cookie', ''))
    except Exception:  # a malformed cookie header is simply no token
        return None, False
    morsel = cookie.get(TOKEN_COOKIE)
    return (morsel.value if morsel else None), False


SAFE_METHODS = ('GET', 'HEAD', 'OPTIONS')


def _origin_of(url: str) -> tuple[str, str, int | None] | None:
    """('http', 'localhost', 8765) from an Origin or Referer; None when it is not a URL with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port or {'http': 80, 'https': 443, 'ws': 80, 'wss': 443}.get(parts.scheme)
    except ValueError:
        return None
    return (parts.scheme, parts.hostname, port) if parts.hostname else None


def _is_the_lab(url: str, host_header: str, scheme: str) -> bool:
    """Whether a page at `url` is this lab: the same host and port the request was sent to (localhost and
    127.0.0.1 count as one when both are loopback: the same server, reached by two names)."""
    origin = _origin_of(url)
    lab = _origin_of(f'{scheme}://{host_header}')
    if origin is None or lab is None or origin[2] != lab[2]:
        return False
    return origin[1] == lab[1] or (is_loopback(origin[1]) and is_loopback(lab[1]))


def cross_site_problem(scope: Scope, headers: dict[str, str]) -> LabError | None:
    """Why a state-changing request is not from the lab's own pages, or None when it is (or from no browser)."""
    host = headers.get('host', '')
    scheme = 'https' if scope.get('scheme') in ('https', 'wss') else 'http'
    origin = headers.get('origin')
    if origin is not None:
        if origin.strip().lower() == 'null':
            return LabError('api.cross_site_null')
        if not _is_the_lab(origin, host, scheme):
            return LabError('api.cross_site_origin', origin=origin[:100])
        return None
    site = headers.get('sec-fetch-site')
    if site is not None:
        if site in ('same-origin', 'none'):  # none: typed in the address bar or a bookmark
            return None
        return LabError('api.cross_site_fetch', site=site[:20])
    referer = headers.get('referer')
    if referer and not _is_the_lab(referer, host, scheme):
        return LabError('api.cross_site_referer')
    return None


class Guard:
    """ASGI middleware: the token check (when a token is set) and the same-machine check (when not)."""

    def __init__(self, app: ASGIApp, token: str | None = None):
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] not in ('http', 'websocket'):
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        if scope['type'] == 'websocket' or scope.get('method') not in SAFE_METHODS:
            problem = cross_site_problem(scope, headers)
            if problem:
                return await _refuse(scope, send, 403, problem, headers)
        if self.token is None:
            problem = self._foreign_origin(headers)
            if problem:
                return await _refuse(scope, send, 403, problem, headers)
            return await self.app(scope, receive, send)
        given, from_query = _token_in_request(scope, headers)
        if given is None or not secrets.compare_digest(given.encode(), self.token.encode()):
            return await _refuse(scope, send, 401, LabError('api.token_required'), headers)
        if from_query and scope['type'] == 'http':
            send = _with_cookie(send, self.token)
        return await self.app(scope, receive, send)

    @staticmethod
    def _foreign_origin(headers: dict[str, str]) -> LabError | None:
        """Without a token the server trusts only this machine: a page elsewhere must not drive it."""
        host = _host_of(headers.get('host', 'localhost'))
        if not _local_name(host):
            return LabError('api.forbidden_host', host=host)
        origin = headers.get('origin')
        if origin and origin != 'null' and not _local_name(urlsplit(origin).hostname):
            return LabError('api.forbidden_origin', origin=origin)
        return None


def _with_cookie(send: Send, token: str) -> Send:
    """Remember a token given in the URL as an HttpOnly cookie, so the pages' own requests carry it."""

    async def wrapped(message: Message) -> None:
        if message['type'] == 'http.response.start':
            cookie = f'{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict'
            message['headers'] = [*message.get('headers', []), (b'set-cookie', cookie.encode('latin-1'))]
        await send(message)

    return wrapped


async def _refuse(scope: Scope, send: Send, status: int, problem: LabError, headers: dict[str, str]) -> None:
    """Answer with the API's JSON error (pages get it too: it says what to do), or close a websocket."""
    if scope['type'] == 'websocket':
        await send({'type': 'websocket.close', 'code': 1008})
        return
    lang = from_accept_language(headers.get('accept-language')) or DEFAULT_LANGUAGE
    error = {'code': problem.code, 'message': problem.message(lang), 'field': None, 'params': problem.params}
    body = json.dumps({'error': error}, ensure_ascii=False).encode()
    headers = [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())]
    if status == 401:
        headers.append((b'www-authenticate', b'Bearer'))
    await send({'type': 'http.response.start', 'status': status, 'headers': headers})
    await send({'type': 'http.response.body', 'body': body})
