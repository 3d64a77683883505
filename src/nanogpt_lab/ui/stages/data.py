"""Stage 1: from raw text to train.bin / val.bin — dataset cards, preparation, statistics and a batch inspector.

Simulation mode shows recorded statistics instantly; real mode prepares datasets with `prepare-data` jobs and
follows them live. A learner's own upload is always prepared for real (nothing about it was recorded).
URL parameters: dataset, block, seed.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from nicegui import run, ui

from nanogpt_lab import workspace
from nanogpt_lab.ui import datasets, estimates, theme
from nanogpt_lab.ui.components import charts
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.job_progress import job_manager, job_progress
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.section import note, section, stat
from nanogpt_lab.ui.components.token_view import TokenChip, token_view
from nanogpt_lab.ui.view import View

UPLOAD_TYPES = '.txt,.md,.jsonl'
BATCH_ROWS = 4
TOP_SHOWN = 30
HEADLINES = {  # engine error code -> the data.errors.<kind> line that says what to do about it on this page
    'data.empty': 'empty',
    'data.binary': 'binary',
    'data.nul_byte': 'binary',
    'data.utf16': 'not_utf8',
    'data.not_utf8': 'not_utf8',
    'data.too_small': 'too_small',
    'data.char_vocab': 'char_vocab',
    'data.jsonl_invalid': 'jsonl',
    'data.jsonl_no_text': 'jsonl',
}


def create(view: View) -> None:
    """Fill stage 1's column."""
    DataPage(view)


