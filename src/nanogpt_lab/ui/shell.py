"""The shell around every stage page: colours, the header (mode switch, language switch, device badge), the stage
stepper and the stage's title. Every stage page writes into `frame(view)`, which yields the column the stage fills.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.device_badge import device_badge
from nanogpt_lab.ui.components.stepper import stepper
from nanogpt_lab.ui.stages import STAGES
from nanogpt_lab.ui.view import View


@contextmanager
def frame(view: View) -> Iterator[ui.column]:
    """Draw the shell around a stage and yield the column its content goes into."""
    tr = view.tr
    ui.colors(primary=theme.PRIMARY, secondary=theme.SECONDARY, accent=theme.ACCENT)
    ui.page_title(f'{tr(view.stage.name_key)} · {tr("shell.brand")}')
    ui.query('html').props(f'lang={view.lang}')
    with ui.header().classes(theme.HEADER):
        ui.link(tr('shell.brand'), view.url(STAGES[0].slug)).classes(f'{theme.BRAND} no-underline text-gray-900')
        ui.label(tr('shell.tagline')).classes('text-sm text-gray-500 max-lg:hidden')
        ui.space()
        _mode_switch(view)
        _language_switch(view)
        device_badge(view)
    with ui.column().classes(theme.PAGE) as page:
        stepper(STAGES, view.stage, tr=tr, url_for=view.url).classes('mt-4')
        _stage_heading(view)
        if view.mode == 'simulation':
            ui.label(tr('shell.mode.simulation_note')).classes(theme.HELP).mark('mode-note')
        else:
            ui.label(tr('shell.mode.real_note')).classes(theme.HELP).mark('mode-note')
        yield page


def _stage_heading(view: View) -> None:
    tr = view.tr
    with ui.column().classes('gap-1 w-full'):
        ui.label(tr('shell.stage_n', n=view.stage.number, name=tr(view.stage.name_key))).classes(theme.STAGE_TITLE)
        ui.label(tr(view.stage.goal_key)).classes(theme.STAGE_GOAL)


def _mode_switch(view: View) -> None:
    tr = view.tr
    options = {'simulation': tr('shell.mode.simulation'), 'real': tr('shell.mode.real')}
    toggle = ui.toggle(options, value=view.mode, on_change=lambda e: view.switch(mode=e.value))
    toggle.props('no-caps unelevated toggle-color=primary dense').mark('mode-switch')
    toggle.tooltip(tr('shell.mode.help'))


def _language_switch(view: View) -> None:
    from nanogpt_lab.ui.i18n import LANGUAGES

    toggle = ui.toggle(dict(LANGUAGES), value=view.lang, on_change=lambda e: view.switch(lang=e.value))
    toggle.props('no-caps unelevated dense toggle-color=secondary').mark('language-switch')
