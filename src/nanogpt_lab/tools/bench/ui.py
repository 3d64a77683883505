"""`nanogpt-lab bench ui`: how fast the lab feels in a real browser (Debian's Chromium through Playwright).

Two figures, each alternated round by round with a baseline served by the same server process:
- first page load: a fresh browser context opens a stage until its stepper is visible
  (baseline: a bare NiceGUI page holding one label and a button);
- control change → redrawn chart: a click on stage 3's size toggle until the chart's ECharts option holds the
  new data, timed inside the page (baseline: a click on a button that only rewrites a label — the websocket
  round trip every update pays).
Targets (issue 5): first load ≤ 2 s, control → chart median ≤ 150 ms.

Stages 4–6 (issue 6) add two:
- sampling control → redrawn probability chart: a click on stage 6's temperature slider (alternating between two
  positions) until the next-token chart's ECharts option holds the new distribution, timed inside the page, with
  the bundled model (or `--run=DIR`, a run folder with ckpt.pt, copied into the bench workspace); target median
  ≤ 150 ms, alternating with the same baseline;
- live loss chart under load: stage 4 replays a recorded run at 10× (a `simulate` job, ~50 events/s, more than the
  20/s asked for); from the first point drawn, the page records every animation frame's gap and, on each frame,
  the newest iteration the chart shows. Lag = when an iteration first shows in the browser − when the job wrote its
  event (events.jsonl). The idle page's frame gaps, measured just before, are the baseline.
Issue 20 adds one:
- prompt edit → redrawn attention heatmap: a new prompt typed into stage 3's "inside a real model" box (an input
  event, two prompts in turn) until the heatmap's ECharts option holds the new cells — the bundled model's forward
  pass with hooks on the server, then the chart in the browser; target median ≤ 300 ms, alternating with the baseline.
First loads also time the whole page: until the heading of the stage's last section, which the server builds once
the page has connected (components/deferred.py), is there.
Options: --rounds=N (default 7), --run=DIR, --replay_s=S (seconds of replay watched, default 15), --only=load (the
first loads alone).
"""

from __future__ import annotations

import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

from nanogpt_lab import workspace

CHROMIUM = '/usr/bin/chromium'  # Debian's; never `playwright install` (it downloads a browser)
# Offline: no background downloads, updates, sync or QUIC; no sandbox or GPU in containers (tests/browser uses these).
CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
]
BASELINE_PATH = '/bench-baseline'
# The first bar of the first chart on stage 3 (the parameter breakdown), read from the live ECharts instance.
# The first bar of stage 3's parameter breakdown, read from the live ECharts instance in the card of that title.
CHART_VALUE = (
    "getElement([...document.querySelectorAll('.q-card')].find((c) => c.innerText.startsWith('Where the parameters'))"
    ".querySelector('.nicegui-echart')).chart.getOption().series[0].data[0].value"
)
# Stage 3's attention map (a canvas the page redraws per prompt: it counts its draws in data-drawn), its prompt box.
ATTENTION_MAP = "document.querySelector('.attention-map')"
PROMPTS = ('JULIET:\nO Romeo, Romeo! wherefore art thou', 'ROMEO:\nBut soft, what light through yonder window breaks?')
# Type a new prompt into stage 3's box (as a keystroke would: an input event) and time, inside the page, until the
# attention map has drawn the new pattern and the browser has painted it (the frame after the draw): the server ran
# the forward pass and sent the weights, the canvas drew them. Nothing polls, so the clock does not slow the page.
TIMED_EDIT = """async (text) => {
  const map = document.querySelector('.attention-map');
  const field = [...document.querySelectorAll('.q-field')].find((f) => f.innerText.startsWith('Prompt'));
  const box = field.querySelector('textarea');
  let observer;
  const painted = new Promise((resolve) => {
    observer = new MutationObserver(() => requestAnimationFrame(() => resolve(performance.now())));
    observer.observe(map, {attributes: true, attributeFilter: ['data-drawn']});
  });
  const late = new Promise((_, fail) => setTimeout(() => fail(new Error('no redraw within 10 s')), 10000));
  const t0 = performance.now();
  box.value = text;
  box.dispatchEvent(new Event('input', {bubbles: true}));
  try {
    return ((await Promise.race([painted, late])) - t0) / 1000;
  } finally {
    observer.disconnect();
  }
}"""


