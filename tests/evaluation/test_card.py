"""The report card over a real lineage (nanoGPT's baby base → a short SFT → a short DPO): every model side by side,
each figure with its provenance, the older runs only read, and evaluation prompts found in training data."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from nanogpt_lab.alignment.conversations import read_conversations
from nanogpt_lab.alignment.dpo import dpo
from nanogpt_lab.alignment.preferences import Pair, write_preferences
from nanogpt_lab.config import DPO_PRESET, DpoConfig, build
from nanogpt_lab.evaluation.card import chance_level, contamination, held_out, report_card, with_config
from nanogpt_lab.evaluation.lineage import lineage
from nanogpt_lab.evaluation.report import REPORT_FILE


def _pairs(conversations: list[dict], n: int) -> list[Pair]:
    """The task's own answer chosen over another prompt's answer."""
    out = []
    for conv, other in zip(conversations[:n], conversations[n : 2 * n], strict=True):
        if conv['messages'][-1]['content'].strip() != other['messages'][-1]['content'].strip():
            prompt = tuple((m['role'], m['content']) for m in conv['messages'][:-1])
            out.append(Pair(prompt, conv['messages'][-1]['content'], other['messages'][-1]['content']))
    return out


@pytest.fixture(scope='module')
def chain(sft_run, char_data_dir, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(dpo run, sft run, data folder): four DPO steps on 24 pairs from the session's SFT run."""
    root = tmp_path_factory.mktemp('card')
    data = Path(shutil.copytree(sft_run[1], root / 'data'))
    text = Path(shutil.copytree(char_data_dir / 'shakespeare_char', data / 'shakespeare_char'))  # the base's own
    (text / 'val.bin').write_bytes((text / 'val.bin').read_bytes()[: 2 * 4096])  # 4,096 tokens: a lean test
    tasks = data / 'lab-tasks'
    held = (tasks / 'val.jsonl').read_text(encoding='utf-8').splitlines(keepends=True)
    (tasks / 'val.jsonl').write_text(''.join(held[:48]), encoding='utf-8')  # both languages, several kinds
    splits = {'train': _pairs(read_conversations(tasks, 'train'), 24)}
    splits['val'] = _pairs(read_conversations(tasks, 'val'), 8)
    write_preferences(data / 'prefs', splits, {'kind': 'test'})
    values = {**DPO_PRESET, 'init_from': str(sft_run[0]), 'dataset': 'prefs', 'data_dir': str(data),
              'out_dir': str(root / 'dpo'), 'device': 'cpu', 'compile': False, 'threads': 1, 'batch_size': 4,
              'max_iters': 4, 'eval_interval': 4, 'eval_iters': 1}  # fmt: skip
    dpo(build(DpoConfig, values))
    return root / 'dpo', sft_run[0], data


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def test_base_sft_and_dpo_side_by_side_with_provenance(chain):
    run, sft_dir, data = chain
    before = _digest(sft_dir)
    card = report_card(str(run), str(data), 'cpu', max_conversations=16)
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
    assert _digest(sft_dir) == before  # the SFT run is only read


def test_an_evaluation_prompt_in_the_dpo_pairs_is_reported(chain, tmp_path):
    run, _, data = chain
    held = read_conversations(data / 'lab-tasks', 'val')[:2]
    leaked = _pairs(held, 1)  # a held-out prompt, trained on
    write_preferences(data / 'prefs', {'train': leaked * 2, 'val': []}, {'kind': 'test'})
    links = [with_config(link) for link in lineage(run)]
    found = contamination(links, *held_out(links, str(data)), str(data))
    assert [o['prompt'] for o in found] == [leaked[0].prompt[-1][1]]
    assert found[0]['source'].startswith('dpo dpo: prefs')


def test_chance_is_what_the_most_common_answer_scores():
    convs = [{'messages': [{'role': 'user', 'content': q}, {'role': 'assistant', 'content': a}]}
             for q, a in (('a', '4'), ('b', '4'), ('c', '4'), ('d', '5'))]  # fmt: skip
    assert chance_level(convs) == 0.75