class DataPage:
    """Stage 1's widgets: the cards, the job panel, the statistics of the chosen dataset, the batch inspector."""

    def __init__(self, view: View) -> None:
        self.view, self.tr = view, view.tr
        self.dataset = view.param('dataset', 'shakespeare_char')
        self.block = view.int_param('block', 8, 2, 32)
        self.seed = view.int_param('seed', 1337, 0, 2**31 - 1)
        self.tokenizer = 'char'
        ui.label(self.tr('data.intro')).classes(theme.HELP)
        self._pipeline()
        with section(self.tr('data.cards.title'), self.tr('data.cards.help')):
            with ui.element('div').classes('w-full grid grid-cols-1 md:grid-cols-2 xl:grid-cols-4 gap-4'):
                for name in datasets.CARDS:
                    self._card(name)
            self.job = job_progress(tr=self.tr, marker='prepare-job', explain=self._explain)
            self.upload_error = ui.label().classes(theme.ERROR_TEXT).mark('upload-error')
            self.upload_error.props['role'] = 'alert'
        self.stats_view()
        self.batch_view()

    def _pipeline(self) -> None:
        """raw text → tokenizer → ids → train.bin + val.bin (+ meta.pkl): the whole stage in one line."""
        steps = [self.tr(f'data.pipeline.{k}') for k in ('text', 'encode', 'ids', 'split', 'files')]
        with ui.row().classes('items-center gap-2 flex-wrap text-sm').mark('pipeline'):
            for i, step in enumerate(steps):
                if i:
                    ui.icon('arrow_forward').classes('text-gray-400')
                ui.label(step).classes('rounded-md bg-gray-100 px-2 py-1 font-mono')

    # --- dataset cards -------------------------------------------------------------------------------------------

    def _card(self, name: str) -> None:
        tr = self.tr
        selected = name == self.dataset
        border = 'border-indigo-600 ring-2 ring-indigo-200' if selected else ''
        with ui.card().classes(f'{theme.CARD} {border}').props('flat bordered').mark(f'card-{name}'):
            ui.label(tr(f'data.cards.{name}.title')).classes(theme.CARD_TITLE)
            ui.label(tr(f'data.cards.{name}.about')).classes(theme.CAPTION)
            if name == 'openwebtext':
                self._openwebtext_facts()
            elif name == 'custom':
                self._upload()
                return
            else:
                self._card_facts(name)
            self._card_actions(name)

    def _card_facts(self, name: str) -> None:
        found = datasets.stats_for(name, self.view.real, self.tr)
        if found is None:
            ui.label(self.tr('data.cards.not_prepared')).classes('text-sm text-gray-600').mark(f'card-{name}-state')
            return
        stats, provenance = found.stats, found.provenance
        tokens = stats['tokens']['total']
        ui.label(self.tr('data.cards.facts', tokens=f'{tokens:,}', vocab=f'{stats["vocab_size"]:,}')).classes('text-sm')
        ui.label(provenance.text(self.tr)).classes(theme.CAPTION).style(
            f'color: {theme.PROVENANCE_COLORS[provenance.kind]}'
        ).mark(f'card-{name}-state')

    def _card_actions(self, name: str) -> None:
        tr = self.tr
        with ui.row().classes('gap-2 mt-auto'):
            ui.button(tr('data.cards.show'), on_click=lambda: self._select(name)).props('outline dense no-caps').mark(
                f'show-{name}'
            )
            if self.view.real:
                start = self._confirm_openwebtext if name == 'openwebtext' else lambda: self._prepare({'dataset': name})
                ui.button(tr('data.cards.prepare'), on_click=start).props('unelevated dense no-caps').mark(
                    f'prepare-{name}'
                )

    async def _confirm_openwebtext(self) -> None:
        """OpenWebText is a 54 GB download and hours of tokenizing: ask once more before starting."""
        tr = self.tr
        with ui.dialog() as dialog, ui.card().classes('gap-3 max-w-lg').mark('owt-confirm'):
            ui.label(tr('data.owt.confirm')).classes('text-sm')
            with ui.row().classes('justify-end w-full gap-2'):
                ui.button(tr('data.owt.cancel'), on_click=lambda: dialog.submit(False)).props('flat no-caps')
                ui.button(tr('data.owt.start'), on_click=lambda: dialog.submit(True)).props('unelevated no-caps')
        if await dialog:
            await self._prepare({'dataset': 'openwebtext'})
        dialog.delete()

    def _openwebtext_facts(self) -> None:
        tr, owt = self.tr, estimates.OPENWEBTEXT
        ui.label(
            tr(
                'data.owt.facts',
                docs=f'{owt["documents"]:,}',
                gb=owt['download_bytes'] // 10**9,
                tokens=f'{owt["train_tokens"] + owt["val_tokens"]:,}',
                bin_gb=owt['train_bin_bytes'] // 10**9,
            )
        ).classes('text-sm').mark('owt-facts')
        estimate = ui.label(tr('data.owt.measuring')).classes('text-sm font-medium').mark('owt-estimate')
        ui.label(tr('data.owt.source', source=estimates.OPENWEBTEXT_SOURCE)).classes(theme.CAPTION)

        async def measure() -> None:
            rate = await run.io_bound(estimates.bpe_tokens_per_second, tr('tokenizers.samples.shakespeare') * 40)
            procs = await run.io_bound(estimates.prepare_processes)
            total = owt['train_tokens'] + owt['val_tokens']
            hours = total / (rate * procs) / 3600
            if not estimate.is_deleted:
                estimate.set_text(
                    tr(
                        'data.owt.estimate',
                        hours=f'{hours:.1f}',
                        rate=f'{rate:,.0f}',
                        procs=procs,
                        download_h=f'{owt["download_bytes"] * 8 / 100e6 / 3600:.1f}',
                    )
                )

        ui.timer(0.3, measure, once=True)

    def _upload(self) -> None:
        tr = self.tr
        ui.label(tr('data.upload.always_real')).classes(theme.CAPTION)
        ui.toggle(
            {'char': tr('data.upload.char'), 'gpt2': tr('data.upload.gpt2')},
            value=self.tokenizer,
            on_change=lambda e: setattr(self, 'tokenizer', e.value),
        ).props('dense no-caps').mark('upload-tokenizer')
        limit = _upload_limit()
        upload = ui.upload(
            label=tr('data.upload.drop'),
            auto_upload=True,
            max_file_size=limit,
            on_upload=self._uploaded,
            on_rejected=lambda: self._rejected(limit),
        )
        upload.props(f'accept="{UPLOAD_TYPES}" flat bordered').classes('w-full').mark('upload')

    def _explain(self, event: dict) -> str:
        """A failed preparation, in the page's language: what to do about this kind of problem, then the details."""
        kind = HEADLINES.get(event.get('error_code') or event.get('code') or '', 'other')
        return self.tr(
            'data.errors.detail', headline=self.tr(f'data.errors.{kind}'), message=self.tr.event_message(event)
        )

    def _rejected(self, limit: int) -> None:
        self.upload_error.set_text(self.tr('data.upload.too_large', mb=f'{limit / 1e6:,.0f}', types=UPLOAD_TYPES))

    async def _uploaded(self, e: Any) -> None:
        """Store the file in the workspace's uploads/ and prepare it (the engine says what is wrong with it)."""
        self.upload_error.set_text('')
        limit = _upload_limit()
        if e.file.size() > limit:  # the browser checks too, but a file can arrive without that check
            self._rejected(limit)
            return
        name = _upload_name(e.file.name)
        target = workspace.home() / 'uploads' / name
        await run.io_bound(_store, target, await e.file.read())
        dataset = workspace.sanitize_name(Path(name).stem, fallback='custom')
        await self._prepare({'dataset': 'custom', 'input': name, 'name': dataset, 'tokenizer': self.tokenizer}, dataset)

    # --- preparing (a real job) ----------------------------------------------------------------------------------

    async def _prepare(self, params: dict[str, Any], name: str | None = None) -> None:
        manager = job_manager()
        if manager is None:
            self.upload_error.set_text(self.tr('data.no_server'))
            return
        try:
            job = manager.submit('prepare-data', params)  # as a remote caller: workspace names only, no paths
        except ValueError as e:  # ConfigError: a key the engine rejects
            self.upload_error.set_text(self.tr('components.job.error', message=self.tr.error(e)))
            return
        end = await self.job.follow(manager, job)
        if end and end.get('status') == 'succeeded' and not self.job.is_deleted:
            self._select(name or params['dataset'])

    def _select(self, name: str) -> None:
        """Show a dataset: reload the page on it, so its URL is the shareable view (cards show the new state too)."""
        ui.navigate.to(self.view.url_with(dataset=name))

    # --- statistics ----------------------------------------------------------------------------------------------

    @ui.refreshable_method
    def stats_view(self) -> None:
        """The chosen dataset's numbers, frequency chart, split and first tokens (or why there are none)."""
        tr, name = self.tr, self.dataset
        with section(
            tr('data.stats.title', name=tr(f'data.cards.{name}.title') if name in datasets.CARDS else name),
            tr('data.stats.help'),
            marker='stats',
        ):
            found = datasets.stats_for(name, self.view.real, tr)
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
                self._frequency_chart(stats, provenance)
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
        provenance = Provenance('formula', tr('data.owt.published', source=estimates.OPENWEBTEXT_SOURCE))
        with ui.row().classes(theme.ROW_WRAP):
            stat(tr('data.stats.documents'), f'{owt["documents"]:,}', marker='stat-documents')
            stat(tr('data.stats.tokens'), f'{owt["train_tokens"] + owt["val_tokens"]:,}', marker='stat-tokens')
            stat(tr('data.stats.vocab'), '50,257', marker='stat-vocab')
        self._split_chart(owt['train_tokens'], owt['val_tokens'], provenance)

    # --- batch inspector -----------------------------------------------------------------------------------------

    @ui.refreshable_method
    def batch_view(self) -> None:
        """Four random windows x and their targets y, from train.bin (live) or the recorded first tokens."""
        tr = self.tr
        with section(tr('data.batch.title'), tr('data.batch.help'), marker='batch'):
            rows, provenance, source_len = self._batch()
            if rows is None:
                note(tr('data.batch.none'), marker='batch-none')
                return
            with ui.row().classes('items-center gap-3 w-full'):
                ui.label(tr('data.batch.block')).classes('text-sm')
                ui.slider(min=2, max=32, value=self.block, on_change=lambda e: self._set_block(int(e.value))).props(
                    'label snap'
                ).classes('w-64').mark('batch-block')
                ui.button(tr('data.batch.again'), icon='casino', on_click=self._reroll).props(
                    'outline dense no-caps'
                ).mark('batch-again')
            ui.label(provenance.text(tr)).classes(theme.CAPTION).style(
                f'color: {theme.PROVENANCE_COLORS[provenance.kind]}'
            ).mark('batch-provenance')
            for row in rows:
                self._batch_row(row, source_len)
            note(tr('data.batch.val_never'), marker='batch-val-never')

    def _batch(self) -> tuple[list[dict] | None, Provenance, int]:
        """Rows from train.bin when it is here (live), else windows of the recorded first tokens (simulated)."""
        folder = datasets.workspace_dir(self.dataset)
        if folder is not None and (self.view.real or datasets.recorded_stats(self.dataset) is None):
            from nanogpt_lab.data import DataError, inspect_batch

            try:
                batch = inspect_batch(folder, 'train', BATCH_ROWS, self.block, seed=self.seed)
            except DataError:
                return None, Provenance.formula(''), 0
            rows = [
                {
                    'offset': r.offset,
                    'x': list(zip(r.x, r.x_tokens, strict=True)),
                    'y': list(zip(r.y, r.y_tokens, strict=True)),
                }
                for r in batch
            ]
            length = (folder / 'train.bin').stat().st_size // 2
            return rows, Provenance.live(self.tr('data.this_machine'), f'data/{self.dataset}/train.bin'), length
        found = datasets.stats_for(self.dataset, False, self.tr)
        preview = (found.stats.get('preview') or []) if found else []
        if len(preview) <= self.block:
            return None, Provenance.formula(''), 0
        rng = random.Random(self.seed)
        offsets = [rng.randrange(len(preview) - self.block) for _ in range(BATCH_ROWS)]
        ids = [(p['id'], p['text']) for p in preview]
        rows = [{'offset': o, 'x': ids[o : o + self.block], 'y': ids[o + 1 : o + 1 + self.block]} for o in offsets]
        source = self.tr('data.batch.from_preview', source=found.provenance.source)
        return rows, Provenance(found.provenance.kind, source, found.provenance.detail), len(preview)

    def _batch_row(self, row: dict, source_len: int) -> None:
        tr = self.tr
        with ui.card().classes('w-full p-3 gap-1').props('flat bordered').mark('batch-row'):
            ui.label(tr('data.batch.offset', offset=f'{row["offset"]:,}', n=f'{source_len:,}')).classes(theme.CAPTION)
            for label, pairs, color in (('x', row['x'], theme.TRAIN), ('y', row['y'], theme.VAL)):
                with ui.row().classes('items-center gap-2 no-wrap w-full'):
                    ui.label(label).classes('font-mono font-bold w-4').style(f'color: {color}')
                    token_view([TokenChip(t, i) for i, t in pairs], tr=tr, show_whitespace=True, show_ids=True)

    def _set_block(self, block: int) -> None:
        if block != self.block:
            self.block = block
            self.view.share(block=block)
            self.batch_view.refresh()

    def _reroll(self) -> None:
        self.seed = random.randrange(2**31)
        self.view.share(seed=self.seed)
        self.batch_view.refresh()


def _visible(text: str) -> str:
    """Make a frequency chart's labels readable: '␣' for a space, '↵' for a newline."""
    return text.replace(' ', '␣').replace('\n', '↵').replace('\t', '→') or '∅'


def _upload_limit() -> int:
    """The server's upload limit (the same one the HTTP upload enforces)."""
    try:
        from nanogpt_lab.server.uploads import upload_limit
    except ImportError:
        return 200 * 10**6
    return upload_limit()


def _upload_name(filename: str) -> str:
    """A safe file name in uploads/: the sanitised stem plus a known suffix."""
    suffix = Path(filename.replace('\\', '/').split('/')[-1]).suffix.lower()
    suffix = suffix if suffix in ('.txt', '.md', '.jsonl') else '.txt'
    return workspace.sanitize_name(filename, fallback='upload') + suffix


def _store(target: Path, data: bytes) -> None:
    from nanogpt_lab.fileio import atomic_write_bytes

    atomic_write_bytes(target, data)
