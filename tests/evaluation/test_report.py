"""`eval`: val loss in nats and bits per character, exact match per kind, report.json merged, plain runs too."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from nanogpt_lab.evaluation.report import evaluate_run, score_run
from nanogpt_lab.evaluation.report_file import REPORT_FILE
from nanogpt_lab.evaluation.tasks import exact_match
from nanogpt_lab.inference.loader import open_model


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """One torch thread (tests/conftest.py)."""


def test_an_sft_run_is_scored_on_held_out_conversations_and_the_report_keeps_other_sections(sft_run, tmp_path):
    run = shutil.copytree(sft_run[0], tmp_path / 'sft')
    (run / REPORT_FILE).write_text(json.dumps({'format': 'nanogpt-lab-report', 'version': 1, 'card': {'kept': 1}}))
    report = evaluate_run(str(run), data_dir=str(sft_run[1]), max_conversations=60)
    loss = report['losses']['lab-tasks']
    assert loss['nats_per_token'] > 0 and loss['bits_per_char'] > 0
    assert 0.5 < loss['chars_per_token'] < 1  # answers are short: each one's <|end|> is a token without characters
    tasks = report['tasks']['lab-tasks']
    assert set(tasks['kinds']) == {'add', 'count', 'reverse', 'say', 'spell', 'upper', 'verse'}
    assert tasks['conversations'] == sum(k['total'] for k in tasks['kinds'].values()) == len(tasks['answers']) == 60
    assert 0 <= tasks['accuracy'] <= 1 and tasks['decoding'].startswith('greedy')
    assert report['card'] == {'kept': 1}  # a section eval does not own stays
    assert [link['stage'] for link in report['lineage']] == ['base', 'sft']
    assert report['provenance']['source'] == 'live'
    written = json.loads((run / REPORT_FILE).read_text(encoding='utf-8'))
    assert written['tasks'] == json.loads(json.dumps(report['tasks']))


def test_exact_match_counts_only_the_whole_answer(sft_run):
    model, tok, _ = open_model('resume', str(sft_run[0]))
    conv = {'kind': 'add', 'messages': [{'role': 'user', 'content': 'What is 2 + 3?'},
                                        {'role': 'assistant', 'content': '5'}]}  # fmt: skip
    result = exact_match(model.eval(), tok, [conv, conv])
    got = result['answers'][0]
    assert result['answers'] == [got, got]
    assert result['kinds']['add']['correct'] == (2 if got.strip() == '5' else 0)


def test_a_plain_pretraining_run_gets_losses_on_its_own_dataset(baby_run, char_data_dir, tmp_path):
    (baby_run / 'config.json').write_text(json.dumps({'dataset': 'shakespeare_char', 'init_from': 'scratch'}))
    events = []
    scores = score_run(str(baby_run), dataset='lab-tasks', data_dir=str(char_data_dir),
                       emit=lambda kind, **f: events.append(f))  # fmt: skip
    assert scores.tasks == {}
    loss = scores.losses['shakespeare_char']
    assert loss['chars_per_token'] == 1.0 and loss['tokens'] > 100_000  # char: one character per token
    assert loss['bits_per_char'] == pytest.approx(loss['nats_per_token'] / math.log(2), rel=1e-5)
    assert 1.8 < loss['nats_per_token'] < 2.0  # nanoGPT's README checkpoint: 1.8982 over all of val.bin
    assert any(e.get('code') == 'log.alignment_engine.eval_no_template' for e in events)
    assert not (baby_run / REPORT_FILE).exists()  # score_run writes nothing
