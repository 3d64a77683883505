"""Preference pairs in TRL's shapes, and every bad line refused by its number with a stable code."""

import json

import pytest

from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.preferences import (
    append_pair,
    at_line,
    load_info,
    load_split,
    pairs_folder,
    parse_pair,
    read_pairs,
    split_pairs,
    write_preferences,
)
from nanogpt_lab.messages import render

Q = [{'role': 'user', 'content': 'What colour is the sky?'}]
W = {'role': 'assistant', 'content': 'Blue.'}
L = {'role': 'assistant', 'content': 'Green.'}


@pytest.mark.parametrize(
    'obj',
    [
        {'prompt': 'What colour is the sky?', 'chosen': 'Blue.', 'rejected': 'Green.'},  # standard
        {'prompt': Q, 'chosen': [W], 'rejected': [L]},  # conversational
        {'messages': Q, 'chosen': 'Blue.', 'rejected': 'Green.'},  # the conversation so far
        {'prompt': 'What colour is the sky?', 'chosen': [*Q, W], 'rejected': [*Q, L]},  # answers repeat the prompt
        {'chosen': [*Q, W], 'rejected': [*Q, L]},  # implicit prompt
        {'prompt': Q[0]['content'], 'messages': [*Q, W], 'chosen': [*Q, W], 'rejected': [*Q, L]},  # ultrafeedback
    ],
)
def test_every_trl_shape_gives_the_same_pair(obj):
    pair = parse_pair(obj, 1)
    assert pair.messages() == Q
    assert (pair.chosen, pair.rejected) == ('Blue.', 'Green.')


def test_a_system_turn_and_earlier_turns_stay_in_the_prompt():
    convo = [{'role': 'system', 'content': 'Be brief.'}, *Q, W, {'role': 'user', 'content': 'And at night?'}]
    pair = parse_pair({'messages': convo, 'chosen': 'Black.', 'rejected': 'Blue.'}, 3)
    assert [r for r, _ in pair.prompt] == ['system', 'user', 'assistant', 'user']
    assert pair.conversation(pair.chosen)[-1] == {'role': 'assistant', 'content': 'Black.'}


TURN = 'dpo.bad_turn:'  # the template's own check refused a turn: its code travels inside, as `problem`


@pytest.mark.parametrize(
    ('obj', 'code'),
    [
        ({'prompt': 'Q?', 'chosen': 'A.', 'rejected': 'A.'}, 'dpo.same_answers'),
        ({'prompt': 'Q?', 'chosen': ' A.', 'rejected': 'A. '}, 'dpo.same_answers'),
        ({'chosen': 'The sky is blue.', 'rejected': 'The sky is green.'}, 'dpo.no_shared_prompt'),
        ({'chosen': [*Q, W], 'rejected': [{'role': 'user', 'content': 'Other?'}, L]}, 'dpo.no_shared_prompt'),
        ({'prompt': 'Q?', 'chosen': [*Q, W], 'rejected': 'B'}, 'dpo.answer_not_after_prompt'),
        ({'prompt': 'Q?', 'chosen': ''}, 'dpo.missing_answers'),
        ({'prompt': Q, 'chosen': [*Q, W, L], 'rejected': 'B'}, 'dpo.not_one_answer'),
        (['not', 'an', 'object'], 'dpo.not_object'),
        ({'prompt': 7, 'chosen': 'A', 'rejected': 'B'}, 'dpo.bad_messages'),
        ({'prompt': 'Q?', 'chosen': '  ', 'rejected': 'B'}, TURN + 'alignment_engine.empty_assistant'),
        ({'prompt': [W], 'chosen': 'A', 'rejected': 'B'}, TURN + 'alignment_engine.role_order'),
        ({'prompt': [{'role': 'robot', 'content': 'x'}], 'chosen': 'A', 'rejected': 'B'},
         TURN + 'alignment_engine.unknown_role'),
        ({'prompt': 'Q?', 'chosen': [{'role': 'user', 'content': 'A'}], 'rejected': 'B'},
         TURN + 'alignment_engine.role_order'),
    ],
)  # fmt: skip
def test_bad_pairs_are_refused_with_their_line(obj, code):
    with pytest.raises(AlignmentError) as e:
        parse_pair(obj, 7)
    outer, _, inner = code.partition(':')
    assert e.value.code == outer and e.value.params['line'] == 7
    if inner:
        assert e.value.params['problem']['code'] == inner
    assert render(**at_line(e.value)).startswith('line 7: ')
    assert render(**at_line(e.value), lang='zh-CN').startswith('第 7 行：')


