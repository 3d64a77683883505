"""Request helpers shared by the routes: a size-capped JSON body, the caller's locality, server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError

from nanogpt_lab.config import config_error
from nanogpt_lab.server.errors import ApiError
from nanogpt_lab.server.security import is_loopback

M = TypeVar('M', bound=BaseModel)
MAX_JSON_BYTES = 1 << 20  # a config or a prompt is far smaller; anything bigger is a mistake or an attack
SSE_HEADERS = {'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no', 'Connection': 'keep-alive'}


def is_local(request: Request) -> bool:
    """Whether the caller is on this machine (loopback): only such callers may name absolute paths to read."""
    client = request.client
    return client is not None and is_loopback(client.host)


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it grows past `limit` (a declared length is checked first)."""
    declared = request.headers.get('content-length')
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, 'api.too_large_declared', size=int(declared), limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, 'api.too_large', limit=limit)
        chunks.append(chunk)
    return b''.join(chunks)


async def json_body(request: Request, *, required: bool = False) -> dict[str, Any]:
    """The body as a JSON object: 415 for another content type, 400 for malformed JSON, 422 for a non-object."""
    raw = await read_limited(request, MAX_JSON_BYTES)
    if not raw.strip():
        if required:
            raise ApiError(422, 'api.body_required')
        return {}
    ctype = request.headers.get('content-type', '').split(';')[0].strip().lower()
    if ctype != 'application/json' and not ctype.endswith('+json'):
        raise ApiError(415, 'api.not_json', content_type=ctype)
    try:
        value = json.loads(raw, parse_constant=_not_json)  # (a number too large is refused by its key's bound)
    except (ValueError, RecursionError) as e:
        raise ApiError(400, 'api.malformed_json', detail=str(e)) from None
    if not isinstance(value, dict):
        raise ApiError(422, 'api.not_object', type=type(value).__name__)
    return value


def _not_json(name: str) -> None:
    raise ValueError(f'{name} is not a JSON value (JSON has no NaN or Infinity)')


def validate(model: type[M], data: dict[str, Any]) -> M:
    """A request body checked by a pydantic model; its first problem becomes a 422 naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise config_error(e.errors(include_url=False)[0], data) from None


def sse_message(data: Any, *, event: str | None = None, id: int | None = None) -> str:
    """One server-sent event: optional `event:` and `id:` lines, then the JSON data line."""
    lines = []
    if id is not None:
        lines.append(f'id: {id}')
    if event:
        lines.append(f'event: {event}')
    lines.append('data: ' + json.dumps(data, ensure_ascii=False, separators=(',', ':')))
    return '\n'.join(lines) + '\n\n'


def event_stream(events: AsyncIterator[dict]) -> StreamingResponse:
    """Job events as SSE: each log event carries `id: seq` (for Last-Event-ID); status and heartbeats have none."""

    async def body() -> AsyncIterator[str]:
        yield 'retry: 2000\n\n'
        async for event in events:
            kind = event.get('type')
            if kind == 'heartbeat':
                yield f': heartbeat {event.get("t")}\n\n'
            elif kind == 'status':
                yield sse_message(event['job'], event='status')
            else:
                yield sse_message(event, id=event.get('seq'))  # unnamed: EventSource.onmessage gets them all

    return StreamingResponse(body(), media_type='text/event-stream', headers=SSE_HEADERS)


def last_event_id(request: Request, after: int | None) -> int:
    """Where a stream resumes: the `Last-Event-ID` header a reconnecting EventSource sends, else `?after=`."""
    header = request.headers.get('last-event-id', '').strip()
    if header.isdigit() and len(header) <= 18:  # an event number, not a 5,000-digit one
        return int(header)
    return max(0, after or 0)
