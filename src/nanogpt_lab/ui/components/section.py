"""Small layout builders every stage uses: a titled section with its explanation, and headline numbers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from nanogpt_lab.ui import theme


@contextmanager
def section(title: str, explanation: str = '', *, marker: str | None = None) -> Iterator[ui.column]:
    """A titled block with a short explanation under the title; yields the column for its content."""
    with ui.column().classes('w-full gap-2 mt-4') as column:
        ui.label(title).classes(theme.SECTION_TITLE).props('role=heading aria-level=2')
        if explanation:
            ui.label(explanation).classes(theme.HELP)
        if marker:
            column.mark(marker)
        yield column


class stat(ui.column):  # noqa: N801 - a NiceGUI component
    """A headline number with its label underneath; `set(value)` changes the number in place."""

    def __init__(self, label: str, value: str, *, marker: str, hint: str = '') -> None:
        super().__init__()
        self.classes('gap-0 min-w-[8rem]').mark(marker)
        with self:
            self.value = ui.label(value).classes(theme.NUMBER_BIG).mark(f'{marker}-value')
            ui.label(label).classes(theme.NUMBER_LABEL)
        if hint:
            self.props['title'] = hint

    def set(self, value: str) -> None:
        """Show a new value."""
        self.value.set_text(value)


def note(text: str, *, kind: str = 'info', marker: str | None = None) -> ui.row:
    """A one-line callout (info, warn, error) with an icon; errors are announced to screen readers."""
    icons = {'info': ('info', theme.PRIMARY), 'warn': ('warning', theme.WARN), 'error': ('error', theme.ERROR)}
    icon, color = icons[kind]
    with ui.row().classes('items-start gap-2 no-wrap rounded-md px-3 py-2 bg-gray-50 w-full') as row:
        ui.icon(icon).style(f'color: {color}').classes('mt-0.5')
        label = ui.label(text).classes('text-sm').style(f'color: {theme.INK}')
    if kind == 'error':
        row.props('role=alert')
    if marker:
        row.mark(marker)
        label.mark(f'{marker}-text')
    return row
