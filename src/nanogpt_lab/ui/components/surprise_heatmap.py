"""Per-token surprise as a heatmap: each token of a passage tinted by −log p, how unexpected the model found it.

Stage 5 puts two rows side by side (base and fine-tuned model, the same passage), so the tokens the fine-tune
learned to expect turn pale. Like `token_view`, a row is one escaped HTML element, not an element per token.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from nicegui import ui

from nanogpt_lab.ui.i18n import Translator

SCALE_NATS = 8.0  # −log p at which the colour saturates (p ≈ 0.0003)
_CHIP = 'display:inline-block;border-radius:3px;padding:0 1px;margin:0;line-height:1.5;'
_BOX = 'white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;'


def heat_color(nats: float | None) -> str:
    """White (expected) → amber → red (surprising); grey when there is no score (a char model's first token)."""
    if nats is None or not math.isfinite(nats):
        return '#e5e7eb'
    x = max(0.0, min(1.0, nats / SCALE_NATS))
    r, g, b = 255, round(255 - 175 * x), round(255 - 235 * min(1.0, 2 * x))
    return f'rgb({r},{g},{b})'


def heatmap_html(tokens: Sequence[dict[str, Any]], tr: Translator) -> str:
    """The escaped HTML of a passage's tokens, each tinted by its surprise; hover gives −log p and p."""
    parts = []
    for tok in tokens:
        s = tok.get('surprise')
        hover = (
            tr('components.surprise.none')
            if s is None
            else tr('components.surprise.hover', nats=f'{s:.2f}', prob=f'{math.exp(-s):.4f}')
        )
        title = html.escape(hover, quote=True)
        text = html.escape(tok.get('text', '')) or '∅'
        parts.append(f'<span style="{_CHIP}background:{heat_color(s)}" title="{title}">{text}</span>')
    return ''.join(parts)


def mean_surprise(tokens: Sequence[dict[str, Any]]) -> float | None:
    """The average −log p over scored tokens: the passage's loss under this model."""
    scores = [t['surprise'] for t in tokens if isinstance(t.get('surprise'), (int, float))]
    return sum(scores) / len(scores) if scores else None


class surprise_heatmap(ui.html):  # noqa: N801 - a NiceGUI component
    """`surprise_heatmap(tokens, tr=tr)`: one passage's tokens tinted by surprise."""

    def __init__(self, tokens: Sequence[dict[str, Any]], *, tr: Translator, label: str) -> None:
        super().__init__(heatmap_html(tokens, tr), sanitize=False)  # escaped above
        self.style(_BOX).classes('w-full text-sm leading-relaxed')
        self.props['role'] = 'group'
        self.props['aria-label'] = label
        self.props['translate'] = 'no'  # the text's own tokens, in its own language


def legend_html(tr: Translator) -> str:
    """A small scale: what the colours mean in nats and probability."""
    steps = [0.0, 1.0, 2.0, 4.0, 8.0]
    cells = ''.join(
        f'<span style="{_CHIP}background:{heat_color(n)};padding:0 6px">{html.escape(f"{n:g} · p={math.exp(-n):.3g}")}'
        '</span> '
        for n in steps
    )
    return f'<span style="font-size:11px">{html.escape(tr("components.surprise.legend"))} {cells}</span>'
