"""Replay a recorded run through the live event pipeline, so the UI draws simulated and real runs with one code path.

Each recorded event is re-emitted in order with the same type and fields; `emit` (usually an `EventLog`) gives it
a new `seq` and `t`. Every replayed event carries `simulated: {asset, source}`, and the recorded start event's
`provenance` (which said `live` when it was recorded) says `simulated`, so nothing replayed can pass as live.

A `simulate` job (jobs/worker.py) writes its own `start` and `end`, so by default the recording's own start and end
are not re-emitted (`bounds=True` includes them); the recorded end's status and summary come back as the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nanogpt_lab.events import Cancelled, Emit
from nanogpt_lab.simulation.assets import AssetError, load_events, source_of

SPEEDS = {'1x': 1.0, '10x': 10.0, 'instant': 0.0}
_POLL_S = 0.05  # how often a long wait checks should_stop
_MAX_GAP_S = 30.0  # a recorded pause longer than this (a slow machine, a suspended laptop) is cut to it


def parse_speed(speed: float | str) -> float:
    """1, 10, '1x', '10x' → that factor; 0, 'instant' or infinity → no waiting at all."""
    if isinstance(speed, str):
        key = speed.strip().lower()
        if key in SPEEDS:
            return SPEEDS[key]
        try:
            speed = float(key.removesuffix('x'))
        except ValueError:
            raise AssetError('simulation.speed', key='speed', value=repr(speed)) from None
    if speed != speed or speed < 0:  # NaN or negative
        raise AssetError('simulation.speed', key='speed', value=repr(speed))
    return 0.0 if speed in (0, float('inf')) else float(speed)


def _wait(seconds: float, should_stop: Callable[[], bool]) -> None:
    """Sleep in short steps so a cancel is honoured within _POLL_S even during a long recorded pause."""
    end = time.monotonic() + seconds
    while True:
        if should_stop():
            raise Cancelled('simulation.cancelled')
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, _POLL_S))


def _fields(event: dict, tag: dict) -> dict[str, Any]:
    """The recorded event's fields, less its numbering, with the simulated tag and no live provenance."""
    fields = {k: v for k, v in event.items() if k not in ('seq', 't', 'type', 'simulated')}
    if isinstance(fields.get('provenance'), dict):  # it said `live` when recorded: it is a recording now
        fields['provenance'] = {**fields['provenance'], 'source': 'simulated', 'asset': tag['asset']}
    fields['simulated'] = tag
    return fields


def replay(
    asset_name: str,
    speed: float | str,
    emit: Emit,
    should_stop: Callable[[], bool] = lambda: False,
    *,
    bounds: bool = False,
    root: str | Path | None = None,
) -> dict:
    """Re-emit a recorded run's events in order at 1×, 10× or instant speed (timing from the recorded `t` deltas).

    The recorded `start` and `end` are left out unless `bounds=True` (a job writes its own); the recorded end's
    status and summary are returned either way. Raises `Cancelled` as soon as `should_stop()` turns true.
    """
    factor = parse_speed(speed)
    events = load_events(asset_name, root=root)
    tag = {'asset': asset_name, 'source': source_of(asset_name, root)}
    previous_t = None
    end: dict = {}
    for event in events:
        t = event.get('t')
        if factor and previous_t is not None and t is not None:
            _wait(min(max(t - previous_t, 0.0), _MAX_GAP_S) / factor, should_stop)
        elif should_stop():
            raise Cancelled('simulation.cancelled')
        previous_t = t if t is not None else previous_t
        if event.get('type') == 'end':
            end = event
        if bounds or event.get('type') not in ('start', 'end'):
            emit(event['type'], **_fields(event, tag))
    return {'asset': asset_name, 'status': end.get('status'), 'summary': end.get('summary'), 'simulated': tag}
