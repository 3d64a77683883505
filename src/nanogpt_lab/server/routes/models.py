"""GET /api/models/sizes (stage 3's calculator), GET /api/device, POST /api/generate (tokens as SSE)."""

from __future__ import annotations

import functools
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from nanogpt_lab.config import (
    MAX_ACCUMULATION,
    MAX_BATCH,
    MAX_BLOCK,
    MAX_EMBD,
    MAX_HEADS,
    MAX_LAYERS,
    MAX_VOCAB,
    PRESETS,
    ModelConfig,
    config_error,
)
from nanogpt_lab.server import generation, schemas
from nanogpt_lab.server.errors import ApiError, language
from nanogpt_lab.server.http import SSE_HEADERS, is_local, json_body, validate

router = APIRouter(prefix='/api', tags=['models'])
ERRORS = {code: {'model': schemas.ErrorOut} for code in (400, 404, 413, 415, 422)}


@router.get('/models/sizes', responses=ERRORS, summary='Parameters, FLOPs per token and training memory of a GPT')
async def model_sizes(
    model: Literal['custom', 'gpt2', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'] = 'gpt2',
    n_layer: int | None = Query(None, gt=0, le=MAX_LAYERS),
    n_head: int | None = Query(None, gt=0, le=MAX_HEADS),
    n_embd: int | None = Query(None, gt=0, le=MAX_EMBD),
    block_size: int | None = Query(None, gt=0, le=MAX_BLOCK),
    vocab_size: int | None = Query(None, gt=0, le=MAX_VOCAB),
    bias: bool | None = None,
    ln_position: Literal['pre', 'post'] | None = None,
    batch_size: int = Query(12, gt=0, le=MAX_BATCH),
    dtype: Literal['float32', 'bfloat16', 'float16'] = 'float32',
    gradient_accumulation_steps: int = Query(1, gt=0, le=MAX_ACCUMULATION),
    device_memory_bytes: int | None = Query(None, gt=0, le=2**50),
) -> dict[str, Any]:
    """Parameter breakdown, FLOPs per token, training memory and the fit check for a GPT shape."""
    from nanogpt_lab.model import sizes

    given = dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block_size, vocab_size=vocab_size,
                 bias=bias, ln_position=ln_position)  # fmt: skip
    overrides = {k: v for k, v in given.items() if v is not None}
    try:
        cfg = sizes.preset_config(model, **overrides) if model in PRESETS else ModelConfig(**overrides)
    except ValidationError as e:
        raise config_error(e.errors(include_url=False)[0], overrides) from None
    out = {
        'config': cfg.model_dump(),
        'params': sizes.param_breakdown(cfg).as_dict(),
        'flops_per_token': sizes.flops_per_token(cfg),
        'memory': sizes.training_memory(cfg, batch_size, cfg.block_size, dtype).as_dict(),
        'presets': sizes.preset_sizes(),
    }
    if device_memory_bytes:
        fit = sizes.will_it_fit(
            cfg, batch_size, cfg.block_size, dtype, device_memory_bytes, gradient_accumulation_steps
        )
        out['fit'] = fit.as_dict()
    return out


@functools.lru_cache(maxsize=1)
def _describe() -> dict[str, Any]:
    from nanogpt_lab.hardware import describe

    return describe()


@router.get('/device', summary='The hardware here: CPU model and threads, CUDA devices and memory, MPS')
async def device() -> dict[str, Any]:
    """What hardware this server has (hardware.describe, computed once, off the event loop)."""
    return await run_in_threadpool(_describe)  # imports torch the first time: never on the event loop


@router.post(
    '/generate',
    responses={**ERRORS, 200: {'content': {'text/event-stream': {}, 'application/json': {}}}},
    summary='Generate text from a run, the bundled tiny model or GPT-2: tokens streamed as server-sent events',
    openapi_extra=schemas.body(schemas.GenerateIn.model_json_schema()),
)
async def generate(request: Request) -> Any:
    """Tokens from a run, the bundled model or GPT-2, streamed as server-sent events."""
    req = validate(schemas.GenerateIn, await json_body(request, required=True))
    cfg = generation.sample_config(req, is_local(request))
    loaded = await run_in_threadpool(generation.load_cached, cfg)
    ids = generation.prompt_ids(loaded, req.prompt if req.prompt is not None else req.start)
    warnings = generation.warnings(cfg, loaded, language(request.headers))
    events = generation.token_events(loaded, req, ids)
    if not req.stream:
        return JSONResponse({**await _collect(events), 'warnings': warnings})
    return StreamingResponse(generation.sse(events, warnings), media_type='text/event-stream', headers=SSE_HEADERS)


async def _collect(events: Any) -> dict[str, Any]:
    samples, tokens = [], []
    async for item in events:
        if item['type'] == 'token':
            tokens.append(item)
        elif item['type'] == 'sample':
            samples.append(item['text'])
        elif item['type'] == 'error':
            raise ApiError(422, item['error']['code'], **item['error']['params'])
    return {'samples': samples, 'tokens': tokens}
