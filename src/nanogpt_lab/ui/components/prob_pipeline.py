"""The next-token distribution and the sampling pipeline, as ECharts options from `pipeline.stage_view` data.

`stage_view` follows the same few tokens through every stage: raw softmax → repetition penalty → temperature →
top-k → top-p → renormalised (what is sampled from). The top-k and top-p stages are cut but not renormalised, so
the probability cut away is drawn as grey ghosts of the bars it removed, under a dashed cut line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from nanogpt_lab.ui import theme

STAGES = ('raw', 'repetition_penalty', 'temperature', 'top_k', 'top_p', 'renormalised')
CUT_STAGES = ('top_k', 'top_p')
RAW = '#cbd5e1'
CUT = '#e2e8f0'
DRAWN = theme.ACCENT
_MARKS = {' ': '␣', '\n': '↵', '\t': '→', '\r': '␍'}


def visible(token: str) -> str:
    """A token's text with whitespace made visible, so ' the' and '\\n' can be told apart on an axis."""
    return ''.join(_MARKS.get(ch, ch) for ch in token) or '∅'


def _stage(view: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in view['stages'] if s['name'] == name)


def next_token_options(view: dict[str, Any], labels: dict[str, str], drawn: int | None = None) -> dict[str, Any]:
    """Bars of the likeliest next tokens: the model's own probability (grey) and after the pipeline (coloured)."""
    names = [visible(t['text']) for t in view['tokens']]
    final, raw = _stage(view, 'renormalised')['probs'], _stage(view, 'raw')['probs']
    colors = [DRAWN if t['id'] == drawn else theme.PRIMARY for t in view['tokens']]
    return {
        'animation': False,  # a slider drag sends many redraws: each must show at once
        'grid': {'left': 8, 'right': 16, 'top': 30, 'bottom': 8, 'containLabel': True},
        'tooltip': {'trigger': 'axis', 'axisPointer': {'type': 'shadow'}},
        'legend': {'top': 0},
        'xAxis': {'type': 'category', 'data': names, 'axisLabel': {'interval': 0, 'fontSize': 12}},
        'yAxis': {'type': 'value', 'name': labels['prob'], 'max': _scale(raw, final)},
        'series': [
            {
                'type': 'bar',
                'name': labels['model'],
                'data': _rounded(raw),
                'itemStyle': {'color': RAW},
            },
            {
                'type': 'bar',
                'name': labels['final'],
                'data': [{'value': v, 'itemStyle': {'color': c}} for v, c in zip(_rounded(final), colors, strict=True)],
            },
        ],
    }


def waiting_options(message: str) -> dict[str, Any]:
    """Empty axes with a message, drawn at once so the chart is in place before the model's first logits."""
    return {
        'animation': False,
        'grid': {'left': 8, 'right': 16, 'top': 30, 'bottom': 8, 'containLabel': True},
        'xAxis': {'type': 'category', 'data': []},
        'yAxis': {'type': 'value', 'max': 1},
        'graphic': [
            {
                'type': 'text',
                'left': 'center',
                'top': 'middle',
                'style': {'text': message, 'fontSize': 14, 'fill': theme.MUTED},
            }
        ],
        'series': [],
    }


def _scale(*distributions: Sequence[float]) -> float:
    """The axis top: the tallest bar rounded up to a tenth, so a flat distribution is still readable."""
    top = max((max(d) for d in distributions if d), default=1.0)
    return min(1.0, math.ceil(top * 10) / 10) or 1.0


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(v, 4) for v in values]


def _panel_box(i: int) -> dict[str, str]:
    """Where panel i sits: three across, two down."""
    col, row = i % 3, i // 3
    return {'left': f'{3 + col * 33}%', 'top': f'{12 + row * 48}%', 'width': '28%', 'height': '30%'}


def _cut_line(before: Sequence[float], after: Sequence[float]) -> float | None:
    """The lowest probability that survived the cut, when some shown token fell below it (else no line)."""
    kept = [b for b, a in zip(before, after, strict=True) if a > 0]
    cut = [b for b, a in zip(before, after, strict=True) if a <= 0]
    return min(kept) if kept and cut else None


