"""The live loss chart: a run's train and val loss on one axis, fed event by event — a live job or a replay.

Real and simulated runs arrive as the same events (DESIGN §4), so one `Curves` collects both and one option builder
draws them: train loss (blue), val loss at each evaluation (orange, best point marked), the loss of a uniform guess
ln(vocab) as a dashed line, and reference curves (a recorded run as a grey "ghost", or the learner's past runs).
A switch shows the same curves in bits per character (the events' `bpc`, `train_bpc`, `val_bpc`): the unit that
compares runs with different tokenizers.
Events can arrive far faster than a person reads (a 10× replay sends ~50 a second), so `loss_chart` redraws at
most every REDRAW_S and thins long curves to what a chart can show without losing their spikes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.i18n import Translator

REDRAW_S = 0.25  # at most four redraws a second, however fast events come
MAX_POINTS = 600  # per curve drawn: ~2 points per pixel column of a wide chart
GHOST = '#94a3b8'
OVERLAY_COLORS = ('#0891b2', '#65a30d', '#c026d3', '#475569', '#be123c')  # past runs; never train/val colours
Point = list[float]  # [iter, value]


@dataclass
class Curves:
    """One run's points, collected from its events: train loss, evaluations, gradient norm, samples, the end."""

    train: list[Point] = field(default_factory=list)
    val: list[Point] = field(default_factory=list)
    train_at_eval: list[Point] = field(default_factory=list)  # the eval's train-split estimate (same batches as val)
    grad_norm: list[Point] = field(default_factory=list)
    dt_ms: list[float] = field(default_factory=list)  # time per iteration, as the trainer measured it
    last: dict[str, Any] = field(default_factory=dict)  # the latest train event: lr, speed, MFU, memory
    samples: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)  # eval events that wrote ckpt.pt
    end: dict[str, Any] | None = None
    # the same losses in bits per character, where the events carry them (runs since bits per char were added)
    train_bpc: list[Point] = field(default_factory=list)
    val_bpc: list[Point] = field(default_factory=list)
    train_at_eval_bpc: list[Point] = field(default_factory=list)
    bits_per_nat: float | None = None  # val_bpc / val_loss: 1 / (characters per token × ln 2)

    def add(self, event: dict[str, Any]) -> bool:
        """Take one event; True if it changes what the chart shows."""
        kind = event.get('type')
        if kind == 'train' and _number(event.get('loss')):
            self.train.append([event.get('iter', len(self.train)), event['loss']])
            if _number(event.get('bpc')):
                self.train_bpc.append([self.train[-1][0], event['bpc']])
            if _number(event.get('grad_norm')):
                self.grad_norm.append([event.get('iter', 0), event['grad_norm']])
            if _number(event.get('dt_ms')):
                self.dt_ms.append(event['dt_ms'])
            self.last = event
            return True
        if kind == 'eval' and _number(event.get('val_loss')):
            self.val.append([event.get('iter', 0), event['val_loss']])
            if _number(event.get('train_loss')):
                self.train_at_eval.append([event.get('iter', 0), event['train_loss']])
            self._add_bits(event)
            if event.get('saved'):
                self.checkpoints.append(event)
            return True
        if kind == 'sample' and isinstance(event.get('text'), str):
            self.samples.append(event)
            return True
        if kind == 'end':
            self.end = event
            return True
        return False

    def _add_bits(self, event: dict[str, Any]) -> None:
        if _number(event.get('val_bpc')):
            self.val_bpc.append([event.get('iter', 0), event['val_bpc']])
            if event['val_loss']:
                self.bits_per_nat = event['val_bpc'] / event['val_loss']
        if _number(event.get('train_bpc')):
            self.train_at_eval_bpc.append([event.get('iter', 0), event['train_bpc']])

    def in_bits(self) -> Curves:
        """The same run with its losses in bits per character (empty where the events did not carry them)."""
        return dataclasses.replace(self, train=self.train_bpc, val=self.val_bpc, train_at_eval=self.train_at_eval_bpc)

    @property
    def best(self) -> Point | None:
        """The evaluation with the lowest val loss (the checkpoint a fine-tune keeps)."""
        return min(self.val, key=lambda p: p[1]) if self.val else None

    def overfitting(self, evals: int = 2) -> bool:
        """Val loss has risen above its best for `evals` evaluations while the train estimate kept falling."""
        best = self.best
        if best is None or len(self.val) < evals + 1:
            return False
        after = [p for p in self.val if p[0] > best[0]]
        trains = {p[0]: p[1] for p in self.train_at_eval}
        if len(after) < evals or best[0] not in trains or self.val[-1][0] not in trains:
            return False
        return all(p[1] > best[1] for p in after[-evals:]) and trains[self.val[-1][0]] < trains[best[0]]


