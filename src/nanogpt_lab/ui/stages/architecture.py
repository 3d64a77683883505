"""Stage 3: the GPT-2 architecture — a clickable diagram, sizes, a parameter calculator and "will it fit".

All numbers come from `nanogpt_lab.model.sizes` (torch-free arithmetic on the real module layout); this page only
lays them out. URL parameters: size, ln, part, n_layer/n_head/n_embd/block (custom), batch, ctx, dtype, accum,
target, mfu.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any

from nicegui import background_tasks, run, ui

from nanogpt_lab.config import GPT2_VOCAB_SIZE, PRESETS, ConfigError, ModelConfig, build
from nanogpt_lab.model import sizes
from nanogpt_lab.ui import estimates, theme
from nanogpt_lab.ui.components import charts
from nanogpt_lab.ui.components.architecture_diagram import architecture_diagram
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.device_badge import device_memory
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.section import section, stat
from nanogpt_lab.ui.view import View

SIZES = (*PRESETS, 'custom')
DTYPES = ('float32', 'bfloat16', 'float16')
LN_POSITIONS = ('pre', 'post')
GIB = 1024**3
URL_KEYS = ('size', 'ln', 'part', 'batch', 'ctx', 'dtype', 'accum', 'target', 'mfu')  # _State's, in the address bar
CUSTOM_URL_KEYS = {'block_size': 'block'}  # a custom shape's keys in the URL, where they differ from ModelConfig's


@dataclass(frozen=True)
class Part:
    """A clickable part: its code name in model/gpt.py, input and output shapes, weight shapes (symbolic)."""

    code: str
    shape_in: str
    shape_out: str
    weights: tuple[str, ...] = ()
    component: str | None = None  # the sizes.param_breakdown component it belongs to
    half: int | None = None  # 0/1: the first or second Linear of that component (c_attn|c_proj, c_fc|c_proj)


PARTS: dict[str, Part] = {
    'wte': Part('transformer.wte', 'B, T', 'B, T, C', ('V, C',), 'wte'),
    'wpe': Part('transformer.wpe', 'T', 'T, C', ('block_size, C',), 'wpe'),
    'ln_1': Part('transformer.h[i].ln_1', 'B, T, C', 'B, T, C', ('C', 'C'), 'ln_1'),
    'c_attn': Part('transformer.h[i].attn.c_attn', 'B, T, C', 'B, T, 3C', ('3C, C', '3C'), 'attn', 0),
    'attention': Part('F.scaled_dot_product_attention(q, k, v, is_causal=True)', 'B, nh, T, hs', 'B, T, C'),
    'attn_proj': Part('transformer.h[i].attn.c_proj', 'B, T, C', 'B, T, C', ('C, C', 'C'), 'attn', 1),
    'residual': Part('x = x + self.attn(self.ln_1(x))', 'B, T, C', 'B, T, C'),
    'ln_2': Part('transformer.h[i].ln_2', 'B, T, C', 'B, T, C', ('C', 'C'), 'ln_2'),
    'c_fc': Part('transformer.h[i].mlp.c_fc', 'B, T, C', 'B, T, 4C', ('4C, C', '4C'), 'mlp', 0),
    'gelu': Part('transformer.h[i].mlp.gelu', 'B, T, 4C', 'B, T, 4C'),
    'mlp_proj': Part('transformer.h[i].mlp.c_proj', 'B, T, 4C', 'B, T, C', ('C, 4C', 'C'), 'mlp', 1),
    'ln_f': Part('transformer.ln_f', 'B, T, C', 'B, T, C', ('C', 'C'), 'ln_f'),
    'lm_head': Part('lm_head (weight = transformer.wte.weight)', 'B, T, C', 'B, T, V', ('V, C',), 'lm_head'),
}


@dataclass
class _State:
    """What this tab has chosen (mirrored in the URL)."""

    size: str
    ln: str
    part: str
    custom: dict[str, int]
    batch: int
    ctx: int
    dtype: str
    accum: int
    target: str  # 'here' or a reference GPU
    mfu: int  # percent
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_view(cls, view: View) -> _State:
        """The choice a URL describes; anything missing or invalid takes its default."""
        custom = {
            'n_layer': view.int_param('n_layer', 4, 1, 256),
            'n_head': view.int_param('n_head', 4, 1, 256),
            'n_embd': view.int_param('n_embd', 128, 1, 32768),
            'block_size': view.int_param('block', 64, 1, 65536),
        }
        return cls(
            size=view.param('size', 'gpt2', SIZES),
            ln=view.param('ln', 'pre', LN_POSITIONS),
            part=view.param('part', 'c_attn', PARTS),
            custom=custom,
            batch=view.int_param('batch', 12, 1, 4096),
            ctx=view.int_param('ctx', 1024, 1, 65536),
            dtype=view.param('dtype', 'bfloat16', DTYPES),
            accum=view.int_param('accum', 40, 1, 4096),
            target=view.param('target', 'here', ('here', *estimates.REFERENCE_GPUS)),
            mfu=view.int_param('mfu', 30, 1, 100),
        )


def create(view: View) -> None:
    """Fill stage 3's column."""
    ArchitecturePage(view)


