"""How few symbols carry most of a text: the share of all tokens that the N most frequent make up, N on a log axis.

A top-30 bar chart says little about a 9,000-character Chinese vocabulary; this curve reads the same at 65 symbols
or 50,000, and is drawn from stats.json's `coverage` (about 40 points), never from one entry per symbol.
"""

from __future__ import annotations

from typing import Any

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components import charts
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.i18n import Translator

MILESTONES = (10, 100, 1000)


def share_within(coverage: list[list[float]], rank: int) -> float | None:
    """The share the `rank` most frequent tokens make up, from the curve's last point at or below `rank`."""
    below = [share for r, share in coverage if r <= rank]
    return below[-1] if below else None


def coverage_chart(stats: dict[str, Any], provenance: Provenance, tr: Translator) -> chart_card | None:
    """The coverage card of a dataset (None for stats written before stats.json had the curve)."""
    points = stats.get('coverage') or []
    if not points:
        return None
    used = stats.get('distinct_tokens') or points[-1][0]
    ranks = [r for r, _ in points]
    percent = [round(100 * share, 2) for _, share in points]
    options = charts.line(
        ranks,
        [charts.Series(tr('gpt1.coverage.series'), percent, theme.TRAIN)],
        x_name=tr('gpt1.coverage.x'),
        y_name=tr('gpt1.coverage.y'),
    )
    options['xAxis'].update(type='log', min=1, max=max(used, 10))
    options['yAxis'].update(min=0, max=100)
    marks = [(n, share_within(points, n)) for n in MILESTONES if n < used]
    sentence = '; '.join(tr('gpt1.coverage.part', n=f'{n:,}', share=f'{100 * s:.0f}') for n, s in marks if s)
    summary = tr('gpt1.coverage.summary', used=f'{used:,}', parts=sentence) if sentence else ''
    rows = [{'rank': f'{r:,}', 'share': f'{p:.1f}%'} for r, p in zip(ranks, percent, strict=True)]
    return chart_card(
        tr('gpt1.coverage.title', used=f'{used:,}'),
        options,
        provenance=provenance,
        summary=summary,
        columns=[('rank', tr('gpt1.coverage.x')), ('share', tr('gpt1.coverage.y'))],
        rows=rows,
        tr=tr,
        marker='coverage',
        height='h-56',
    )
