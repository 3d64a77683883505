"""Stage 1's batch inspector: a few random windows x of block_size tokens and their targets y (x shifted by one),
drawn from train.bin when the dataset is prepared here (live) or from the recorded first tokens (simulated)."""

from __future__ import annotations

import random

from nicegui import ui

from nanogpt_lab.ui import dataset_stats, theme
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.section import note, section
from nanogpt_lab.ui.components.token_view import TokenChip, token_view
from nanogpt_lab.ui.view import View

BATCH_ROWS = 4


class batch_inspector:  # noqa: N801 - a NiceGUI component (a refreshable section)
    """The section; `show(dataset)` redraws it for another dataset. URL parameters: block, seed."""

    def __init__(self, view: View, dataset: str) -> None:
        self.view, self.tr, self.dataset = view, view.tr, dataset
        self.block = view.int_param('block', 8, 2, 32)
        self.seed = view.int_param('seed', 1337, 0, 2**31 - 1)
        self.draw()

    def show(self, dataset: str) -> None:
        """Draw windows of another dataset."""
        self.dataset = dataset
        self.draw.refresh()

    @ui.refreshable_method
    def draw(self) -> None:
        """Four random windows x and their targets y, from train.bin (live) or the recorded first tokens."""
        tr = self.tr
        with section(tr('data.batch.title'), tr('data.batch.help'), marker='batch'):
            rows, provenance, source_len = self._batch()
            if rows is None:
                note(tr('data.batch.none'), marker='batch-none')
                return
            with ui.row().classes('items-center gap-3 w-full'):
                label = ui.label(tr('data.batch.block')).classes('text-sm')
                slider = ui.slider(min=2, max=32, value=self.block, on_change=lambda e: self._set_block(int(e.value)))
                slider.props(f'label snap aria-labelledby={label.html_id}').classes('w-64').mark('batch-block')
                again = ui.button(tr('data.batch.again'), icon='casino', on_click=self._reroll)
                again.props('outline dense no-caps').mark('batch-again')
            ui.label(provenance.text(tr)).classes(theme.CAPTION).style(
                f'color: {theme.PROVENANCE_COLORS[provenance.kind]}'
            ).mark('batch-provenance')
            for row in rows:
                self._row(row, source_len)
            note(tr('data.batch.val_never'), marker='batch-val-never')

    def _batch(self) -> tuple[list[dict] | None, Provenance, int]:
        """Rows from train.bin when it is here (live), else windows of the recorded first tokens (simulated)."""
        folder = dataset_stats.workspace_dir(self.dataset)
        if folder is not None and (self.view.real or dataset_stats.recorded_stats(self.dataset, self.tr) is None):
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
        found = dataset_stats.stats_for(self.dataset, False, self.tr)
        preview = (found.stats.get('preview') or []) if found else []
        if len(preview) <= self.block:
            return None, Provenance.formula(''), 0
        rng = random.Random(self.seed)
        offsets = [rng.randrange(len(preview) - self.block) for _ in range(BATCH_ROWS)]
        ids = [(p['id'], p['text']) for p in preview]
        rows = [{'offset': o, 'x': ids[o : o + self.block], 'y': ids[o + 1 : o + 1 + self.block]} for o in offsets]
        source = self.tr('data.batch.from_preview', source=found.provenance.source)
        return rows, Provenance(found.provenance.kind, source, found.provenance.detail), len(preview)

    def _row(self, row: dict, source_len: int) -> None:
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
            self.draw.refresh()

    def _reroll(self) -> None:
        self.seed = random.randrange(2**31)
        self.view.share(seed=self.seed)
        self.draw.refresh()
