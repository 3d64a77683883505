"""Stage 7's report card: every model of a lineage (base → SFT → DPO) scored the same way, from report.json's `card`
(`nanogpt-lab report`, evaluation.card), so what each step bought or cost is read off one table.

A table (val loss in nats and bits per character, held-out exact match with English and Chinese in separate columns,
the style win rate, held-out preference accuracy, each model's provenance: run, commit, device, date), a chart (its
table toggle shows exact match per task kind beside its chance level), the contamination warning, a download of
report.json, and the newest model's answers beside its parent's on the same held-out prompts (`card.before_after`).
Simulation mode shows the recorded DPO run's card (asset `dpo-lab-tasks`); real mode shows the chosen run's, and
"Make the report card" runs the `report` job on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nicegui import ui

from nanogpt_lab.errors import LabError
from nanogpt_lab.evaluation.report_file import REPORT_FILE, read_report
from nanogpt_lab.jobs.client import JobsClient
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.charts import Series, bar
from nanogpt_lab.ui.components.job_progress import job_progress
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.section import note
from nanogpt_lab.ui.components.task_accuracy import kind_label
from nanogpt_lab.ui.i18n import Translator

RECORDED = 'dpo-lab-tasks'  # the recorded DPO run of the bundled chat model (tools/record_alignment.py)
DOWNLOAD = '/api/runs/{run}/report.json'
BARS = ('en', 'zh', 'style', 'preferences')  # the chart's groups, one bar per model in each
COLORS = {'base': theme.MUTED, 'sft': theme.TRAIN, 'dpo': theme.VAL}
LANGS = ('en', 'zh')
SIDES = ('before', 'after')


def percent(x: float | None) -> str:
    """A share as a whole percentage, '—' when it was not measured."""
    return '—' if x is None else f'{100 * x:.0f}%'


def figures(model: dict[str, Any]) -> dict[str, float | None]:
    """A model's headline shares (None where the card has no such figure): the chart's bars."""
    tasks = model.get('tasks') or {}
    return {
        'en': (tasks.get('en') or {}).get('accuracy'),
        'zh': (tasks.get('zh') or {}).get('accuracy'),
        'style': (model.get('style') or {}).get('win_rate'),
        'preferences': (model.get('preferences') or {}).get('accuracy'),
    }


def model_label(model: dict[str, Any], tr: Translator) -> str:
    """'SFT · sft-20261207-…': the stage, then the run or released model it names."""
    return tr('alignment.report.model', stage=tr(f'alignment.report.stage.{model["stage"]}'), name=model['name'])


def provenance_text(model: dict[str, Any], tr: Translator) -> str:
    """Where a model's figures come from (its run, the commit that scored it, the device and the date), then the
    card's notes on it: how it was scored, why a figure is absent."""
    p = model.get('provenance')
    parts = [tr.message(n['code'], n['params']) for n in model.get('notes', [])]
    if p:
        commit = (p.get('commit') or '?')[:10]
        where = tr('alignment.report.provenance', run=p['run'], commit=commit, device=p['device'], date=p['date'])
        parts.insert(0, where)
    return '; '.join(parts) or '—'


def model_rows(card: dict[str, Any], tr: Translator) -> list[dict[str, Any]]:
    """The table: one row per model of the lineage, oldest first."""
    rows = []
    for i, model in enumerate(card['models']):
        loss = next(iter((model.get('text_loss') or {}).values()), None)
        shares = figures(model)
        row = {'i': i, 'model': model_label(model, tr), 'provenance': provenance_text(model, tr)}
        row['nats'] = f'{loss["nats_per_token"]:.3f}' if loss else '—'
        row['bpc'] = f'{loss["bits_per_char"]:.3f}' if loss and loss.get('bits_per_char') is not None else '—'
        rows.append(row | {key: percent(value) for key, value in shares.items()})
    return rows


def kind_rows(card: dict[str, Any], tr: Translator) -> list[dict[str, Any]]:
    """Exact match per task kind and language, one column per model: accuracy, chance level, chance-centred."""
    rows = []
    for lang in LANGS:
        columns = [((m.get('tasks') or {}).get(lang) or {}).get('kinds') or {} for m in card['models']]
        for kind in dict.fromkeys(k for column in columns for k in column):
            row: dict[str, Any] = {'kind': tr('alignment.report.kind', kind=kind_label(kind, tr), lang=lang.upper())}
            for i, column in enumerate(columns):
                k = column.get(kind)
                row[f'm{i}'] = (
                    tr('alignment.report.kind_cell', accuracy=percent(k['accuracy']), chance=percent(k['chance']),
                       centred=f'{k["centred"]:+.2f}')
                    if k else '—'
                )  # fmt: skip
            rows.append(row)
    return rows


