"""DPO's bad inputs through the API: each a 4xx JSON error naming its key, before any job runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nanogpt_lab.alignment.preferences import Pair, write_preferences
from nanogpt_lab.jobs.manager import JobManager
from nanogpt_lab.server.app import create_app

from .test_app import _error, local_client

PAIR = Pair((('user', 'What is 2 + 3?'),), '5', '6')


@pytest.fixture
def client(workspace_home: Path) -> TestClient:
    """A workspace with a base run (no chat template), an SFT run (chat.json), no picks yet and one pick."""
    for run, files in (('base', ['ckpt.pt']), ('sft', ['ckpt.pt', 'chat.json'])):
        (workspace_home / 'runs' / run).mkdir(parents=True)
        for name in files:
            (workspace_home / 'runs' / run / name).write_text('{}')
    write_preferences(workspace_home / 'data' / 'no-picks', {'train': [], 'val': []}, {'kind': 'picks'})
    write_preferences(workspace_home / 'data' / 'picks', {'train': [PAIR], 'val': []}, {'kind': 'picks'})
    return local_client(create_app(manager=JobManager(python=shutil.which('true') or '/bin/true', poll_s=0.05)))


@pytest.mark.parametrize(
    ('body', 'code', 'field'),
    [
        ({'init_from': 'sft', 'dataset': 'picks', 'beta': 0}, None, 'beta'),
        ({'init_from': 'sft', 'dataset': 'picks', 'beta': -1}, None, 'beta'),
        ({'init_from': 'sft', 'dataset': 'picks', 'beta': 1e9}, None, 'beta'),
        ({'dataset': 'picks'}, 'dpo.needs_init_from', 'init_from'),
        ({'init_from': 'base', 'dataset': 'picks'}, 'dpo.no_chat_template', 'init_from'),
        ({'init_from': 'gpt2', 'dataset': 'picks'}, 'dpo.no_chat_template', 'init_from'),
        ({'init_from': 'sft', 'dataset': 'never-made'}, 'dpo.not_preferences', 'dataset'),
        ({'init_from': 'sft', 'dataset': 'no-picks'}, 'dpo.no_train_pairs', 'dataset'),
    ],
)
def test_bad_dpo_requests_are_refused_by_key(client: TestClient, body: dict, code: str | None, field: str) -> None:
    err = _error(client.post('/api/jobs/dpo', json=body, headers={'Accept-Language': 'zh-CN'}), 422, code, field)
    assert any('\u4e00' <= c <= '\u9fff' for c in err['message'])  # said in the reader's language


def test_a_dpo_request_from_an_sft_run_with_picks_is_accepted(client: TestClient) -> None:
    r = client.post('/api/jobs/dpo', json={'init_from': 'sft', 'dataset': 'picks', 'beta': 0.5})
    assert r.status_code == 202, r.text
