"""Progress events at a readable rate: a few a second, plus the last one, however many chunks a pass has."""

from __future__ import annotations

import time

from nanogpt_lab.events import Emit


class Progress:
    """Emits `progress` events for one labelled pass, at most every `interval` seconds (the final one always)."""

    def __init__(self, emit: Emit, label: str, unit: str, total: int | None, interval: float = 0.2):
        self.emit, self.label, self.unit, self.total, self.interval = emit, label, unit, total, interval
        self.last = float('-inf')

    def __call__(self, done: int, final: bool = False) -> None:
        """Report `done` units (sent if the interval has passed, or `final`, or done reached total)."""
        now = time.monotonic()
        if final or done == self.total or now - self.last >= self.interval:
            self.emit('progress', done=done, total=self.total, unit=self.unit, label=self.label)
            self.last = now
