"""Every API error is JSON `{"error": {"code", "message", "field", "params"}}` with a 4xx; a bug is a generic 500.

`code` names a template in the message catalogs (`nanogpt_lab/messages/`) and `params` fill it, so a client can
word the error itself; `message` is already worded in the request's language: `Accept-Language: zh-CN` (q-values
honoured) answers in Chinese, anything else in English. Engine errors (`LabError`) go out with their own code.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from nanogpt_lab.config import ConfigError, config_error
from nanogpt_lab.errors import Coded, LabError
from nanogpt_lab.jobs.manager import JobConflict, JobNotFound
from nanogpt_lab.messages import DEFAULT_LANGUAGE, from_accept_language, render

log = logging.getLogger(__name__)
Handler = Callable[[Request, Any], Awaitable[Response]]

# HTTP errors the framework raises itself (an unknown path, a wrong method), by status
_HTTP_CODES = {404: 'api.http.not_found', 405: 'api.http.method_not_allowed'}


class ApiError(LabError):
    """An error the API reports as-is: HTTP status, a catalog code with its parameters, the field at fault."""

    def __init__(self, status: int, code: str, /, field: str | None = None, **params: Any) -> None:
        self.status, self.field = status, field
        super().__init__(code, **params)


def language(headers: Any) -> str:
    """The language an answer speaks: the request's Accept-Language where we have it, else English."""
    return from_accept_language(headers.get('accept-language')) or DEFAULT_LANGUAGE


def error_body(code: str, message: str, field: str | None = None, params: dict[str, Any] | None = None) -> dict:
    """The one error shape every endpoint returns."""
    return {'error': {'code': code, 'message': message, 'field': field, 'params': params or {}}}


def coded_response(request: Request, status: int, e: Coded, field: str | None = None) -> JSONResponse:
    """A coded error as a JSON response in the request's language (also for streams that fail before streaming)."""
    return _respond(request, status, error_body(e.code, e.message(language(request.headers)), field, e.params))


def _respond(request: Request, status: int, body: dict, headers: dict | None = None) -> JSONResponse:
    """The error as JSON; on /v1 also in OpenAI's terms: its clients read `type` and `param`, and a bad request
    is 400 there, not 422."""
    if _is_openai(request):
        status = 400 if status == 422 else status
        body['error'] |= {'type': _OPENAI_TYPES.get(status, 'invalid_request_error'), 'param': body['error']['field']}
    return JSONResponse(body, status_code=status, headers=headers)


API_PREFIXES = ('/api', '/v1')  # the paths that answer errors as JSON (pages keep NiceGUI's error pages)
_OPENAI_TYPES = {401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 500: 'server_error'}


def _is_api(request: Request) -> bool:
    return any(request.url.path == p or request.url.path.startswith(p + '/') for p in API_PREFIXES)


def _is_openai(request: Request) -> bool:
    return request.url.path.startswith('/v1/')


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    response = coded_response(request, exc.status, exc, exc.field)
    if exc.status == 413:  # close the connection: the rest of a body too large is not read, nor waited for
        response.headers['Connection'] = 'close'
    return response


async def _config_error(request: Request, exc: ConfigError) -> JSONResponse:
    return coded_response(request, 422, exc, exc.key)


async def _lab_error(request: Request, exc: LabError) -> JSONResponse:
    return coded_response(request, 422, exc, exc.params.get('key'))


async def _value_error(request: Request, exc: ValueError) -> JSONResponse:
    # a ValueError without a code (a library's): its own words, in English
    body = error_body('invalid', str(exc) or exc.__class__.__name__, getattr(exc, 'key', None))
    return _respond(request, 422, body)


async def _not_found(request: Request, exc: JobNotFound) -> JSONResponse:
    return coded_response(request, 404, exc)


async def _conflict(request: Request, exc: JobConflict) -> JSONResponse:
    return coded_response(request, 409, exc, exc.params.get('field'))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    err = exc.errors()[0] if exc.errors() else {}
    if err.get('type') == 'json_invalid':
        return coded_response(request, 400, ApiError(400, 'api.malformed_json', detail=str(err.get('msg'))))
    if err.get('loc', ('',))[0] in ('query', 'path') and isinstance(err.get('input'), str):
        err = {**err, 'input': _url_value(err['input'])}
    e = config_error(err)
    return coded_response(request, 422, e, e.key)


def _url_value(text: str) -> Any:
    """A query or path value as a message shows it: `?n_layer=0` was the number 0 to its writer, not the text '0'."""
    if len(text) <= 30:
        for parse in (int, float):
            try:
                return parse(text)
            except ValueError:
                pass
    return text


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, 'api.http.other')
    body = error_body(code, render(code, {'status': exc.status_code}, language(request.headers)))
    return _respond(request, exc.status_code, body, getattr(exc, 'headers', None))


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    # only true bugs land here: log the traceback for the developer, show the caller no internals
    log.exception('unhandled error in %s %s', request.method, request.url.path)
    return _respond(request, 500, error_body('api.internal', render('api.internal', {}, language(request.headers))))


def _scoped(app: FastAPI, key: int | type[Exception], handler: Handler) -> None:
    """Answer /api requests with our JSON; leave pages to the handler that was there (NiceGUI's error pages)."""
    previous = app.exception_handlers.get(key)
    if previous is None and (isinstance(key, int) or key is StarletteHTTPException):
        previous = http_exception_handler
    elif previous is None and key is not Exception:
        previous = app.exception_handlers.get(Exception)  # what a page's ValueError met before we came

    async def scoped(request: Request, exc: Exception) -> Response:
        if _is_api(request):
            return await handler(request, exc)
        if previous is None:
            raise exc
        return await previous(request, exc)

    app.add_exception_handler(key, scoped)


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on `app`, for /api paths only."""
    for key, handler in (
        (ApiError, _api_error),
        (ConfigError, _config_error),
        (JobNotFound, _not_found),
        (JobConflict, _conflict),
        (LabError, _lab_error),
        (ValueError, _value_error),
        (RequestValidationError, _validation_error),
        (StarletteHTTPException, _http_error),
        (404, _http_error),
        (405, _http_error),
        (Exception, _bug),
    ):
        _scoped(app, key, handler)
