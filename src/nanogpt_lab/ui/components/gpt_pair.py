"""Stage 4's GPT-1 vs GPT-2: the same text through each design (`config.GPT_PAIR`), their held-out losses on one
chart in bits per character, the unit both share, and beside it in nats per token, the unit each reports.

Simulation mode replays the recorded pair (`gpt-pair-gpt1`, `gpt-pair-gpt2`); real mode trains both here, after
preparing the two datasets of the same text if they are missing. Both arrive as the same events.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import ui

from nanogpt_lab.config import GPT_PAIR, TrainConfig
from nanogpt_lab.ui import dataset_stats, theme
from nanogpt_lab.ui.components import run_sources
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.config_form import NEVER_SHOWN
from nanogpt_lab.ui.components.job_progress import job_progress
from nanogpt_lab.ui.components.loss_chart import Curves, curves_options
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.section import note, section
from nanogpt_lab.ui.view import View

SIDES = ('gpt1', 'gpt2')
ASSETS = {side: f'gpt-pair-{side}' for side in SIDES}
COLORS = {'gpt1': '#b45309', 'gpt2': '#4338ca'}  # amber and indigo: never the train/val colours
UNITS = ('bpc', 'nats')


class gpt_pair(ui.column):  # noqa: N801 - a NiceGUI component
    """The pair's section: what differs, the two charts, and Replay / Train both here."""

    def __init__(self, view: View, manager: Any) -> None:
        super().__init__()
        self.view, self.tr, self.manager = view, view.tr, manager
        tr = self.tr
        self.classes('w-full')
        self.runs = {side: run_sources.recorded(ASSETS[side], self.tr) for side in SIDES}
        with self, section(tr('gpt1.pair.title'), tr('gpt1.pair.help'), marker='pair'):
            self._designs()
            if None in self.runs.values():
                note(tr('gpt1.pair.missing'), kind='warn', marker='pair-missing')
                return
            self.curves = {side: run_sources.recorded_curves(ASSETS[side]) for side in SIDES}
            self.provenance = _joined([r.provenance for r in self.runs.values() if r])
            with ui.element('div').classes(theme.GRID_2):
                self.cards = {unit: self._card(unit) for unit in UNITS}
            self._controls()
            ui.label(tr('gpt1.pair.why')).classes(theme.HELP)
        self.timer = ui.timer(0.5, self._redraw, active=False)

    def _designs(self) -> None:
        """The plan's table, for these two runs: tokenizer, LayerNorm place, context."""
        tr = self.tr
        with ui.element('div').classes(theme.GRID_2):
            for side in SIDES:
                train = GPT_PAIR[side]['train']
                with (
                    ui.card()
                    .classes(theme.CARD)
                    .props('flat bordered')
                    .style(f'border-top: 4px solid {COLORS[side]}') as card
                ):
                    card.mark(f'pair-design-{side}')
                    ui.label(tr(f'gpt1.pair.{side}')).classes(theme.CARD_TITLE)
                    facts = tr(
                        f'gpt1.pair.{side}_facts',
                        context=train['block_size'],
                        ln=train['ln_position'],
                        dataset=train['dataset'],
                    )
                    ui.label(facts).classes('text-sm')

    def _card(self, unit: str) -> chart_card:
        tr = self.tr
        options, rows, summary = self._chart(unit)
        columns = [('iter', tr('components.loss.iterations')), *((s, tr(f'gpt1.pair.{s}')) for s in SIDES)]
        return chart_card(
            tr(f'gpt1.pair.{unit}_title'),
            options,
            provenance=self.provenance,
            summary=summary,
            columns=columns,
            rows=rows,
            tr=tr,
            marker=f'pair-{unit}',
        )

    def _chart(self, unit: str) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
        """Each side's val loss at its evaluations, in bits per character or in nats per token."""
        tr = self.tr
        points = {side: _val(self.curves[side], unit) for side in SIDES}
        series = [(tr(f'gpt1.pair.{side}'), points[side], COLORS[side]) for side in SIDES]
        axis = tr('gpt1.units.bpc_axis' if unit == 'bpc' else 'gpt1.units.nats_axis')
        options = curves_options(series, x_name=tr('components.loss.iterations'), y_name=axis)
        for item in options['series']:
            item.update(showSymbol=True, symbolSize=6)
        by_iter: dict[int, dict[str, Any]] = {}
        for side in SIDES:
            for it, value in points[side]:
                by_iter.setdefault(int(it), {'iter': int(it)})[side] = round(value, 4)
        rows = [by_iter[i] for i in sorted(by_iter)]
        last = {side: points[side][-1][1] for side in SIDES if points[side]}
        summary = ''
        if len(last) == 2:
            summary = tr(f'gpt1.pair.{unit}_summary', gpt1=f'{last["gpt1"]:.3f}', gpt2=f'{last["gpt2"]:.3f}')
        return options, rows, summary

    def _controls(self) -> None:
        tr = self.tr
        with ui.row().classes('items-center gap-3 w-full flex-wrap'):
            label = tr('gpt1.pair.run_here') if self.view.real else tr('gpt1.pair.replay')
            self.button = ui.button(label, icon='replay', on_click=self._run).props('outline no-caps').mark('pair-run')
            if self.view.real:
                self.iters = ui.number(tr('gpt1.pair.iters'), value=400, min=10, max=5000, step=10)
                self.iters.props('dense outlined').classes('w-40').mark('pair-iters')
        self.bars = {side: job_progress(tr=tr, marker=f'pair-job-{side}') for side in SIDES}

    async def _run(self) -> None:
        """Replay both recordings (or prepare what is missing, then train both here) into the two charts."""
        if self.manager is None:
            return
        self.button.set_enabled(False)
        try:
            if self.view.real and not await self._prepare_missing():
                return
            jobs = {side: self.manager.submit(*self._request(side)) for side in SIDES}
        except ValueError as e:
            ui.notify(self.tr('components.job.error', message=self.tr.error(e)), type='negative')
            return
        finally:
            self.button.set_enabled(True)
        self.curves = {side: Curves() for side in SIDES}
        if self.view.real:
            devices = ', '.join(jobs['gpt1'].get('devices') or ['cpu'])
            self.provenance = Provenance.live(devices, ' + '.join(j['id'] for j in jobs.values()))
        self.button.set_enabled(False)
        self.timer.active = True
        try:
            await asyncio.gather(*(self.bars[s].follow(self.manager, jobs[s], self.curves[s].add) for s in SIDES))
        finally:
            self.timer.active = False
            if not self.button.is_deleted:
                self._redraw()
                self.button.set_enabled(True)

    async def _prepare_missing(self) -> bool:
        """Real mode trains on data prepared here: prepare each side's dataset of the same text if it is missing."""
        for side in SIDES:
            if dataset_stats.workspace_dir(GPT_PAIR[side]['train']['dataset']) is None:
                job = self.manager.submit('prepare-data', dict(GPT_PAIR[side]['data']))
                end = await self.bars[side].follow(self.manager, job)
                if not end or end.get('status') != 'succeeded':
                    return False
        return True

    def _request(self, side: str) -> tuple[str, dict[str, Any]]:
        run = self.runs[side]
        assert run is not None
        if not self.view.real:
            return 'simulate', {'asset': run.name, 'speed': 'instant'}  # recorded over an hour: no one waits 6 min
        keep = {k: v for k, v in run.config.items() if k in TrainConfig.model_fields and k not in NEVER_SHOWN}
        iters = int(self.iters.value or 400)
        return 'train', {**keep, 'max_iters': iters, 'lr_decay_iters': iters, 'device': 'auto', 'threads': 0}

    def _redraw(self) -> None:
        for unit, card in self.cards.items():
            options, rows, summary = self._chart(unit)
            card.set_data(options, rows=rows, summary=summary, provenance=self.provenance)


def _val(curves: Curves, unit: str) -> list[list[float]]:
    return curves.val_bpc if unit == 'bpc' else curves.val


def _joined(provenances: list[Provenance]) -> Provenance:
    """One label for a chart drawn from both recordings."""
    return Provenance(
        provenances[0].kind,
        ' + '.join(p.source for p in provenances),
        ' · '.join(p.detail for p in provenances if p.detail),
    )
