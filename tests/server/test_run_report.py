"""GET /api/runs/<id>/report.json: a run's report.json as a download, and nothing else of the workspace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from nanogpt_lab.jobs.manager import JobManager
from nanogpt_lab.server.app import create_app


def _client() -> TestClient:
    app = create_app(manager=JobManager(python=shutil.which('true') or '/bin/true', poll_s=0.05))
    return TestClient(app, base_url='http://127.0.0.1:8765', client=('127.0.0.1', 40000))


def _run(home: Path, name: str) -> Path:
    run = home / 'runs' / name
    run.mkdir(parents=True)
    return run


def test_only_a_runs_report_json_is_served(workspace_home: Path, tmp_path: Path) -> None:
    report = {'format': 'nanogpt-lab-report', 'version': 1, 'card': {'lineage': ['a', 'b']}}
    (_run(workspace_home, 'dpo-1') / 'report.json').write_text(json.dumps(report), encoding='utf-8')
    _run(workspace_home, 'sft-1')
    secret = tmp_path / 'secret.json'
    secret.write_text('{"secret": 1}', encoding='utf-8')
    (_run(workspace_home, 'linked') / 'report.json').symlink_to(secret)  # a link out of the workspace
    c = _client()
    r = c.get('/api/runs/dpo-1/report.json')
    assert r.status_code == 200 and r.json() == report
    assert r.headers['content-type'] == 'application/json'
    assert 'filename="dpo-1-report.json"' in r.headers['content-disposition']
    for path, code in (('/api/runs/sft-1/report.json', 'api.report_not_found'),
                       ('/api/runs/linked/report.json', 'api.report_not_found'),
                       ('/api/runs/nope/report.json', 'job.no_run'),
                       ('/api/runs/..%2F..%2Fetc/report.json', None),
                       ('/api/runs/dpo-1/config.json', None)):  # fmt: skip
        r = c.get(path)
        assert r.status_code == 404, (path, r.text)
        assert 'secret' not in r.text
        if code:
            assert r.json()['error']['code'] == code
    zh = c.get('/api/runs/sft-1/report.json', headers={'Accept-Language': 'zh-CN'}).json()['error']['message']
    assert zh.startswith('运行 sft-1 还没有 report.json')