def chart(card: dict[str, Any], tr: Translator) -> dict[str, Any]:
    """Grouped bars: per headline share, one bar per model, coloured by its stage."""
    series = [
        Series(model_label(m, tr), [round(100 * v, 1) if (v := figures(m)[b]) is not None else 0 for b in BARS],
               COLORS.get(m['stage'], theme.MUTED))
        for m in card['models']
    ]  # fmt: skip
    options = bar([tr(f'alignment.report.col.{b}') for b in BARS], series, value_name=tr('alignment.report.axis'))
    options['yAxis']['max'] = 100
    return options


def summary(card: dict[str, Any], tr: Translator) -> str:
    """One sentence for screen readers and the headline: each model's English and Chinese exact match."""
    parts = [
        tr('alignment.report.summary_model', model=model_label(m, tr), en=percent(figures(m)['en']),
           zh=percent(figures(m)['zh']))
        for m in card['models']
    ]  # fmt: skip
    return tr('alignment.report.summary', models='; '.join(parts))


def recorded_card(tr: Translator) -> tuple[dict[str, Any], Provenance, Path] | None:
    """The recorded DPO run's card, its provenance and its report.json; None until the asset is recorded."""
    from nanogpt_lab.simulation import assets

    try:
        info = assets.get_asset(RECORDED)
        report = assets.read_json(RECORDED, REPORT_FILE)
        return report['card'], Provenance.asset(RECORDED, info.date, tr), info.path / REPORT_FILE
    except (OSError, ValueError, KeyError, TypeError, LabError):
        return None


def asked(row: dict[str, Any], tr: Translator) -> str:
    """A before-and-after row's prompt, with the system message it was asked under, if any."""
    system = next((m['content'] for m in row.get('messages', []) if m['role'] == 'system'), None)
    return tr('alignment.report.answers.with_system', prompt=row['prompt'], system=system) if system else row['prompt']


class report_card(ui.column):  # noqa: N801 - a NiceGUI component
    """`report_card(tr=..., client=..., real=..., run=RUN_ID|None)`: the recorded card in simulation mode, the run's
    card in real mode with "Make the report card" (the `report` job) beside it."""

    def __init__(
        self, *, tr: Translator, client: JobsClient | None, real: bool, run: str | None, marker: str = 'report'
    ) -> None:
        super().__init__()
        self.tr, self.jobs, self.run = tr, client, run
        self.marker = marker
        self.classes('w-full gap-3').mark(marker)
        with self:
            self.headline = ui.label().classes('text-sm font-semibold').mark(f'{marker}-headline')
            if real:
                self._make_row()
            self.warning = ui.column().classes('w-full gap-1').mark(f'{marker}-warnings')
            self.body = ui.column().classes('w-full gap-3')
        self.body.set_visibility(False)
        self.load(real)

    def _make_row(self) -> None:
        tr, marker = self.tr, self.marker
        with ui.row().classes('items-center gap-3'):
            self.make = ui.button(tr('alignment.report.make'), icon='grading', on_click=self._make)
            self.make.props('outline no-caps').mark(f'{marker}-make')
            self.make.set_enabled(self.run is not None and self.jobs is not None)
            ui.label(tr('alignment.report.make_help')).classes(theme.CAPTION)
        self.progress = job_progress(tr=tr, marker=f'{marker}-job')

    def load(self, real: bool) -> None:
        """Show the card there is: the recording (simulation), the run's report.json (real), or say why none."""
        tr = self.tr
        if not real:
            recorded = recorded_card(tr)
            if recorded is None:
                self.headline.set_text(tr('alignment.report.not_recorded', name=RECORDED))
            else:
                self.show(*recorded)
            return
        if self.run is None or self.jobs is None:
            self.headline.set_text(tr('alignment.report.pick_run'))
            return
        card = read_report(self.jobs.run_dir(self.run)).get('card')
        if card is None:
            self.headline.set_text(tr('alignment.report.not_made'))
            return
        device = (card['models'][-1].get('provenance') or {}).get('device', '?')
        self.show(card, Provenance.live(device, self.run), DOWNLOAD.format(run=self.run))

    def show(self, card: dict[str, Any], provenance: Provenance, download: str | Path) -> None:
        """Draw `card` (report.json's section); `download` is report.json's URL (a run) or file (the recording)."""
        tr = self.tr
        self.headline.set_text(summary(card, tr))
        self._warnings(card)
        self.body.clear()
        with self.body:
            self._table(card)
            columns = [('kind', tr('alignment.report.col.kind'))]
            columns += [(f'm{i}', model_label(m, tr)) for i, m in enumerate(card['models'])]
            self.chart = chart_card(
                tr('alignment.report.chart'), chart(card, tr), provenance=provenance, summary=summary(card, tr),
                columns=columns, rows=kind_rows(card, tr), tr=tr, marker=f'{self.marker}-chart',
            )  # fmt: skip
            self._download(download)
            answers_side_by_side(
                card.get('before_after'), tr=tr, provenance=provenance, marker=f'{self.marker}-answers'
            )
        self.body.set_visibility(True)

    def _warnings(self, card: dict[str, Any]) -> None:
        self.warning.clear()
        with self.warning:
            for w in card.get('warnings', []):
                note(self.tr.message(w['code'], w['params']), kind='warn', marker=f'{self.marker}-warning')
            for overlap in card.get('contamination', [])[:5]:
                text = self.tr('alignment.report.overlap', prompt=overlap['prompt'], source=overlap['source'])
                ui.label(text).classes(theme.CAPTION).props('translate=no').mark(f'{self.marker}-overlap')  # data

    def _table(self, card: dict[str, Any]) -> None:
        tr = self.tr
        keys = ('model', 'nats', 'bpc', *BARS, 'provenance')
        columns = [{'name': k, 'label': tr(f'alignment.report.col.{k}'), 'field': k, 'align': 'left'} for k in keys]
        table = ui.table(columns=columns, rows=model_rows(card, tr), row_key='i').classes('w-full')
        table.props('dense flat bordered wrap-cells').mark(f'{self.marker}-table')

    def _download(self, download: str | Path) -> None:
        tr = self.tr
        if isinstance(download, Path):
            button = ui.button(tr('alignment.report.download'), icon='download',
                               on_click=lambda: ui.download.file(download))  # fmt: skip
            button.props('flat no-caps').mark(f'{self.marker}-download')
            return
        link = ui.link(tr('alignment.report.download'), download).classes('text-sm').mark(f'{self.marker}-download')
        link.props('download')  # the server names the file <run>-report.json

    async def _make(self) -> None:
        """The `report` job on the chosen run, its progress live; the card when it ends."""
        assert self.jobs is not None and self.run is not None
        try:
            job = self.jobs.submit('report', {'out_dir': self.run})
        except ValueError as e:
            self.headline.set_text(self.tr('components.job.error', message=self.tr.error(e)))
            return
        end = await self.progress.follow_from(self.make, self.jobs, job)
        if end and end.get('status') == 'succeeded' and not self.is_deleted:
            self.load(real=True)


