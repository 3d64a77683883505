"""Token chips: each token a coloured chip, its id and bytes on hover; optionally the id under the text.

A lane can hold thousands of tokens, so the chips are one escaped HTML element, not one NiceGUI element each:
redrawing after a keystroke stays one small message to the browser.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.i18n import Translator

WHITESPACE_MARKS = {' ': '·', '\n': '↵', '\t': '→', '\r': '␍'}
_CHIP = 'display:inline-block;border-radius:4px;padding:1px 3px;margin:1px 1px;line-height:1.35;'
_STACK = 'display:inline-flex;flex-direction:column;align-items:center;border-radius:4px;padding:1px 4px;margin:2px;'
_ID = 'font-size:10px;color:#475569;font-family:ui-monospace,monospace;'
_BOX = 'white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;'


@dataclass(frozen=True)
class TokenChip:
    """One token as shown: its text (bytes that split a character show as \\xNN), id, and bytes in hex."""

    text: str
    id: int
    hex: str = ''  # e.g. 'e4 bd a0'
    partial: bool = False  # the token's bytes split a multi-byte character


def visible_text(text: str, show_whitespace: bool) -> str:
    """Make spaces, tabs and newlines visible ('a b\\n' -> 'a·b↵' + newline), keeping the line break itself."""
    if not show_whitespace:
        return text
    out = ''.join(WHITESPACE_MARKS.get(ch, ch) for ch in text)
    return out.replace('↵', '↵\n')


def chips_html(tokens: Sequence[TokenChip], tr: Translator, *, show_whitespace: bool, show_ids: bool) -> str:
    """The escaped HTML of a row of chips (hover text: id and bytes in hex)."""
    parts = []
    for i, tok in enumerate(tokens):
        fill = theme.CHIP_FILLS[i % len(theme.CHIP_FILLS)]
        hover = tr('components.tokens.hover', id=tok.id, bytes=tok.hex or '—')
        if tok.partial:
            hover += ' · ' + tr('components.tokens.partial')
        text = html.escape(visible_text(tok.text, show_whitespace) or '∅')
        title = html.escape(hover, quote=True)
        if show_ids:
            parts.append(
                f'<span style="{_STACK}background:{fill}" title="{title}"><span>{text}</span>'
                f'<span style="{_ID}">{tok.id}</span></span>'
            )
        else:
            parts.append(f'<span style="{_CHIP}background:{fill}" title="{title}">{text}</span>')
    return ''.join(parts)


class token_view(ui.html):  # noqa: N801 - a NiceGUI component, lowercase like ui.html
    """`token_view(tokens, tr=tr, show_whitespace=False, show_ids=False)`; `show(tokens, ...)` redraws it."""

    def __init__(
        self, tokens: Sequence[TokenChip], *, tr: Translator, show_whitespace: bool = False, show_ids: bool = False
    ) -> None:
        self.tr = tr
        self.show_ids = show_ids
        super().__init__(chips_html(tokens, tr, show_whitespace=show_whitespace, show_ids=show_ids), sanitize=False)
        self.style(_BOX).classes('w-full text-sm leading-relaxed')
        self.props['role'] = 'group'
        self.props['aria-label'] = tr('components.tokens.aria', n=len(tokens))
        self.props['translate'] = 'no'  # token text stays as the tokenizer cut it

    def show(self, tokens: Sequence[TokenChip], *, show_whitespace: bool) -> None:
        """Redraw with new tokens (content is escaped here, so sanitizing in the browser is not needed)."""
        self.set_content(chips_html(tokens, self.tr, show_whitespace=show_whitespace, show_ids=self.show_ids))
        self.props['aria-label'] = self.tr('components.tokens.aria', n=len(tokens))