def _panel(
    i: int, stage: dict[str, Any], previous: dict[str, Any] | None, tokens: list[dict], drawn: int | None, color: str
) -> list[dict[str, Any]]:
    probs = stage['probs']
    kept = [
        {'value': round(p, 4), 'itemStyle': {'color': DRAWN if t['id'] == drawn else color}}
        for p, t in zip(probs, tokens, strict=True)
    ]
    series: list[dict[str, Any]] = [
        {'type': 'bar', 'xAxisIndex': i, 'yAxisIndex': i, 'stack': f's{i}', 'data': kept, 'barCategoryGap': '15%'}
    ]
    if stage['name'] in CUT_STAGES and previous is not None:
        before = previous['probs']
        ghosts = [round(b, 4) if p <= 0 else 0 for b, p in zip(before, probs, strict=True)]
        ghost = {
            'type': 'bar',
            'xAxisIndex': i,
            'yAxisIndex': i,
            'stack': f's{i}',
            'data': ghosts,
            'itemStyle': {'color': CUT, 'borderColor': theme.MUTED, 'borderType': 'dashed', 'borderWidth': 1},
        }
        line = _cut_line(before, probs)
        ghost['markLine'] = {  # always present (empty when nothing shown was cut): NiceGUI merges chart updates
            'symbol': 'none',
            'silent': True,
            'label': {'show': False},
            'lineStyle': {'color': theme.ERROR, 'type': 'dashed', 'width': 1.5},
            'data': [] if line is None else [{'yAxis': round(line, 4)}],
        }
        series.append(ghost)
    return series


def pipeline_options(view: dict[str, Any], labels: dict[str, str], drawn: int | None = None) -> dict[str, Any]:
    """Six small charts, one per stage, the same tokens in each; cut tokens as grey ghosts under a cut line."""
    tokens = view['tokens']
    names = [visible(t['text']) for t in tokens]
    stages = {s['name']: s for s in view['stages']}
    grids, xs, ys, titles, series = [], [], [], [], []
    top = max(max(s['probs'] or [0]) for s in view['stages']) or 1
    for i, name in enumerate(STAGES):
        stage = stages[name]
        box = _panel_box(i)
        grids.append({**box, 'containLabel': False})
        xs.append({'type': 'category', 'gridIndex': i, 'data': names, 'axisLabel': {'interval': 0, 'fontSize': 9}})
        ys.append(
            {
                'type': 'value',
                'gridIndex': i,
                'max': _scale([top]),  # one scale for all six: bars compare across panels
                'axisLabel': {'fontSize': 9},
                'splitNumber': 2,
            }
        )
        sub = labels['panel'].format(
            kept=f'{stage["kept"]:,}', mass=f'{stage["mass"]:.2f}', bits=f'{stage["entropy_bits"]:.2f}'
        )
        titles.append(
            {
                'text': f'{i + 1}. {labels[name]}',
                'subtext': sub,
                'left': box['left'],
                'top': f'{int(box["top"][:-1]) - 10}%',
                'textStyle': {'fontSize': 12},
                'subtextStyle': {'fontSize': 10},
                'itemGap': 2,
            }
        )
        previous = stages[STAGES[i - 1]] if i else None
        color = theme.PRIMARY if name == 'renormalised' else (RAW if name == 'raw' else '#818cf8')
        series += _panel(i, stage, previous, tokens, drawn if name == 'renormalised' else None, color)
    return {
        'animation': False,
        'title': titles,
        'grid': grids,
        'xAxis': xs,
        'yAxis': ys,
        'series': series,
        'tooltip': {'trigger': 'item'},
    }


def table_rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Token by token, its probability at every stage."""
    rows = []
    for j, token in enumerate(view['tokens']):
        row = {'token': visible(token['text']), 'id': token['id']}
        for stage in view['stages']:
            row[stage['name']] = round(stage['probs'][j], 4)
        rows.append(row)
    return rows


def top_token(view: dict[str, Any]) -> tuple[str, float]:
    """The likeliest token after the pipeline and its probability (for the screen-reader summary)."""
    final = _stage(view, 'renormalised')['probs']
    j = max(range(len(final)), key=final.__getitem__)
    return visible(view['tokens'][j]['text']), final[j]