class ArchitecturePage:
    """Stage 3's widgets and how they follow the chosen size, LayerNorm position, part and training shape."""

    def __init__(self, view: View) -> None:
        self.view, self.tr = view, view.tr
        self.state = _State.from_view(view)
        self.cfg = self._config() or sizes.preset_config('gpt2')
        self.device_info: dict[str, Any] = view.device.info or {}
        self.cpu_peaks: dict[str, estimates.Throughput] = {}  # per dtype, measured after torch is loaded
        ui.label(self.tr('architecture.intro')).classes(theme.HELP)
        self._size_controls()
        self._diagram_section()
        self._numbers_section()
        self._fit_section()
        self._gpt1_table()
        view.device.on_ready(self._device_ready)

    # --- model choice --------------------------------------------------------------------------------------------

    def _config(self) -> ModelConfig | None:
        """The chosen shape, or None (with a message per field) when custom values are invalid."""
        s = self.state
        s.errors = {}
        if s.size != 'custom':
            return sizes.preset_config(s.size, ln_position=s.ln)
        values = {**s.custom, 'vocab_size': GPT2_VOCAB_SIZE, 'ln_position': s.ln}
        try:
            return build(ModelConfig, values)
        except ConfigError as e:
            key = e.key if e.key in s.custom else 'n_embd'
            s.errors[key] = self.tr('architecture.custom.invalid', message=str(e))
            return None

    def _size_controls(self) -> None:
        tr, s = self.tr, self.state
        with section(tr('architecture.size.title'), tr('architecture.size.help'), marker='size-section'):
            names = {k: tr(f'architecture.size.{k}') for k in SIZES}
            ui.toggle(names, value=s.size, on_change=lambda e: self._set(size=e.value)).props('no-caps').mark('size')
            with ui.row().classes('gap-3 items-start') as self.custom_row:
                self.custom_inputs = {
                    key: ui.number(
                        tr(f'architecture.custom.{key}'),
                        value=value,
                        min=1,
                        precision=0,
                        on_change=lambda e, k=key: self._set_custom(k, e.value),
                    )
                    .props('dense outlined')
                    .classes('w-36')
                    .mark(f'custom-{key}')
                    for key, value in s.custom.items()
                }
            self.custom_row.set_visibility(s.size == 'custom')
            self.custom_error = ui.label().classes(theme.ERROR_TEXT).mark('custom-error')

    def _set_custom(self, key: str, value: Any) -> None:
        try:
            self.state.custom[key] = int(value)
        except (TypeError, ValueError):
            self.state.errors[key] = self.tr('architecture.custom.number')
            self._show_errors()
            return
        self._set()

    def _set(self, **changes: Any) -> None:
        """Apply a change, re-validate, redraw everything, and put the choice in the URL."""
        for key, value in changes.items():
            setattr(self.state, key, value)
        cfg = self._config()
        if cfg is not None:
            self.cfg = cfg
        self._show_errors()
        self.custom_row.set_visibility(self.state.size == 'custom')
        self.redraw()
        self.view.share(**self._url_params())

    def _show_errors(self) -> None:
        for key, field_input in self.custom_inputs.items():
            message = self.state.errors.get(key) or ''
            if field_input.props.get('error-message', '') != message:  # untouched fields cost the browser nothing
                field_input.props['error'] = bool(message)
                field_input.props['error-message'] = message
        self.custom_error.set_text(' '.join(self.state.errors.values()))

    def _url_params(self) -> dict[str, Any]:
        s = self.state
        params = {key: getattr(s, key) for key in URL_KEYS}
        for key, value in s.custom.items():  # only a custom shape is in the URL; None removes it
            params[CUSTOM_URL_KEYS.get(key, key)] = value if s.size == 'custom' else None
        return params

    # --- diagram ---------------------------------------------------------------------------------------------------

    def _diagram_section(self) -> None:
        tr, s = self.tr, self.state
        with section(tr('architecture.diagram.title'), tr('architecture.diagram.help')):
            ln_names = {'pre': tr('architecture.ln.pre'), 'post': tr('architecture.ln.post')}
            ui.toggle(ln_names, value=s.ln, on_change=lambda e: self._set(ln=e.value)).props('no-caps').mark('ln')
            self.ln_note = ui.label(tr(f'architecture.ln.{s.ln}_note')).classes(theme.HELP).mark('ln-note')
            with ui.row().classes('w-full gap-6 items-start no-wrap max-md:flex-wrap'):
                labels = {p: tr(f'architecture.parts.{p}.label') for p in PARTS}
                labels |= {k: tr(f'architecture.diagram.{k}') for k in ('input', 'output', 'block_times', 'aria')}
                self.diagram = architecture_diagram(s.ln, self.cfg.n_layer, s.part, labels, self._select_part)
                self.diagram.mark('diagram')
                with ui.column().classes('flex-1 min-w-[18rem] gap-2'):
                    names = {p: f'{tr(f"architecture.parts.{p}.label")}' for p in PARTS}
                    ui.select(
                        names,
                        value=s.part,
                        label=tr('architecture.diagram.pick'),
                        on_change=lambda e: self._select_part(e.value),
                    ).props('dense outlined').mark('part')
                    self.detail = ui.column().classes('w-full gap-2').mark('part-detail')
        self._detail_labels()
        self._draw_detail()

    def _select_part(self, part: str) -> None:
        if part in PARTS and part != self.state.part:
            self._set(part=part)

    def _detail_labels(self) -> None:
        """The part panel's labels, made once and rewritten in place on every change (no flicker, small updates)."""
        with self.detail:
            self.part_title = ui.label().classes(theme.CARD_TITLE).mark('part-title')
            code = ui.label().classes(f'{theme.MONO} text-indigo-800 bg-indigo-50 rounded px-2 py-1')
            self.part_code = code.mark('part-code')
            self.part_what = ui.label().classes(theme.HELP).mark('part-what')
            self.part_shape = ui.label().classes(theme.MONO).mark('part-shape')
            self.part_weights = ui.label().classes(theme.MONO).mark('part-weights')
            self.part_params = ui.label().classes('text-sm font-medium').mark('part-params')

    def _draw_detail(self) -> None:
        tr, s, cfg = self.tr, self.state, self.cfg
        part = PARTS[s.part]
        dims = _dims(cfg, s.batch, min(s.ctx, cfg.block_size))
        self.part_title.set_text(tr(f'architecture.parts.{s.part}.label'))
        self.part_code.set_text(part.code)
        self.part_what.set_text(tr(f'architecture.parts.{s.part}.what'))
        self.part_shape.set_text(
            tr(
                'architecture.detail.shape',
                shape_in=part.shape_in,
                shape_out=part.shape_out,
                real_in=_shape(part.shape_in, dims),
                real_out=_shape(part.shape_out, dims),
            )
        )
        weights = ', '.join(f'({w}) = {_shape(w, dims)}' for w in part.weights)
        self.part_weights.set_text(tr('architecture.detail.weights', weights=weights) if weights else '')
        self.part_weights.set_visibility(bool(weights))
        self.part_params.set_text(self._part_params_text(s.part))

    def _part_params_text(self, name: str) -> str:
        part, cfg, tr = PARTS[name], self.cfg, self.tr
        if name == 'lm_head':
            return tr('architecture.detail.tied')
        component = next((c for c in sizes.param_breakdown(cfg).components if c.name == part.component), None)
        if component is None:
            return tr('architecture.detail.no_params')
        shapes = component.shapes
        if part.half is not None:
            mid = len(shapes) // 2
            shapes = shapes[:mid] if part.half == 0 else shapes[mid:]
        count = sum(prod(shape) for shape in shapes)
        if component.per == 'block':
            return tr(
                'architecture.detail.params_block', n=f'{count:,}', layers=cfg.n_layer, total=f'{count * cfg.n_layer:,}'
            )
        return tr('architecture.detail.params', n=f'{count:,}')

    # --- parameters and sizes -----------------------------------------------------------------------------------------

    def _numbers_section(self) -> None:
        tr = self.tr
        with section(tr('architecture.params.title'), tr('architecture.params.help')):
            with ui.row().classes(theme.ROW_WRAP):
                self.stat_total = stat(tr('architecture.params.total'), '', marker='params-total')
                self.stat_nanogpt = stat(
                    tr('architecture.params.nanogpt'),
                    '',
                    marker='params-nanogpt',
                    hint=tr('architecture.params.nanogpt_hint'),
                )
                self.stat_block = stat(tr('architecture.params.per_block'), '', marker='params-block')
                self.stat_flops = stat(
                    tr('architecture.params.flops'), '', marker='flops-per-token', hint=sizes.FLOPS_SOURCE
                )
            formula = Provenance.formula(tr('architecture.params.source'))
            columns = [('part', tr('architecture.params.col_part')), ('params', tr('architecture.params.col_params'))]
            with ui.element('div').classes(theme.GRID_2):
                cards = {}
                for key, build in (('breakdown', self._breakdown_chart), ('compare', self._comparison_chart)):
                    options, rows, summary = build()
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
        self._set_stats()

    def _set_stats(self) -> None:
        b = sizes.param_breakdown(self.cfg)
        self.stat_total.set(f'{b.total:,}')
        self.stat_nanogpt.set(f'{b.nanogpt:,}')
        self.stat_block.set(f'{b.per_block:,}')
        self.stat_flops.set(_si(sizes.flops_per_token(self.cfg)))

    def _breakdown_chart(self) -> tuple[dict, list[dict], str]:
        b, tr = sizes.param_breakdown(self.cfg), self.tr
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

    def _comparison_chart(self) -> tuple[dict, list[dict], str]:
        tr = self.tr
        rows = [(tr(f'architecture.size.{r["name"]}'), r['params']) for r in sizes.preset_sizes()]
        if self.state.size == 'custom':
            rows.append((tr('architecture.size.custom'), sizes.count_params(self.cfg)))
        current = SIZES.index(self.state.size)  # the custom bar, when shown, comes last like in SIZES
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

    # --- will it fit ---------------------------------------------------------------------------------------------

    def _fit_section(self) -> None:
        tr = self.tr
        with section(tr('architecture.fit.title'), tr('architecture.fit.help'), marker='fit-section'):
            self._fit_controls()
            with ui.element('div').classes(theme.GRID_2):
                options, rows, summary = self._memory_chart()
                columns = [('part', tr('architecture.fit.col_part')), ('bytes', tr('architecture.fit.col_bytes'))]
                self.memory = chart_card(
                    tr('architecture.fit.memory'),
                    options,
                    provenance=self._memory_provenance(),
                    summary=summary,
                    columns=columns,
                    rows=rows,
                    tr=tr,
                    marker='memory',
                )
                with ui.column().classes('gap-3'):
                    self._fit_labels()
                    self._mfu_control()
        self._draw_fit()

    def _fit_controls(self) -> None:
        """batch_size, block_size, accumulation, dtype and the device to size for."""
        tr, s = self.tr, self.state
        with ui.row().classes('gap-3 items-end flex-wrap'):
            self.fit_inputs: dict[str, Any] = {}
            for key, high, width in (('batch', 4096, 'w-32'), ('ctx', 65536, 'w-32'), ('accum', 4096, 'w-40')):
                field_input = ui.number(
                    tr(f'architecture.fit.{key}'),
                    value=getattr(s, key),
                    min=1,
                    max=high,
                    precision=0,
                    on_change=lambda e, k=key, h=high: self._set_int(k, e.value, 1, h),
                )
                self.fit_inputs[key] = field_input.props('dense outlined').classes(width).mark(f'fit-{key}')
            dtype = ui.select(
                {d: d for d in DTYPES},
                value=s.dtype,
                label=tr('architecture.fit.dtype'),
                on_change=lambda e: self._set(dtype=e.value),
            )
            self.fit_inputs['dtype'] = dtype.props('dense outlined').classes('w-36').mark('fit-dtype')
            targets = {'here': tr('architecture.fit.here')}
            targets |= {g: f'{g} · {m} GiB' for g, m in estimates.REFERENCE_GPUS.items()}
            device = ui.select(
                targets,
                value=s.target,
                label=tr('architecture.fit.device'),
                on_change=lambda e: self._set(target=e.value),
            )
            device.props('dense outlined').classes('w-56').mark('fit-device')

    def _mfu_control(self) -> None:
        """The utilisation the time estimate assumes, with the published range beside it."""
        tr, s = self.tr, self.state
        with ui.row().classes('items-center gap-2 w-full'):
            ui.label(tr('architecture.fit.mfu')).classes('text-sm')
            mfu = ui.slider(
                min=5, max=60, step=1, value=s.mfu, on_change=lambda e: self._set_int('mfu', e.value, 1, 100)
            )
            mfu.classes('flex-1').mark('fit-mfu')
            self.mfu_label = ui.label(f'{s.mfu}%').classes('text-sm tabular-nums w-10')
        ui.label(tr('architecture.fit.mfu_source', source=estimates.MFU_SOURCE)).classes(theme.CAPTION)

    def _set_int(self, key: str, value: Any, low: int, high: int) -> None:
        try:
            number = min(high, max(low, int(value)))
        except (TypeError, ValueError):
            return  # an empty field while typing: keep the last value
        self._set(**{key: number})

    def _target_memory(self) -> tuple[str, int]:
        if self.state.target != 'here':
            return self.state.target, estimates.REFERENCE_GPUS[self.state.target] * GIB
        kind, memory = device_memory(self.device_info)
        name = self.device_info.get('cuda', [{}])[0].get('name') if kind == 'cuda' else kind.upper()
        return str(name), memory

    def _fit_report(self) -> sizes.FitReport:
        s = self.state
        _, memory = self._target_memory()
        ctx = min(s.ctx, self.cfg.block_size)
        return sizes.will_it_fit(self.cfg, s.batch, ctx, s.dtype, memory or 1, gradient_accumulation_steps=s.accum)

    def _memory_provenance(self) -> Provenance:
        name, _ = self._target_memory()
        return Provenance.formula(self.tr('architecture.fit.source', device=name))

    def _memory_chart(self) -> tuple[dict, list[dict], str]:
        tr, report = self.tr, self._fit_report()
        est = report.estimate
        keys = ('weights', 'gradients', 'optimizer', 'autocast_copies', 'activations')
        names = [tr(f'architecture.fit.{k}') for k in keys]
        colors = ['#475569', '#64748b', '#94a3b8', '#cbd5e1', theme.ACCENT]
        series = [
            charts.Series(n, [round(getattr(est, k) / GIB, 2), 0], c)
            for n, k, c in zip(names, keys, colors, strict=True)
        ]
        series.append(charts.Series(tr('architecture.fit.available'), [0, round(report.available / GIB, 2)], theme.OK))
        bars = [tr('architecture.fit.needed'), tr('architecture.fit.available')]
        options = charts.bar(bars, series, horizontal=True, stacked=True, value_name='GiB')
        rows = [{'part': n, 'bytes': _bytes(getattr(est, k))} for n, k in zip(names, keys, strict=True)]
        rows.append({'part': tr('architecture.fit.total'), 'bytes': _bytes(est.total)})
        summary = tr(
            'architecture.fit.summary',
            total=_bytes(est.total),
            available=_bytes(report.available),
            verdict=tr('architecture.fit.fits' if report.fits else 'architecture.fit.too_big'),
        )
        return options, rows, summary

    def _fit_labels(self) -> None:
        """The verdict, the suggested fix and the timing lines, made once and rewritten in place."""
        tr = self.tr
        with ui.row().classes('items-start gap-2 no-wrap rounded-md px-3 py-2 bg-gray-50 w-full').mark('fit-verdict'):
            self.fit_icon = ui.icon('info').classes('mt-0.5')
            self.fit_answer = ui.label().classes('text-sm').mark('fit-answer')
        with ui.row().classes('items-center gap-2') as self.fix_row:
            self.fit_fix = ui.label().classes('text-sm').mark('fit-fix')
            apply = ui.button(tr('architecture.fit.apply'), on_click=self._apply_lever).props('dense flat no-caps')
            self.fit_apply = apply.mark('fit-apply')
        with ui.column().classes('w-full gap-1').mark('fit-time'):
            self.fit_flops = ui.label().classes('text-sm').mark('fit-flops')
            self.fit_time = ui.label().classes('text-base font-semibold').mark('fit-time-value')
            self.fit_peak = ui.label().classes(theme.CAPTION).mark('fit-peak-source')
        self.lever: sizes.Lever | None = None

    def _draw_fit(self) -> None:
        report, tr = self._fit_report(), self.tr
        name, _ = self._target_memory()
        key = 'architecture.fit.verdict_yes' if report.fits else 'architecture.fit.verdict_no'
        self.fit_answer.set_text(tr(key, needed=_bytes(report.needed), available=_bytes(report.available), device=name))
        self.fit_icon.name = 'check_circle' if report.fits else 'warning'
        self.fit_icon.style(f'color: {theme.OK if report.fits else theme.WARN}')
        self.lever = report.lever
        self.fix_row.set_visibility(report.lever is not None)
        if report.lever is not None:
            self.fit_fix.set_text(tr('architecture.fit.fix', fix=self._lever_text(report.lever)))
            self.fit_apply.set_visibility(report.lever.key != 'model')
        self._draw_timing()

    def _lever_text(self, lever: sizes.Lever) -> str:
        tr, c, s = self.tr, lever.change, self.state
        if lever.key == 'batch_size':
            text = tr(
                'architecture.fit.lever_batch',
                batch=s.batch,
                new_batch=c['batch_size'],
                accum=s.accum,
                new_accum=c['gradient_accumulation_steps'],
            )
        elif lever.key == 'dtype':
            text = tr('architecture.fit.lever_dtype')
        elif lever.key == 'block_size':
            text = tr('architecture.fit.lever_block', block=s.ctx, new_block=c['block_size'])
        else:
            text = tr('architecture.fit.lever_model', model=c.get('model', ''))
        needs = tr('architecture.fit.lever_needs', needed=_bytes(lever.needed))
        return f'{text} ({needs})'

    def _apply_lever(self) -> None:
        lever = self.lever
        if lever is None:
            return
        names = {'batch_size': 'batch', 'gradient_accumulation_steps': 'accum', 'dtype': 'dtype', 'block_size': 'ctx'}
        for key, value in lever.change.items():
            if key in names:
                self.fit_inputs[names[key]].set_value(value)  # the field's on_change applies it and redraws

    def _peak(self) -> estimates.Throughput:
        s = self.state
        if s.target != 'here':
            return estimates.gpu_peak(s.target, s.dtype)
        if self.device_info.get('cuda'):
            return estimates.gpu_peak(self.device_info['cuda'][0]['name'], s.dtype)
        return self.cpu_peaks.get(s.dtype) or estimates.Throughput(None, 'pending')

    def _draw_timing(self) -> None:
        tr, s, cfg = self.tr, self.state, self.cfg
        ctx = min(s.ctx, cfg.block_size)
        fpt = sizes.flops_per_token(cfg, seq_len=ctx)
        tokens = s.batch * ctx * s.accum
        peak = self._peak()
        self.mfu_label.set_text(f'{s.mfu}%')
        self.fit_flops.set_text(
            tr('architecture.fit.flops_line', fpt=_si(fpt), tokens=f'{tokens:,}', total=_si(fpt * tokens))
        )
        secs = estimates.seconds_per_iter(fpt, tokens, peak.flops, s.mfu / 100) if peak.flops else None
        self.fit_time.set_text(tr('architecture.fit.time_line', t=_duration(secs, tr), mfu=s.mfu) if secs else '')
        self.fit_time.set_visibility(secs is not None)
        self.fit_peak.set_text(tr(f'architecture.fit.peak_{peak.source}', detail=peak.detail))
        if peak.source == 'pending' and self.device_info.get('detected'):  # torch is loaded: measuring is cheap now
            background_tasks.create(self._measure_cpu(), name='measure cpu peak')

    async def _measure_cpu(self) -> None:
        """The CPU's FLOP/s for the chosen dtype, from hardware.py (measured once, cached in the workspace)."""
        dtype = self.state.dtype
        if dtype in self.cpu_peaks or self.state.target != 'here' or self.device_info.get('cuda'):
            return
        self.cpu_peaks[dtype] = estimates.Throughput(None, 'pending')
        self.cpu_peaks[dtype] = await run.io_bound(estimates.cpu_peak, dtype)
        if not self.fit_peak.is_deleted:
            self._draw_timing()

    def _device_ready(self, info: dict[str, Any]) -> None:
        self.device_info = info
        self.redraw()

    # --- GPT-1 vs GPT-2 ------------------------------------------------------------------------------------------

    def _gpt1_table(self) -> None:
        tr = self.tr
        with section(tr('architecture.gpt1.title'), tr('architecture.gpt1.help')):
            rows = [
                {
                    'feature': tr(f'architecture.gpt1.{k}'),
                    'gpt1': tr(f'architecture.gpt1.{k}_1'),
                    'gpt2': tr(f'architecture.gpt1.{k}_2'),
                }
                for k in ('params', 'tokenizer', 'context', 'data', 'training', 'focus', 'ln')
            ]
            columns = [
                {'name': 'feature', 'label': tr('architecture.gpt1.feature'), 'field': 'feature', 'align': 'left'},
                {'name': 'gpt1', 'label': 'GPT-1 (minimal-gpt1)', 'field': 'gpt1', 'align': 'left'},
                {'name': 'gpt2', 'label': 'GPT-2 (nanoGPT)', 'field': 'gpt2', 'align': 'left'},
            ]
            ui.table(columns=columns, rows=rows, row_key='feature').props('flat bordered dense wrap-cells').classes(
                'w-full'
            ).mark('gpt1-table')

    # --- redraw --------------------------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Bring every view on the page in line with the current choice."""
        s = self.state
        self.diagram.draw(s.ln, self.cfg.n_layer, s.part)
        self.ln_note.set_text(self.tr(f'architecture.ln.{s.ln}_note'))
        self._draw_detail()
        self._set_stats()
        options, rows, summary = self._breakdown_chart()
        self.breakdown.set_data(options, rows=rows, summary=summary)
        options, rows, summary = self._comparison_chart()
        self.comparison.set_data(options, rows=rows, summary=summary)
        options, rows, summary = self._memory_chart()
        self.memory.set_data(options, rows=rows, summary=summary, provenance=self._memory_provenance())
        self._draw_fit()


