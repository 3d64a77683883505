"""Shared helpers for browser tests: start `nanogpt-lab serve` on a free loopback port, drive Debian's Chromium (with
the flags `nanogpt-lab bench ui` uses), and watch a page for console errors and requests that leave 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from nanogpt_lab.tools.bench.ui import CHROMIUM, free_port, launch_chromium

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / 'artifacts' / 'screenshots'
LOCAL = ('http://127.0.0.1', 'ws://127.0.0.1', 'data:', 'blob:')


@contextmanager
def serve(home: Path, log: Path, *extra: str) -> Iterator[str]:
    """`nanogpt-lab serve` with `home` as its workspace; yields the base URL, stops the server afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}  # else NiceGUI enters screen-test mode
    env['NANOGPT_LAB_HOME'] = str(home)
    cmd = [sys.executable, '-m', 'nanogpt_lab', 'serve', '--host', '127.0.0.1', '--port', str(port), '--no-browser']
    with open(log, 'w') as out:
        proc = subprocess.Popen([*cmd, *extra], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + '/', timeout=1)
                break
            except OSError:
                assert proc.poll() is None, log.read_text()[-2000:]
                time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope='module')
def chromium() -> Iterator[Any]:
    """Debian's Chromium through sync Playwright (module scope: a session one breaks NiceGUI's async tests)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is not installed: `make test` installs Debian's chromium (or run `make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()


# Every piece of text each visible ECharts chart draws (zrender's display list), in page pixels, that falls outside
# its canvas: an axis name or label the grid left no room for is cut off there.
CUT_CHART_TEXT = """() => [...document.querySelectorAll('.nicegui-echart')].filter((e) => e.offsetParent)
 .flatMap((e) => {
  const zr = getElement(e).chart.getZr();
  const [w, h] = [zr.getWidth(), zr.getHeight()];
  return zr.storage.getDisplayList(true).filter((el) => el.style && el.style.text && !el.ignore).map((el) => {
    const r = el.getBoundingRect().clone();
    if (el.transform) r.applyTransform(el.transform);
    const box = [r.x, r.y, r.x + r.width, r.y + r.height].map(Math.round);
    return [String(el.style.text), ...box];
  }).filter(([, x0, y0, x1, y1]) => x0 < -1 || y0 < -1 || x1 > w + 1 || y1 > h + 1);
})"""

# Every piece of text each visible chart lays out at another width than the page draws it: ECharts measures on a
# canvas outside the page, so a generic font it resolves differently from the page's language (zh-CN's sans-serif is
# a CJK font) overlaps what comes next (legend items did). Measured again on a canvas inside the chart.
MISMEASURED_CHART_TEXT = """() => [...document.querySelectorAll('.nicegui-echart')].filter((e) => e.offsetParent)
 .flatMap((e) => {
  const canvas = e.appendChild(document.createElement('canvas'));
  const ctx = canvas.getContext('2d');
  const found = getElement(e).chart.getZr().storage.getDisplayList(true)
   .filter((el) => el.style && el.style.text && el.style.font && !el.ignore && !String(el.style.text).includes('\\n'))
   .map((el) => {
    ctx.font = el.style.font;
    const drawn = ctx.measureText(String(el.style.text)).width;
    return [String(el.style.text), Math.round(el.getBoundingRect().width), Math.round(drawn)];
   }).filter(([, laid, drawn]) => Math.abs(laid - drawn) > 2);
  canvas.remove();
  return found;
})"""


class Watched:
    """A page that records console errors and every request that leaves this machine; `close()` asserts none."""

    def __init__(self, browser: Any, locale: str = 'en-US', shots: bool = False) -> None:
        self.shots = shots
        self.context = browser.new_context(viewport={'width': 1400, 'height': 900}, locale=locale)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on('console', lambda m: self.errors.append(m.text) if m.type == 'error' else None)
        self.page.on('pageerror', lambda e: self.errors.append(str(e)))
        self.page.on('request', lambda r: None if r.url.startswith(LOCAL) else self.outside.append(r.url))

    def shot(self, name: str) -> None:
        """A full-page screenshot into artifacts/screenshots/, for people to look at: only with `pytest --screenshots`
        (each costs about a second of the suite's time, and no test reads one)."""
        if not self.shots:
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f'{name}.png'), full_page=True)

    def chart(self, index: int = 0) -> dict[str, Any] | None:
        """The live ECharts option of the index-th chart on the page (None until it exists)."""
        js = f"getElement(document.querySelectorAll('.nicegui-echart')[{index}]).chart.getOption()"
        return self.page.evaluate(f'() => {{ try {{ return {js}; }} catch (e) {{ return null; }} }}')

    def series(self, name: str, index: int = 0) -> list:
        """The data of one named series of the index-th chart ([] until it is drawn)."""
        option = self.chart(index) or {}
        return next((s.get('data') or [] for s in option.get('series', []) if s.get('name') == name), [])

    def squeezed_switches(self) -> list:
        """Visible switch labels squeezed into a column a few characters wide, one or two a line ('以表格显示' was,
        in zh-CN): [] when none is. A long label that wraps at the width of its card is fine."""
        labels = self.page.eval_on_selector_all(
            '.q-toggle__label',
            'els => els.filter(e => e.offsetParent).map(e => { const r = e.getBoundingClientRect();'
            ' return [e.innerText, r.width, r.height, parseFloat(getComputedStyle(e).fontSize)]; })',
        )
        return [label for label in labels if label[2] >= 2 * label[3] and label[1] < 4 * label[3]]

    def cut_chart_text(self) -> list:
        """Text that a visible chart draws past its canvas edges (an axis name cut off): [] when none is."""
        return self.page.evaluate(CUT_CHART_TEXT)

    def mismeasured_chart_text(self) -> list:
        """Text a visible chart lays out narrower or wider than the page draws it: [] when none is."""
        return self.page.evaluate(MISMEASURED_CHART_TEXT)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], 'console errors'
        assert self.outside == [], 'requests left 127.0.0.1'


@pytest.fixture
def watched(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Watched]]:
    """`watched(locale='en-US')` opens a watched page; every page opened is checked when the test ends."""
    pages: list[Watched] = []

    def open_page(locale: str = 'en-US') -> Watched:
        pages.append(Watched(chromium, locale, request.config.getoption('screenshots')))
        return pages[-1]

    yield open_page
    for page in pages:
        page.close()


@pytest.fixture(scope='module')
def serve_lab() -> Callable[..., Any]:
    """`with serve_lab(home, log) as url:` runs `nanogpt-lab serve` on that workspace (a module-scoped lab)."""
    return serve
