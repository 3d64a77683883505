"""Stage 6: inference — a prompt, the sampling controls, the next-token distribution after every step of the
sampling pipeline, and text generated one token at a time, side by side, or as a conversation.

The model's logits for the current text are computed once (in a worker thread, after the page is up); every
control then redraws the charts from them without running the model again. Models: the bundled tiny model
(simulation mode), and in real mode also the learner's runs and downloaded GPT-2 weights.
URL parameters: model, prompt, t (temperature), k (top-k), p (top-p), rep, max, seed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nicegui import background_tasks, run, ui

from nanogpt_lab.config import PRETRAINED
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components import prob_pipeline, run_sources
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.job_progress import job_manager
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.sampled_text import sampled_text
from nanogpt_lab.ui.components.sampler_session import BUNDLED, RUN_PREFIX, Knobs, SamplerSession, available, streamed
from nanogpt_lab.ui.components.section import section
from nanogpt_lab.ui.view import View

log = logging.getLogger(__name__)

# Temperature moves in small steps where it matters (around 1) and big ones beyond: the slider is an index.
TEMPERATURES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0)
TOP_KS = (1, 2, 3, 5, 10, 20, 40, 100, 200, 0)  # 0: no cut (the slider's right end)
SAMPLES_SIDE_BY_SIDE = 3
PIPELINE_AFTER_S = 0.02  # the six-panel chart follows the main one by this much
DEFAULT_PROMPT = 'JULIET:\nO Romeo, Romeo! wherefore art thou '  # ends mid-line: many plausible next tokens


def create(view: View) -> None:
    """Fill stage 6's column."""
    InferencePage(view)


def torch_allowed(view: View) -> bool:
    """Models load (importing torch) after the page is up, except in tests that check pages stay torch-free."""
    return view.settings.detect_device


def _nearest(values: tuple, value: float) -> int:
    return min(range(len(values)), key=lambda i: abs(values[i] - value))


