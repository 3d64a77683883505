"""What the pages may ask of the jobs layer, as a type: submit, cancel, get, list and watch jobs, and find runs.

The lab's pages run long work only through a `JobsClient`, never an untyped handle: in `nanogpt-lab serve` it is
the server's in-process `JobManager` (which satisfies this protocol; tests/jobs/test_manager.py checks it).
A job is its job.json as a dict: `id`, `kind`, `status`, `error`, `error_code`, `error_params`, `queue_position`,
`hung`, ... (docs/jobs.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class JobsClient(Protocol):
    """The jobs a page can start and follow, and the runs they leave."""

    def submit(self, kind: str, params: dict[str, Any], *, local: bool = False) -> dict[str, Any]:
        """Validate and queue a job of `kind` (jobs.specs.KINDS); ConfigError names a bad key."""
        ...

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Stop a job (a running one saves and ends); return it as it is now."""
        ...

    def get(self, job_id: str) -> dict[str, Any]:
        """One job as it is now."""
        ...

    def list(self) -> list[dict[str, Any]]:
        """Every job, newest first."""
        ...

    def subscribe(
        self, job_id: str, after_seq: int = 0, *, heartbeat_s: float | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch a job: its events after `after_seq` as they come, ending after its `end` event."""
        ...

    def runs(self) -> list[dict[str, Any]]:
        """Every run's summary row, newest first."""
        ...

    def run_dir(self, run_id: str) -> Path:
        """The folder of an existing run."""
        ...


def stop_job(client: JobsClient | None, job: dict[str, Any] | None) -> None:
    """Ask a page's job to stop (a training saves its checkpoint, ends `cancelled`); one ended meanwhile is fine."""
    if job is None or client is None:
        return
    with contextlib.suppress(ValueError):  # JobConflict: it ended meanwhile
        client.cancel(job['id'])
