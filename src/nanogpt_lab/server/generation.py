"""POST /api/generate's engine side: load a model once (cached), stream its tokens from a thread as SSE.

The model loads and the prompt is encoded before the response starts, so a missing run or an unknown character
is a JSON 4xx, not a broken stream. Generation runs in a worker thread (torch releases the GIL), and stops
between tokens when the client goes away.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.config import ConfigError, SampleConfig, build
from nanogpt_lab.errors import describe
from nanogpt_lab.hardware import emulated_dtype
from nanogpt_lab.inference.model_cache import ModelCache
from nanogpt_lab.jobs.specs import readable
from nanogpt_lab.messages import render
from nanogpt_lab.server.errors import ApiError
from nanogpt_lab.server.http import sse_message
from nanogpt_lab.server.schemas import GenerateIn

Put = Callable[[dict], None]  # hands one event from the worker thread to the response


CACHE = ModelCache()  # the server's loaded models: /api/generate and /v1 share them


def load_cached(cfg: SampleConfig) -> Any:
    """The model `cfg` names, from the cache or loaded now; a model that cannot be loaded is a 404 or 422."""
    try:
        return CACHE.load(cfg)
    except (FileNotFoundError, OSError) as e:
        raise ApiError(404, 'api.model_unloadable', detail=str(e)) from None
    except ImportError as e:
        raise ApiError(422, 'api.package_missing', detail=str(e)) from None


def sample_config(req: GenerateIn, local: bool) -> SampleConfig:
    """The request's SampleConfig, with a run id turned into its folder (absolute paths: local callers only)."""
    values = req.model_dump(exclude={'prompt', 'alternatives', 'probabilities', 'stream'})
    if values['init_from'] == 'resume':
        values['out_dir'] = readable(values['out_dir'], 'out_dir', workspace.runs_root(), local, 'run')
    if values.get('data_dir'):
        values['data_dir'] = readable(values['data_dir'], 'data_dir', workspace.data_root(), local, 'data_folder')
    if values['start'].startswith('FILE:'):
        raise ConfigError('api.file_prompt', key='start')
    return build(SampleConfig, values)


def prompt_ids(loaded: Any, prompt: str) -> list[int]:
    """Token ids of the prompt; an empty prompt starts a GPT-2 document at <|endoftext|>, as `sample` does."""
    from nanogpt_lab.tokenizers import prompt_ids as token_ids

    ids = token_ids(loaded.tokenizer, prompt)
    if not ids:
        raise ConfigError('api.empty_prompt', key='prompt')
    return ids


def _produce(loaded: Any, req: GenerateIn, ids: list[int], put: Any, stop: threading.Event, lock: Any) -> None:
    import torch

    from nanogpt_lab.inference.sampler import stream

    settings = req.sampling()
    generator = torch.Generator(device=loaded.device)
    generator.manual_seed(req.seed)
    with lock:
        for index in range(req.num_samples):
            pieces = []
            for event in stream(loaded.model, loaded.tokenizer, ids, settings, req.max_new_tokens,
                                generator=generator, kv_cache=req.kv_cache, stop=req.stop,
                                alternatives=req.alternatives, with_stages=req.probabilities):  # fmt: skip
                if stop.is_set():
                    return
                pieces.append(event.text)
                put({'type': 'token', 'sample': index, **event.as_dict()})
            put({'type': 'sample', 'sample': index, 'text': ''.join(pieces)})


def warnings(cfg: SampleConfig, loaded: Any, lang: str) -> list[dict[str, Any]]:
    """What `nanogpt-lab sample` warns about, told to an API caller too: float16 on a CPU is emulated, many times
    slower than float32 (code, params, and the message in the request's language)."""
    if not emulated_dtype(cfg.dtype, str(loaded.device)):
        return []
    params = {'dtype': cfg.dtype}
    return [{'code': 'log.slow_dtype', 'message': render('log.slow_dtype', params, lang), 'params': params}]


async def token_events(loaded: Any, req: GenerateIn, ids: list[int]) -> AsyncIterator[dict]:
    """The token, sample and done (or error) events of /api/generate, produced in a worker thread."""

    def work(put: Put, stop: threading.Event) -> dict:
        _produce(loaded, req, ids, put, stop, CACHE.run_lock)
        return {'type': 'done', 'source': str(getattr(loaded, 'source', '') or '')}

    async for item in threaded_events(work):
        yield item


async def threaded_events(work: Callable[[Put, threading.Event], dict]) -> AsyncIterator[dict]:
    """Events that a blocking `work(put, stop)` hands over from a worker thread, then the event it returns (or an
    `error` event if it raised: the response has already started). `stop` is set when the client goes away."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def put(item: dict) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def run() -> None:
        try:
            put(work(put, stop))
        except Exception as e:  # reported in the stream: the response has already started
            message, code, params = describe(e)
            if code is None:
                code, params = 'api.generation_failed', {'detail': message}
            put({'type': 'error', 'error': {'code': code, 'message': message, 'params': params}})

    worker = loop.run_in_executor(None, run)
    try:
        while True:
            item = await queue.get()
            yield item
            if item['type'] in ('done', 'error'):
                break
    finally:
        stop.set()
        await asyncio.wait([worker], timeout=0)


async def sse(events: AsyncIterator[dict], warnings: list[dict[str, Any]]) -> AsyncIterator[str]:
    """The `warnings` first, then the generation events, as unnamed SSE messages (EventSource.onmessage), `type`
    telling them apart."""
    for note in warnings:
        yield sse_message({'type': 'warning', **note})
    async for item in events:
        yield sse_message(item)
