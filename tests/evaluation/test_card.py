"""The report card over a real lineage (nanoGPT's baby base → a short SFT → a short DPO): every model side by side,
each figure with its provenance, the older runs only read, and evaluation prompts found in training data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from nanogpt_lab.alignment.conversations import read_conversations
from nanogpt_lab.alignment.preferences import Pair, write_preferences
from nanogpt_lab.evaluation.card import chance_level, contamination, held_out, score_link, with_config
from nanogpt_lab.evaluation.lineage import lineage
from nanogpt_lab.evaluation.report_file import REPORT_FILE


def test_base_sft_and_dpo_side_by_side_with_provenance(dpo_chain, dpo_card, file_digests):
    run, sft_dir, _ = dpo_chain
    card, before = dpo_card
    assert card == json.loads((run / REPORT_FILE).read_text(encoding='utf-8'))['card']
    base, sft, tuned = card['models']
    assert [m['stage'] for m in card['models']] == ['base', 'sft', 'dpo']
    for m in card['models']:
        loss = m['text_loss']['shakespeare_char']  # the base's own text, for every model of the chain
        assert loss['bits_per_char'] > 0 and loss['nats_per_token'] > 0
        assert {'run', 'commit', 'device', 'date'} <= set(m['provenance']) and m['provenance']['device'] == 'cpu'
    assert [n['code'] for n in base['notes']] == ['dpo.card_template_attached']  # scored before SFT
    for m in (base, sft, tuned):
        assert set(m['tasks']) == {'en', 'zh'}  # English and Chinese prompts in separate columns
        for column in m['tasks'].values():
            for k in column['kinds'].values():
                assert 0 <= k['chance'] <= 1 and k['centred'] <= 1 and 0 <= k['accuracy'] <= 1
        assert m['chat_loss']['lab-tasks']['bits_per_char'] > 0
        assert 0 <= m['style']['win_rate'] <= 1 and 0 <= m['preferences']['accuracy'] <= 1
        assert m['preferences']['dataset'] == 'prefs'
    assert card['contamination'] == [] and card['warnings'] == []
    assert file_digests(sft_dir) == before  # the SFT run is only read
    pairs = card['before_after']  # the DPO run and its SFT parent on the same held-out prompts
    assert (pairs['before'], pairs['after'], pairs['tasks']) == (sft_dir.name, run.name, 'lab-tasks')
    assert len({(r['lang'], r['kind']) for r in pairs['rows']}) == len(pairs['rows']) == pairs['total'] > 7
    for side in ('before', 'after'):
        assert pairs['correct'][side] == sum(r[side]['correct'] for r in pairs['rows'])
        assert all(r[side]['correct'] == (r[side]['answer'].strip() == r['expected'].strip()) for r in pairs['rows'])


def test_an_evaluation_prompt_in_the_dpo_pairs_is_reported(dpo_chain, tmp_path):
    run, _, shared = dpo_chain
    data = Path(shutil.copytree(shared, tmp_path / 'data'))  # the session's chain stays as it was
    held = read_conversations(data / 'lab-tasks', 'val')[:2]
    prompt = tuple((m['role'], m['content']) for m in held[0]['messages'][:-1])
    leaked = [Pair(prompt, held[0]['messages'][-1]['content'], 'a wrong answer')]  # a held-out prompt, trained on
    write_preferences(data / 'prefs', {'train': leaked * 2, 'val': []}, {'kind': 'test'})
    links = [with_config(link) for link in lineage(run)]
    found = contamination(links, *held_out(links, str(data)), str(data))
    assert [o['prompt'] for o in found] == [leaked[0].prompt[-1][1]]
    assert found[0]['source'].startswith('dpo dpo: prefs')


def test_chance_is_what_the_most_common_answer_scores():
    convs = [{'messages': [{'role': 'user', 'content': q}, {'role': 'assistant', 'content': a}]}
             for q, a in (('a', '4'), ('b', '4'), ('c', '4'), ('d', '5'))]  # fmt: skip
    assert chance_level(convs) == 0.75


def test_a_base_text_not_prepared_here_leaves_that_figure_out_and_says_why(dpo_chain, tmp_path):
    from dataclasses import replace

    from nanogpt_lab.events import null_emit

    chain = [with_config(link) for link in lineage(dpo_chain[0])]
    base = replace(chain[0], config={'dataset': 'shakespeare_char'})  # as a bundled base says; not in tmp_path
    entry, _ = score_link(chain[-1], base, (None, None), str(tmp_path), 'cpu', null_emit)
    assert 'text_loss' not in entry and [n['code'] for n in entry['notes']] == ['alignment_engine.no_val_bin']
    assert entry['provenance']['device'] == 'cpu'
