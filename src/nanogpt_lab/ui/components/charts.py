"""ECharts option builders shared by every stage: plain data in, an options dict out (drawn by `chart_card`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nanogpt_lab.ui import theme

_GRID = {'left': 8, 'right': 56, 'top': 28, 'bottom': 22, 'containLabel': True}
_ANIMATION = {'animationDuration': 250, 'animationDurationUpdate': 200}


@dataclass(frozen=True)
class Series:
    """One named series of values in a fixed colour."""

    name: str
    values: Sequence[float]
    color: str


def bar(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    horizontal: bool = False,
    log_scale: bool = False,
    value_name: str = '',
    stacked: bool = False,
) -> dict[str, Any]:
    """A (grouped or stacked) bar chart; one colour per series, or per bar when `series` has one per category."""
    value_axis: dict[str, Any] = {'type': 'log' if log_scale else 'value', 'name': value_name}
    if horizontal:  # the name centred under the bars
        value_axis |= {'nameLocation': 'middle', 'nameGap': 24, 'nameTextStyle': {'fontSize': 11}}
    else:  # above the axis, running right: turned beside short labels it fell off the chart's left edge
        value_axis |= {'nameGap': 8, 'nameTextStyle': {'fontSize': 11, 'align': 'left', 'padding': [0, 0, 0, -4]}}
    category_axis = {'type': 'category', 'data': list(categories), 'axisLabel': {'interval': 0, 'fontSize': 11}}
    if horizontal:
        category_axis['inverse'] = True
    return {
        **_ANIMATION,
        'grid': _GRID,
        'tooltip': {'trigger': 'axis', 'axisPointer': {'type': 'shadow'}},
        'legend': {'show': len(series) > 1, 'top': 0},
        'xAxis': value_axis if horizontal else category_axis,
        'yAxis': category_axis if horizontal else value_axis,
        'series': [
            {
                'type': 'bar',
                'name': s.name,
                'data': list(s.values),
                'itemStyle': {'color': s.color},
                **({'stack': 'total'} if stacked else {}),
            }
            for s in series
        ],
    }


def colored_bar(
    categories: Sequence[str], values: Sequence[float], colors: Sequence[str], *, value_name: str = '', **kw: Any
) -> dict[str, Any]:
    """One series whose bars each have their own colour (e.g. char / BPE / unigram in their semantic colours)."""
    options = bar(categories, [Series(value_name, values, theme.PRIMARY)], value_name=value_name, **kw)
    options['series'][0]['data'] = [
        {'value': v, 'itemStyle': {'color': c}} for v, c in zip(values, colors, strict=True)
    ]
    options['series'][0]['label'] = {'show': True, 'position': 'right' if kw.get('horizontal') else 'top'}
    return options


def split_bar(train: int, val: int, train_name: str, val_name: str) -> dict[str, Any]:
    """The train/val split as one horizontal bar in the fixed train and val colours, counts in the legend."""
    total = max(train + val, 1)
    series = [
        {
            'type': 'bar',
            'name': f'{name} {value:,} ({100 * value / total:.1f}%)',
            'stack': 'split',
            'data': [value],
            'itemStyle': {'color': color},
            'barWidth': 28,
        }
        for name, value, color in ((train_name, train, theme.TRAIN), (val_name, val, theme.VAL))
    ]
    return {
        **_ANIMATION,
        'grid': {'left': 4, 'right': 4, 'top': 4, 'bottom': 28},
        'tooltip': {'trigger': 'item'},
        'legend': {'show': True, 'bottom': 0},
        'xAxis': {'type': 'value', 'max': total, 'show': False},
        'yAxis': {'type': 'category', 'data': [''], 'show': False},
        'series': series,
    }


def line(
    x: Sequence[float],
    series: Sequence[Series],
    *,
    x_name: str = '',
    y_name: str = '',
    marker_x: float | None = None,
) -> dict[str, Any]:
    """A line chart over a shared x axis, with an optional vertical marker (e.g. the scrubber's position)."""
    out = []
    for i, s in enumerate(series):
        item: dict[str, Any] = {
            'type': 'line',
            'name': s.name,
            'data': [[a, b] for a, b in zip(x, s.values, strict=True)],
            'showSymbol': False,
            'lineStyle': {'color': s.color, 'width': 2},
            'itemStyle': {'color': s.color},
        }
        if i == 0 and marker_x is not None:
            item['markLine'] = {'symbol': 'none', 'data': [{'xAxis': marker_x}], 'lineStyle': {'color': theme.INK}}
        out.append(item)
    return {
        **_ANIMATION,
        'grid': _GRID,
        'tooltip': {'trigger': 'axis'},
        'legend': {'show': len(series) > 1, 'top': 0},
        'xAxis': {
            'type': 'value',
            'name': x_name,
            'nameLocation': 'middle',
            'nameGap': 26,
            'min': 'dataMin',
            'max': 'dataMax',
        },
        'yAxis': {'type': 'value', 'name': y_name, 'scale': True},
        'series': out,
    }


def heatmap(
    columns: Sequence[str],
    rows: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    name: str,
    low: float,
    high: float,
    colors: Sequence[str] = ('#f8fafc', theme.PRIMARY),
    arrow: str = '→',
) -> dict[str, Any]:
    """Rows × columns of numbers as coloured cells (None: no cell); hover a cell for 'row → column: value'.

    Cells are bare [column, row, value] triples (a prompt edit redraws thousands of them): the tooltip finds the
    labels in the axes' own data."""
    data = [[j, i, round(v, 3)] for i, row in enumerate(values) for j, v in enumerate(row) if v is not None]
    axis = {'type': 'category', 'splitArea': {'show': False}, 'axisTick': {'show': False}}
    label = {'fontSize': 10, 'fontFamily': 'monospace', 'interval': 0}
    tip = json.dumps([list(rows), list(columns), arrow], ensure_ascii=False)
    return {
        'animation': False,  # a redraw per keystroke: show the new numbers at once
        'grid': {'left': 8, 'right': 16, 'top': 8, 'bottom': 56, 'containLabel': True},
        'tooltip': {
            'trigger': 'item',
            ':formatter': f'(p) => {{ const [r, c, a] = {tip}; '
            f'return `${{p.seriesName}}<br>${{r[p.value[1]]}} ${{a}} ${{c[p.value[0]]}}: <b>${{p.value[2]}}</b>`; }}',
        },
        'xAxis': {**axis, 'data': list(columns), 'axisLabel': {**label, 'rotate': 90}},
        'yAxis': {**axis, 'data': list(rows), 'inverse': True, 'axisLabel': label},
        'visualMap': {
            'min': low,
            'max': high,
            'calculable': False,
            'orient': 'horizontal',
            'left': 'center',
            'bottom': 0,
            'itemHeight': 80,
            'textStyle': {'fontSize': 10},
            'inRange': {'color': list(colors)},
        },
        'series': [{'type': 'heatmap', 'name': name, 'data': data, 'progressive': 0}],
    }
