"""The registry is the workspace on disk: summaries, comparison, torn lines repaired, ends recorded once."""

from __future__ import annotations

import json
from pathlib import Path

from nanogpt_lab.errors import LabError
from nanogpt_lab.events import EventLog, read_events
from nanogpt_lab.jobs import registry
from nanogpt_lab.jobs.lifecycle import write_job


def _run(root: Path, name: str, tokens_per_iter: int, losses: list[float], evals: dict[int, float]) -> Path:
    run = root / name
    write_job(run, id=name, kind='train', status='succeeded', started=100.0, ended=160.0,
              config={'n_layer': 2, 'batch_size': 4, 'dataset': 'shakespeare_char', 'secret_thing': 1})  # fmt: skip
    with EventLog(run / 'events.jsonl') as emit:
        emit('start', kind='train', run_id=name, pid=4242, config={})
        for i, loss in enumerate(losses):
            if i in evals:
                emit('eval', iter=i, train_loss=loss, val_loss=evals[i], tokens=i * tokens_per_iter)
            emit('train', iter=i, loss=loss, tokens=(i + 1) * tokens_per_iter)
        emit('end', status='succeeded', error=None)
    return run


def test_summary_has_what_the_runs_table_shows(tmp_path: Path) -> None:
    run = _run(tmp_path, 'a', 100, [4.0, 3.0, 2.5, 2.0], {0: 4.1, 2: 2.6})
    s = registry.run_summary(run)
    assert s['id'] == 'a' and s['status'] == 'succeeded' and s['kind'] == 'train'
    assert s['best_val_loss'] == 2.6 and s['last_iter'] == 3 and s['tokens'] == 400
    assert s['duration_s'] == 60.0 and s['config'] == {'n_layer': 2, 'batch_size': 4, 'dataset': 'shakespeare_char'}
    assert registry.run_dirs(tmp_path) == [run]


def test_compare_aligns_by_iteration_and_by_tokens(tmp_path: Path) -> None:
    a = _run(tmp_path, 'a', 100, [4.0, 3.0, 2.0], {0: 4.1, 2: 2.1})
    b = _run(tmp_path, 'b', 200, [4.0, 2.5], {0: 4.2})
    c = registry.compare(a, b)
    assert c['by_iter']['train_loss'] == {'x': [0, 1, 2], 'a': [4.0, 3.0, 2.0], 'b': [4.0, 2.5, None]}
    assert c['by_tokens']['train_loss']['x'] == [100, 200, 300, 400]
    assert c['by_tokens']['train_loss']['a'] == [4.0, 3.0, 2.0, None]
    assert c['by_tokens']['train_loss']['b'] == [None, 4.0, None, 2.5]
    assert c['by_iter']['val_loss'] == {'x': [0, 2], 'a': [4.1, 2.1], 'b': [4.2, None]}


def test_torn_line_is_cut_before_the_end_is_appended(tmp_path: Path) -> None:
    run = tmp_path / 'killed'
    write_job(run, id='killed', kind='train', status='running', first_seq=1)
    with EventLog(run / 'events.jsonl') as emit:
        emit('start', kind='train', run_id='killed', pid=12, config={})
        emit('train', iter=0, loss=4.2)
    with open(run / 'events.jsonl', 'a') as f:
        f.write('{"seq": 3, "t": 1, "type": "tra')  # the kill came mid-write
    job = registry.finish(run, 'failed', LabError('job.worker_gone', pid=12))
    events = list(read_events(run / 'events.jsonl'))
    assert [e['seq'] for e in events] == [1, 2, 3] and events[-1]['type'] == 'end'
    assert events[-1]['error'].startswith('the worker (pid 12) is gone') and job['status'] == 'failed' and job['ended']
    assert (events[-1]['error_code'], events[-1]['error_params']) == ('job.worker_gone', {'pid': 12})
    # a second finish (a second watcher) finds the end already there and keeps it
    registry.finish(run, 'failed', LabError('job.exit_unknown'))
    assert [e['type'] for e in read_events(run / 'events.jsonl')].count('end') == 1
    assert json.loads((run / 'job.json').read_text())['error_code'] == 'job.worker_gone'


def test_end_written_by_a_worker_that_died_before_job_json_wins(tmp_path: Path) -> None:
    run = tmp_path / 'r'
    write_job(run, id='r', kind='train', status='running', first_seq=1)
    with EventLog(run / 'events.jsonl') as emit:
        emit('end', status='cancelled', error='cancelled by the user')
    job = registry.finish(run, 'failed', LabError('job.exit_unknown'))
    assert job['status'] == 'cancelled'


def test_unreadable_job_json_is_a_damaged_job(tmp_path: Path) -> None:
    (tmp_path / 'x').mkdir()
    (tmp_path / 'x' / 'job.json').write_text('{torn')
    job = registry.read_job(tmp_path / 'x')
    assert job['status'] == 'damaged' and 'job.json cannot be read' in job['error'] and 'delete the run' in job['error']
    assert registry.run_summary(tmp_path / 'x')['status'] == 'damaged'


def test_a_folder_with_only_a_checkpoint_is_an_imported_run(tmp_path: Path) -> None:
    """A nanoGPT out_dir copied into runs/ has no job.json or events; it is listed so stages 5 and 6 can use it."""
    (tmp_path / 'from-nanogpt').mkdir()
    (tmp_path / 'from-nanogpt' / 'ckpt.pt').write_bytes(b'not read by the listing')
    (tmp_path / 'empty').mkdir()
    s = registry.run_summary(tmp_path / 'from-nanogpt')
    assert registry.run_dirs(tmp_path) == [tmp_path / 'from-nanogpt']
    assert (s['status'], s['kind'], s['has_checkpoint']) == ('imported', None, True)


def test_the_summary_shows_a_resumed_runs_resolved_settings(tmp_path: Path) -> None:
    """job.json holds only what the request set; config.json (the trainer's) holds what the run trained with."""
    run = _run(tmp_path, 'a', 100, [4.0], {})
    (run / 'config.json').write_text(json.dumps({'n_layer': 6, 'batch_size': 12, 'dataset': 'shakespeare_char'}))
    assert registry.run_summary(run)['config'] == {'n_layer': 6, 'batch_size': 12, 'dataset': 'shakespeare_char'}
