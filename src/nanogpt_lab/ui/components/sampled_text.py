"""Generated text, token by token: each token tinted by how likely it was when drawn; hover shows the top-5
alternatives the sampler could have drawn instead, with their probabilities.

The tokens are the sampler's TokenEvents (`inference.sampler.stream`, as dicts). One escaped HTML element holds
the whole text, so a token streamed in is one small update.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from nicegui import ui

from nanogpt_lab.ui.components.prob_pipeline import visible
from nanogpt_lab.ui.components.surprise_heatmap import heat_color
from nanogpt_lab.ui.i18n import Translator

_BOX = 'white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;'
_CHIP = 'border-radius:3px;padding:0 1px;cursor:help;'


def hover_text(event: dict[str, Any], tr: Translator) -> str:
    """'drew "e": p = 0.31 (model 0.22)' then the alternatives, one a line."""
    lines = [
        tr(
            'components.sampled.drew',
            token=visible(event['token']),
            prob=f'{event["prob"]:.3f}',
            raw=f'{event["raw_prob"]:.3f}',
        )
    ]
    lines.append(tr('components.sampled.top'))
    for rank, alt in enumerate(event.get('top') or [], start=1):
        lines.append(f'{rank}. {visible(alt["token"])}  {alt["prob"]:.3f}')
    return '\n'.join(lines)


def text_html(prompt: str, events: Sequence[dict[str, Any]], tr: Translator) -> str:
    """The prompt (plain) followed by the generated tokens (tinted by −log p of the draw, hover for alternatives)."""
    parts = [f'<span style="color:#374151">{html.escape(prompt)}</span>']
    for event in events:
        surprise = -math.log(max(event['prob'], 1e-12))
        title = html.escape(hover_text(event, tr), quote=True)
        shown = html.escape(event.get('text') if event.get('text') is not None else event['token'])
        parts.append(
            f'<span style="{_CHIP}background:{heat_color(surprise)}" title="{title}" '
            f'data-token="{event["index"]}">{shown}</span>'
        )
    return ''.join(parts)


class sampled_text(ui.html):  # noqa: N801 - a NiceGUI component
    """`sampled_text(tr=tr)`; `show(prompt, events)` redraws it."""

    def __init__(self, *, tr: Translator) -> None:
        super().__init__('', sanitize=False)  # escaped in text_html
        self.tr = tr
        self.style(_BOX).classes('w-full text-sm leading-relaxed min-h-[3rem] rounded-md border border-gray-200 p-2')
        self.props['translate'] = 'no'  # the model's text: no translator (a browser's, a test's) touches it

    def show(self, prompt: str, events: Sequence[dict[str, Any]]) -> None:
        """Draw the prompt and these generated tokens."""
        self.set_content(text_html(prompt, events, self.tr))
