"""Every API error is JSON `{"error": {"code", "message", "field"}}` with a 4xx; a true bug is a generic 500, logged.

Engine errors are `ValueError` subclasses written for people, so their message goes to the caller as-is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from nanogpt_lab.config import ConfigError
from nanogpt_lab.jobs.manager import JobConflict, JobNotFound

log = logging.getLogger(__name__)
Handler = Callable[[Request, Any], Awaitable[Response]]

_HTTP_CODES = {
    400: 'bad_request',
    401: 'token_required',
    403: 'forbidden',
    404: 'not_found',
    405: 'method_not_allowed',
    409: 'conflict',
    413: 'too_large',
    415: 'unsupported_media_type',
    422: 'invalid',
}


class ApiError(Exception):
    """An error the API reports as-is: HTTP status, a stable code the UI can translate, a message, the field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_body(code: str, message: str, field: str | None = None) -> dict:
    """The one error shape every endpoint returns."""
    return {'error': {'code': code, 'message': message, 'field': field}}


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    """An error as a JSON response (for the handlers and for streaming endpoints that fail before streaming)."""
    return JSONResponse(error_body(code, message, field), status_code=status)


def _is_api(request: Request) -> bool:
    return request.url.path == '/api' or request.url.path.startswith('/api/')


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.field)


async def _config_error(request: Request, exc: ConfigError) -> JSONResponse:
    return error_response(422, 'invalid_config', str(exc), exc.key)


async def _value_error(request: Request, exc: ValueError) -> JSONResponse:
    # engine errors (DataError, CheckpointError, bad names) are ValueErrors written for the person asking
    return error_response(422, 'invalid', str(exc) or exc.__class__.__name__, getattr(exc, 'key', None))


async def _not_found(request: Request, exc: JobNotFound) -> JSONResponse:
    return error_response(404, 'not_found', str(exc), None)


async def _conflict(request: Request, exc: JobConflict) -> JSONResponse:
    return error_response(409, 'conflict', str(exc), exc.field)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    err = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in err.get('loc', ()) if p not in ('body', 'query', 'path', 'header')]
    field = '.'.join(loc) or None
    if err.get('type') == 'json_invalid':
        return error_response(400, 'malformed_json', f'the request body is not valid JSON: {err.get("msg")}')
    message = f'{field}: {err.get("msg", "invalid")}' if field else str(err.get('msg', 'invalid request'))
    return error_response(422, 'invalid', message, field)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, 'error')
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    return JSONResponse(error_body(code, detail), status_code=exc.status_code, headers=getattr(exc, 'headers', None))


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    # only true bugs land here: log the traceback for the developer, show the caller no internals
    log.exception('unhandled error in %s %s', request.method, request.url.path)
    return error_response(500, 'internal_error', 'the lab hit an unexpected error; the server log has the details')


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
        (ValueError, _value_error),
        (RequestValidationError, _validation_error),
        (StarletteHTTPException, _http_error),
        (404, _http_error),
        (405, _http_error),
        (Exception, _bug),
    ):
        _scoped(app, key, handler)
