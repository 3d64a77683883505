"""Stage 3's "inside a real model": for a prompt and a model, what each part of the diagram really computes.

One forward pass with hooks (`inference.internals.look_inside`, in a worker thread after the page is up: importing
this module loads no torch) gives the token and position embeddings, every head's attention pattern, the residual
stream's norm per layer with each LayerNorm's input and output, the MLP's activation distribution, and the final
logits → probabilities. Five views show them; the diagram's part picks the view (`show_part`) and picking a view
picks the diagram's part (`on_part`), so the two never disagree. Models: the bundled one (simulation mode), and in
real mode also the learner's runs and downloaded GPT-2 weights.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from nicegui import background_tasks, run, ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components import charts
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.prob_pipeline import visible
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.sampler_session import BUNDLED, SamplerSession, available, model_label
from nanogpt_lab.ui.view import View

log = logging.getLogger(__name__)

VIEWS = ('embeddings', 'attention', 'stream', 'mlp', 'next')
PART_VIEW = {
    'wte': 'embeddings',
    'wpe': 'embeddings',
    'c_attn': 'attention',
    'attention': 'attention',
    'attn_proj': 'attention',
    'ln_1': 'stream',
    'ln_2': 'stream',
    'residual': 'stream',
    'ln_f': 'stream',
    'c_fc': 'mlp',
    'gelu': 'mlp',
    'mlp_proj': 'mlp',
    'lm_head': 'next',
}
VIEW_PART = {'embeddings': 'wte', 'attention': 'attention', 'stream': 'residual', 'mlp': 'gelu', 'next': 'lm_head'}
EMBED_DIMS = 48  # embedding columns drawn (of n_embd): enough to see the pattern, small enough to redraw at once
DEFAULT_PROMPT = 'ROMEO:\nBut soft, what light through yonder window breaks?'
DIVERGING = ('#2563eb', '#f8fafc', '#dc2626')


class attention_map(ui.element, component='attention_map.js'):  # noqa: N801 - a NiceGUI component
    """One head's attention pattern on a canvas with the tokens as chips (drawn in the browser from the weights:
    hover a cell for its weight, a token for what it attends to)."""

    def __init__(self, *, tr: Any) -> None:
        super().__init__()
        self._props.update(
            tokens=[],
            weights=[],
            high=1.0,
            summary='',
            hint=tr('walk.inside.attention.hover'),
            attends=tr('walk.inside.attention.attends'),
            cellTemplate=tr('walk.inside.attention.cell'),
            scaleTemplate=tr('walk.inside.attention.scale'),
        )
        self.classes('w-full')

    def show(self, tokens: list[str], weights: list[list[float]], high: float, summary: str) -> None:
        """New tokens and the chosen head's weights (weights[i][j]: token i's attention to token j)."""
        self._props.update(tokens=tokens, weights=weights, high=high, summary=summary)
        self.update()


class model_internals(ui.column):  # noqa: N801 - a NiceGUI component
    """Model and prompt, the view picker, and the five views of one forward pass."""

    def __init__(self, view: View, *, part: str, on_part: Callable[[str], None]) -> None:
        super().__init__()
        self.view, self.tr, self.on_part = view, view.tr, on_part
        self.models = available(view.real, _past_runs() if view.real else [])
        self.model_id = view.param('model', BUNDLED, self.models)
        self.prompt = view.params.get('prompt', DEFAULT_PROMPT)[:2000] or DEFAULT_PROMPT
        self.session = SamplerSession(self.model_id)
        self.shown = PART_VIEW.get(part, 'attention')
        self.layer = self.head = 0
        self.result: tuple[Any, list[str], list[str]] | None = None
        self.provenance = Provenance('live', self.tr('inference.this_machine'), '')
        self._pending = self._drawing = False
        self.classes('w-full gap-3').mark('inside')
        with self:
            self._inputs()
            self._picker()
            self.views = {name: ui.column().classes('w-full gap-3').mark(f'inside-{name}') for name in VIEWS}
            self._build_views()
        self._show_view()
        if view.settings.detect_device:  # torch loads after the page is up, never while it is built
            background_tasks.create(self._load(), name='load model for stage 3')
        else:
            self.status.set_text(self.tr('walk.inside.not_loaded'))

    # --- model and prompt ------------------------------------------------------------------------------------------

    def _inputs(self) -> None:
        tr = self.tr
        with ui.row().classes('w-full gap-3 items-start no-wrap max-md:flex-wrap'):
            with ui.column().classes('w-72 gap-1'):
                options = {m: model_label(m, tr) for m in self.models}
                model = ui.select(
                    options,
                    value=self.model_id,
                    label=tr('walk.inside.model'),
                    on_change=lambda e: self._model(e.value),
                )
                model.classes('w-full').mark('inside-model')
                self.status = ui.label(tr('inference.model.loading')).classes(theme.CAPTION).mark('inside-status')
                if not self.view.real:
                    ui.label(tr('walk.inside.simulation_only')).classes(theme.CAPTION)
            with ui.column().classes('flex-1 gap-1'):
                box = ui.textarea(
                    tr('walk.inside.prompt'), value=self.prompt, on_change=lambda e: self._edited(e.value)
                )
                box.props('outlined autogrow').classes('w-full').mark('inside-prompt')
                self.error = ui.label().classes(theme.ERROR_TEXT).mark('inside-error')
                self.error.props['role'] = 'alert'
                self.seen = ui.label().classes(theme.CAPTION).mark('inside-seen')

    def _model(self, model_id: str) -> None:
        self.view.share(model=model_id)
        ui.navigate.to(self.view.url())  # another model is another page state, as a shared link would open it

    def _edited(self, text: str) -> None:
        self.prompt = text or ''
        self.view.share(prompt=self.prompt[:300])
        background_tasks.create(self.refresh(), name='look inside')

    async def _load(self) -> None:
        try:
            source = await run.io_bound(self.session.load)
        except Exception as e:  # a missing run, weights that do not verify: say so where the learner looks
            log.info('model %s did not load for stage 3: %s', self.model_id, e)
            if not self.status.is_deleted:
                self.status.set_text(self.tr('inference.model.failed', message=self.tr.error(e)))
                self.status.classes(replace=theme.ERROR_TEXT)
            return
        if self.status.is_deleted:
            return
        device = str(source.get('device', 'cpu'))
        self.provenance = Provenance(
            'live', f'{device} · {model_label(self.model_id, self.tr)}', source.get('path', '')
        )
        cfg = self.session.loaded.model.config
        self.status.set_text(
            self.tr('walk.inside.loaded', layers=cfg.n_layer, heads=cfg.n_head, width=cfg.n_embd, ln=cfg.ln_position)
        )
        self._layer_options(cfg.n_layer, cfg.n_head)
        await self.refresh()

    async def refresh(self) -> None:
        """Run the forward pass for the current prompt and redraw the view on screen (coalescing bursts of edits)."""
        self._pending = True
        if self._drawing or self.session.loaded is None:
            return
        self._drawing = True
        try:
            while self._pending:
                self._pending = False
                try:
                    result = await run.io_bound(self.session.inside, self.prompt or '\n')
                except ValueError as e:  # a character the model never saw
                    self._unreadable(self.tr.error(e))
                    continue
                if result is None or self.is_deleted:  # None: the lab is shutting down
                    return
                self.result = result
                self.error.set_text('')
                self._draw()
        finally:
            self._drawing = False

    def _unreadable(self, message: str) -> None:
        """Say why, and show no numbers that belong to another prompt."""
        self.result = None
        self.error.set_text(self.tr('inference.prompt_error', message=message))
        for card in self._cards():
            card.set_data({}, rows=[], summary=self.error.text)
        self.attn_card.set_data(None, rows=[], summary=self.error.text)
        self.attn_card.chart.show([], [], 1.0, self.error.text)

    # --- the view picker, kept in step with the diagram ------------------------------------------------------------

    def _picker(self) -> None:
        tr = self.tr
        with ui.row().classes('w-full items-end gap-3 flex-wrap'):
            names = {v: tr(f'walk.inside.view.{v}') for v in VIEWS}
            self.picker = ui.toggle(names, value=self.shown, on_change=lambda e: self._picked(e.value))
            self.picker.props('no-caps dense unelevated').mark('inside-view')
            self.layer_select = ui.select({0: '1'}, value=0, label=tr('walk.inside.layer'), on_change=self._set_layer)
            self.layer_select.props('dense outlined').classes('w-28').mark('inside-layer')
            self.head_select = ui.select({0: '1'}, value=0, label=tr('walk.inside.head'), on_change=self._set_head)
            self.head_select.props('dense outlined').classes('w-28').mark('inside-head')

    def _layer_options(self, n_layer: int, n_head: int) -> None:
        self.layer_select.set_options({i: str(i + 1) for i in range(n_layer)}, value=min(self.layer, n_layer - 1))
        self.head_select.set_options({i: str(i + 1) for i in range(n_head)}, value=min(self.head, n_head - 1))

    def show_part(self, part: str) -> None:
        """The diagram picked `part`: open the view of its real numbers."""
        shown = PART_VIEW.get(part, self.shown)
        if shown != self.shown:
            self.shown = shown
            self.picker.set_value(shown)
            self._show_view()
            self._draw()

    def _picked(self, shown: str) -> None:
        if shown != self.shown:
            self.shown = shown
            self._show_view()
            self._draw()
            self.on_part(VIEW_PART[shown])  # the diagram and its part list follow

    def _set_layer(self, e: Any) -> None:
        if e.value is not None and e.value != self.layer:
            self.layer = int(e.value)
            self._draw()

    def _set_head(self, e: Any) -> None:
        if e.value is not None and e.value != self.head:
            self.head = int(e.value)
            self._draw()

    def _show_view(self) -> None:
        for name, column in self.views.items():
            column.set_visibility(name == self.shown)
        self.layer_select.set_visibility(self.shown in ('attention', 'mlp'))
        self.head_select.set_visibility(self.shown == 'attention')

    # --- the five views ---------------------------------------------------------------------------------------------

    def _card(
        self, key: str, columns: list[tuple[str, str]], height: str = theme.CHART_HEIGHT, chart: Any = None
    ) -> chart_card:
        tr = self.tr
        waiting = tr('inference.model.loading')
        return chart_card(
            tr(f'walk.inside.{key}.title'),
            {},
            provenance=self.provenance,
            summary=waiting,
            columns=columns,
            rows=[],
            tr=tr,
            marker=f'inside-{key}',
            height=height,
            chart=chart,
        )

    def _build_views(self) -> None:
        tr = self.tr
        with self.views['embeddings']:
            ui.label(tr('walk.inside.embeddings.help')).classes(theme.HELP)
            with ui.element('div').classes(theme.GRID_2):
                dims = [('token', tr('walk.inside.token')), ('norm', tr('walk.inside.norm'))]
                self.tok_card = self._card('tok_emb', dims, 'h-96')
                self.pos_card = self._card('pos_emb', [('position', tr('walk.inside.position')), dims[1]], 'h-96')
        with self.views['attention']:
            ui.label(tr('walk.inside.attention.help')).classes(theme.HELP)
            columns = [('query', tr('walk.inside.attention.query')), ('top', tr('walk.inside.attention.top'))]
            self.attn_card = self._card('attention', columns, chart=lambda: attention_map(tr=tr))
        with self.views['stream']:
            ui.label(tr('walk.inside.stream.help')).classes(theme.HELP)
            with ui.element('div').classes(theme.GRID_2):
                self.stream_card = self._card('stream', [('where', tr('walk.inside.stream.where')), ('norm', 'norm')])
                with ui.card().classes(theme.CARD).props('flat bordered'):
                    ui.label(tr('walk.inside.ln.title')).classes(theme.CARD_TITLE)
                    self.ln_note = ui.label().classes(theme.HELP).mark('inside-ln-note')
                    columns = [
                        {'name': k, 'label': tr(f'walk.inside.ln.{k}'), 'field': k, 'align': 'left'}
                        for k in ('norm', 'on', 'norm_in', 'norm_out')
                    ]
                    self.ln_table = ui.table(columns=columns, rows=[], row_key='norm').props('dense flat bordered')
                    self.ln_table.classes('w-full').mark('inside-ln-table')
                    self.ln_table.props['no-data-label'] = tr('components.chart.no_data')  # Quasar's own is English
        with self.views['mlp']:
            ui.label(tr('walk.inside.mlp.help')).classes(theme.HELP)
            self.mlp_card = self._card(
                'mlp', [('bin', tr('walk.inside.mlp.bin')), ('count', tr('walk.inside.mlp.count'))]
            )
        with self.views['next']:
            ui.label(tr('walk.inside.next.help')).classes(theme.HELP)
            columns = [('token', tr('walk.inside.token')), ('logit', 'logit'), ('prob', tr('walk.inside.next.prob'))]
            self.next_card = self._card('next', columns)
            self.stage6 = ui.link(tr('walk.inside.next.link'), self._stage6_url()).classes('text-sm').mark('to-stage-6')

    def _cards(self) -> list[chart_card]:
        return [self.tok_card, self.pos_card, self.stream_card, self.mlp_card, self.next_card]

    def _stage6_url(self) -> str:
        query = self.view.url('inference')
        return f'{query}&{_query(model=self.model_id, prompt=self.prompt[:300])}'

    def _draw(self) -> None:
        """Redraw the view on screen only: the hidden ones are drawn when they are opened."""
        if self.result is None:
            return
        inside, tokens, _ = self.result
        shown = [visible(t) for t in tokens]
        self.seen.set_text(self.tr('walk.inside.seen', n=len(tokens)))
        {
            'embeddings': self._embeddings,
            'attention': self._attention,
            'stream': self._stream,
            'mlp': self._mlp,
            'next': self._next,
        }[self.shown](inside, shown)

    def _embeddings(self, inside: Any, tokens: list[str]) -> None:
        tr = self.tr
        dims = min(EMBED_DIMS, inside.tok_emb.shape[1])
        columns = [str(d) for d in range(dims)]
        for card, matrix, rows, key in (
            (self.tok_card, inside.tok_emb, tokens, 'tok_emb'),
            (self.pos_card, inside.pos_emb, [str(p) for p in range(len(tokens))], 'pos_emb'),
        ):
            part = matrix[:, :dims]
            high = float(np.abs(part).max()) or 1.0
            name = tr(f'walk.inside.{key}.title')
            options = charts.heatmap(columns, rows, part.tolist(), name=name, low=-high, high=high, colors=DIVERGING)
            norms = np.linalg.norm(matrix, axis=1)
            column = 'token' if key == 'tok_emb' else 'position'
            table = [{column: r, 'norm': f'{n:.3f}'} for r, n in zip(rows, norms, strict=True)]
            summary = tr('walk.inside.embeddings.summary', dims=dims, width=matrix.shape[1], n=len(rows))
            card.set_data(options, rows=table, summary=summary, provenance=self.provenance)

    def _attention(self, inside: Any, tokens: list[str]) -> None:
        tr = self.tr
        layer, head = min(self.layer, inside.n_layer - 1), min(self.head, inside.n_head - 1)
        weights = np.round(inside.attention[layer, head], 3)
        seen = weights[np.tril_indices(len(tokens))]
        high = max(0.05, float(np.quantile(seen, 0.99)))  # a few tokens weigh ~1 and would wash the rest out
        rows = []
        for i, row in enumerate(weights):
            j = int(row[: i + 1].argmax())
            rows.append({'query': f'{i}: {tokens[i]}', 'top': f'{tokens[j]} ({row[j]:.2f})'})
        top = int(weights[-1].argmax())
        summary = tr(
            'walk.inside.attention.summary', layer=layer + 1, head=head + 1, token=tokens[-1], top=tokens[top],
            weight=f'{weights[-1][top]:.2f}',
        )  # fmt: skip
        self.attn_card.set_data(None, rows=rows, summary=summary, provenance=self.provenance)
        self.attn_card.chart.show(tokens, weights.tolist(), round(high, 2), summary)

    def _stream(self, inside: Any, tokens: list[str]) -> None:
        tr = self.tr
        means = inside.stream_norm.mean(axis=1)
        where = [tr('walk.inside.stream.embedded')] + [
            tr('walk.inside.stream.after', n=i + 1) for i in range(inside.n_layer)
        ]
        name = tr('walk.inside.stream.series')
        options = charts.bar(where, [charts.Series(name, [round(float(m), 3) for m in means], theme.PRIMARY)])
        rows = [{'where': w, 'norm': f'{m:.3f}'} for w, m in zip(where, means, strict=True)]
        summary = tr('walk.inside.stream.summary', first=f'{means[0]:.2f}', last=f'{means[-1]:.2f}', n=inside.n_layer)
        self.stream_card.set_data(options, rows=rows, summary=summary, provenance=self.provenance)
        self.ln_note.set_text(tr(f'walk.inside.ln.{inside.ln_position}'))
        self.ln_table.rows = [
            {
                'norm': n.name if n.layer is None else f'h[{n.layer}].{n.name}',
                'on': tr('walk.inside.ln.stream' if n.on_stream else 'walk.inside.ln.branch'),
                'norm_in': f'{n.norm_in:.2f}',
                'norm_out': f'{n.norm_out:.2f}',
            }
            for n in inside.norms
        ]
        self.ln_table.update()

    def _mlp(self, inside: Any, tokens: list[str]) -> None:
        tr = self.tr
        layer = min(self.layer, inside.n_layer - 1)
        edges, counts = inside.mlp_edges, inside.mlp_hist[layer]
        bins = [f'{(a + b) / 2:.2f}' for a, b in zip(edges[:-1], edges[1:], strict=True)]
        name = tr('walk.inside.mlp.series', layer=layer + 1)
        options = charts.bar(bins, [charts.Series(name, counts.tolist(), '#16a34a')], log_scale=True)
        rows = [{'bin': b, 'count': int(c)} for b, c in zip(bins, counts, strict=True)]
        off, mean, peak = inside.mlp_stats[layer]
        summary = tr(
            'walk.inside.mlp.summary', layer=layer + 1, off=f'{100 * off:.0f}', mean=f'{mean:.3f}', max=f'{peak:.2f}',
            units=f'{int(counts.sum()):,}',
        )  # fmt: skip
        self.mlp_card.set_data(options, rows=rows, summary=summary, provenance=self.provenance)

    def _next(self, inside: Any, tokens: list[str]) -> None:
        tr = self.tr
        names = [visible(t) for t in self.result[2]] if self.result else []
        series = charts.Series(tr('walk.inside.next.prob'), [round(p, 4) for p in inside.next_probs], theme.PRIMARY)
        options = charts.bar(names, [series], horizontal=True)
        rows = [
            {'token': t, 'logit': f'{lg:.2f}', 'prob': f'{p:.4f}'}
            for t, lg, p in zip(names, inside.next_logits, inside.next_probs, strict=True)
        ]
        summary = tr('walk.inside.next.summary', token=names[0], prob=f'{inside.next_probs[0]:.3f}', after=tokens[-1])
        self.next_card.set_data(options, rows=rows, summary=summary, provenance=self.provenance)
        self.stage6.props['href'] = self._stage6_url()
        self.stage6.update()


def _query(**params: str) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


def _past_runs() -> list[dict[str, Any]]:
    from nanogpt_lab.ui.components import run_sources
    from nanogpt_lab.ui.components.job_progress import jobs_client

    return run_sources.past_runs(jobs_client())
