"""OpenAI's API on the lab's models: GET /v1/models, POST /v1/chat/completions, POST /v1/completions.

The same guard as /api (loopback and this machine's origins, or the access token sent as the Bearer key). Every
refusal is JSON before the answer starts (an unknown model 404; a bad field, a base model asked to chat or a message
too long 400): the model loads and the prompt is rendered first. Errors carry OpenAI's `type` and `param` beside the
lab's `code`, `params` and `field`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from nanogpt_lab.inference import catalog
from nanogpt_lab.server import generation, openai_api, schemas
from nanogpt_lab.server.errors import ApiError
from nanogpt_lab.server.http import SSE_HEADERS, json_body, validate

router = APIRouter(prefix='/v1', tags=['openai'])
ERRORS = {code: {'model': schemas.ErrorOut} for code in (400, 404, 413, 415)}
STREAM = {200: {'content': {'application/json': {}, 'text/event-stream': {}}}}


@router.get('/models', summary='The models this lab serves (OpenAI shape): runs with a checkpoint, bundled, GPT-2')
async def list_models() -> dict[str, Any]:
    """Every model a completion can name; `chat` says whether it has the chat template."""
    models = await run_in_threadpool(catalog.served_models)
    return {'object': 'list', 'data': [openai_api.model_object(m) for m in models]}


@router.get('/models/{model_id}', responses=ERRORS, summary='One model (OpenAI shape)')
async def get_model(model_id: str) -> dict[str, Any]:
    """The model with this id, or 404."""
    return openai_api.model_object(await _served(model_id))


@router.post(
    '/chat/completions',
    responses={**ERRORS, **STREAM},
    summary="A chat model's answer to a conversation (OpenAI's chat completions, streamed or whole)",
    openapi_extra=schemas.body(openai_api.ChatCompletionIn.model_json_schema()),
)
async def chat_completions(request: Request) -> Any:
    """Answer the conversation with a model that has the chat template; `stream: true` sends chunks then [DONE]."""
    from nanogpt_lab.inference.chat import build_prompt

    req = validate(openai_api.ChatCompletionIn, await json_body(request, required=True))
    served = await _served(req.model)
    if not served.chat:
        raise ApiError(400, 'api.v1.not_chat', field='model', model=req.model)
    loaded = await run_in_threadpool(generation.load_cached, served.sample_config())
    prompt = build_prompt(req.engine_messages(), loaded.tokenizer, loaded.model.config.block_size)  # refusals: 4xx
    reply = openai_api.Reply('chat', req.model, len(prompt.ids), req.n or 1)
    work = openai_api.chat_work(loaded, req, generation.CACHE.run_lock)
    return await _answer(reply, req, work)


@router.post(
    '/completions',
    responses={**ERRORS, **STREAM},
    summary='A continuation of a prompt (OpenAI legacy completions), for base models: streamed or whole',
    openapi_extra=schemas.body(openai_api.CompletionIn.model_json_schema()),
)
async def completions(request: Request) -> Any:
    """Continue each prompt `n` times; choice `i` continues prompt `i // n`."""
    req = validate(openai_api.CompletionIn, await json_body(request, required=True))
    served = await _served(req.model)
    loaded = await run_in_threadpool(generation.load_cached, served.sample_config())
    prompts = [generation.prompt_ids(loaded, p) for p in req.prompt]
    echo = req.prompt if req.echo else []
    reply = openai_api.Reply('text', req.model, sum(map(len, prompts)), len(prompts) * (req.n or 1), echo)
    work = openai_api.completion_work(loaded, req, prompts, generation.CACHE.run_lock)
    return await _answer(reply, req, work)


async def _served(model_id: str) -> catalog.ServedModel:
    served = await run_in_threadpool(catalog.find_model, model_id)
    if served is None:
        raise ApiError(404, 'api.v1.unknown_model', field='model', model=model_id)
    return served


async def _answer(reply: openai_api.Reply, req: openai_api.SamplingRequest, work: Any) -> Any:
    events = generation.threaded_events(work)
    if req.stream:
        usage = bool(req.stream_options and req.stream_options.include_usage)
        body = openai_api.chunks(reply, events, usage)
        return StreamingResponse(body, media_type='text/event-stream', headers=SSE_HEADERS)
    try:
        return JSONResponse(await openai_api.whole(reply, events))
    except openai_api.StreamFailed as e:
        raise ApiError(500, e.error.get('code') or 'api.generation_failed', **e.error.get('params', {})) from None
