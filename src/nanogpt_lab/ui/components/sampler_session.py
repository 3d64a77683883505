"""One tab's sampling session on stage 6: a loaded model (from the server's model cache), its next-token explorer
(logits per context, computed once, so a slider redraws without running the model) and a random stream.

Everything that touches torch is a method here and runs in a worker thread (`nicegui.run.io_bound`), after the
page is up: importing this module loads no torch. Models: `bundled` (the tiny char model shipped with the lab),
`gpt2`…`gpt2-xl` (downloaded weights) and `run:<id>` (a run's ckpt.pt in the workspace).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.config import PRETRAINED, SampleConfig, SamplingSettings
from nanogpt_lab.errors import LabError
from nanogpt_lab.model.pretrained import CONFIG_FILE

BUNDLED = 'bundled'
RUN_PREFIX = 'run:'
TOP_N = 20  # tokens a probability chart follows through the pipeline
ALTERNATIVES = 5  # runners-up shown when hovering a generated token


def sample_config(model_id: str) -> SampleConfig:
    """The SampleConfig that loads `model_id`; the bundled model runs on the CPU (it is tiny), others on `auto`."""
    if model_id == BUNDLED:
        return SampleConfig(init_from=BUNDLED, device='cpu', dtype='float32')
    if model_id in PRETRAINED:
        return SampleConfig(init_from=model_id, device='auto')
    if model_id.startswith(RUN_PREFIX):
        folder = workspace.inside(workspace.runs_root(), model_id.removeprefix(RUN_PREFIX))
        return SampleConfig(init_from='resume', out_dir=str(folder), device='auto')
    raise LabError('inference.unknown_model', model=model_id, pretrained=', '.join(PRETRAINED))


def model_label(model_id: str, tr: Any) -> str:
    """How a page names a model: the bundled one, downloaded weights, or a run."""
    if model_id == BUNDLED:
        return tr('inference.model.bundled')
    if model_id in PRETRAINED:
        return tr('inference.model.weights', name=model_id)
    return tr('inference.model.run', run=model_id.removeprefix(RUN_PREFIX))


def available(real: bool, runs: list[dict[str, Any]]) -> list[str]:
    """The models a tab can pick: the bundled one always; in real mode also downloaded GPT-2s and runs with a ckpt."""
    models = [BUNDLED]
    if real:
        models += [name for name in PRETRAINED if (workspace.weights_root() / name / CONFIG_FILE).is_file()]
        models += [RUN_PREFIX + r['id'] for r in runs if r.get('has_checkpoint')]
    return models


@lru_cache(maxsize=1)  # one cache for the whole lab: a model loads once however many tabs sample from it
def model_cache() -> Any:
    """The loaded-model cache (the same class the generation API uses)."""
    from nanogpt_lab.inference.model_cache import ModelCache

    return ModelCache()


def warm(model_id: str = BUNDLED, prompt: str = 'ROMEO:') -> None:
    """Load a model and run one forward pass, so the first page that asks for it draws at once (imports torch)."""
    session = SamplerSession(model_id)
    session.load()
    session.view(session.encode(prompt), SampleConfig().sampling())


class SamplerSession:
    """A model, its explorer and this tab's random stream. Methods run torch: call them from a worker thread."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.loaded: Any = None
        self.explorer: Any = None
        self.generator: Any = None
        self.lock = threading.Lock()  # one explorer call at a time: its logits cache is not thread-safe

    def load(self) -> dict[str, Any]:
        """Load (or take from the cache) the model; returns where it came from."""
        from nanogpt_lab.inference.analysis import NextTokenExplorer

        self.loaded = model_cache().load(sample_config(self.model_id))
        self.explorer = NextTokenExplorer(self.loaded.model, self.loaded.tokenizer)
        return dict(self.loaded.source)

    def open(self, seed: int, prompt: str, knobs: SamplingSettings) -> tuple[dict[str, Any], list[int] | None, Any]:
        """Everything the page needs first, in one trip to a worker thread: load, seed, encode the prompt, and the
        first distribution. Returns (source, prompt ids, view); ids is None and view the error for a prompt the
        model cannot read."""
        source = self.load()
        self.reseed(seed)
        try:
            ids = self.encode(prompt)
        except ValueError as e:
            return source, None, e
        return source, ids, self.view(ids, knobs)

    @property
    def block_size(self) -> int:
        """How many tokens of context the model reads."""
        return int(self.loaded.model.config.block_size)

    def encode(self, text: str) -> list[int]:
        """Token ids of a prompt (a TokenizerError, a ValueError, names a character the model does not know)."""
        return self.loaded.tokenizer.encode(text)

    def token_text(self, token_id: int) -> str:
        """A token as readable text."""
        return self.loaded.tokenizer.token_text(token_id)

    def view(self, ids: list[int], knobs: SamplingSettings, top_n: int = TOP_N) -> dict[str, Any]:
        """The next-token distribution after every pipeline stage for this context (pipeline.stage_view)."""
        with self.lock:
            return self.explorer.view(ids, knobs, top_n)

    def inside(self, text: str) -> tuple[Any, list[str], list[str]]:
        """One forward pass read by hooks (inference.internals.look_inside) over the prompt's last tokens; with the
        texts of the tokens looked at and of the likeliest next tokens. A ValueError names an unreadable prompt."""
        from nanogpt_lab.inference.internals import look_inside

        ids = self.encode(text)
        with self.lock:
            inside = look_inside(self.loaded.model, ids)
        return inside, [self.token_text(i) for i in inside.ids], [self.token_text(i) for i in inside.next_ids]

    def reseed(self, seed: int) -> None:
        """Start a fresh, reproducible random stream."""
        import torch

        self.generator = torch.Generator(device=self.loaded.device)
        self.generator.manual_seed(int(seed))

    def tokens(
        self, ids: list[int], knobs: SamplingSettings, n: int, *, seed: int | None = None, stop: tuple[str, ...] = ()
    ) -> Iterator[dict[str, Any]]:
        """Draw `n` tokens after `ids`, one TokenEvent dict each: this tab's stream, or a fresh one from `seed`."""
        from nanogpt_lab.inference.sampler import stream

        generator = None if seed is not None else self.generator
        for event in stream(
            self.loaded.model,
            self.loaded.tokenizer,
            ids,
            knobs,
            n,
            seed=seed,
            generator=generator,
            alternatives=ALTERNATIVES,
            stop=stop,
        ):
            yield event.as_dict()

    def run(
        self,
        ids: list[int],
        knobs: SamplingSettings,
        n: int,
        emit: Callable[[dict[str, Any]], None],
        should_stop: Callable[[], bool],
        seed: int | None = None,
        stop: tuple[str, ...] = (),
    ) -> int:
        """Draw up to `n` tokens, handing each to `emit` as it comes; returns how many were drawn."""
        count = 0
        for event in self.tokens(ids, knobs, n, seed=seed, stop=stop):
            if should_stop():
                break
            emit(event)
            count += 1
        return count


async def streamed(
    work: Callable[[Callable[[dict[str, Any]], None]], Any], on_event: Callable[[dict[str, Any]], None]
) -> Any:
    """Run `work(emit)` in a worker thread and hand each emitted event to `on_event` on the event loop, as it
    comes; returns what `work` returned (its exception is raised here)."""
    import asyncio

    from nicegui import run

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    task = asyncio.ensure_future(run.io_bound(work, lambda e: loop.call_soon_threadsafe(queue.put_nowait, e)))
    while not (task.done() and queue.empty()):
        try:
            event = await asyncio.wait_for(queue.get(), timeout=0.1)
        except asyncio.TimeoutError:
            continue
        on_event(event)
    return await task


def warm_in_background() -> None:
    """Start `warm()` on a daemon thread (at server start-up), so stage 6 draws its first chart without waiting for
    torch to import; a missing bundled model is only logged (the page says so when opened)."""
    import logging

    def work() -> None:
        try:
            warm()
        except Exception as e:  # anything here only means the first page waits for the model
            logging.getLogger(__name__).info('bundled model not warmed: %s', e)

    threading.Thread(target=work, name='warm-bundled-model', daemon=True).start()
