"""`python -m nanogpt_lab.tools.ui_screenshots [--out=docs/images/ui]`: the screenshots docs/ui.md shows.

Taken from the lab itself, as a learner sees it: `nanogpt-lab serve` on a free loopback port with a fresh, empty
workspace (so stage 1 is offline with nothing prepared), Debian's Chromium through Playwright, one section of a page
per picture. Run it again after a change to a page; the pictures are committed beside the docs.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nanogpt_lab.tools.bench.ui import launch_chromium, start_server
from nanogpt_lab.ui.i18n import Translator

OUT = Path('docs/images/ui')
SETTLE_MS = 2500  # charts animate in and stage 3/6 load their model after the page is up
VIEWPORT = {'width': 1280, 'height': 2400}  # tall: a section fits without scrolling under the sticky header


@dataclass(frozen=True)
class Shot:
    """One picture: the section titled `title` (an i18n key) on `page`, after clicking `click` (a key) if given."""

    name: str
    page: str
    title: str
    lang: str = 'en'
    mode: str = 'simulation'  # named in every URL: the lab remembers the last mode a page chose
    click: str = ''


SHOTS = (
    Shot('stage1-offline-cards', '/data', 'data.cards.title', mode='real'),
    Shot('stage3-inside', '/architecture', 'walk.inside.title'),
    Shot('stage3-inside-zh', '/architecture', 'walk.inside.title', lang='zh-CN'),
    Shot('stage4-run', '/pretraining?speed=instant', 'pretraining.run.title', click='pretraining.run.start'),
    Shot('stage5-export', '/finetuning', 'walk.export.title'),
    Shot('stage6-controls', '/inference', 'inference.explore.title'),
)


def take(shots: tuple[Shot, ...], out: Path) -> list[Path]:
    """Serve the lab on a fresh workspace and save each shot as out/<name>.png; returns the files written."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix='nanogpt-lab-shots-') as home:
        proc, url = start_server(home)
        try:
            with sync_playwright() as p:
                browser = launch_chromium(p)
                page = browser.new_page(viewport=VIEWPORT)
                for shot in shots:
                    tr = Translator(shot.lang)
                    sep = '&' if '?' in shot.page else '?'
                    address = f'{url}{shot.page}{sep}lang={shot.lang}&mode={shot.mode}'
                    page.goto(address, wait_until='networkidle')
                    if shot.click:
                        page.get_by_text(tr(shot.click), exact=True).click(timeout=180_000)  # enabled once read
                    heading = page.get_by_role('heading', name=tr(shot.title), exact=True)
                    heading.wait_for(timeout=180_000)
                    page.wait_for_timeout(SETTLE_MS)
                    path = out / f'{shot.name}.png'
                    heading.locator('xpath=..').screenshot(path=str(path))
                    written.append(path)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m nanogpt_lab.tools.ui_screenshots', description=__doc__)
    parser.add_argument('--out', type=Path, default=OUT, help=f'folder for the .png files (default {OUT})')
    parser.add_argument('--only', nargs='*', default=None, help='names of the shots to take (default: all)')
    args = parser.parse_args(argv)
    shots = tuple(s for s in SHOTS if args.only is None or s.name in args.only)
    for path in take(shots, args.out):
        print(path)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
