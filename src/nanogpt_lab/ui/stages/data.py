"""Stage 1: from raw text to train.bin / val.bin — dataset cards, preparation, statistics and a batch inspector.

Simulation mode shows recorded statistics instantly; real mode prepares datasets with `prepare-data` jobs and
follows them live. A learner's own upload is always prepared for real (nothing about it was recorded).
URL parameters: dataset, block, seed.
"""

from __future__ import annotations

from nicegui import ui

from nanogpt_lab.ui import dataset_stats, estimates, theme
from nanogpt_lab.ui.components import charts
from nanogpt_lab.ui.components.batch_inspector import batch_inspector
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.coverage_chart import coverage_chart
from nanogpt_lab.ui.components.dataset_card import dataset_card
from nanogpt_lab.ui.components.deferred import deferred
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.section import note, section, stat
from nanogpt_lab.ui.components.token_view import TokenChip, token_view
from nanogpt_lab.ui.view import View

TOP_SHOWN = 30


def create(view: View) -> None:
    """Fill stage 1's column."""
    DataPage(view)


class DataPage:
    """Stage 1's widgets: the cards (each prepares its dataset), the chosen dataset's statistics, a batch."""

    def __init__(self, view: View) -> None:
        self.view, self.tr = view, view.tr
        self.dataset = view.param('dataset', 'shakespeare_char')
        self.done: dict[str, str] = {}  # card -> the dataset it prepared while this page was open (its ✓)
        ui.label(self.tr('data.intro')).classes(theme.HELP)
        self._pipeline()
        with section(self.tr('data.cards.title'), self.tr('data.cards.help')):
            self.cards()
        deferred(self._below_cards)

    def _below_cards(self) -> None:
        """The chosen dataset's statistics and batches (built after the first paint)."""
        self.stats_view()
        self.batch = batch_inspector(self.view, self.dataset)

    def _pipeline(self) -> None:
        """raw text → tokenizer → ids → train.bin + val.bin (+ meta.pkl): the whole stage in one line."""
        steps = [self.tr(f'data.pipeline.{k}') for k in ('text', 'encode', 'ids', 'split', 'files')]
        with ui.row().classes('items-center gap-2 flex-wrap text-sm').mark('pipeline'):
            for i, step in enumerate(steps):
                if i:
                    ui.icon('arrow_forward').classes('text-gray-400')
                ui.label(step).classes('rounded-md bg-gray-100 px-2 py-1 font-mono')

    @ui.refreshable_method
    def cards(self) -> None:
        """The four dataset cards, then one per dataset the learner prepared from their own text."""
        names = [*dataset_stats.CARDS, *dataset_stats.own_datasets()]
        with ui.element('div').classes('w-full grid grid-cols-1 md:grid-cols-2 xl:grid-cols-4 gap-4'):
            for name in names:
                dataset_card(
                    name,
                    tr=self.tr,
                    real=self.view.real,
                    selected=name == self.dataset,
                    on_show=self._select,
                    on_prepared=self._prepared,
                    done=self.done.get(name),
                )

    def _prepared(self, card: str, dataset: str) -> None:
        self.done[card] = dataset
        self._select(dataset)

    def _select(self, name: str) -> None:
        """Show a dataset: its statistics and batches, its card highlighted, its name in the shareable URL."""
        self.dataset = name
        self.view.share(dataset=name)
        self.cards.refresh()
        self.stats_view.refresh()
        self.batch.show(name)

    # --- statistics ----------------------------------------------------------------------------------------------

    @ui.refreshable_method
    def stats_view(self) -> None:
        """The chosen dataset's numbers, frequency chart, split and first tokens (or why there are none)."""
        tr, name = self.tr, self.dataset
        with section(
            tr('data.stats.title', name=tr(f'data.cards.{name}.title') if name in dataset_stats.CARDS else name),
            tr('data.stats.help'),
            marker='stats',
        ):
            found = dataset_stats.stats_for(name, self.view.real, tr)
            if found is None and name == 'openwebtext':
                self._published_openwebtext()
                return
            if found is None:
                note(tr('data.stats.none_real' if self.view.real else 'data.stats.none_sim'), marker='stats-none')
                return
            if found.stand_in_note:
                self._published_openwebtext()
                note(tr('data.owt.stand_in'), kind='warn', marker='stand-in').props['title'] = found.stand_in_note
            stats, provenance = found.stats, found.provenance
            self._stat_tiles(stats, provenance)
            with ui.element('div').classes(theme.GRID_2):
                with ui.column().classes('gap-4'):
                    self._frequency_chart(stats, provenance)
                    card = coverage_chart(stats, provenance, tr)
                    if card is not None:
                        ui.label(card.summary.text).classes(theme.HELP).mark('coverage-sentence')
                with ui.column().classes('gap-4'):
                    self._split_chart(stats['tokens']['train'], stats['tokens']['val'], provenance)
                    self._preview(stats)

    def _stat_tiles(self, stats: dict, provenance: Provenance) -> None:
        tr = self.tr
        with ui.row().classes(theme.ROW_WRAP):
            if stats.get('characters') is not None:
                stat(tr('data.stats.characters'), f'{stats["characters"]:,}', marker='stat-characters')
            stat(tr('data.stats.tokens'), f'{stats["tokens"]["total"]:,}', marker='stat-tokens')
            stat(tr('data.stats.vocab'), f'{stats["vocab_size"]:,}', marker='stat-vocab')
            if stats.get('documents'):
                stat(tr('data.stats.documents'), f'{stats["documents"]:,}', marker='stat-documents')
        ui.label(provenance.text(tr)).classes(f'{theme.CAPTION} font-medium').style(
            f'color: {theme.PROVENANCE_COLORS[provenance.kind]}'
        ).mark('stats-provenance')

    def _frequency_chart(self, stats: dict, provenance: Provenance) -> None:
        tr = self.tr
        top = stats.get('top_tokens', [])[:TOP_SHOWN]
        names = [_visible(t['text']) for t in top]
        counts = [t['count'] for t in top]
        options = charts.bar(names, [charts.Series(tr('data.stats.count'), counts, theme.TRAIN)], horizontal=True)
        rows = [{'token': n, 'id': t['id'], 'count': f'{t["count"]:,}'} for n, t in zip(names, top, strict=True)]
        columns = [('token', tr('data.stats.col_token')), ('id', 'id'), ('count', tr('data.stats.count'))]
        summary = tr('data.stats.freq_summary', token=names[0], count=f'{counts[0]:,}') if top else ''
        chart_card(
            tr('data.stats.freq_title', n=len(top)),
            options,
            provenance=provenance,
            summary=summary,
            columns=columns,
            rows=rows,
            tr=tr,
            marker='freq',
            height='h-[36rem]',
        )

    def _split_chart(self, train: int, val: int, provenance: Provenance) -> None:
        tr = self.tr
        options = charts.split_bar(train, val, tr('data.split.train'), tr('data.split.val'))
        rows = [
            {'split': tr('data.split.train'), 'tokens': f'{train:,}'},
            {'split': tr('data.split.val'), 'tokens': f'{val:,}'},
        ]
        summary = tr(
            'data.split.summary', train=f'{train:,}', val=f'{val:,}', share=f'{100 * val / max(train + val, 1):.1f}'
        )
        chart_card(
            tr('data.split.title'),
            options,
            provenance=provenance,
            summary=summary,
            columns=[('split', tr('data.split.col')), ('tokens', tr('data.stats.tokens'))],
            rows=rows,
            tr=tr,
            marker='split',
            height='h-24',
        )
        ui.label(tr('data.split.why')).classes(theme.HELP)

    def _preview(self, stats: dict) -> None:
        tr = self.tr
        preview = stats.get('preview') or []
        with ui.card().classes(theme.CARD).props('flat bordered').mark('preview'):
            ui.label(tr('data.preview.title', n=len(preview))).classes(theme.CARD_TITLE)
            ui.label(tr('data.preview.help')).classes(theme.CAPTION)
            token_view([TokenChip(p['text'], p['id']) for p in preview], tr=tr, show_whitespace=True, show_ids=True)

    def _published_openwebtext(self) -> None:
        tr, owt = self.tr, estimates.OPENWEBTEXT
        provenance = Provenance('formula', tr('data.owt.published', source=tr('sources.openwebtext')))
        with ui.row().classes(theme.ROW_WRAP):
            stat(tr('data.stats.documents'), f'{owt["documents"]:,}', marker='stat-documents')
            stat(tr('data.stats.tokens'), f'{owt["train_tokens"] + owt["val_tokens"]:,}', marker='stat-tokens')
            stat(tr('data.stats.vocab'), '50,257', marker='stat-vocab')
        self._split_chart(owt['train_tokens'], owt['val_tokens'], provenance)


def _visible(text: str) -> str:
    """Make a frequency chart's labels readable: '␣' for a space, '↵' for a newline."""
    return text.replace(' ', '␣').replace('\n', '↵').replace('\t', '→') or '∅'
