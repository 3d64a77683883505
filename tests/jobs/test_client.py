"""The pages' typed view of the jobs layer: the server's JobManager is a JobsClient, method for method."""

from __future__ import annotations

import inspect
from pathlib import Path

from nanogpt_lab.jobs.client import JobsClient
from nanogpt_lab.jobs.manager import JobManager


def test_the_job_manager_is_a_jobs_client_with_the_same_signatures(tmp_path: Path) -> None:
    manager = JobManager(tmp_path / 'runs')
    try:
        assert isinstance(manager, JobsClient)
    finally:
        manager.close()
    for name, method in vars(JobsClient).items():
        if callable(method) and not name.startswith('_'):
            theirs = inspect.signature(getattr(JobManager, name))
            assert list(theirs.parameters) == list(inspect.signature(method).parameters), name