class answers_side_by_side(ui.column):  # noqa: N801 - a NiceGUI component
    """The newest model's and its parent's greedy answers to the same held-out prompts, each marked right or wrong."""

    def __init__(self, pairs: dict[str, Any] | None, *, tr: Translator, provenance: Provenance, marker: str) -> None:
        super().__init__()
        self.classes('w-full gap-2').mark(marker)
        with self:
            ui.label(tr('alignment.report.answers.title')).classes(theme.CARD_TITLE)
            if not pairs:
                ui.label(tr('alignment.report.answers.none')).classes(theme.CAPTION).mark(f'{marker}-none')
                return
            counts = {side: pairs['correct'][side] for side in SIDES}
            text = tr('alignment.report.answers.summary', before=pairs['before'], after=pairs['after'],
                      right_before=counts['before'], right_after=counts['after'], total=pairs['total'])  # fmt: skip
            ui.label(text).classes('text-sm').mark(f'{marker}-summary')
            ui.label(provenance.text(tr)).classes(theme.CAPTION).style(
                f'color: {theme.PROVENANCE_COLORS[provenance.kind]}'
            )
            self._table(pairs, tr, marker)

    def _table(self, pairs: dict[str, Any], tr: Translator, marker: str) -> None:
        labels = {k: tr(f'alignment.report.answers.{k}') for k in ('kind', 'prompt', 'expected')}
        labels |= {s: tr(f'alignment.report.answers.{s}', name=pairs[s]) for s in SIDES}
        columns = [{'name': k, 'label': label, 'field': k, 'align': 'left'} for k, label in labels.items()]
        rows = []
        for i, row in enumerate(pairs['rows']):
            cells = {s: tr(f'alignment.report.answers.{"right" if row[s]["correct"] else "wrong"}',
                           answer=row[s]['answer']) for s in SIDES}  # fmt: skip
            kind = tr('alignment.report.kind', kind=kind_label(row['kind'], tr), lang=row['lang'].upper())
            rows.append({'i': i, 'kind': kind, 'prompt': asked(row, tr), 'expected': row['expected'], **cells})
        table = ui.table(columns=columns, rows=rows, row_key='i').classes('w-full')
        table.props('dense flat bordered wrap-cells translate=no').mark(f'{marker}-table')  # the learner's data
