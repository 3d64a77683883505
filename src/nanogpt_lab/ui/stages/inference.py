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

from nanogpt_lab.config import SAMPLE_TEMPERATURE, SAMPLE_TOP_K, SamplingSettings
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components import prob_pipeline, run_sources
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.job_progress import jobs_client
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.sampled_text import sampled_text
from nanogpt_lab.ui.components.sampler_session import (
    BUNDLED,
    SamplerSession,
    available,
    model_label,
    streamed,
)
from nanogpt_lab.ui.components.sampling_controls import TEMPERATURES, TOP_KS, nearest, sampling_controls
from nanogpt_lab.ui.components.sampling_panels import chat_panel, sample_columns
from nanogpt_lab.ui.components.section import section
from nanogpt_lab.ui.view import View

log = logging.getLogger(__name__)

PIPELINE_AFTER_S = 0.02  # the six-panel chart follows the main one by this much
DEFAULT_PROMPT = 'JULIET:\nO Romeo, Romeo! wherefore art thou '  # ends mid-line: many plausible next tokens


def create(view: View) -> None:
    """Fill stage 6's column."""
    InferencePage(view)


def torch_allowed(view: View) -> bool:
    """Models load (importing torch) after the page is up, except in tests that check pages stay torch-free."""
    return view.settings.detect_device


class InferencePage:
    """Stage 6's widgets and this tab's sampling state."""

    def __init__(self, view: View) -> None:
        self.view, self.tr = view, view.tr
        runs = run_sources.past_runs(jobs_client()) if view.real else []
        self.models = available(view.real, runs)
        self.model_id = view.param('model', BUNDLED, self.models)
        self.prompt = view.params.get('prompt', DEFAULT_PROMPT)[:2000] or DEFAULT_PROMPT
        self.initial_knobs = SamplingSettings(
            temperature=TEMPERATURES[nearest(TEMPERATURES, _float(view.params.get('t'), SAMPLE_TEMPERATURE))],
            top_k=TOP_KS[nearest(TOP_KS, view.int_param('k', SAMPLE_TOP_K, 0, 200))],
            top_p=min(1.0, max(0.05, round(_float(view.params.get('p'), 1.0) * 20) / 20)),
            repetition_penalty=min(2.0, max(1.0, round(_float(view.params.get('rep'), 1.0) * 20) / 20)),
        )
        self.initial_max = view.int_param('max', 100, 1, 1000)
        self.seed = view.int_param('seed', 1337, 0, 2**31 - 1)
        self.session = SamplerSession(self.model_id)
        self.prompt_ids: list[int] | None = None
        self.events: list[dict[str, Any]] = []
        self.busy, self.stop_asked, self._pending, self._drawing = False, False, False, False
        self.ready = False  # a model is loaded
        self._new_provenance = False  # a freshly loaded model's provenance goes out with the next draw only
        ui.label(self.tr('inference.intro')).classes(theme.HELP)
        self._explore_section()
        self._generate_section()
        with section(self.tr('inference.samples.title'), self.tr('inference.samples.help'), marker='samples'):
            self.samples = sample_columns(tr=self.tr, host=self)
        with section(self.tr('inference.chat.title'), self.tr('inference.chat.help'), marker='chat'):
            ui.link(self.tr('alignment.from_stage6'), view.url('alignment')).classes('text-sm').mark('to-stage7')
            self.chat = chat_panel(tr=self.tr, host=self)
        self._set_enabled()
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
        options = {m: model_label(m, self.tr) for m in self.models}
        ui.select(
            options,
            value=self.model_id,
            label=tr('inference.model.label'),
            on_change=lambda e: self._set_model(e.value),
        ).classes('w-full').mark('model')
        self.status = ui.label(tr('inference.model.loading')).classes(theme.CAPTION).mark('model-status')
        if not self.view.real:
            ui.label(tr('inference.model.simulation_only')).classes(theme.CAPTION)

    def _controls(self) -> None:
        self.controls = sampling_controls(
            tr=self.tr,
            knobs=self.initial_knobs,
            max_tokens=self.initial_max,
            seed=self.seed,
            on_change=self._knob_changed,
            on_seed=self._set_seed,
        )

    @property
    def knobs(self) -> SamplingSettings:
        """The sampling controls' current values."""
        return self.controls.knobs

    @property
    def max_tokens(self) -> int:
        """How many tokens Generate draws."""
        return self.controls.max_tokens

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
        return Provenance('live', f'{device} · {model_label(self.model_id, self.tr)}', str(where))

    # --- reacting to the controls ---------------------------------------------------------------------------------

    def _knob_changed(self) -> None:
        k = self.knobs
        self.view.share(t=k.temperature, k=k.top_k, p=k.top_p, rep=k.repetition_penalty, max=self.max_tokens)
        background_tasks.create(self.redraw(), name='redraw distribution')

    def _set_seed(self, value: int) -> None:
        self.seed = value
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
                self.status.set_text(self.tr('inference.model.failed', message=self.tr.error(e)))
                self.status.classes(replace=theme.ERROR_TEXT)
                self._no_model(self.tr('inference.model.unavailable'))
            return
        if self.status.is_deleted:
            return
        self.status.set_text(self.tr('inference.model.loaded', **_describe(source)))
        self.provenance, self._new_provenance = self._provenance(source), True
        self.ready = True
        self._set_enabled()
        self.prompt_ids = ids
        if ids is None:
            self._unreadable(self.tr.error(first))
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
            self._unreadable(self.tr.error(e))
            return
        await self.redraw()

    def _unreadable(self, message: str) -> None:
        """A prompt the model cannot read: say why, beside the prompt and on the charts (no stale distribution)."""
        self.prompt_ids = None
        text = self.tr('inference.prompt_error', message=message)
        self.prompt_error.set_text(text)
        self._no_model(text)

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

    def _set_enabled(self) -> None:
        for button in (self.step_button, self.gen_button, self.samples.button, self.chat.button):
            button.set_enabled(self.ready and not self.busy)
        self.stop_button.set_enabled(self.busy)

    def set_busy(self, busy: bool) -> None:
        """One generation at a time: the samples and the chat take turns with Generate."""
        self.busy = busy
        if not self.stop_button.is_deleted:
            self._set_enabled()

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
        self.stop_asked = False
        self.set_busy(True)
        ids, knobs = self.context(), self.knobs

        def work(emit: Any) -> int:
            return self.session.run(ids, knobs, n, emit, lambda: self.stop_asked)

        def show(event: dict[str, Any]) -> None:
            self._took(event)
            self.text.show(self.prompt, self.events)

        try:
            await streamed(work, show)
        except Exception as e:
            self.last.set_text(self.tr('components.job.error', message=self.tr.error(e)))
        finally:
            self.set_busy(False)
            if not self.text.is_deleted:
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