class InferencePage:
    """Stage 6's widgets and this tab's sampling state."""

    def __init__(self, view: View) -> None:
        self.view, self.tr = view, view.tr
        runs = run_sources.past_runs(job_manager()) if view.real else []
        self.models = available(view.real, runs)
        self.model_id = view.param('model', BUNDLED, self.models)
        self.prompt = view.params.get('prompt', DEFAULT_PROMPT)[:2000] or DEFAULT_PROMPT
        self.knobs = Knobs(
            temperature=TEMPERATURES[_nearest(TEMPERATURES, _float(view.params.get('t'), 0.8))],
            top_k=TOP_KS[_nearest(TOP_KS, view.int_param('k', 200, 0, 200))],
            top_p=min(1.0, max(0.05, round(_float(view.params.get('p'), 1.0) * 20) / 20)),
            repetition_penalty=min(2.0, max(1.0, round(_float(view.params.get('rep'), 1.0) * 20) / 20)),
        )
        self.max_tokens = view.int_param('max', 100, 1, 1000)
        self.seed = view.int_param('seed', 1337, 0, 2**31 - 1)
        self.session = SamplerSession(self.model_id)
        self.prompt_ids: list[int] | None = None
        self.events: list[dict[str, Any]] = []
        self.busy, self.stop_asked, self._pending, self._drawing = False, False, False, False
        self._new_provenance = False  # a freshly loaded model's provenance goes out with the next draw only
        ui.label(self.tr('inference.intro')).classes(theme.HELP)
        self._explore_section()
        self._generate_section()
        self._samples_section()
        self._chat_section()
        if torch_allowed(view):
            background_tasks.create(self._load(), name='load model')
        else:
            self.status.set_text(self.tr('inference.model.not_loaded'))
            self._no_model(self.tr('inference.model.not_loaded'))

    # --- model, prompt, controls and the two charts ------------------------------------------------------------------

    def _explore_section(self) -> None:
        tr = self.tr
        with section(tr('inference.explore.title'), tr('inference.explore.help'), marker='explore'):
            with ui.element('div').classes('w-full grid grid-cols-1 lg:grid-cols-5 gap-4'):
                # the chart comes first in the page (screen readers reach it first); wide screens show it on the right
                with ui.column().classes('lg:col-span-3 lg:order-2 gap-2 w-full'):
                    self.next_chart = self._chart('next', 'h-72')
                with ui.column().classes('lg:col-span-2 lg:order-1 gap-2 w-full'):
                    self._model_picker()
                    self.prompt_box = ui.textarea(
                        tr('inference.prompt'), value=self.prompt, on_change=lambda e: self._set_prompt(e.value)
                    )
                    self.prompt_box.props('outlined autogrow debounce=250').classes('w-full').mark('prompt')
                    self.prompt_error = ui.label().classes(theme.ERROR_TEXT).mark('prompt-error')
                    self._controls()
            self.pipeline_chart = self._chart('pipeline', 'h-[30rem]')
            ui.label(tr('inference.pipeline.help')).classes(theme.HELP)

    def _model_picker(self) -> None:
        tr = self.tr
        options = {m: self._model_label(m) for m in self.models}
        ui.select(
            options,
            value=self.model_id,
            label=tr('inference.model.label'),
            on_change=lambda e: self._set_model(e.value),
        ).classes('w-full').mark('model')
        self.status = ui.label(tr('inference.model.loading')).classes(theme.CAPTION).mark('model-status')
        if not self.view.real:
            ui.label(tr('inference.model.simulation_only')).classes(theme.CAPTION)

    def _model_label(self, model_id: str) -> str:
        if model_id == BUNDLED:
            return self.tr('inference.model.bundled')
        if model_id in PRETRAINED:
            return self.tr('inference.model.weights', name=model_id)
        return self.tr('inference.model.run', run=model_id.removeprefix(RUN_PREFIX))

    def _controls(self) -> None:
        tr, k = self.tr, self.knobs
        self.value_labels: dict[str, ui.label] = {}
        self.temperature = self._slider('temperature', len(TEMPERATURES) - 1, _nearest(TEMPERATURES, k.temperature))
        self.top_k = self._slider('top_k', len(TOP_KS) - 1, TOP_KS.index(k.top_k) if k.top_k in TOP_KS else 8)
        self.top_p = self._slider('top_p', 1.0, k.top_p, low=0.05, step=0.05)
        self.rep = self._slider('repetition_penalty', 2.0, k.repetition_penalty, low=1.0, step=0.05)
        self.max_slider = self._slider('max_tokens', 500, min(self.max_tokens, 500), low=1, step=1)
        with ui.row().classes('items-center gap-2'):
            seed = ui.number(
                tr('inference.controls.seed'),
                value=self.seed,
                min=0,
                step=1,
                format='%d',
                on_change=lambda e: self._set_seed(e.value),
            )
            seed.props('dense outlined').classes('w-36').mark('seed')
        self._show_values()

    def _slider(self, name: str, high: float, value: float, *, low: float = 0, step: float = 1) -> ui.slider:
        with ui.column().classes('w-full gap-0'):
            with ui.row().classes('w-full items-baseline justify-between'):
                ui.label(self.tr(f'inference.controls.{name}')).classes('text-sm font-medium')
                label = ui.label().classes('font-mono text-sm').mark(f'{name}-value')
            slider = ui.slider(min=low, max=high, step=step, value=value, on_change=lambda e: self._knob_changed())
            slider.props('dense').classes('w-full').mark(name)
            self.value_labels[name] = label
            ui.label(self.tr(f'inference.controls.{name}_help')).classes(theme.CAPTION)
        return slider

    def _chart(self, name: str, height: str) -> chart_card:
        tr = self.tr
        columns = [('token', tr('inference.chart.token')), ('id', 'id')]
        columns += [(s, tr(f'inference.stage.{s}')) for s in prob_pipeline.STAGES]
        return chart_card(
            tr(f'inference.chart.{name}'),
            prob_pipeline.waiting_options(tr('inference.model.loading')),
            provenance=self._provenance(),
            columns=columns,
            rows=[],
            summary=tr('inference.model.loading'),
            tr=tr,
            marker=f'{name}-chart',
            height=height,
        )

    def _provenance(self, source: dict[str, Any] | None = None) -> Provenance:
        device = (source or {}).get('device', self.tr('inference.this_machine'))
        where = (source or {}).get('path', '')  # shown on hover: the folder or checkpoint the weights came from
        return Provenance('live', f'{device} · {self._model_label(self.model_id)}', str(where))

    # --- reacting to the controls ---------------------------------------------------------------------------------

    def _show_values(self) -> None:
        k, show = self.knobs, {name: label.set_text for name, label in self.value_labels.items()}
        greedy = self.tr('inference.controls.greedy') if k.temperature == 0 else ''
        show['temperature'](f'{k.temperature:g}{greedy}')
        show['top_k'](str(k.top_k) if k.top_k else self.tr('inference.controls.off'))
        show['top_p'](f'{k.top_p:.2f}')
        show['repetition_penalty'](f'{k.repetition_penalty:.2f}')
        show['max_tokens'](str(self.max_tokens))

    def _knob_changed(self) -> None:
        self.knobs = Knobs(
            temperature=TEMPERATURES[int(self.temperature.value)],
            top_k=TOP_KS[int(self.top_k.value)],
            top_p=round(float(self.top_p.value), 2),
            repetition_penalty=round(float(self.rep.value), 2),
        )
        self.max_tokens = int(self.max_slider.value)
        self._show_values()
        k = self.knobs
        self.view.share(t=k.temperature, k=k.top_k, p=k.top_p, rep=k.repetition_penalty, max=self.max_tokens)
        background_tasks.create(self.redraw(), name='redraw distribution')

    def _set_seed(self, value: Any) -> None:
        if value is None:
            return
        self.seed = int(value)
        self.view.share(seed=self.seed)
        if self.session.loaded is not None:
            background_tasks.create(run.io_bound(self.session.reseed, self.seed), name='reseed')

    def _set_prompt(self, text: str) -> None:
        self.prompt = text or ''
        self.events = []
        self.text.show(self.prompt, self.events)
        self.view.share(prompt=self.prompt[:300])
        background_tasks.create(self._encode_and_draw(), name='encode prompt')

    def _set_model(self, model_id: str) -> None:
        self.view.share(model=model_id)
        ui.navigate.to(self.view.url())  # a new model is a new page state: reload it, as a shared link would

    async def _load(self) -> None:
        """Load the model in a worker thread and draw the first distribution as soon as its logits exist."""
        try:
            source, ids, first = await run.io_bound(self.session.open, self.seed, self.prompt or '\n', self.knobs)
        except Exception as e:  # a missing run, weights that do not verify: say so where the learner looks
            log.info('model %s did not load: %s', self.model_id, e)
            if not self.status.is_deleted:
                self.status.set_text(self.tr('inference.model.failed', message=str(e)))
                self.status.classes(replace=theme.ERROR_TEXT)
                self._no_model(self.tr('inference.model.unavailable'))
            return
        if self.status.is_deleted:
            return
        self.status.set_text(self.tr('inference.model.loaded', **_describe(source)))
        self.provenance, self._new_provenance = self._provenance(source), True
        self._set_enabled(True)
        self.prompt_ids = ids
        if ids is None:
            self.prompt_error.set_text(self.tr('inference.prompt_error', message=str(first)))
        else:
            await self._draw(first)
            if self._pending:  # a control moved while the model loaded
                await self.redraw()

    def _no_model(self, message: str) -> None:
        """Empty axes that say why there is nothing to draw."""
        for chart in (self.next_chart, self.pipeline_chart):
            chart.set_data(prob_pipeline.waiting_options(message), rows=[], summary=message)

    async def _encode_and_draw(self) -> None:
        if self.session.loaded is None:
            return
        try:
            self.prompt_ids = await run.io_bound(self.session.encode, self.prompt or '\n')
            self.prompt_error.set_text('')
        except ValueError as e:  # a character the model never saw
            self.prompt_ids = None
            self.prompt_error.set_text(self.tr('inference.prompt_error', message=str(e)))
            return
        await self.redraw()

    def context(self) -> list[int]:
        """The token ids the next token follows: the prompt, then everything generated so far."""
        return [*(self.prompt_ids or []), *(e['id'] for e in self.events)]

    async def redraw(self) -> None:
        """Recompute every pipeline stage from the cached logits and redraw both charts (coalescing bursts)."""
        self._pending = True
        if self._drawing or self.session.loaded is None or self.prompt_ids is None:
            return
        self._drawing = True
        try:
            while self._pending:
                self._pending = False
                view = await run.io_bound(self.session.view, self.context(), self.knobs)
                if view is None or self.next_chart.is_deleted:  # None: the lab is shutting down
                    return
                await self._draw(view)
        finally:
            self._drawing = False

    async def _draw(self, view: dict[str, Any]) -> None:
        """The next-token chart first (its own message to the browser), then the six-panel pipeline."""
        tr = self.tr
        labels = {s: tr(f'inference.stage.{s}') for s in prob_pipeline.STAGES}
        labels.update(prob=tr('inference.chart.prob'), model=tr('inference.chart.raw'),
                      final=tr('inference.chart.final'), panel=tr('inference.chart.panel'))  # fmt: skip
        token, prob = prob_pipeline.top_token(view)
        summary = tr('inference.chart.summary', token=token, prob=f'{prob:.3f}', t=f'{self.knobs.temperature:g}')
        rows = prob_pipeline.table_rows(view)
        provenance, self._new_provenance = (getattr(self, 'provenance', None) if self._new_provenance else None), False
        options = prob_pipeline.next_token_options(view, labels)
        self.next_chart.set_data(options, rows=rows, summary=summary, provenance=provenance)
        await asyncio.sleep(PIPELINE_AFTER_S)  # lets the main chart go out alone: it is what the learner watches
        if not self.pipeline_chart.is_deleted:
            options = prob_pipeline.pipeline_options(view, labels)
            self.pipeline_chart.set_data(options, rows=rows, summary=summary, provenance=provenance)

    # --- generating -------------------------------------------------------------------------------------------------

    def _generate_section(self) -> None:
        tr = self.tr
        with section(tr('inference.generate.title'), tr('inference.generate.help'), marker='generate-section'):
            with ui.row().classes('gap-2 items-center'):
                self.step_button = ui.button(tr('inference.generate.step'), icon='skip_next', on_click=self._step)
                self.step_button.props('unelevated no-caps').mark('step')
                self.gen_button = ui.button(tr('inference.generate.run'), icon='play_arrow', on_click=self._generate)
                self.gen_button.props('unelevated no-caps').mark('generate')
                self.stop_button = ui.button(tr('inference.generate.stop'), icon='stop', on_click=self._stop)
                self.stop_button.props('outline no-caps color=negative').mark('stop-generate')
                ui.button(tr('inference.generate.reset'), icon='restart_alt', on_click=self._reset).props(
                    'flat no-caps'
                ).mark('reset')
            self.text = sampled_text(tr=tr).mark('generated')
            self.text.show(self.prompt, [])
            self.last = ui.label().classes(theme.CAPTION).mark('last-draw')
            ui.label(tr('inference.generate.hover')).classes(theme.CAPTION)
        self._set_enabled(False)

    def _set_enabled(self, ready: bool) -> None:
        for button in (self.step_button, self.gen_button):
            button.set_enabled(ready and not self.busy)
        self.stop_button.set_enabled(self.busy)
        if hasattr(self, 'sample_button'):
            self.sample_button.set_enabled(ready and not self.busy)
            self.send_button.set_enabled(ready and not self.busy)

    def _took(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.last.set_text(
            self.tr(
                'inference.generate.last',
                token=prob_pipeline.visible(event['token']),
                prob=f'{event["prob"]:.3f}',
                raw=f'{event["raw_prob"]:.3f}',
            )
        )

    async def _step(self) -> None:
        """Draw one token from exactly the distribution shown, then show the next one's."""
        if self.busy or self.prompt_ids is None:
            return
        await self._drawing_tokens(1)

    async def _generate(self) -> None:
        if self.busy or self.prompt_ids is None:
            return
        await self._drawing_tokens(self.max_tokens)

    async def _drawing_tokens(self, n: int) -> None:
        self.busy, self.stop_asked = True, False
        self._set_enabled(True)
        ids, knobs = self.context(), self.knobs

        def work(emit: Any) -> int:
            return self.session.run(ids, knobs, n, emit, lambda: self.stop_asked)

        def show(event: dict[str, Any]) -> None:
            self._took(event)
            self.text.show(self.prompt, self.events)

        try:
            await streamed(work, show)
        except Exception as e:
            self.last.set_text(self.tr('components.job.error', message=str(e)))
        finally:
            self.busy = False
            if not self.text.is_deleted:
                self._set_enabled(True)
                await self.redraw()

    def _stop(self) -> None:
        self.stop_asked = True

    async def _reset(self) -> None:
        """Back to the prompt alone, with a fresh random stream from the seed."""
        self.events = []
        self.text.show(self.prompt, [])
        self.last.set_text('')
        if self.session.loaded is not None:
            await run.io_bound(self.session.reseed, self.seed)
        await self.redraw()

    # --- several samples, and a conversation ----------------------------------------------------------------------

    def _samples_section(self) -> None:
        tr = self.tr
        with section(tr('inference.samples.title'), tr('inference.samples.help'), marker='samples'):
            self.sample_button = (
                ui.button(
                    tr('inference.samples.run', n=SAMPLES_SIDE_BY_SIDE), icon='view_column', on_click=self._samples
                )
                .props('outline no-caps')
                .mark('run-samples')
            )
            with ui.element('div').classes(theme.GRID_3):
                self.columns = []
                for i in range(SAMPLES_SIDE_BY_SIDE):
                    with ui.card().classes(theme.CARD).props('flat bordered').mark('sample-column'):
                        heading = ui.label(tr('inference.samples.seed', seed=self.seed + i)).classes(theme.CARD_TITLE)
                        self.columns.append((heading, sampled_text(tr=tr)))

    async def _samples(self) -> None:
        """The same prompt and settings, one sample per seed: only the random draws differ."""
        if self.busy or self.prompt_ids is None:
            return
        self.busy = True
        self._set_enabled(True)
        try:
            for i, (heading, text) in enumerate(self.columns):
                seed = self.seed + i
                heading.set_text(self.tr('inference.samples.seed', seed=seed))
                events: list[dict[str, Any]] = []
                await self._one_sample(seed, events, text)
        finally:
            self.busy = False
            self._set_enabled(True)

    async def _one_sample(self, seed: int, events: list[dict[str, Any]], text: sampled_text) -> None:
        ids, knobs, n = list(self.prompt_ids or []), self.knobs, self.max_tokens

        def show(event: dict[str, Any]) -> None:
            events.append(event)
            text.show(self.prompt, events)

        await streamed(lambda emit: self.session.run(ids, knobs, n, emit, lambda: self.stop_asked, seed=seed), show)

    def _chat_section(self) -> None:
        tr = self.tr
        with section(tr('inference.chat.title'), tr('inference.chat.help'), marker='chat'):
            self.chat = ui.column().classes('w-full gap-1 max-h-96 overflow-y-auto').mark('chat-log')
            with ui.row().classes('w-full items-center no-wrap gap-2'):
                self.chat_input = ui.input(tr('inference.chat.placeholder')).props('outlined dense').classes('flex-1')
                self.chat_input.mark('chat-input').on('keydown.enter', self._send)
                self.send_button = ui.button(tr('inference.chat.send'), icon='send', on_click=self._send)
                self.send_button.props('unelevated no-caps').mark('chat-send')
        self.transcript = ''

    async def _send(self) -> None:
        """The conversation so far plus the new line is the prompt; the model continues until a blank line."""
        line = (self.chat_input.value or '').strip()
        if not line or self.busy or self.session.loaded is None:
            return
        self.chat_input.value = ''
        self.transcript += line + '\n'
        with self.chat:
            ui.chat_message(line, name=self.tr('inference.chat.you'), sent=True)
            reply = ui.chat_message(name=self.tr('inference.chat.model')).mark('chat-reply')
        try:
            ids = await run.io_bound(self.session.encode, self.transcript[-4000:])
        except ValueError as e:
            reply.clear()
            with reply:
                ui.label(self.tr('inference.prompt_error', message=str(e)))
            return
        await self._reply(ids, reply)

    async def _reply(self, ids: list[int], reply: ui.chat_message) -> None:
        self.busy = True
        self._set_enabled(True)
        pieces: list[str] = []
        with reply:
            label = ui.label().classes('whitespace-pre-wrap font-mono text-sm')
        knobs, n = self.knobs, self.max_tokens
        try:
            await streamed(
                lambda emit: self.session.run(ids, knobs, n, emit, lambda: self.stop_asked, stop=('\n\n',)),
                lambda e: (pieces.append(e['text']), label.set_text(''.join(pieces))),
            )
        finally:
            self.transcript += ''.join(pieces) + '\n'
            self.busy = False
            self._set_enabled(True)


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _describe(source: dict[str, Any]) -> dict[str, str]:
    """What the status line says about a loaded model."""
    return {
        'device': str(source.get('device', '?')),
        'tokenizer': str(source.get('tokenizer', '?')),
        'dtype': str(source.get('dtype', '?')),
    }
