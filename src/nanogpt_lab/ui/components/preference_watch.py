"""Stage 7's "Watch it" for a DPO run: from its `train` events, the loss, the reward margin and the preference
accuracy (chosen scored above rejected), and the chosen and rejected log-prob drift against the frozen reference
as two lines (DPO pushes rejected down faster than chosen). Each chart is a `chart_card` with its table. Live from a
dpo job, replayed from a simulate job, or drawn at once from the recorded run (`show`).
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.charts import Series, line
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.i18n import Translator

# chart → the train event fields it draws, each in its colour
CHARTS: dict[str, tuple[tuple[str, str], ...]] = {
    'loss': (('loss', theme.TRAIN),),
    'margin': (('reward_margin', theme.TRAIN), ('preference_accuracy', theme.VAL)),
    'drift': (('chosen_logp_drift', theme.TRAIN), ('rejected_logp_drift', theme.VAL)),
}


class preference_watch(ui.element):  # noqa: N801 - a NiceGUI component
    """`preference_watch(tr=..., marker=...)`; `reset(provenance)`, then `add(event)` for each of the run's events,
    or `show(events, provenance)` for a whole recorded run at once."""

    def __init__(self, *, tr: Translator, marker: str) -> None:
        super().__init__('div')
        self.tr = tr
        self.points: list[dict[str, Any]] = []
        self.classes(f'{theme.GRID_2} w-full').mark(marker)
        self.cards: dict[str, chart_card] = {}
        with self:
            for name, fields in CHARTS.items():
                columns = [('iter', tr('alignment.watch.iter')), *((f, tr(f'alignment.watch.{f}')) for f, _ in fields)]
                self.cards[name] = chart_card(
                    tr(f'alignment.watch.{name}'),
                    line([], []),
                    provenance=Provenance.live('—', '—'),
                    summary=tr('alignment.watch.empty'),
                    columns=columns,
                    rows=[],
                    tr=tr,
                    marker=f'{marker}-{name}',
                )
        self.set_visibility(False)

    def reset(self, provenance: Provenance) -> None:
        """A new run: no points yet, this provenance on every chart."""
        self.points = []
        self.provenance = provenance
        self.set_visibility(True)

    def show(self, events: list[dict[str, Any]], provenance: Provenance) -> None:
        """A whole run at once (simulation mode: the recorded DPO run, drawn when the page opens)."""
        self.reset(provenance)
        self.points = [e for e in events if _is_dpo_train(e)]
        if self.points:
            self._draw()

    def add(self, event: dict[str, Any]) -> None:
        """Take one of the run's events; a train event with DPO's fields redraws the charts."""
        if _is_dpo_train(event):
            self.points.append(event)
            self._draw()

    def _draw(self) -> None:
        tr, x = self.tr, [int(p['iter']) + 1 for p in self.points]
        last = self.points[-1]
        summary = tr(
            'alignment.watch.summary',
            iter=x[-1],
            margin=f'{last["reward_margin"]:.3f}',
            accuracy=f'{100 * last["preference_accuracy"]:.0f}%',
        )
        for name, fields in CHARTS.items():
            series = [
                Series(tr(f'alignment.watch.{f}'), [float(p.get(f, 0.0)) for p in self.points], c) for f, c in fields
            ]
            rows = [
                {'iter': i, **{f: round(float(p.get(f, 0.0)), 4) for f, _ in fields}}
                for i, p in zip(x, self.points, strict=True)
            ]
            options = line(x, series, x_name=tr('alignment.watch.iter'))
            self.cards[name].set_data(options, rows=rows, summary=summary, provenance=self.provenance)


def _is_dpo_train(event: dict[str, Any]) -> bool:
    return event.get('type') == 'train' and 'reward_margin' in event
