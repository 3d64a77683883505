"""Stage 3's parameter numbers: total, nanoGPT's count, per block, FLOPs per token, where the parameters sit, and
the four GPT-2 sizes side by side — all from `nanogpt_lab.model.sizes` (exact arithmetic on the module layout)."""

from __future__ import annotations

from nicegui import ui

from nanogpt_lab.config import ModelConfig
from nanogpt_lab.model import sizes
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components import charts
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.section import stat
from nanogpt_lab.ui.i18n import Translator
from nanogpt_lab.ui.numbers import si


class param_numbers(ui.column):  # noqa: N801 - a NiceGUI component
    """Headline counts and two charts; `show(cfg, size)` redraws them for another model (`size`: its preset or
    'custom', which adds the custom model's bar to the comparison)."""

    def __init__(self, *, tr: Translator, cfg: ModelConfig, size: str) -> None:
        super().__init__()
        self.tr = tr
        self.classes('w-full gap-2')
        with self:
            with ui.row().classes(theme.ROW_WRAP):
                self.total = stat(tr('architecture.params.total'), '', marker='params-total')
                hint = tr('architecture.params.nanogpt_hint')
                self.nanogpt = stat(tr('architecture.params.nanogpt'), '', marker='params-nanogpt', hint=hint)
                self.block = stat(tr('architecture.params.per_block'), '', marker='params-block')
                self.flops = stat(
                    tr('architecture.params.flops'), '', marker='flops-per-token', hint=tr('sources.flops')
                )
            formula = Provenance.formula(tr('architecture.params.source'))
            columns = [('part', tr('architecture.params.col_part')), ('params', tr('architecture.params.col_params'))]
            with ui.element('div').classes(theme.GRID_2):
                cards = {}
                for key, build in (('breakdown', self._breakdown), ('compare', self._comparison)):
                    options, rows, summary = build(cfg, size)
                    cards[key] = chart_card(
                        tr(f'architecture.params.{key}'),
                        options,
                        provenance=formula,
                        summary=summary,
                        columns=columns,
                        rows=rows,
                        tr=tr,
                        marker=key,
                    )
                self.breakdown, self.comparison = cards['breakdown'], cards['compare']
        self._stats(cfg)

    def show(self, cfg: ModelConfig, size: str) -> None:
        """Redraw for another model."""
        self._stats(cfg)
        for card, build in ((self.breakdown, self._breakdown), (self.comparison, self._comparison)):
            options, rows, summary = build(cfg, size)
            card.set_data(options, rows=rows, summary=summary)

    def _stats(self, cfg: ModelConfig) -> None:
        b = sizes.param_breakdown(cfg)
        self.total.set(f'{b.total:,}')
        self.nanogpt.set(f'{b.nanogpt:,}')
        self.block.set(f'{b.per_block:,}')
        self.flops.set(si(sizes.flops_per_token(cfg)))

    def _breakdown(self, cfg: ModelConfig, _size: str) -> tuple[dict, list[dict], str]:
        b, tr = sizes.param_breakdown(cfg), self.tr
        groups = {
            'embeddings': b.embedding,
            'attention': b.n_layer * sum(c.params for c in b.components if c.name == 'attn'),
            'mlp': b.n_layer * sum(c.params for c in b.components if c.name == 'mlp'),
            'layernorm': b.n_layer * sum(c.params for c in b.components if c.name in ('ln_1', 'ln_2'))
            + sum(c.params for c in b.components if c.name == 'ln_f'),
        }
        colors = [theme.PART_STROKE, '#7c3aed', '#16a34a', '#ca8a04']
        names = [tr(f'architecture.params.group_{k}') for k in groups]
        millions = [round(v / 1e6, 1) for v in groups.values()]
        options = charts.colored_bar(
            names, millions, colors, horizontal=True, value_name=tr('architecture.params.millions')
        )
        rows = [{'part': n, 'params': f'{v:,}'} for n, v in zip(names, groups.values(), strict=True)]
        top = max(groups, key=lambda k: groups[k])
        summary = tr(
            'architecture.params.breakdown_summary',
            total=f'{b.total:,}',
            part=tr(f'architecture.params.group_{top}'),
            share=f'{100 * groups[top] / b.total:.0f}',
        )
        return options, rows, summary

    def _comparison(self, cfg: ModelConfig, size: str) -> tuple[dict, list[dict], str]:
        tr = self.tr
        presets = sizes.preset_sizes()
        rows = [(tr(f'architecture.size.{r["name"]}'), r['params']) for r in presets]
        if size == 'custom':
            rows.append((tr('architecture.size.custom'), sizes.count_params(cfg)))
        names = [r['name'] for r in presets]
        current = names.index(size) if size in names else len(rows) - 1  # the custom bar, when shown, comes last
        colors = [theme.PRIMARY if i == current else '#a5b4fc' for i in range(len(rows))]
        millions = [round(v / 1e6, 1) for _, v in rows]
        options = charts.colored_bar(
            [n for n, _ in rows], millions, colors, value_name=tr('architecture.params.millions')
        )
        table = [{'part': n, 'params': f'{v:,}'} for n, v in rows]
        summary = tr(
            'architecture.params.compare_summary',
            small=f'{rows[0][1]:,}',
            xl=f'{rows[3][1]:,}',
            ratio=f'{rows[3][1] / rows[0][1]:.1f}',
        )
        return options, table, summary