def test_bad_lines_are_left_out_and_listed_by_number(tmp_path):
    good = json.dumps({'prompt': 'Q?', 'chosen': 'A', 'rejected': 'B'})
    same = json.dumps({'prompt': 'Q?', 'chosen': 'A', 'rejected': 'A'})
    path = tmp_path / 'pairs.jsonl'
    path.write_bytes('\n'.join([good, '', same, '{oops', good, 'caf\xe9']).encode('latin-1') + b'\n' + b'x' * 5_000_000)
    read = read_pairs(path)
    assert [p.line for p in read.pairs] == [1, 5]
    assert [(e.code, e.params['line']) for e in read.problems] == [
        ('dpo.same_answers', 3), ('dpo.not_json', 4), ('dpo.not_utf8', 6), ('dpo.line_too_long', 7),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ('data', 'code'),
    [
        (b'', 'dpo.empty_dataset'),
        (b'\n  \n', 'dpo.empty_dataset'),
        (b'{"prompt": "Q", "chosen": "A", "rejected": "A"}\n{oops\n', 'dpo.no_pairs'),
    ],
)
def test_a_file_with_no_usable_pair_is_refused(tmp_path, data, code):
    path = tmp_path / 'pairs.jsonl'
    path.write_bytes(data)
    with pytest.raises(AlignmentError) as e:
        read_pairs(path)
    assert e.value.code == code
    if code == 'dpo.no_pairs':
        assert 'line 1: chosen and rejected are the same answer' in str(e.value) and e.value.params['problems'] == 2


def test_split_by_prompt_and_round_trip(tmp_path):
    pairs = [parse_pair({'prompt': f'Q{i % 10}?', 'chosen': f'A{i}', 'rejected': f'B{i}'}, i + 1) for i in range(40)]
    splits = split_pairs(pairs, 0.2)
    train_prompts = {p.prompt for p in splits['train']}
    val_prompts = {p.prompt for p in splits['val']}
    assert splits['val'] and splits['train'] and not train_prompts & val_prompts
    assert split_pairs(pairs, 0.2) == splits  # deterministic
    info = write_preferences(tmp_path / 'prefs', splits, {'kind': 'file', 'path': 'pairs.jsonl'})
    assert load_info(tmp_path / 'prefs') == info
    assert info['pairs'] == {'train': len(splits['train']), 'val': len(splits['val'])}
    assert load_split(tmp_path / 'prefs', 'train') == splits['train']
    assert load_split(tmp_path / 'prefs', 'val') == splits['val']


def test_a_folder_without_pairs_says_how_to_make_them(tmp_path):
    with pytest.raises(AlignmentError) as e:
        load_info(tmp_path)
    assert e.value.code == 'dpo.not_preferences' and 'prepare lab-preferences' in str(e.value)


def test_picks_are_appended_one_by_one(tmp_path):
    folder = tmp_path / 'my-picks'
    for i in range(6):
        info = append_pair(folder, parse_pair({'prompt': f'Q{i}?', 'chosen': 'yes', 'rejected': 'no'}))
    assert sum(info['pairs'].values()) == 6 and info['source'] == {'kind': 'picks'}
    assert {p.prompt for s in ('train', 'val') for p in load_split(folder, s)} == {
        (('user', f'Q{i}?'),) for i in range(6)
    }
    (tmp_path / 'lab-tasks').mkdir()
    (tmp_path / 'lab-tasks' / 'train.jsonl').write_text('{}\n')
    with pytest.raises(AlignmentError) as e:
        append_pair(tmp_path / 'lab-tasks', parse_pair({'prompt': 'Q', 'chosen': 'a', 'rejected': 'b'}))
    assert e.value.code == 'dpo.name_taken'


@pytest.mark.parametrize('named', ['../elsewhere', '', 7, None])
def test_a_vocabulary_folder_names_only_a_sibling(tmp_path, named):
    folder = tmp_path / 'prefs.char-0123abcd'
    folder.mkdir()
    (folder / 'vocabulary.json').write_text(json.dumps({'preferences': 'prefs'}))
    assert pairs_folder(folder) == tmp_path / 'prefs' and pairs_folder(tmp_path / 'prefs') == tmp_path / 'prefs'
    (folder / 'vocabulary.json').write_text(json.dumps({'preferences': named}))
    with pytest.raises(AlignmentError) as e:
        pairs_folder(folder)
    assert e.value.code == 'dpo.bad_info'
