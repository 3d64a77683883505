"""Progress events at a readable rate: a few a second, plus the last one, however many chunks a pass has."""

from __future__ import annotations

import time
from typing import Any

from nanogpt_lab.events import Emit
from nanogpt_lab.messages import render


class Progress:
    """Emits `progress` events for one labelled pass, at most every `interval` seconds (the final one always).

    `label` is a message ref (`messages.ref('progress.read')`): events carry its English as `label` and its
    `label_code` + `label_params` for pages in another language.
    """

    def __init__(self, emit: Emit, label: dict[str, Any], unit: str, total: int | None, interval: float = 0.2):
        self.emit, self.unit, self.total, self.interval = emit, unit, total, interval
        self.label = {'label': render(**label), 'label_code': label['code'], 'label_params': label['params']}
        self.last = float('-inf')

    def __call__(self, done: int, final: bool = False) -> None:
        """Report `done` units (sent if the interval has passed, or `final`, or done reached total)."""
        now = time.monotonic()
        if final or done == self.total or now - self.last >= self.interval:
            self.emit('progress', done=done, total=self.total, unit=self.unit, **self.label)
            self.last = now
