"""The lineage walker follows init_from from a DPO run back to its base, through resumes, moves and loops."""

import json

from nanogpt_lab.evaluation.lineage import lineage


def _run(folder, kind, init_from, *, events=()):
    folder.mkdir(parents=True)
    (folder / 'config.json').write_text(json.dumps({'init_from': init_from, 'dataset': 'x'}))
    (folder / 'job.json').write_text(json.dumps({'kind': kind, 'config': {'init_from': init_from}}))
    (folder / 'ckpt.pt').write_bytes(b'')
    lines = [json.dumps({'seq': i + 1, 'type': 'start', 'config': c}) + '\n' for i, c in enumerate(events)]
    (folder / 'events.jsonl').write_text(''.join(lines))
    return folder


def test_base_sft_dpo_in_order(tmp_path):
    base = _run(tmp_path / 'base', 'train', 'scratch')
    sft = _run(tmp_path / 'sft', 'sft', str(base))
    dpo = _run(tmp_path / 'dpo', 'dpo', str(sft / 'ckpt.pt'))
    chain = lineage(dpo)
    assert [(link.stage, link.run) for link in chain] == [('base', base), ('sft', sft), ('dpo', dpo)]


def test_a_resumed_run_still_knows_its_parent(tmp_path):
    base = _run(tmp_path / 'base', 'train', 'scratch')
    sft = _run(tmp_path / 'sft', 'sft', 'resume', events=[{'init_from': str(base)}, {'init_from': 'resume'}])
    assert [link.run for link in lineage(sft)] == [base, sft]


def test_released_weights_relative_names_and_lost_parents(tmp_path, monkeypatch):
    monkeypatch.setenv('NANOGPT_LAB_HOME', str(tmp_path / 'home'))
    gpt2_sft = _run(tmp_path / 'home' / 'runs' / 'sft', 'sft', 'gpt2')
    dpo = _run(tmp_path / 'elsewhere' / 'dpo', 'dpo', 'sft')  # a run id: found under the workspace's runs/
    chain = lineage(dpo)
    assert [(link.name, link.stage) for link in chain] == [('gpt2', 'base'), ('sft', 'sft'), ('dpo', 'dpo')]
    assert chain[1].run == gpt2_sft.resolve()
    lost = _run(tmp_path / 'lost', 'dpo', str(tmp_path / 'deleted'))
    assert [(link.run, link.stage) for link in lineage(lost)] == [(None, 'unknown'), (lost, 'dpo')]


def test_a_loop_of_folders_ends(tmp_path):
    a = _run(tmp_path / 'a', 'sft', str(tmp_path / 'b'))
    _run(tmp_path / 'b', 'sft', str(a))
    assert len(lineage(a)) == 2


def test_the_bundled_models_end_a_chain(tmp_path):
    finetuned = _run(tmp_path / 'ft', 'finetune', 'bundled')
    assert [(link.name, link.stage, link.run) for link in lineage(finetuned)] == [
        ('bundled', 'base', None),
        ('ft', 'base', finetuned),
    ]


def test_bundled_chat_is_the_sft_of_the_bundled_model_on_lab_tasks(tmp_path):
    dpo = _run(tmp_path / 'dpo', 'dpo', 'bundled-chat')  # the page's "Train on my choices" from its chat model
    chain = lineage(dpo)
    assert [(link.name, link.stage, link.run) for link in chain] == [
        ('bundled', 'base', None),
        ('bundled-chat', 'sft', None),
        ('dpo', 'dpo', dpo),
    ]
    assert chain[1].config == {'init_from': 'bundled', 'dataset': 'lab-tasks'}  # from its recording's provenance
    assert chain[0].config['dataset'] == 'shakespeare_char'  # the report card scores every model on that text
