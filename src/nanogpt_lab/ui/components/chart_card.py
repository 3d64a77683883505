"""A chart in a card, with what every chart in the lab needs: a title, its provenance, a "show as table" toggle
and a one-sentence summary for screen readers. `set_data` redraws it in place (no rebuild, no flicker)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.lazy_echart import lazy_echart
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.i18n import Translator

Column = tuple[str, str]  # (row key, column heading)


class chart_card(ui.card):  # noqa: N801 - NiceGUI components are lowercase, like ui.card itself
    """`chart_card(title, options, provenance=..., summary=..., columns=..., rows=..., tr=..., marker=...)`."""

    def __init__(
        self,
        title: str,
        options: dict[str, Any],
        *,
        provenance: Provenance,
        summary: str,
        columns: Sequence[Column],
        rows: list[dict[str, Any]],
        tr: Translator,
        marker: str,
        height: str = theme.CHART_HEIGHT,
        chart: Callable[[], ui.element] | None = None,
    ) -> None:
        """`chart`: makes the picture instead of an ECharts chart (a canvas that redraws thousands of cells per
        keystroke); the page then draws it itself and passes no options to `set_data`."""
        super().__init__()
        self.tr, self.marker = tr, marker
        self.rows, self.columns = rows, columns
        self.table: ui.table | None = None  # made when first shown: a Quasar table costs the page's first paint
        self.classes(theme.CARD).props('flat bordered').mark(marker)
        with self:
            with ui.row().classes('w-full items-start justify-between no-wrap gap-2'):
                with ui.column().classes('gap-0'):
                    ui.label(title).classes(theme.CARD_TITLE)
                    self.provenance = ui.label().classes(f'{theme.CAPTION} font-medium').mark(f'{marker}-provenance')
                self.table_switch = ui.switch(tr('components.chart.show_table'), on_change=self._toggle_table)
                self.table_switch.props('dense size=sm').classes('text-xs text-gray-600').mark(f'{marker}-table-toggle')
                self.table_switch.classes('shrink-0 whitespace-nowrap')  # a long title must not squeeze it to a column
            picture = chart() if chart else lazy_echart(_with_aria(options, summary)).classes(f'w-full {height}')
            self.chart = picture.mark(f'{marker}-chart')
            self.summary = ui.label(summary).classes(theme.SR_ONLY).mark(f'{marker}-summary')
        self._set_provenance(provenance)

    def set_data(
        self,
        options: dict[str, Any] | None,
        *,
        rows: list[dict[str, Any]],
        summary: str,
        provenance: Provenance | None = None,
    ) -> None:
        """Redraw the chart (unless the page draws its own picture: options None), its table and summary in place."""
        if options is not None:
            self.chart.options.clear()
            self.chart.options.update(_with_aria(options, summary))
            self.chart.update()
        self.rows = rows
        if self.table is not None and self.table.visible:  # a hidden table is filled when it is shown
            self.table.rows = rows
            self.table.update()
        self.summary.set_text(summary)
        if provenance is not None:
            self._set_provenance(provenance)

    def _set_provenance(self, provenance: Provenance) -> None:
        self.provenance.set_text(provenance.text(self.tr))
        self.provenance.style(f'color: {theme.PROVENANCE_COLORS[provenance.kind]}')
        self.provenance.props['title'] = provenance.detail or provenance.text(self.tr)

    def _toggle_table(self, e: Any) -> None:
        if self.table is None:
            self.table = self._make_table()
        elif e.value and self.table.rows != self.rows:
            self.table.rows = self.rows
            self.table.update()
        self.chart.set_visibility(not e.value)
        self.table.set_visibility(bool(e.value))

    def _make_table(self) -> ui.table:
        """The chart's numbers as a table, placed under the chart (made the first time the switch asks for it)."""
        with self:
            table = ui.table(columns=_columns(self.columns), rows=self.rows, row_key=self.columns[0][0])
        table.classes('w-full').props('dense flat bordered').mark(f'{self.marker}-table')
        table.props['no-data-label'] = self.tr('components.chart.no_data')  # Quasar's own label is English
        table.move(self, target_index=self.default_slot.children.index(self.chart) + 1)
        return table


def _columns(columns: Sequence[Column]) -> list[dict[str, Any]]:
    return [{'name': key, 'label': label, 'field': key, 'align': 'left'} for key, label in columns]


def _with_aria(options: dict[str, Any], summary: str) -> dict[str, Any]:
    """ECharts writes `aria.label.description` into the chart's aria-label, so screen readers get the summary; its
    text is in the page's font (theme.CHART_FONT), measured as it is drawn in either language."""
    text_style = {'fontFamily': theme.CHART_FONT, **options.get('textStyle', {})}
    return {**options, 'textStyle': text_style, 'aria': {'enabled': True, 'label': {'description': summary}}}
