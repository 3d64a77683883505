"""Stage 7 in Debian's Chromium, simulation mode: the x-ray shows trained and masked tokens, the bundled chat model
answers in streaming, and a pick between two answers is saved as a preference pair (the count on the page and the
file in the workspace). Stage 7 in Chinese, both modes, is part of test_chinese_walk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

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
    box = page.get_by_role('textbox', name='Your message')  # the chat's own field, by its label
    two = page.get_by_role('button', name='Two answers')
    box.fill('Spell cat.')
    box.press('Enter')
    answer = page.locator('.q-message-received .q-message-text').last  # the model's bubble, not the learner's
    expect(answer).not_to_have_text('', timeout=60_000)  # streaming: its first tokens are there
    expect(two).to_be_enabled(timeout=60_000)  # the answer has ended: the chat takes the next message
    watch.shot('en-simulation-7-alignment-chat')
    box.fill('Reverse dog.')
    expect(box).to_have_value('Reverse dog.')
    two.click()
    try:
        page.get_by_role('button', name='Skip').wait_for(timeout=60_000)
    except PlaywrightTimeoutError as e:  # say what the chat's status line said: why it did not take the message
        said = page.locator('[role=status]').all_inner_texts()
        raise AssertionError(f'no pick after "Two answers"; the page says {said}') from e
    pick = page.get_by_role('button', name='A is better')
    if pick.is_enabled():
        pick.click()
        page.get_by_text('Pairs collected in my-picks: 1').wait_for(timeout=10_000)
        info = json.loads((home / 'data' / 'my-picks' / 'preferences.json').read_text())
        assert sum(info['pairs'].values()) == 1
    else:  # both samples were the same answer: there is nothing to prefer, and the page says so
        page.get_by_text('Both answers are the same').wait_for()
