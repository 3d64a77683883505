"""The stage 7 commands as a user runs them (`cli.main`, in this process): prepare lab-tasks / conversations, sft,
chat with piped stdin, eval."""

from __future__ import annotations

import json

import pytest

from nanogpt_lab.config import ConfigError
from nanogpt_lab.jobs.lifecycle import run_job
from nanogpt_lab.jobs.specs import build_job
from nanogpt_lab.jobs.worker import RUNNERS


def test_prepare_lab_tasks_and_a_jsonl_file_say_what_they_found(tmp_path, lab_cli):
    done = lab_cli('prepare', 'lab-tasks', f'--data_dir={tmp_path}')
    assert done.returncode == 0, done.stderr
    assert (tmp_path / 'lab-tasks' / 'train.jsonl').is_file()
    good = {'conversations': [{'from': 'human', 'value': 'q0'}, {'from': 'gpt', 'value': 'a'}]}
    lines = [json.dumps(good).replace('q0', f'q{i}') for i in range(20)] + ['{"conversations": [']
    (tmp_path / 'mine.jsonl').write_text('\n'.join(lines) + '\n', encoding='utf-8')
    done = lab_cli('prepare', 'conversations', '--input', str(tmp_path / 'mine.jsonl'), f'--data_dir={tmp_path}')
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    assert 'sharegpt' in out and 'line 21' in out and 'not JSON' in out
    (tmp_path / 'bad.jsonl').write_bytes(b'\xff\xfe not json\n')
    done = lab_cli('prepare', 'conversations', f'--input={tmp_path / "bad.jsonl"}', f'--data_dir={tmp_path}')
    assert done.returncode != 0 and 'no usable conversation' in done.stdout + done.stderr
    assert not (tmp_path / 'bad').exists()


def test_sft_needs_a_base(lab_cli):
    done = lab_cli('sft', '--dataset=lab-tasks')
    assert done.returncode == 2 and '--init_from' in done.stderr


def test_chat_answers_one_line_per_piped_line_and_eval_prints_its_scores(sft_run, lab_cli):
    run, data = sft_run
    done = lab_cli('chat', f'--out_dir={run}', '--max_new_tokens=30', stdin='What is 2 + 3?\n/reset\nSpell dog.\n')
    assert done.returncode == 0, done.stderr
    answers = [line for line in done.stdout.splitlines() if not line.startswith('(')]
    assert len(answers) == 2 and all(a.strip() for a in answers)
    done = lab_cli('eval', f'--out_dir={run}', '--dataset=lab-tasks', f'--data_dir={data}', '--max_conversations=14')
    assert done.returncode == 0, done.stderr
    assert 'exact-match accuracy' in done.stdout and 'bits per character (bpc)' in done.stdout
    assert '  reverse' in done.stdout and (run / 'report.json').is_file()


def test_chat_refuses_a_model_without_a_template_and_points_to_sample(baby_run, char_data_dir, lab_cli):
    done = lab_cli('chat', f'--out_dir={baby_run}', stdin='hello\n')
    assert done.returncode != 0 and 'nanogpt-lab sample' in done.stderr


def test_a_chat_message_with_characters_the_model_lacks_is_refused_not_answered(sft_run, lab_cli):
    done = lab_cli('chat', f'--out_dir={sft_run[0]}', stdin='€uro?\n')
    assert done.returncode == 1 and "not in this model's vocabulary" in done.stdout


def test_the_sft_job_kind(sft_run, tmp_path):
    run, data = sft_run
    with pytest.raises(ConfigError) as e:
        build_job('sft', {'datasetName': 'x'}, local=True)
    assert e.value.code == 'alignment_engine.needs_init_from'
    with pytest.raises(ConfigError) as e:
        build_job('sft', {'init_from': str(run), 'nanogpt_checkout': 'x'}, local=True)
    assert e.value.code == 'config.sft_checkout'
    body = {'initFrom': str(run), 'dataset': 'lab-tasks', 'dataDir': str(data), 'maxIters': 2, 'evalInterval': 2,
            'evalIters': 1, 'batchSize': 2, 'device': 'cpu'}  # fmt: skip
    spec = build_job('sft', body, local=True)
    assert spec.kind == 'sft' and spec.config['learning_rate'] == 2e-3  # the SFT preset under the request
    from nanogpt_lab.jobs.specs import load_config

    cfg = load_config('sft', spec.config)
    status = run_job('sft', cfg, tmp_path / 'job', runner=RUNNERS['sft'])
    assert status == 'succeeded'
    job = json.loads((tmp_path / 'job' / 'job.json').read_text())
    assert job['kind'] == 'sft' and (tmp_path / 'job' / 'chat.json').is_file()