def serve_for_bench(port: int) -> None:
    """The lab as `nanogpt-lab serve` runs it, plus the baseline page; runs in the server subprocess."""
    from nicegui import ui

    from nanogpt_lab.ui.app import build, install_api, run_server
    from nanogpt_lab.ui.view import LabSettings

    install_api(token=None)
    build(LabSettings(detect_device=True))  # as `nanogpt-lab serve`: stage 6 loads its model after the page is up

    @ui.page(BASELINE_PATH)
    def baseline() -> None:
        """The floor: one label and one button, nothing else."""
        label = ui.label('0').classes('text-2xl')
        ui.button('bump', on_click=lambda: label.set_text(str(int(label.text) + 1)))

    run_server('127.0.0.1', port, show=False)


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium through Playwright with the flags that keep it offline (the bench and the browser tests)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_server(home: str) -> tuple[subprocess.Popen, str]:
    """The lab (and the baseline page) in a subprocess on a free port with workspace `home`; its process and URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
    env['NANOGPT_LAB_HOME'] = home
    code = f'from nanogpt_lab.tools.bench.ui import serve_for_bench; serve_for_bench({port})'
    proc = subprocess.Popen([sys.executable, '-c', code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f'http://127.0.0.1:{port}'
    for _ in range(240):
        try:
            urllib.request.urlopen(url + BASELINE_PATH, timeout=1)
            urllib.request.urlopen(url + '/api/device', timeout=120)  # torch imported now, not during a measurement
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f'bench server exited: {proc.stderr.read().decode()[-500:]}') from None
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError('bench server did not answer within 60 s')


def _first_load(browser: Any, url: str, ready: str, last: str | None = None) -> tuple[float, float | None]:
    """Seconds from navigation to `ready` visible, in a fresh context (nothing cached), and, with `last` (the
    heading of the stage's last section, built after the first paint), to that heading attached."""
    context = browser.new_context(viewport={'width': 1400, 'height': 900})
    page = context.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    page.get_by_text(ready, exact=True).first.wait_for(state='visible')
    elapsed = time.perf_counter() - t0
    if last is not None:
        page.get_by_text(last, exact=True).first.wait_for(state='attached')
    whole = time.perf_counter() - t0 if last is not None else None
    context.close()
    return elapsed, whole


# Click a button (by its exact text) and time, inside the page, until `changed` (a JS expression) is true: no
# Playwright round trips or actionability waits in the figure. Polls every millisecond, gives up after 10 s.
TIMED_CLICK = """async ([text, old]) => {
  const wanted = text.toLowerCase();
  const button = [...document.querySelectorAll('button')].find((b) => b.innerText.trim().toLowerCase() === wanted);
  const t0 = performance.now();
  button.click();
  while (performance.now() - t0 < 10000) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if ((%s) !== old) return (performance.now() - t0) / 1000;
  }
  throw new Error('no change within 10 s');
}"""
LABEL_VALUE = "document.querySelector('.text-2xl').innerText"


def _timed_click(page: Any, text: str, value_js: str) -> float:
    """Seconds from a click on the button labelled `text` until `value_js` changes."""
    old = page.evaluate(f'() => {value_js}')
    return page.evaluate(TIMED_CLICK % value_js, [text, old])


def _chart_rounds(page: Any, base: Any, rounds: int) -> dict[str, list[float]]:
    """Stage 3's size toggle → breakdown chart, and the baseline button → label, alternating."""
    out: dict[str, list[float]] = {'chart': [], 'baseline': []}
    for i in range(rounds):
        out['chart'].append(_timed_click(page, 'XL' if i % 2 == 0 else 'GPT-2 small', CHART_VALUE))
        out['baseline'].append(_timed_click(base, 'bump', LABEL_VALUE))
        page.wait_for_timeout(200)  # let animations settle, as a person would between clicks
    return out


def _inside_rounds(browser: Any, url: str, base: Any, rounds: int) -> dict[str, list[float]]:
    """Stage 3's prompt (two texts in turn) → attention heatmap of the bundled model, alternating with the baseline."""
    page = browser.new_page(viewport={'width': 1400, 'height': 900})
    page.goto(f'{url}/architecture?lang=en&mode=simulation', wait_until='networkidle')
    page.wait_for_function(f'() => {ATTENTION_MAP} && Number({ATTENTION_MAP}.dataset.drawn) > 1', timeout=120_000)
    out: dict[str, list[float]] = {'chart': [], 'baseline': []}
    for i in range(rounds):
        out['chart'].append(page.evaluate(TIMED_EDIT, PROMPTS[i % 2]))
        out['baseline'].append(_timed_click(base, 'bump', LABEL_VALUE))
        page.wait_for_timeout(200)
    page.close()
    return out


# --- stages 4–6 -------------------------------------------------------------------------------------------------

LOADED = "() => document.body.innerText.includes('Loaded on')"
NEXT_CHART = "getElement(document.querySelectorAll('.nicegui-echart')[0]).chart.getOption().series[1].data"
# Arm a watcher before a real mouse click: the clock starts at the click's pointerdown (so Playwright's own latency
# is not counted) and stops when `expr` (a JS expression) reads differently, polled every millisecond.
ARM = """(expr) => {
  const read = () => JSON.stringify(new Function('return ' + expr)());
  const old = read();
  window.__click = null;
  document.addEventListener('pointerdown', () => { window.__click = performance.now(); }, {once: true, capture: true});
  window.__changed = (async () => {
    const t0 = performance.now();
    while (performance.now() - t0 < 10000) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (window.__click !== null && read() !== old) return (performance.now() - window.__click) / 1000;
    }
    throw new Error('no change within 10 s');
  })();
}"""


def _bench_model(home: str, run: str | None) -> str:
    """The model stage 6 samples from: the bundled one, or a run folder copied into the bench workspace."""
    if run is None:
        return 'bundled'
    import shutil

    shutil.copytree(run, os.path.join(home, 'runs', 'bench-run'))
    return 'run:bench-run'


def _timed_slider(page: Any, x: float, y: float) -> float:
    """Seconds from a real click on a slider track until the next-token chart holds another distribution."""
    page.evaluate(ARM, NEXT_CHART)
    page.mouse.click(x, y)
    return page.evaluate('() => window.__changed')


def _sampling_rounds(browser: Any, url: str, base: Any, model: str, rounds: int) -> dict[str, list[float]]:
    """Stage 6's temperature slider (two positions in turn) → probability chart, alternating with the baseline."""
    page = browser.new_page(viewport={'width': 1400, 'height': 900})
    query = 'mode=simulation' if model == 'bundled' else f'mode=real&model={model}'
    page.goto(f'{url}/inference?lang=en&{query}', wait_until='networkidle')
    page.wait_for_function(LOADED, timeout=120_000)
    box = page.get_by_role('slider').first.bounding_box()
    out: dict[str, list[float]] = {'chart': [], 'baseline': []}
    for i in range(rounds):
        x = box['x'] + box['width'] * (0.85 if i % 2 == 0 else 0.3)
        out['chart'].append(_timed_slider(page, x, box['y'] + box['height'] / 2))
        out['baseline'].append(_timed_click(base, 'bump', LABEL_VALUE))
        page.wait_for_timeout(200)
    page.close()
    return out


# Record every animation frame's time, and each time the loss chart is given new options, the newest iteration
# it then shows (wrapping the chart's setOption, which is how NiceGUI hands it an update).
FRAMES = """() => {
  window.__frames = []; window.__shown = [];
  const tick = (t) => { window.__frames.push(t); requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const chart = getElement(document.querySelectorAll('.nicegui-echart')[0]).chart;
  const setOption = chart.setOption.bind(chart);
  chart.setOption = (option, ...rest) => {
    const result = setOption(option, ...rest);
    const train = (option.series || []).find((s) => s.name === 'train loss');
    const points = (train && train.data) || [];
    if (points.length) window.__shown.push([Date.now(), points[points.length - 1][0]]);
    return result;
  };
}"""


def _gaps(frames: list[float]) -> list[float]:
    return [b - a for a, b in zip(frames, frames[1:], strict=False)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float('nan')


def _live_chart(browser: Any, url: str, home: str, seconds: float) -> dict[str, Any]:
    """Stage 4 replaying baby-char-2000 at 10×: event rate, event → chart lag, frame gaps (idle page as baseline)."""
    page = browser.new_page(viewport={'width': 1400, 'height': 900})
    page.goto(f'{url}/pretraining?lang=en&mode=simulation&speed=10&asset=baby-char-2000', wait_until='networkidle')
    page.evaluate(FRAMES)
    page.wait_for_timeout(3000)
    idle = _gaps(page.evaluate('() => window.__frames.splice(0)'))
    page.get_by_text('Start', exact=True).click()
    # the window opens at the first point drawn: starting the job's process (seconds on a busy machine) is not it
    page.wait_for_function('() => window.__shown.length > 0', timeout=180_000)
    page.evaluate('() => window.__frames.splice(0)')
    page.wait_for_timeout(seconds * 1000)
    busy = _gaps(page.evaluate('() => window.__frames.splice(0)'))
    shown = page.evaluate('() => window.__shown')
    page.get_by_text('Stop', exact=True).first.click()
    page.get_by_text(re.compile(r'^Stopped( after [\d,]+ iterations)?\.$')).wait_for(timeout=60_000)
    page.close()
    return _live_figures(_emitted(home), shown, idle, busy, seconds)


def _emitted(home: str) -> list[tuple[int, float]]:
    """(iteration, unix time written) of every train event the replay job wrote."""
    from pathlib import Path

    from nanogpt_lab.events import read_events

    runs = sorted(Path(home, 'runs').glob('simulate-*'), key=lambda p: p.stat().st_mtime)
    return [(e['iter'], e['t']) for e in read_events(runs[-1] / workspace.EVENTS_NAME) if e['type'] == 'train']


def _live_figures(emitted: list, shown: list, idle: list[float], busy: list[float], seconds: float) -> dict[str, Any]:
    """Lag of each emitted iteration until the chart first showed it (or a later one), and the frame-gap figures."""
    lags = []
    for it, t in emitted:
        first = next((when for when, last in shown if last >= it), None)
        if first is not None:
            lags.append(first - t * 1000)
    span = emitted[-1][1] - emitted[0][1] if len(emitted) > 1 else float('nan')
    return {
        'rate': (len(emitted) - 1) / span if span else float('nan'),
        'events': len(emitted),
        'lag_median': statistics.median(lags) if lags else float('nan'),
        'lag_p95': _percentile(lags, 0.95),
        'lag_max': max(lags, default=float('nan')),
        'gap_p99': _percentile(busy, 0.99),
        'gap_max': max(busy, default=float('nan')),
        'long_frames': sum(1 for g in busy if g > 100),
        'idle_p99': _percentile(idle, 0.99),
        'idle_max': max(idle, default=float('nan')),
        'seconds': seconds,
    }


def _machine() -> dict[str, Any]:
    from nanogpt_lab import hardware

    return {
        'cpu': hardware.cpu_model(),
        'threads': hardware.cpu_threads(),
        'python': platform.python_version(),
        'nicegui': __import__('nicegui').__version__,
    }


# The stages the first load opens, with the heading of the last section each builds after its first paint.
LOAD_PAGES = {'/': 'Batch inspector', '/architecture': 'GPT-1 vs GPT-2'}


def _load_rounds(browser: Any, url: str, rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """First loads of each stage and of the baseline page, round by round: seconds to the first paint, and to the
    whole page (its last section attached)."""
    loads: dict[str, list[float]] = {path: [] for path in (*LOAD_PAGES, BASELINE_PATH)}
    wholes: dict[str, list[float]] = {path: [] for path in LOAD_PAGES}
    _first_load(browser, url + '/?lang=en', 'Inference')  # warm the server (first import of each page)
    for _ in range(rounds):
        for path, last in LOAD_PAGES.items():
            first, whole = _first_load(browser, url + path + '?lang=en', 'Inference', last)
            loads[path].append(first)
            wholes[path].append(whole)
        loads[BASELINE_PATH].append(_first_load(browser, url + BASELINE_PATH, 'bump')[0])
    return loads, wholes


def run_bench(rounds: int, run: str | None = None, replay_s: float = 15.0, only: str | None = None) -> dict[str, Any]:
    """Start a server, drive Chromium through every measurement, return every sample and the machine."""
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as home:
        proc, url = start_server(home)
        try:
            with sync_playwright() as p:
                browser = launch_chromium(p)
                loads, wholes = _load_rounds(browser, url, rounds)
                if only == 'load':
                    machine = {**_machine(), 'chromium': browser.version}
                    browser.close()
                    return {'loads': loads, 'wholes': wholes, 'machine': machine, 'load_before': load_before,
                            'load_after': os.getloadavg(), 'rounds': rounds}  # fmt: skip
                page = browser.new_page(viewport={'width': 1400, 'height': 900})
                page.goto(url + '/architecture?lang=en', wait_until='networkidle')
                base = browser.new_page()
                base.goto(url + BASELINE_PATH, wait_until='networkidle')
                changes = _chart_rounds(page, base, rounds * 3)
                inside = _inside_rounds(browser, url, base, rounds * 3)
                model = _bench_model(home, run)
                sampling = _sampling_rounds(browser, url, base, model, rounds * 3)
                live = _live_chart(browser, url, home, replay_s)
                chromium = browser.version
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return {
        'loads': loads,
        'wholes': wholes,
        'changes': changes,
        'inside': inside['chart'],
        'inside_baseline': inside['baseline'],
        'sampling': sampling['chart'],
        'sampling_baseline': sampling['baseline'],
        'model': 'bundled tiny model' if model == 'bundled' else f'run {run}',
        'live': live,
        'machine': {**_machine(), 'chromium': chromium},
        'load_before': load_before,
        'load_after': os.getloadavg(),
        'rounds': rounds,
    }


def report(result: dict[str, Any]) -> str:
    """A markdown table of medians (and ranges), with the machine and load beside it."""
    med = statistics.median
    lines = ['| measurement | median | min–max | target |', '|---|---|---|---|']
    for path, samples in result['loads'].items():
        name = 'baseline: bare NiceGUI page' if path == BASELINE_PATH else f'first load of `{path}`'
        target = '' if path == BASELINE_PATH else '≤ 2 s'
        lines.append(f'| {name} | {med(samples):.2f} s | {min(samples):.2f}–{max(samples):.2f} s | {target} |')
        whole = (result.get('wholes') or {}).get(path)
        if whole:
            name = '… until its last section (built after the first paint) is there'
            lines.append(f'| {name} | {med(whole):.2f} s | {min(whole):.2f}–{max(whole):.2f} s | |')
    for key, name, target in (
        ('chart', 'stage 3 size toggle → parameter chart redrawn', '≤ 150 ms'),
        ('baseline', 'baseline: button → label rewritten', ''),
    ):
        if 'changes' in result:
            samples = [1000 * s for s in result['changes'][key]]
            lines.append(f'| {name} | {med(samples):.0f} ms | {min(samples):.0f}–{max(samples):.0f} ms | {target} |')
    lines += _stage_rows(result)
    m = result['machine']
    changes = f' (control changes: {3 * result["rounds"]})' if 'changes' in result else ''
    lines.append('')
    lines.append(
        f'{m["cpu"]}, {m["threads"]} threads; Chromium {m["chromium"]}, NiceGUI {m["nicegui"]}, Python {m["python"]}; '
        f'{result["rounds"]} rounds{changes}, alternating with the baseline; '
        f'load average {result["load_before"][0]:.2f} before, {result["load_after"][0]:.2f} after.'
    )
    return '\n'.join(lines)


def _stage_rows(result: dict[str, Any]) -> list[str]:
    """Stage 3's prompt → heatmap and stage 6's slider → chart latencies, and stage 4's live chart under a 10×
    replay (absent in older results)."""
    med, lines = statistics.median, []
    inside = [1000 * s for s in result.get('inside') or []]
    if inside:
        name = 'stage 3 prompt edit → attention heatmap redrawn (bundled model)'
        lines.append(f'| {name} | {med(inside):.0f} ms | {min(inside):.0f}–{max(inside):.0f} ms | ≤ 300 ms |')
        base = [1000 * s for s in result.get('inside_baseline') or []]
        spread = f'{min(base):.0f}–{max(base):.0f} ms'
        lines.append(f'| baseline, alternating with the prompt: button → label | {med(base):.0f} ms | {spread} | |')
    samples = [1000 * s for s in result.get('sampling') or []]
    base = [1000 * s for s in result.get('sampling_baseline') or []]
    if samples:
        name = f'stage 6 temperature slider → probability chart redrawn ({result.get("model", "bundled")})'
        lines.append(f'| {name} | {med(samples):.0f} ms | {min(samples):.0f}–{max(samples):.0f} ms | ≤ 150 ms |')
    if base:
        spread = f'{min(base):.0f}–{max(base):.0f} ms'
        lines.append(f'| baseline, alternating with the slider: button → label | {med(base):.0f} ms | {spread} | |')
    live = result.get('live')
    if live:
        lag = f'p95 {live["lag_p95"]:.0f} ms, max {live["lag_max"]:.0f} ms'
        rate = f'{live["rate"]:.0f} events/s'
        lines.append(
            f'| stage 4 live loss chart at {rate}: event → drawn | {live["lag_median"]:.0f} ms | {lag} | ≥ 20/s |'
        )
        frames = f'max {live["gap_max"]:.0f} ms, {live["long_frames"]} frames > 100 ms in {live["seconds"]:.0f} s'
        lines.append(f'| … frame gaps meanwhile | p99 {live["gap_p99"]:.0f} ms | {frames} | no stall |')
        idle = f'max {live["idle_max"]:.0f} ms'
        lines.append(f'| baseline: the same page idle, frame gaps | p99 {live["idle_p99"]:.0f} ms | {idle} | |')
    return lines


def main(args: list[str]) -> int:
    """`nanogpt-lab bench ui [--rounds=7]`: print the table for docs/benchmarks.md."""
    from nanogpt_lab.config import parse_overrides

    _, opts = parse_overrides(args)
    unknown = set(opts) - {'rounds', 'run', 'replay_s', 'only'}
    if unknown:
        print(f'bench ui: unknown option --{sorted(unknown)[0]} (options: --rounds=N --run=DIR --replay_s=S '
              '--only=load)', file=sys.stderr)  # fmt: skip
        return 2
    only = opts.get('only')
    if only not in (None, 'load'):
        print(f'bench ui: --only={only}: the one part that runs alone is load (first loads)', file=sys.stderr)
        return 2
    run = opts.get('run')
    if run is not None and not os.path.isfile(os.path.join(str(run), workspace.CKPT_NAME)):
        print(f'bench ui: --run={run} is not a run folder holding ckpt.pt', file=sys.stderr)
        return 2
    if not os.path.exists(CHROMIUM):
        print(f"bench ui needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1
    rounds = max(1, int(opts.get('rounds', 7)))
    replay_s = float(opts.get('replay_s', 15))
    print(report(run_bench(rounds, run=str(run) if run else None, replay_s=replay_s, only=only)))
    return 0
