"""Stage 3's "will it fit": the training shape to size for, the memory it needs on a device, the change that would
make it fit, and the time one optimizer step would take at a chosen utilisation.

The arithmetic is `nanogpt_lab.model.sizes` (torch-free); the device's FLOP/s come from `ui.estimates` (a datasheet,
a configured figure or this CPU measured once). `fit_panel(tr=..., choice=..., on_change=...)` draws it; the page
calls `show(cfg)` whenever the model or the shape changes and `on_change(**changes)` hears the learner's edits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nicegui import background_tasks, run, ui

from nanogpt_lab.config import ModelConfig
from nanogpt_lab.model import sizes
from nanogpt_lab.ui import estimates, theme
from nanogpt_lab.ui.components import charts
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.device_badge import device_memory
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.i18n import Translator
from nanogpt_lab.ui.numbers import GIB, byte_size, duration, si

DTYPES = ('float32', 'bfloat16', 'float16')
FIELDS = (('batch', 4096, 'w-32'), ('ctx', 65536, 'w-32'), ('accum', 4096, 'w-40'))  # (key, largest, width)
LEVER_FIELDS = {'batch_size': 'batch', 'gradient_accumulation_steps': 'accum', 'dtype': 'dtype', 'block_size': 'ctx'}


@dataclass
class FitChoice:
    """The training shape the learner sizes for (part of the page's state, mirrored in the URL)."""

    batch: int
    ctx: int
    dtype: str
    accum: int
    target: str  # 'here' or a reference GPU
    mfu: int  # percent


class fit_panel(ui.column):  # noqa: N801 - a NiceGUI component
    """Shape controls, the memory chart, the verdict with its fix, and the time per step."""

    def __init__(self, *, tr: Translator, choice: FitChoice, cfg: ModelConfig, on_change: Callable[..., None]) -> None:
        super().__init__()
        self.tr, self.choice, self.cfg, self.on_change = tr, choice, cfg, on_change
        self.device_info: dict[str, Any] = {}
        self.cpu_peaks: dict[str, estimates.Throughput] = {}  # per dtype, measured after torch is loaded
        self.lever: sizes.Lever | None = None
        self.classes('w-full gap-2')
        with self:
            self._controls()
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
                    self._labels()
                    self._mfu_control()
        self._draw_fit()

    def show(self, cfg: ModelConfig) -> None:
        """Redraw for this model and the current choice."""
        self.cfg = cfg
        options, rows, summary = self._memory_chart()
        self.memory.set_data(options, rows=rows, summary=summary, provenance=self._memory_provenance())
        self._draw_fit()

    def set_device(self, info: dict[str, Any]) -> None:
        """The detected hardware ('here' means this device from now on)."""
        self.device_info = info
        self.show(self.cfg)

    # --- controls ------------------------------------------------------------------------------------------------

    def _controls(self) -> None:
        """batch_size, block_size, accumulation, dtype and the device to size for."""
        tr, c = self.tr, self.choice
        with ui.row().classes('gap-3 items-end flex-wrap'):
            self.inputs: dict[str, Any] = {}
            for key, high, width in FIELDS:
                field_input = ui.number(
                    tr(f'architecture.fit.{key}'),
                    value=getattr(c, key),
                    min=1,
                    max=high,
                    precision=0,
                    on_change=lambda e, k=key, h=high: self._set_int(k, e.value, h),
                )
                self.inputs[key] = field_input.props('dense outlined').classes(width).mark(f'fit-{key}')
            dtype = ui.select(
                {d: d for d in DTYPES},
                value=c.dtype,
                label=tr('architecture.fit.dtype'),
                on_change=lambda e: self.on_change(dtype=e.value),
            )
            self.inputs['dtype'] = dtype.props('dense outlined').classes('w-36').mark('fit-dtype')
            targets = {'here': tr('architecture.fit.here')}
            targets |= {g: f'{g} · {m} GiB' for g, m in estimates.REFERENCE_GPUS.items()}
            device = ui.select(
                targets,
                value=c.target,
                label=tr('architecture.fit.device'),
                on_change=lambda e: self.on_change(target=e.value),
            )
            device.props('dense outlined').classes('w-56').mark('fit-device')

    def _mfu_control(self) -> None:
        """The utilisation the time estimate assumes, with the published range beside it."""
        tr = self.tr
        with ui.row().classes('items-center gap-2 w-full'):
            label = ui.label(tr('architecture.fit.mfu')).classes('text-sm')
            mfu = ui.slider(
                min=5, max=60, step=1, value=self.choice.mfu, on_change=lambda e: self._set_int('mfu', e.value, 100)
            )
            mfu.classes('flex-1').mark('fit-mfu')
            mfu.props(f'aria-labelledby={label.html_id}')
            self.mfu_label = ui.label(f'{self.choice.mfu}%').classes('text-sm tabular-nums w-10')
        ui.label(tr('architecture.fit.mfu_source', source=tr('sources.mfu'))).classes(theme.CAPTION)

    def _set_int(self, key: str, value: Any, high: int) -> None:
        try:
            number = min(high, max(1, int(value)))
        except (TypeError, ValueError):
            return  # an empty field while typing: keep the last value
        self.on_change(**{key: number})

    # --- memory ----------------------------------------------------------------------------------------------------

    def _target_memory(self) -> tuple[str, int]:
        if self.choice.target != 'here':
            return self.choice.target, estimates.REFERENCE_GPUS[self.choice.target] * GIB
        kind, memory = device_memory(self.device_info)
        name = self.device_info.get('cuda', [{}])[0].get('name') if kind == 'cuda' else kind.upper()
        return str(name), memory

    def _report(self) -> sizes.FitReport:
        c = self.choice
        _, memory = self._target_memory()
        ctx = min(c.ctx, self.cfg.block_size)
        return sizes.will_it_fit(self.cfg, c.batch, ctx, c.dtype, memory or 1, gradient_accumulation_steps=c.accum)

    def _memory_provenance(self) -> Provenance:
        name, _ = self._target_memory()
        return Provenance.formula(self.tr('architecture.fit.source', device=name))

    def _memory_chart(self) -> tuple[dict, list[dict], str]:
        tr, report = self.tr, self._report()
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
        rows = [{'part': n, 'bytes': byte_size(getattr(est, k))} for n, k in zip(names, keys, strict=True)]
        rows.append({'part': tr('architecture.fit.total'), 'bytes': byte_size(est.total)})
        summary = tr(
            'architecture.fit.summary',
            total=byte_size(est.total),
            available=byte_size(report.available),
            verdict=tr('architecture.fit.fits' if report.fits else 'architecture.fit.too_big'),
        )
        return options, rows, summary

    # --- verdict, fix and timing -------------------------------------------------------------------------------

    def _labels(self) -> None:
        """The verdict, the suggested fix and the timing lines, made once and rewritten in place."""
        tr = self.tr
        with ui.row().classes('items-start gap-2 no-wrap rounded-md px-3 py-2 bg-gray-50 w-full').mark('fit-verdict'):
            self.icon = ui.icon('info').classes('mt-0.5')
            self.answer = ui.label().classes('text-sm').mark('fit-answer')
        with ui.row().classes('items-center gap-2') as self.fix_row:
            self.fix = ui.label().classes('text-sm').mark('fit-fix')
            apply = ui.button(tr('architecture.fit.apply'), on_click=self._apply_lever).props('dense flat no-caps')
            self.apply = apply.mark('fit-apply')
        with ui.column().classes('w-full gap-1').mark('fit-time'):
            self.flops = ui.label().classes('text-sm').mark('fit-flops')
            self.time = ui.label().classes('text-base font-semibold').mark('fit-time-value')
            self.peak = ui.label().classes(theme.CAPTION).mark('fit-peak-source')

    def _draw_fit(self) -> None:
        report, tr = self._report(), self.tr
        name, _ = self._target_memory()
        key = 'architecture.fit.verdict_yes' if report.fits else 'architecture.fit.verdict_no'
        self.answer.set_text(
            tr(key, needed=byte_size(report.needed), available=byte_size(report.available), device=name)
        )
        self.icon.name = 'check_circle' if report.fits else 'warning'
        self.icon.style(f'color: {theme.OK if report.fits else theme.WARN}')
        self.lever = report.lever
        self.fix_row.set_visibility(report.lever is not None)
        if report.lever is not None:
            key = 'architecture.fit.fix' if report.lever.fits else 'architecture.fit.no_fix'  # never a fix that fails
            self.fix.set_text(tr(key, fix=self._lever_text(report.lever), available=byte_size(report.available)))
            self.apply.set_visibility(report.lever.key != 'model' and report.lever.fits)
        self._draw_timing()

    def _lever_text(self, lever: sizes.Lever) -> str:
        tr, c, s = self.tr, lever.change, self.choice
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
        needs = tr('architecture.fit.lever_needs', needed=byte_size(lever.needed))
        return f'{text} ({needs})'

    def _apply_lever(self) -> None:
        if self.lever is None:
            return
        for key, value in self.lever.change.items():
            if key in LEVER_FIELDS:
                self.inputs[LEVER_FIELDS[key]].set_value(value)  # the field's on_change applies it and redraws

    def _peak(self) -> estimates.Throughput:
        c = self.choice
        if c.target != 'here':
            return estimates.gpu_peak(c.target, c.dtype)
        if self.device_info.get('cuda'):
            return estimates.gpu_peak(self.device_info['cuda'][0]['name'], c.dtype)
        return self.cpu_peaks.get(c.dtype) or estimates.Throughput(None, 'pending')

    def _draw_timing(self) -> None:
        tr, c, cfg = self.tr, self.choice, self.cfg
        ctx = min(c.ctx, cfg.block_size)
        fpt = sizes.flops_per_token(cfg, seq_len=ctx)
        tokens = c.batch * ctx * c.accum
        peak = self._peak()
        self.mfu_label.set_text(f'{c.mfu}%')
        self.flops.set_text(
            tr('architecture.fit.flops_line', fpt=si(fpt), tokens=f'{tokens:,}', total=si(fpt * tokens))
        )
        secs = estimates.seconds_per_iter(fpt, tokens, peak.flops, c.mfu / 100) if peak.flops else None
        self.time.set_text(tr('architecture.fit.time_line', t=duration(secs, tr), mfu=c.mfu) if secs else '')
        self.time.set_visibility(secs is not None)
        self.peak.set_text(tr(f'architecture.fit.peak_{peak.source}', detail=peak.detail))
        if peak.source == 'pending' and self.device_info.get('detected'):  # torch is loaded: measuring is cheap now
            background_tasks.create(self._measure_cpu(), name='measure cpu peak')

    async def _measure_cpu(self) -> None:
        """The CPU's FLOP/s for the chosen dtype, from hardware.py (measured once, cached in the workspace)."""
        dtype = self.choice.dtype
        if dtype in self.cpu_peaks or self.choice.target != 'here' or self.device_info.get('cuda'):
            return
        self.cpu_peaks[dtype] = estimates.Throughput(None, 'pending')
        self.cpu_peaks[dtype] = await run.io_bound(estimates.cpu_peak, dtype)
        if not self.peak.is_deleted:
            self._draw_timing()
