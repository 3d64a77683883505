"""A refused request changes nothing on disk; shape settings a loaded model cannot take are refused, not ignored.

The model everywhere is the checkpoint nanoGPT itself wrote (4 layers, 4 heads, 128 wide, block 64, char vocab 65),
trained on tiny Shakespeare: real files, real training, through the CLI (`cli.main`, what the script runs) and the
HTTP API (a real worker process).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nanogpt_lab import cli
from nanogpt_lab.jobs.manager import JobManager
from nanogpt_lab.server.app import create_app

SMALL = ['--device=cpu', '--compile=False', '--dtype=float32', '--threads=1', '--max_iters=2', '--eval_interval=1',
         '--eval_iters=1', '--batch_size=2', '--gradient_accumulation_steps=1',
         '--dataset=shakespeare_char']  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None, own_signals: None) -> None:
    """Small models on one thread; pytest's signal handlers back after each in-process CLI run."""


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture
def finished_run(workspace_home: Path, nanogpt_baby_ckpt: Path, char_data_dir: Path) -> Path:
    """A run in the workspace that fine-tuned nanoGPT's baby model for two iterations and succeeded."""
    run = workspace_home / 'runs' / 'finished'
    code = cli.main(['train', f'--init_from={nanogpt_baby_ckpt}', f'--out_dir={run}', f'--data_dir={char_data_dir}',
                     '--block_size=32', *SMALL])  # fmt: skip
    assert code == 0
    assert json.loads((run / 'job.json').read_text())['status'] == 'succeeded'
    return run


def test_shape_flags_a_loaded_model_cannot_take_are_refused_and_the_real_shape_is_recorded(
    finished_run: Path, nanogpt_baby_ckpt: Path, char_data_dir: Path, workspace_home: Path, capsys: Any
) -> None:
    config = json.loads((finished_run / 'config.json').read_text())
    # the run recorded the model it trained, not TrainConfig's 12/12/768 defaults
    assert (config['n_layer'], config['n_head'], config['n_embd'], config['block_size']) == (4, 4, 128, 32)
    assert config['resolved']['model_args']['n_embd'] == 128
    capsys.readouterr()
    out = workspace_home / 'runs' / 'never'
    code = cli.main(['train', f'--init_from={nanogpt_baby_ckpt}', f'--out_dir={out}', f'--data_dir={char_data_dir}',
                     '--n_layer=3', '--n_head=2', *SMALL])  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and 'n_layer: the model 4, config 3' in err and 'n_head: the model 4, config 2' in err, err
    assert not out.exists()  # refused before anything was written
    # the run itself resumes with the shape it recorded (it used to record 3/2/768 and then refuse itself)
    assert cli.main(['train', '--init_from=resume', f'--out_dir={finished_run}', f'--data_dir={char_data_dir}',
                     '--max_iters=3', '--device=cpu', '--compile=False']) == 0  # fmt: skip


def test_a_refused_resume_changes_nothing_on_disk(
    finished_run: Path, char_data_dir: Path, workspace_home: Path, capsys: Any
) -> None:
    before = _files(finished_run)
    code = cli.main(['train', '--init_from=resume', f'--out_dir={finished_run}', f'--data_dir={char_data_dir}',
                     '--n_layer=3', '--device=cpu'])  # fmt: skip
    assert code != 0 and 'cannot resume' in capsys.readouterr().err
    assert _files(finished_run) == before

    client = TestClient(create_app(manager=JobManager()), base_url='http://127.0.0.1', client=('127.0.0.1', 1))
    for body in (
        {'out_dir': 'finished', 'init_from': 'resume', 'n_layer': 3},
        {'out_dir': 'finished', 'init_from': 'resume', 'nHead': 2, 'nEmbd': 64},
        {'out_dir': 'finished', 'init_from': 'resume', 'block_size': 64},
    ):
        r = client.post('/api/jobs/train', json={**body, 'data_dir': str(char_data_dir), 'device': 'cpu'})
        assert r.status_code == 422, r.text
        assert 'cannot resume' in r.json()['error']['message']
        assert _files(finished_run) == before, body
    wider = {'init_from': str(finished_run), 'n_embd': 120, 'device': 'cpu', 'data_dir': str(char_data_dir)}
    r = client.post('/api/jobs/finetune', json={**wider, 'dataset': 'shakespeare_char'})
    assert r.status_code == 422 and 'n_embd: the model 128, config 120' in r.json()['error']['message'], r.text
    assert sorted(p.name for p in (workspace_home / 'runs').iterdir()) == ['finished']
    assert client.get('/api/jobs/finished').json()['status'] == 'succeeded'


def test_a_resume_that_is_not_refused_still_runs(finished_run: Path, char_data_dir: Path) -> None:
    client = TestClient(create_app(manager=JobManager()), base_url='http://127.0.0.1', client=('127.0.0.1', 1))
    r = client.post('/api/jobs/train', json={'out_dir': 'finished', 'init_from': 'resume', 'max_iters': 3,
                                             'data_dir': str(char_data_dir), 'device': 'cpu'})  # fmt: skip
    assert r.status_code == 202, r.text
    job_id = r.json()['id']
    deadline = time.monotonic() + 180
    while client.get(f'/api/jobs/{job_id}').json()['status'] not in ('succeeded', 'failed', 'cancelled'):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert client.get(f'/api/jobs/{job_id}').json()['status'] == 'succeeded'
    shutil.rmtree(finished_run)
