"""Stage 7's x-ray of a conversation: what SFT trains on, and what it changed.

Three rows over the same tokens, as the chat template renders the conversation: the tokens themselves (special
tokens shown by name, each token tinted by the renderer's mask: trained or only read), then every token's surprise
(−log p) under the base model and under the SFT model, as stage 5's surprise heatmap. The learner edits the turns
(`turn_editor`) and the page redraws the x-ray (`xray_view.show`). Like `token_view`, a row is one escaped HTML
element, not an element per token.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.provenance import Provenance, provenance_label
from nanogpt_lab.ui.components.surprise_heatmap import heatmap_html, legend_html
from nanogpt_lab.ui.i18n import Translator

TRAINED_FILL = '#bbf7d0'  # a target SFT learns (assistant content and its end token)
READ_FILL = '#e5e7eb'  # context only: its target is -1
_CHIP = 'display:inline-block;border-radius:3px;padding:0 2px;margin:1px 0;line-height:1.5;'
_SPECIAL = 'font-weight:600;outline:1px solid #4338ca;color:#312e81;'
_BOX = 'white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;'
ROLES = ('system', 'user', 'assistant')


def mask_html(tokens: Sequence[dict[str, Any]], tr: Translator) -> str:
    """The conversation's tokens, green where trained and grey where only read; special tokens outlined."""
    parts = []
    for tok in tokens:
        trained = bool(tok.get('trained'))
        style = (
            _CHIP + f'background:{TRAINED_FILL if trained else READ_FILL};' + (_SPECIAL if tok.get('special') else '')
        )
        hover = tr('alignment.xray.hover_trained' if trained else 'alignment.xray.hover_read', id=tok.get('id'))
        text = html.escape(tok.get('text', '')) or '∅'
        parts.append(
            f'<span style="{style}" title="{html.escape(hover, quote=True)}" data-trained="{int(trained)}"'
            f' data-special="{int(bool(tok.get("special")))}">{text}</span>'
        )
    return ''.join(parts)


def trained_loss(tokens: Sequence[dict[str, Any]], key: str) -> float | None:
    """The mean surprise over the trained tokens under one model: SFT's loss on this conversation."""
    scores = [t[key] for t in tokens if t.get('trained') and isinstance(t.get(key), (int, float))]
    return sum(scores) / len(scores) if scores else None


