"""lab-tasks: deterministic, English and Chinese, seven kinds, a held-out split that shares no prompt with training."""

from __future__ import annotations

from nanogpt_lab.alignment.conversations import read_conversations, read_manifest
from nanogpt_lab.alignment.lab_tasks import KINDS, MAX_TOKENS, generate, prepare_lab_tasks, say_zh


def _prompts(convs):
    return {next(m['content'] for m in c['messages'] if m['role'] == 'user') for c in convs}


def test_the_same_seed_gives_the_same_set_and_another_seed_another():
    assert generate(1337) == generate(1337)
    assert generate(1337) != generate(7)


def test_no_held_out_prompt_is_a_training_prompt():
    for seed in (1337, 7):
        splits = generate(seed)
        assert not _prompts(splits['train']) & _prompts(splits['val'])


def test_word_tasks_hold_out_whole_words():
    splits = generate()
    words = {split: {c['messages'][-1]['content'][::-1] for c in splits[split] if c['kind'] == 'reverse'}
             for split in ('train', 'val')}  # fmt: skip
    spelled = {c['messages'][-1]['content'].replace('-', '') for c in splits['train'] if c['kind'] == 'spell'}
    assert words['val'] and not words['val'] & (words['train'] | spelled)


def test_every_kind_in_both_languages_and_both_splits_and_every_conversation_fits_the_baby_context():
    splits = generate()
    for split in ('train', 'val'):
        assert {c['kind'] for c in splits[split]} == set(KINDS)
    assert any('\u4e00' <= ch <= '\u9fff' for c in splits['train'] for ch in c['messages'][-2]['content'])
    for c in splits['train'] + splits['val']:
        assert sum(len(m['content']) + 2 for m in c['messages']) <= MAX_TOKENS
    answers = {(c['messages'][-2]['content'], c['messages'][-1]['content']) for c in splits['train']}
    assert ('Reverse cat.', 'tac') in answers or ('Spell cat.', 'c-a-t') in answers or len(answers) > 5000


def test_chinese_numerals():
    assert [say_zh(n) for n in (0, 7, 10, 12, 20)] == ['零', '七', '十', '十二', '二十']


def test_prepare_writes_a_conversations_folder(tmp_path):
    folder = prepare_lab_tasks(tmp_path / 'lab-tasks', seed=3)
    assert read_manifest(folder)['source']['kind'] == 'lab-tasks'
    assert read_conversations(folder, 'val') == generate(3)['val']