def from_events(events: Iterable[dict[str, Any]]) -> Curves:
    """All the points of a finished run (a recording, a past run's events.jsonl)."""
    curves = Curves()
    for event in events:
        curves.add(event)
    return curves


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def thin(points: Sequence[Point], limit: int = MAX_POINTS) -> list[Point]:
    """At most ~`limit` points, keeping each bucket's lowest and highest so spikes and dips stay visible."""
    if len(points) <= limit:
        return list(points)
    size = math.ceil(len(points) / (limit // 2))
    out: list[Point] = []
    for i in range(0, len(points), size):
        bucket = points[i : i + size]
        lo, hi = min(bucket, key=lambda p: p[1]), max(bucket, key=lambda p: p[1])
        out.extend(sorted({id(lo): lo, id(hi): hi}.values(), key=lambda p: p[0]))
    if out[-1] is not points[-1]:
        out.append(points[-1])  # the newest point is always drawn
    return out


@dataclass(frozen=True)
class Reference:
    """A curve to compare with: a recorded run (a ghost: "is my curve normal?") or one of the learner's runs."""

    name: str
    points: list[Point]
    color: str = GHOST
    dashed: bool = True
    bits: list[Point] | None = None  # the same curve in bits per character, where its run recorded them


@dataclass(frozen=True)
class Labels:
    """The chart's words, translated by the page."""

    train: str
    val: str
    best: str
    uniform: str  # '{loss}' is filled with ln(vocab)
    x: str
    y: str
    clipped: str = '{name}'  # '{name}', '{n}', '{total}': a reference longer than the run, cut at its end


def clip(ref: Reference, span: int | None, label: str) -> Reference:
    """A reference cut at the run's last iteration, named so the legend says it was cut (and from how long)."""
    if not span or not ref.points or ref.points[-1][0] <= span:
        return ref
    points = [p for p in ref.points if p[0] <= span]
    name = label.format(name=ref.name, n=f'{span:,}', total=f'{int(ref.points[-1][0]):,}')
    return Reference(name, points, ref.color, ref.dashed)


def loss_options(
    curves: Curves,
    labels: Labels,
    *,
    references: Sequence[Reference] = (),
    log_scale: bool = False,
    start_loss: float | None = None,
    mark_best: bool = True,
    span: int | None = None,
) -> dict[str, Any]:
    """ECharts options: train and val on one axis, references underneath, ln(vocab) and the best val point marked.
    `span` (the run's max_iters) fixes the x axis to the run's length; longer references are clipped to it."""
    series: list[dict[str, Any]] = [_reference(clip(r, span, labels.clipped)) for r in references]
    train = _line(labels.train, thin(curves.train), theme.TRAIN, width=1.5)
    # marks are always present, empty when there is nothing to mark: NiceGUI merges an update into the last options
    text = labels.uniform.format(loss=f'{start_loss:.2f}') if start_loss is not None else ''
    train['markLine'] = {
        'symbol': 'none',
        'silent': True,
        'lineStyle': {'color': theme.MUTED, 'type': 'dashed'},
        'label': {'formatter': text, 'position': 'insideEndTop', 'color': theme.MUTED},
        'data': [] if start_loss is None else [{'yAxis': round(start_loss, 4)}],
    }
    val = _line(labels.val, curves.val, theme.VAL, width=2.5)
    val.update(showSymbol=True, symbolSize=6)
    best = curves.best if mark_best else None
    val['markPoint'] = {
        'symbol': 'pin',
        'symbolSize': 36,
        'itemStyle': {'color': theme.VAL},
        'label': {'formatter': f'{best[1]:.3f}' if best else '', 'fontSize': 9},
        'data': [] if best is None else [{'name': labels.best, 'coord': best, 'value': round(best[1], 3)}],
    }
    series += [train, val]
    return {
        'animation': False,  # live data: each redraw replaces the last, an animation would lag behind it
        'grid': GRID,
        'tooltip': {'trigger': 'axis'},
        'legend': {'top': 0, 'type': 'scroll'},
        'xAxis': {**x_axis(labels.x), 'max': span or 'dataMax'},
        'yAxis': y_axis(labels.y, log_scale),
        'series': series,
    }


# Room for the axis names: ECharts leaves them out of containLabel, so the grid keeps space for them itself (the
# x axis's name ends 36 px under the axis line, even when an empty chart has no labels to push it up).
GRID = {'left': 8, 'right': 24, 'top': 44, 'bottom': 38, 'containLabel': True}


def x_axis(name: str) -> dict[str, Any]:
    """An iteration axis with its name centred underneath."""
    return {'type': 'value', 'name': name, 'nameLocation': 'middle', 'nameGap': 24, 'min': 0}


def y_axis(name: str, log_scale: bool) -> dict[str, Any]:
    """A value axis with its name above it, running right from the axis (so a long name is never cut off)."""
    return {
        'type': 'log' if log_scale else 'value',
        'name': name,
        'scale': True,
        'nameTextStyle': {'align': 'left', 'padding': [0, 0, 4, -4]},
    }


def curves_options(
    series: Sequence[tuple[str, Sequence[Point], str]], *, x_name: str, y_name: str, log_scale: bool = False
) -> dict[str, Any]:
    """Several runs' curves of one quantity (e.g. pre-LN and post-LN gradient norm) on shared axes."""
    return {
        'animation': False,
        'grid': GRID,
        'tooltip': {'trigger': 'axis'},
        'legend': {'top': 0},
        'xAxis': x_axis(x_name),
        'yAxis': y_axis(y_name, log_scale),
        'series': [_line(name, thin(points), color, width=1.5) for name, points, color in series],
    }


def _line(name: str, points: Sequence[Point], color: str, *, width: float) -> dict[str, Any]:
    return {
        'type': 'line',
        'name': name,
        'data': [list(p) for p in points],
        'showSymbol': False,
        'lineStyle': {'color': color, 'width': width},
        'itemStyle': {'color': color},
    }


def _reference(ref: Reference) -> dict[str, Any]:
    line = _line(ref.name, thin(ref.points, MAX_POINTS // 2), ref.color, width=1.2)
    line['lineStyle']['type'] = 'dashed' if ref.dashed else 'solid'
    line['lineStyle']['opacity'] = 0.8
    line['z'] = 1  # under the run being watched
    return line


def summary(curves: Curves, tr: Translator) -> str:
    """One sentence for screen readers: where the run is and its best val loss."""
    if not curves.train and not curves.val:
        return tr('components.loss.empty')
    last = curves.train[-1] if curves.train else curves.val[-1]
    best = curves.best
    text = tr('components.loss.summary', iter=f'{last[0]:,}', loss=f'{last[1]:.3f}')
    if best is not None:
        text += ' ' + tr('components.loss.summary_best', iter=f'{best[0]:,}', loss=f'{best[1]:.3f}')
    return text


def table_rows(curves: Curves) -> list[dict[str, Any]]:
    """One row per evaluation (the train curve has thousands of points; evaluations are what people compare)."""
    trains = {p[0]: p[1] for p in curves.train_at_eval}
    return [{'iter': it, 'train': trains.get(it), 'val': round(v, 4)} for it, v in curves.val]


class loss_chart(ui.column):  # noqa: N801 - a NiceGUI component
    """`loss_chart(tr=..., marker=..., title=..., provenance=...)`; feed it with `add(event)`, reset with `reset()`."""

    def __init__(
        self,
        *,
        tr: Translator,
        marker: str,
        title: str,
        provenance: Provenance,
        start_loss: float | None = None,
        references: Sequence[Reference] = (),
        mark_best: bool = True,
        height: str = 'h-80',
        on_redraw: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.tr, self.marker = tr, marker
        self.curves = Curves()
        self.start_loss, self.references, self.mark_best = start_loss, list(references), mark_best
        self.log_scale, self._dirty, self.on_redraw = False, False, on_redraw
        self.span: int | None = None  # the run's max_iters: the x axis ends there
        self.bits = False  # the unit: nats per token, or bits per character
        words = (tr(f'components.loss.{k}') for k in ('train', 'val', 'best', 'uniform', 'iterations', 'loss'))
        self.labels = Labels(*words, clipped=tr('walk.run.clipped'))
        self.classes('w-full gap-1')
        with self:
            self.card = chart_card(
                title,
                self.options(),
                provenance=provenance,
                summary=summary(self.curves, tr),
                columns=self._columns(),
                rows=[],
                tr=tr,
                marker=marker,
                height=height,
            )
            with self.card, ui.row().classes('items-center gap-4'):
                switch = ui.switch(tr('components.loss.log_scale'), on_change=lambda e: self.set_log(bool(e.value)))
                switch.props('dense size=sm').classes('text-xs text-gray-600').mark(f'{marker}-log')
                unit = ui.switch(tr('gpt1.units.switch'), on_change=lambda e: self.set_bits(bool(e.value)))
                unit.props('dense size=sm').classes('text-xs text-gray-600').mark(f'{marker}-bits')
                unit.tooltip(tr('gpt1.units.help'))
        self.timer = ui.timer(REDRAW_S, self._flush)

    def _columns(self) -> list[tuple[str, str]]:
        tr = self.tr
        return [('iter', tr('components.loss.iterations')), ('train', self.labels.train), ('val', self.labels.val)]

    def shown(self) -> Curves:
        """The curves in the unit the switch picks."""
        return self.curves.in_bits() if self.bits else self.curves

    def options(self) -> dict[str, Any]:
        """The chart's options for what it holds now, in the chosen unit."""
        if not self.bits:
            curves, labels, references, start = self.curves, self.labels, self.references, self.start_loss
        else:
            ratio = self.curves.bits_per_nat
            curves = self.curves.in_bits()
            labels = dataclasses.replace(self.labels, y=self.tr('gpt1.units.bpc_axis'))
            references = [dataclasses.replace(r, points=r.bits) for r in self.references if r.bits]
            start = self.start_loss * ratio if self.start_loss is not None and ratio else None
        return loss_options(
            curves,
            labels,
            references=references,
            log_scale=self.log_scale,
            start_loss=start,
            mark_best=self.mark_best,
            span=self.span,
        )

    def set_span(self, max_iters: int | None) -> None:
        """Fit the x axis to a run of `max_iters` iterations (references longer than that are clipped)."""
        if max_iters != self.span:
            self.span = max_iters
            self.redraw()

    def add(self, event: dict[str, Any]) -> None:
        """Take an event; the chart catches up at its next redraw (bursts cost one redraw)."""
        if self.curves.add(event):
            self._dirty = True
        if event.get('type') == 'train' and event.get('max_iters') and event['max_iters'] != self.span:
            self.span, self._dirty = int(event['max_iters']), True  # a run's own length wins over what was asked

    def reset(self, provenance: Provenance | None = None, start_loss: float | None = None) -> None:
        """Empty the chart for a new run."""
        self.curves = Curves()
        self.start_loss = start_loss if start_loss is not None else self.start_loss
        self.redraw(provenance)

    def set_references(self, references: Sequence[Reference]) -> None:
        """Replace the ghost and past-run curves."""
        self.references = list(references)
        self.redraw()

    def set_log(self, log_scale: bool) -> None:
        """Switch the loss axis between linear and logarithmic."""
        self.log_scale = log_scale
        self.redraw()

    def set_bits(self, bits: bool) -> None:
        """Switch the losses between nats per token and bits per character."""
        self.bits = bits
        self.redraw()

    def redraw(self, provenance: Provenance | None = None) -> None:
        """Draw what the chart holds now."""
        self._dirty = False
        shown = self.shown()
        rows, text = table_rows(shown), summary(shown, self.tr)
        self.card.set_data(self.options(), rows=rows, summary=text, provenance=provenance)
        if self.on_redraw is not None:
            self.on_redraw()

    def _flush(self) -> None:
        if self._dirty and not self.is_deleted:
            self.redraw()