def _row(tokens: Sequence[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [{'text': t.get('text', ''), 'surprise': t.get(key)} for t in tokens]


class xray_view(ui.column):  # noqa: N801 - a NiceGUI component
    """`xray_view(tr=...)`; `show(xray, provenance)` draws a conversation's x-ray (see `ChatSession.xray`)."""

    def __init__(self, *, tr: Translator, marker: str = 'xray') -> None:
        super().__init__()
        self.tr = tr
        self.classes('w-full gap-2').mark(marker)
        with self:
            self.provenance = ui.row().classes('w-full')
            ui.label(tr('alignment.xray.tokens')).classes('text-sm font-semibold')
            self.tokens = ui.html('', sanitize=False).style(_BOX).classes('w-full text-sm').mark(f'{marker}-tokens')
            self.tokens.props['translate'] = 'no'
            self.legend = ui.label().classes(theme.CAPTION).mark(f'{marker}-share')
            self.base_title = ui.label().classes('text-sm font-semibold mt-2')
            self.base = ui.html('', sanitize=False).style(_BOX).classes('w-full text-sm').mark(f'{marker}-base')
            self.base.props['translate'] = 'no'
            self.sft_title = ui.label().classes('text-sm font-semibold mt-2')
            self.sft = ui.html('', sanitize=False).style(_BOX).classes('w-full text-sm').mark(f'{marker}-sft')
            self.sft.props['translate'] = 'no'
            ui.html(legend_html(tr), sanitize=False).classes('w-full')
            self.status = ui.label().classes(theme.CAPTION).mark(f'{marker}-status')

    def waiting(self, text: str, *, error: bool = False) -> None:
        """Say what the x-ray waits for (a model loading) or why it cannot be drawn."""
        self.status.set_text(text)
        self.status.classes(replace=theme.ERROR_TEXT if error else theme.CAPTION)

    def show(self, xray: dict[str, Any], provenance: Provenance) -> None:
        """Draw the conversation's tokens, mask and both heatmaps."""
        tr, tokens = self.tr, xray['tokens']
        trained = sum(1 for t in tokens if t.get('trained'))
        self.provenance.clear()
        with self.provenance:
            provenance_label(provenance, tr)
        self.tokens.set_content(mask_html(tokens, tr))
        self.legend.set_text(tr('alignment.xray.share', trained=trained, total=len(tokens)))
        base, sft = trained_loss(tokens, 'base'), trained_loss(tokens, 'sft')
        if xray.get('base') and base is not None:
            self.base_title.set_text(tr('alignment.xray.base', name=xray['base'], loss=f'{base:.2f}'))
            self.base.set_content(heatmap_html(_row(tokens, 'base'), tr))
        else:
            self.base_title.set_text(tr('alignment.xray.no_base'))
            self.base.set_content('')
        self.sft_title.set_text(tr('alignment.xray.sft', loss=f'{sft:.2f}' if sft is not None else '—'))
        self.sft.set_content(heatmap_html(_row(tokens, 'sft'), tr))
        self.waiting('')


class turn_editor(ui.column):  # noqa: N801 - a NiceGUI component
    """The conversation's turns as text boxes (an optional system message, then user and assistant in turns);
    `on_change(messages)` hears every edit (debounced), `set(messages)` loads another conversation."""

    def __init__(self, *, tr: Translator, on_change: Callable[[list[dict[str, str]]], None]) -> None:
        super().__init__()
        self.tr, self.on_change = tr, on_change
        self.boxes: list[tuple[str, ui.textarea]] = []
        self.classes('w-full gap-1').mark('turns')
        with self:
            self.rows = ui.column().classes('w-full gap-1')
            with ui.row().classes('gap-2'):
                ui.button(tr('alignment.xray.add_turn'), icon='add', on_click=self._add_pair).props(
                    'flat dense no-caps'
                ).mark('turn-add')
                ui.button(tr('alignment.xray.remove_turn'), icon='remove', on_click=self._remove_pair).props(
                    'flat dense no-caps'
                ).mark('turn-remove')

    @property
    def messages(self) -> list[dict[str, str]]:
        """The turns as messages; an empty system message is left out."""
        out = [{'role': role, 'content': box.value or ''} for role, box in self.boxes]
        return [m for m in out if m['role'] != 'system' or m['content'].strip()]

    def set(self, messages: Sequence[dict[str, str]]) -> None:
        """Show another conversation (a system box is always offered first)."""
        turns = list(messages)
        if not turns or turns[0]['role'] != 'system':
            turns = [{'role': 'system', 'content': ''}, *turns]
        self.boxes = []
        self.rows.clear()
        with self.rows:
            for m in turns:
                self._box(m['role'], m['content'])

    def _box(self, role: str, content: str) -> None:
        with ui.row().classes('w-full items-start no-wrap gap-2'):
            ui.label(self.tr(f'alignment.roles.{role}')).classes('text-xs font-semibold w-20 pt-2 shrink-0')
            box = ui.textarea(value=content, on_change=lambda: self.on_change(self.messages))
            box.props('outlined dense autogrow debounce=400').classes('flex-1').mark(f'turn-{role}')
            box.props['aria-label'] = self.tr(f'alignment.roles.{role}')
        self.boxes.append((role, box))

    def _add_pair(self) -> None:
        with self.rows:
            self._box('user', '')
            self._box('assistant', '')

    def _remove_pair(self) -> None:
        if sum(1 for role, _ in self.boxes if role != 'system') <= 2:
            return  # one question and its answer always stay
        self.boxes = self.boxes[:-2]
        for row in list(self.rows)[-2:]:
            row.delete()
        self.on_change(self.messages)
