"""Stage 7 in Debian's Chromium, simulation mode: the x-ray shows trained and masked tokens, the bundled chat model
answers in streaming, and a pick between two answers is saved as a preference pair (the count on the page and the
file in the workspace). Stage 7 in Chinese, both modes, is part of test_chinese_walk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope='module')
def lab(serve_lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp('lab_home_7')
    with serve_lab(home, tmp_path_factory.mktemp('lab_log') / 'server.log') as url:
        yield url, home


def test_xray_streamed_chat_and_a_pick_saved(lab: tuple[str, Path], watched: Any) -> None:
    url, home = lab
    watch = watched()
    page = watch.page
    page.goto(f'{url}/alignment?lang=en', wait_until='networkidle')
    assert page.locator('[data-trained="1"]').count() > 0 and page.locator('[data-trained="0"]').count() > 0
    box = page.get_by_role('textbox').last  # the chat's input is the page's last text field
    box.fill('Spell cat.')
    box.press('Enter')
    reply = page.locator('.q-message-text').last
    reply.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.q-message-text')].pop().innerText.trim().length > 0", timeout=60_000
    )
    watch.shot('en-simulation-7-alignment-chat')
    box.fill('Reverse dog.')
    page.get_by_role('button', name='Two answers').click()
    page.get_by_role('button', name='Skip').wait_for(timeout=60_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b => b.innerText.includes('A is better'))"
    )
    if page.get_by_role('button', name='A is better').is_enabled():
        page.get_by_role('button', name='A is better').click()
        page.get_by_text('Pairs collected in my-picks: 1').wait_for(timeout=10_000)
        info = json.loads((home / 'data' / 'my-picks' / 'preferences.json').read_text())
        assert sum(info['pairs'].values()) == 1
    else:  # both samples were the same answer: there is nothing to prefer, and the page says so
        page.get_by_text('Both answers are the same').wait_for()
