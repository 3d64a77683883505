"""The CPU's peak FLOP/s for MFU and stage 3's estimates: measured robustly, cached per machine, unknown until sure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanogpt_lab import hardware
from nanogpt_lab.hardware import PeakSession

pytestmark = pytest.mark.usefixtures('measured_peak')


def test_a_real_measurement_is_cached_and_trusted_only_when_two_quiet_sessions_agree(workspace_home: Path) -> None:
    peak = hardware.cpu_peak('float32', 2)
    assert peak.sessions and all(x.flops > 1e9 for x in peak.sessions)
    cached = json.loads((workspace_home / 'cache' / hardware.CPU_PEAK_FILE).read_text())
    assert [[PeakSession(**x) for x in v] for v in cached.values()] == [list(peak.sessions)]
    assert (peak.source == 'measured') == (hardware._trusted(list(peak.sessions)) is not None)
    if peak.source == 'measured':  # a quiet machine: two agreeing sessions, reused by the next call
        assert peak.flops == 2 * peak.per_core and peak.spread <= hardware.PEAK_AGREE
        assert hardware.cpu_peak('float32', 1).sessions == peak.sessions
    else:  # a busy one (a shared CI machine): unknown, never a low guess
        assert peak.flops is None


def _sessions(monkeypatch: pytest.MonkeyPatch, *values: tuple[float, float]) -> list:
    """Measuring sessions that return (GFLOP/s, idle cores) in turn: a loaded machine's slow ones included."""
    left = [PeakSession(g * 1e9, idle) for g, idle in values]
    monkeypatch.setattr(hardware, '_measure_session', lambda dtype: left.pop(0))
    return left


def test_sessions_on_a_saturated_machine_never_count(monkeypatch: pytest.MonkeyPatch) -> None:
    left = _sessions(monkeypatch, (50, 0.0), (50, 0.0), (80, 1.0), (84, 0.9))
    busy = hardware.cpu_peak('float32', 2)
    assert busy.flops is None and busy.source == 'unknown' and len(busy.sessions) == 1  # one try, then give up
    assert hardware.cpu_peak('float32', 2).flops is None  # the next process: busy again
    quiet = hardware.cpu_peak('float32', 2)  # then a quiet moment: two sessions that agree
    assert quiet.flops == 2 * 84e9 and quiet.source == 'measured' and not left
    assert quiet.spread == pytest.approx((84 - 80) / 84)


def test_disagreeing_quiet_sessions_read_unknown_until_two_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    left = _sessions(monkeypatch, (40, 1.0), (60, 1.0), (80, 1.0), (82, 1.0))
    assert hardware.cpu_peak('float32', 1).flops is None  # three sessions, no two within 10%
    assert hardware.cpu_peak('float32', 1).flops == 82e9 and not left


def test_a_peak_a_run_beat_is_measured_again(monkeypatch: pytest.MonkeyPatch) -> None:
    _sessions(monkeypatch, (50, 1.0), (51, 1.0), (90, 1.0), (91, 1.0))
    assert hardware.cpu_peak('float32', 1).flops == 51e9
    hardware.distrust_cpu_peak('float32')
    assert hardware.cpu_peak('float32', 1).flops == 91e9


def test_a_damaged_cache_is_measured_afresh(monkeypatch: pytest.MonkeyPatch, workspace_home: Path) -> None:
    path = workspace_home / 'cache' / hardware.CPU_PEAK_FILE
    path.parent.mkdir(parents=True)
    path.write_text('{"x": [{"flops": "fast", "idle_cores": 1}], "y": 3}')
    _sessions(monkeypatch, (60, 1.0), (61, 1.0))
    assert hardware.cpu_peak('float32', 1).flops == 61e9


def test_a_configured_peak_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hardware.ENV_CPU_PEAK, '0.5')
    peak = hardware.cpu_peak('float32', 2)
    assert (peak.flops, peak.source) == (0.5e12, 'configured')
    assert hardware.peak_flops('cpu', 'float32') == 0.5e12
