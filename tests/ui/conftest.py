"""UI tests run the lab through NiceGUI's `user` fixture (pyproject's main_file: src/nanogpt_lab/ui/main.py)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from nicegui import app, ui
from nicegui.testing import User

from nanogpt_lab.ui.components.file_upload import UPLOAD_ROUTE


@pytest.fixture(autouse=True)
def no_device_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages skip the torch-importing device detection unless a test asks for it (the CPU is known without it)."""
    monkeypatch.setenv('NANOGPT_LAB_UI_DETECT_DEVICE', '0')


@pytest.fixture
def torch_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let pages load models (torch) after they are up, as `nanogpt-lab serve` does; request it before `user`."""
    monkeypatch.setenv('NANOGPT_LAB_UI_DETECT_DEVICE', '1')


@pytest.fixture
def until() -> Callable[..., Awaitable[None]]:
    """`await until(check)`: let the app's timers, threads and jobs run until `check()` holds."""

    async def wait(check: Callable[[], bool], timeout: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not check():
            if loop.time() > end:
                raise AssertionError(f'condition not met within {timeout} s')
            await asyncio.sleep(0.05)

    return wait


def _one(user: User, marker: str) -> ui.element:
    elements = user.find(marker=marker).elements
    assert len(elements) == 1, f'{len(elements)} elements marked {marker!r}'
    return next(iter(elements))


@pytest.fixture
def one() -> Callable[[User, str], ui.element]:
    """`one(user, marker)`: the one element with this marker (fails on none or several)."""
    return _one


@pytest.fixture
def text() -> Callable[[User, str], str]:
    """`text(user, marker)`: the text of the one element with this marker."""
    return lambda user, marker: _one(user, marker).text


@pytest.fixture
def found() -> Callable[..., bool]:
    """`found(user, marker=...)` (any `user.find` query): whether it is on the page now, without failing."""

    def check(user: User, **query: str) -> bool:
        try:
            return bool(user.find(**query).elements)
        except AssertionError:  # nothing (visible) matches yet
            return False

    return check


@pytest.fixture
def baby_run(workspace_home: Path, nanogpt_baby_ckpt: Path, char_data_dir: Path) -> str:
    """nanoGPT's own baby checkpoint as a finished run of this workspace (meta.pkl beside it, as the lab keeps it),
    and its data, tiny Shakespeare (char), prepared here."""
    run = workspace_home / 'runs' / 'baby'
    run.mkdir(parents=True)
    shutil.copyfile(nanogpt_baby_ckpt / 'ckpt.pt', run / 'ckpt.pt')
    shutil.copyfile(char_data_dir / 'shakespeare_char' / 'meta.pkl', run / 'meta.pkl')
    config = {'dataset': 'shakespeare_char', 'block_size': 64}
    (run / 'job.json').write_text(json.dumps({'id': 'baby', 'kind': 'train', 'status': 'succeeded', 'config': config}))
    shutil.copytree(char_data_dir / 'shakespeare_char', workspace_home / 'data' / 'shakespeare_char')
    return 'baby'


async def send_upload(user: User, marker: str, filename: str, data: bytes, form: dict[str, str]) -> None:
    """What the browser's uploader does with a chosen file: the real request to the lab's upload route, and the
    route's answer handed to the uploader marked `marker` (the user fixture runs no JavaScript)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url='http://127.0.0.1') as client:
        answer = await client.post(UPLOAD_ROUTE, files={'file': (filename, data, 'text/plain')}, data=form)
    if answer.is_success:
        user.find(marker=marker).trigger('uploaded', answer.text)
    else:
        user.find(marker=marker).trigger('failed', [answer.status_code, answer.text])
