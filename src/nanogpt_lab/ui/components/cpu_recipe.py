"""Stage 4's note on the lab's CPU recipe (config/train_shakespeare_char_cpu.py): what it changes from nanoGPT's
README command and why each change reaches the same loss sooner, since learners ask why it is faster."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.section import section

CHANGES = ('muon', 'batch', 'schedule', 'depth', 'lr', 'eval')  # keys under speed.recipe, in the order they matter


def cpu_recipe(*, tr: Callable[..., str], marker: str = 'recipe') -> None:
    """The recipe's command and its changes, one line each (the measured figures are in docs/benchmarks.md)."""
    with section(tr('speed.recipe.title'), tr('speed.recipe.help'), marker=marker):
        ui.label(tr('speed.recipe.command')).classes(theme.MONO).props('translate=no').mark(f'{marker}-command')
        with ui.column().classes('gap-1'):
            for key in CHANGES:
                with ui.row().classes('items-start gap-2 no-wrap'):
                    ui.icon('bolt').style(f'color: {theme.PRIMARY}').classes('mt-0.5')
                    ui.label(tr(f'speed.recipe.{key}')).classes('text-sm').mark(f'{marker}-{key}')
