"""The stage stepper: seven numbered links with each stage's one-line goal; the current stage stands out."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.i18n import Translator
from nanogpt_lab.ui.stages import Stage

_ITEM = 'flex-1 min-w-[10rem] rounded-lg border px-3 py-2 no-underline transition-colors'
_ITEM_CURRENT = 'border-indigo-600 bg-indigo-50 text-indigo-900'
_ITEM_OTHER = 'border-gray-200 bg-white text-gray-800 hover:border-indigo-300 hover:bg-indigo-50/40'
_NUMBER = 'inline-flex items-center justify-center w-6 h-6 rounded-full text-xs font-bold'


def stepper(stages: Sequence[Stage], current: Stage, *, tr: Translator, url_for: Callable[[str], str]) -> ui.element:
    """A row of stage links (wrapping on narrow screens); returns the navigation element."""
    with ui.element('nav').classes('w-full flex flex-wrap gap-2').props(f'aria-label="{tr("shell.stages")}"') as nav:
        for stage in stages:
            is_current = stage == current
            link = ui.link(target=url_for(stage.slug)).classes(
                f'{_ITEM} {_ITEM_CURRENT if is_current else _ITEM_OTHER}'
            )
            link.mark(f'stage-{stage.slug}')
            if is_current:
                link.props('aria-current=page')
            with link, ui.column().classes('gap-0'):
                with ui.row().classes('items-center gap-2 no-wrap'):
                    color = 'bg-indigo-600 text-white' if is_current else 'bg-gray-200 text-gray-700'
                    ui.label(str(stage.number)).classes(f'{_NUMBER} {color}')
                    ui.label(tr(stage.name_key)).classes('font-semibold text-sm')
                ui.label(tr(stage.goal_key)).classes(f'{theme.CAPTION} leading-snug')
    return nav
