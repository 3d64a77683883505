"""UI tests run the lab through NiceGUI's `user` fixture (pyproject's main_file: src/nanogpt_lab/ui/main.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from nicegui.testing import User


@pytest.fixture(autouse=True)
def no_device_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages skip the torch-importing device detection unless a test asks for it (the CPU is known without it)."""
    monkeypatch.setenv('NANOGPT_LAB_UI_DETECT_DEVICE', '0')


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


@pytest.fixture
def text() -> Callable[[User, str], str]:
    """`text(user, marker)`: the text of the one element with this marker."""

    def read(user: User, marker: str) -> str:
        elements = user.find(marker=marker).elements
        assert len(elements) == 1, f'{len(elements)} elements marked {marker!r}'
        return next(iter(elements)).text

    return read
