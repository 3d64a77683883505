"""Stage 7's accuracy chart: held-out exact match per task kind, before SFT (the base with the template attached,
nothing learned) and after, as grouped bars with a table, each figure from a measurement (`exact_match`'s
`kinds`: correct, total, accuracy) and its provenance.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.charts import Series, bar
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.i18n import Translator

STAGES = ('base', 'sft')  # before and after SFT, in the order the bars stand


def kind_label(kind: str, tr: Translator) -> str:
    """A task kind's name in the page's language (lab-tasks' kinds are translated; another dataset's stay as named)."""
    key = f'alignment.kinds.{kind}'
    return tr(key) if tr.has(key) else kind


def accuracy_rows(results: dict[str, dict[str, Any] | None], tr: Translator) -> list[dict[str, Any]]:
    """One table row per task kind: its name and, per measured model, 'correct/total (percent)'."""
    kinds = list(dict.fromkeys(k for r in results.values() if r for k in r.get('kinds', {})))
    rows = []
    for kind in kinds:
        row: dict[str, Any] = {'kind': kind_label(kind, tr)}
        for stage, result in results.items():
            k = (result or {}).get('kinds', {}).get(kind)
            row[stage] = f'{k["correct"]}/{k["total"]} ({100 * k["accuracy"]:.0f}%)' if k else '—'
        rows.append(row)
    return rows


class task_accuracy(chart_card):  # noqa: N801 - a NiceGUI component
    """`task_accuracy(tr=..., provenance=...)`; `show({'base': result|None, 'sft': result|None}, provenance)`."""

    def __init__(self, *, tr: Translator, provenance: Provenance, marker: str = 'accuracy') -> None:
        columns = [('kind', tr('alignment.accuracy.kind')), *((s, tr(f'alignment.accuracy.{s}')) for s in STAGES)]
        super().__init__(
            tr('alignment.accuracy.chart'),
            bar([], []),
            provenance=provenance,
            summary=tr('alignment.accuracy.empty'),
            columns=columns,
            rows=[],
            tr=tr,
            marker=marker,
        )
        with self:
            self.headline = ui.label().classes('text-sm font-semibold').mark(f'{marker}-headline')

    def show(self, results: dict[str, dict[str, Any] | None], provenance: Provenance) -> None:
        """Redraw with these measurements (a model not measured has no bars and '—' in the table)."""
        tr = self.tr
        kinds = list(dict.fromkeys(k for r in results.values() if r for k in r.get('kinds', {})))
        colors = {'base': theme.VAL, 'sft': theme.TRAIN}
        series = [
            Series(
                tr(f'alignment.accuracy.{stage}'),
                [round(100 * result['kinds'][k]['accuracy'], 1) if k in result['kinds'] else 0 for k in kinds],
                colors[stage],
            )
            for stage, result in results.items()
            if result
        ]
        options = bar([kind_label(k, tr) for k in kinds], series, value_name=tr('alignment.accuracy.axis'))
        options['yAxis']['max'] = 100
        overall = {s: r['accuracy'] for s, r in results.items() if r}
        summary = tr(
            'alignment.accuracy.summary',
            base=f'{100 * overall["base"]:.0f}%' if 'base' in overall else '—',
            sft=f'{100 * overall["sft"]:.0f}%' if 'sft' in overall else '—',
        )
        self.headline.set_text(summary)
        self.set_data(options, rows=accuracy_rows(results, tr), summary=summary, provenance=provenance)
