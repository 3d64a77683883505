"""`nanogpt-lab bench ui` (src/nanogpt_lab/tools/bench/ui.py): its table and its option checking; the browser run itself
is `nanogpt-lab bench ui` (its figures are in docs/benchmarks.md)."""

from __future__ import annotations

from nanogpt_lab.tools.bench import ui as bench_ui


def test_report_gives_medians_targets_machine_and_load() -> None:
    result = {
        'loads': {'/': [1.0, 3.0, 2.0], bench_ui.BASELINE_PATH: [0.5, 0.4, 0.6]},
        'changes': {'chart': [0.05, 0.07, 0.2], 'baseline': [0.01, 0.02, 0.03]},
        'machine': {'cpu': 'CPU X', 'threads': 2, 'python': '3.11', 'nicegui': '3.18', 'chromium': '1.0'},
        'load_before': (1.5, 1.0, 1.0),
        'load_after': (2.5, 1.0, 1.0),
        'rounds': 3,
        'inside': [0.12, 0.08, 0.3],
        'inside_baseline': [0.01, 0.02, 0.03],
    }
    table = bench_ui.report(result)
    assert '| first load of `/` | 2.00 s | 1.00–3.00 s | ≤ 2 s |' in table
    assert '| stage 3 size toggle → parameter chart redrawn | 70 ms | 50–200 ms | ≤ 150 ms |' in table
    assert (
        '| stage 3 prompt edit → attention heatmap redrawn (bundled model) | 120 ms | 80–300 ms | ≤ 300 ms |' in table
    )
    assert 'CPU X, 2 threads' in table and 'load average 1.50 before, 2.50 after' in table


def test_unknown_options_are_refused(capsys) -> None:
    assert bench_ui.main(['--speed=11']) == 2
    assert '--speed' in capsys.readouterr().err


def test_first_loads_alone_report_the_whole_page_too(capsys) -> None:
    result = {
        'loads': {'/': [1.0, 1.2, 1.1], bench_ui.BASELINE_PATH: [0.5, 0.4, 0.6]},
        'wholes': {'/': [1.5, 1.9, 1.6]},
        'machine': {'cpu': 'CPU X', 'threads': 2, 'python': '3.11', 'nicegui': '3.18', 'chromium': '1.0'},
        'load_before': (1.5, 1.0, 1.0),
        'load_after': (2.5, 1.0, 1.0),
        'rounds': 3,
    }
    table = bench_ui.report(result)
    assert '| first load of `/` | 1.10 s | 1.00–1.20 s | ≤ 2 s |' in table
    assert '| … until its last section (built after the first paint) is there | 1.60 s | 1.50–1.90 s | |' in table
    assert '3 rounds, alternating' in table and 'control changes' not in table
    assert bench_ui.main(['--only=charts']) == 2
    assert '--only=charts' in capsys.readouterr().err
