"""report.json, the scores a run folder keeps: its name, its format and how it is read and written.

Without torch, so the server (a report's download) and the UI (a card drawn from the file) read it without loading
the engine; evaluation.report and evaluation.card write their sections through `write_report`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nanogpt_lab.fileio import atomic_write_text, read_json_object

REPORT_FILE = 'report.json'
REPORT_FORMAT = 'nanogpt-lab-report'
REPORT_VERSION = 1


def read_report(out_dir: Path) -> dict[str, Any]:
    """The run's report.json (any tool's sections), or a new one without sections when there is none of this
    format."""
    report = read_json_object(out_dir / REPORT_FILE)
    return report if report.get('format') == REPORT_FORMAT else {'format': REPORT_FORMAT, 'version': REPORT_VERSION}


def write_report(out_dir: Path, report: dict[str, Any]) -> None:
    """Write `report` (as `read_report` gave it, some sections replaced) as the run's report.json, atomically."""
    atomic_write_text(out_dir / REPORT_FILE, json.dumps(report, indent=2, ensure_ascii=False) + '\n')
