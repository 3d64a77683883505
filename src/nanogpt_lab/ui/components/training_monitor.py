"""A training run as it goes: the loss chart, and beside it learning rate, tokens/s, MFU, memory, ETA and samples.

Fed with the run's events (`add(event)`), live or replayed; stages 4 and 5 share it. The numbers are the events'
own (the trainer measures them); nothing here estimates anything but the ETA, which says how it is computed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.loss_chart import Curves, loss_chart
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.section import stat
from nanogpt_lab.ui.i18n import Translator

MIB = 1024**2
SAMPLES_SHOWN = 3  # the newest samples; older ones are in the run's events.jsonl


def format_eta(seconds: float | None, tr: Translator) -> str:
    """'1 h 05 min', '3 min 20 s', '12 s' or '—'."""
    if seconds is None or seconds < 0:
        return '—'
    s = round(seconds)
    if s >= 3600:
        return tr('components.monitor.eta_h', h=s // 3600, m=f'{s % 3600 // 60:02d}')
    if s >= 60:
        return tr('components.monitor.eta_m', m=s // 60, s=f'{s % 60:02d}')
    return tr('components.monitor.eta_s', s=s)


def steps_done(train_event: dict[str, Any]) -> int:
    """Optimizer steps finished when a train event is written: its `iter` counts from 0, so step 199 is the 200th."""
    return int(train_event.get('iter') or 0) + 1


def eta_seconds(curves: Curves, recent: int = 20) -> float | None:
    """Iterations left × the median time per iteration of the last `recent` train events (evaluations excluded)."""
    last = curves.last
    if not last or not last.get('max_iters'):
        return None
    left = max(0, int(last['max_iters']) - steps_done(last))
    times = curves.dt_ms[-recent:]
    return left * statistics.median(times) / 1000 if times else None


def memory_text(mem_bytes: Any, device: str, tr: Translator) -> str:
    """'312 MiB (RAM)' or '2.1 GiB (GPU)'; '—' when the trainer could not measure it."""
    if not isinstance(mem_bytes, (int, float)) or mem_bytes <= 0:
        return '—'
    where = (
        tr('components.monitor.gpu') if device.startswith('cuda') or device == 'mps' else tr('components.monitor.ram')
    )
    amount = f'{mem_bytes / 1024**3:.2f} GiB' if mem_bytes >= 1024**3 else f'{mem_bytes / MIB:,.0f} MiB'
    return f'{amount} ({where})'


class training_monitor(ui.element):  # noqa: N801 - a NiceGUI component
    """The loss chart with the run's vital signs beside it; `add(event)` feeds both."""

    def __init__(
        self,
        *,
        tr: Translator,
        marker: str,
        device: str = 'cpu',
        on_update: Callable[[Curves], None] | None = None,
        **chart: Any,
    ) -> None:
        """`chart`: loss_chart's own options (title, provenance, start_loss, references, ...)."""
        super().__init__('div')
        self.tr, self.device, self.speed, self.on_update = tr, device, 1.0, on_update
        self.classes('w-full grid grid-cols-1 xl:grid-cols-3 gap-4').mark(marker)
        with self:
            with ui.element('div').classes('xl:col-span-2 w-full'):
                self.chart = loss_chart(tr=tr, marker=f'{marker}-loss', on_redraw=self.update_tiles, **chart)
            with ui.card().classes(theme.CARD).props('flat bordered'):
                ui.label(tr('components.monitor.title')).classes(theme.CARD_TITLE)
                with ui.element('div').classes('grid grid-cols-2 gap-3'):
                    self.tiles = {
                        key: stat(
                            tr(f'components.monitor.{key}'),
                            '—',
                            marker=f'{marker}-{key}',
                            hint=tr(f'components.monitor.{key}_help'),
                        )
                        for key in ('iter', 'lr', 'tokens_per_s', 'mfu', 'memory', 'eta')
                    }
                ui.label(tr('components.monitor.samples')).classes('text-sm font-semibold mt-2')
                self.samples = ui.column().classes('w-full gap-2 max-h-[28rem] overflow-y-auto')
                self.samples.mark(f'{marker}-samples')
                with self.samples:
                    ui.label(tr('components.monitor.no_samples')).classes(theme.CAPTION)
        self._shown_samples = 0

    @property
    def curves(self) -> Curves:
        """The points collected so far."""
        return self.chart.curves

    def add(self, event: dict[str, Any]) -> None:
        """Take one of the run's events."""
        self.chart.add(event)

    def reset(
        self,
        provenance: Provenance | None = None,
        *,
        start_loss: float | None = None,
        device: str = 'cpu',
        speed: float = 1.0,
    ) -> None:
        """Empty everything for a new run (`speed`: a replay's factor, for its ETA)."""
        self.device, self.speed = device, speed
        self.chart.reset(provenance, start_loss)
        self._shown_samples = 0
        self.samples.clear()
        for tile in self.tiles.values():
            tile.set('—')

    def update_tiles(self) -> None:
        """Show the latest train event's numbers and any new samples."""
        tr, last = self.tr, self.curves.last
        if last:
            self.tiles['iter'].set(f'{steps_done(last):,} / {last.get("max_iters") or "?":,}')
            self.tiles['lr'].set(f'{last["lr"]:.2e}' if isinstance(last.get('lr'), (int, float)) else '—')
            tps = last.get('tokens_per_s')
            self.tiles['tokens_per_s'].set(f'{tps:,.0f}' if isinstance(tps, (int, float)) else '—')
            mfu = last.get('mfu')
            self.tiles['mfu'].set(f'{100 * mfu:.1f}%' if isinstance(mfu, (int, float)) else '—')
            self.tiles['memory'].set(memory_text(last.get('mem_bytes'), self.device, tr))
            eta = eta_seconds(self.curves)
            self.tiles['eta'].set(format_eta(None if eta is None else eta / self.speed, tr))
        self._show_samples()
        if self.on_update is not None:
            self.on_update(self.curves)

    def _show_samples(self) -> None:
        samples = self.curves.samples
        if len(samples) == self._shown_samples:
            return
        self._shown_samples = len(samples)
        self.samples.clear()
        with self.samples:
            for sample in reversed(samples[-SAMPLES_SHOWN:]):
                with ui.column().classes('gap-0 w-full').mark('sample'):
                    ui.label(self.tr('components.monitor.sample_at', iter=f'{sample.get("iter") or 0:,}')).classes(
                        theme.CAPTION
                    )
                    ui.label(sample['text']).classes(f'{theme.MONO} whitespace-pre-wrap break-words text-xs')