def _dims(cfg: ModelConfig, batch: int, ctx: int) -> dict[str, int]:
    C = cfg.n_embd
    return {
        'B': batch,
        'T': ctx,
        'C': C,
        '3C': 3 * C,
        '4C': 4 * C,
        'V': cfg.vocab_size,
        'nh': cfg.n_head,
        'hs': C // cfg.n_head,
        'block_size': cfg.block_size,
    }


def _shape(symbolic: str, dims: dict[str, int]) -> str:
    """'B, T, 3C' with B=12, T=1024, C=768 -> '(12, 1024, 2304)'."""
    return '(' + ', '.join(str(dims[d.strip()]) for d in symbolic.split(',')) + ')'


def _si(n: float) -> str:
    """855166464 -> '855.2 M' (FLOPs and counts people read at a glance)."""
    for unit, scale in (('P', 1e15), ('T', 1e12), ('G', 1e9), ('M', 1e6), ('k', 1e3)):
        if abs(n) >= scale:
            return f'{n / scale:.1f} {unit}'
    return f'{n:.0f}'


def _bytes(n: float) -> str:
    return f'{n / GIB:.2f} GiB' if n >= GIB / 10 else f'{n / 1024**2:.1f} MiB'


def _duration(seconds: float, tr: Any) -> str:
    if seconds < 1:
        return tr('architecture.fit.ms', n=f'{seconds * 1000:.0f}')
    if seconds < 120:
        return tr('architecture.fit.s', n=f'{seconds:.1f}')
    if seconds < 7200:
        return tr('architecture.fit.min', n=f'{seconds / 60:.1f}')
    return tr('architecture.fit.h', n=f'{seconds / 3600:.1f}')
