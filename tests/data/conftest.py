"""Helpers for the data tests: prepare into tmp_path and collect the events a job would see."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanogpt_lab.config import DataConfig
from nanogpt_lab.data import prepare


class Events(list):
    """An Emit that keeps every event, for assertions."""

    def __call__(self, type: str, **fields) -> None:
        self.append({'type': type, **fields})

    def of(self, type: str, label: str | None = None) -> list[dict]:
        return [e for e in self if e['type'] == type and (label is None or e.get('label') == label)]


@pytest.fixture
def run(tmp_path: Path):
    """prepare(DataConfig(**values, data_dir=tmp_path/'data')) -> (folder, events)."""

    def _run(**values) -> tuple[Path, Events]:
        events = Events()
        folder = prepare(DataConfig(**{'data_dir': str(tmp_path / 'data'), **values}), emit=events)
        return folder, events

    return _run
