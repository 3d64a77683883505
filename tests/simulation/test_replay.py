"""Replay: a recorded run's events come back in order, through the real EventLog, marked simulated, at speed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from nanogpt_lab.events import Cancelled, EventLog, read_events
from nanogpt_lab.simulation import assets
from nanogpt_lab.simulation.replay import parse_speed, replay

ASSET = 'baby-char-2000'


def _strip(event: dict) -> dict:
    return {k: v for k, v in event.items() if k not in ('seq', 't', 'simulated', 'provenance')}


def test_instant_replay_reemits_every_recorded_event_in_order_through_an_event_log(tmp_path: Path) -> None:
    recorded = assets.load_events(ASSET)
    started = time.perf_counter()
    with EventLog(tmp_path / 'events.jsonl') as emit:
        result = replay(ASSET, 'instant', emit, bounds=True)
    assert time.perf_counter() - started < 10
    replayed = list(read_events(tmp_path / 'events.jsonl'))
    assert [e['seq'] for e in replayed] == list(range(1, len(recorded) + 1))
    assert [_strip(e) for e in replayed] == [_strip(e) for e in recorded]
    assert result['status'] == 'succeeded' and result['asset'] == ASSET


def test_every_replayed_event_is_marked_simulated_and_nothing_live() -> None:
    out: list[dict] = []
    replay(ASSET, 'instant', lambda type, **f: out.append({'type': type, **f}), bounds=True)
    source = assets.source_of(ASSET)
    assert all(e['simulated'] == {'asset': ASSET, 'source': source} for e in out)
    assert out[0]['type'] == 'start' and out[0]['provenance']['source'] == 'simulated'
    assert '"live"' not in json.dumps(out)
    assert 'nanogpt-lab sim record' in source and 'commit' in source


def test_a_job_gets_no_second_start_or_end_but_the_recorded_summary() -> None:
    out: list[str] = []
    result = replay(ASSET, 'instant', lambda type, **f: out.append(type))
    assert 'start' not in out and 'end' not in out and out.count('train') == 2000
    assert result['status'] == 'succeeded' and result['simulated']['asset'] == ASSET


def test_ten_times_speed_follows_the_recorded_timing_loosely() -> None:
    recorded = assets.load_events(ASSET)
    n = 120  # events to replay before stopping
    expected = sum(min(b['t'] - a['t'], 30) for a, b in zip(recorded, recorded[1 : n - 1], strict=False)) / 10
    assert expected > 0.2, 'the recording is too fast to measure its replay'
    out: list[dict] = []
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        replay(ASSET, 10, lambda type, **f: out.append(f), lambda: len(out) >= n - 1, bounds=True)
    elapsed = time.perf_counter() - started
    assert len(out) == n - 1
    assert 0.7 * expected <= elapsed <= 3 * expected + 1, f'10x took {elapsed:.2f} s, recording says {expected:.2f} s'
    started = time.perf_counter()
    replay(ASSET, 'instant', lambda type, **f: None)
    assert time.perf_counter() - started < max(0.2 * expected, 1.0), 'instant replay waited'


def test_stop_is_honoured_before_anything_is_emitted() -> None:
    out: list[str] = []
    with pytest.raises(Cancelled):
        replay(ASSET, 1, lambda type, **f: out.append(type), lambda: True)
    assert out == []


@pytest.mark.parametrize(('given', 'factor'), [(1, 1.0), ('1x', 1.0), (10, 10.0), ('10x', 10.0), ('instant', 0.0)])
def test_speeds(given: object, factor: float) -> None:
    assert parse_speed(given) == factor  # type: ignore[arg-type]


@pytest.mark.parametrize('bad', ['fast', -1, float('nan')])
def test_bad_speed_is_refused_with_what_is_allowed(bad: object) -> None:
    with pytest.raises(assets.AssetError, match='speed'):
        parse_speed(bad)  # type: ignore[arg-type]


def test_replaying_something_that_is_not_a_run_says_so() -> None:
    with pytest.raises(assets.AssetError, match='no recorded events'):
        replay('dataset-shakespeare', 'instant', lambda type, **f: None)
