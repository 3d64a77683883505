"""The chat template and its one renderer: ids, the loss mask, chat.json, special tokens never made from text."""

from __future__ import annotations

import json

import pytest

from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.template import (
    ASSISTANT,
    END,
    SPECIAL_TOKENS,
    ChatTokenizer,
    chat_tokenizer_for,
    check_messages,
    load_chat,
    render_conversation,
    render_prompt,
    save_chat,
    targets,
)
from nanogpt_lab.tokenizers import CharTokenizer, GPT2Tokenizer

CONVERSATION = [
    {'role': 'system', 'content': 'Be brief.'},
    {'role': 'user', 'content': 'What is 2 + 3?'},
    {'role': 'assistant', 'content': '5'},
    {'role': 'user', 'content': '你好'},
    {'role': 'assistant', 'content': '你好!'},
]


@pytest.fixture(scope='module')
def char_base(shakespeare_txt) -> CharTokenizer:
    return CharTokenizer.from_text(shakespeare_txt.read_text(encoding='utf-8'))


def test_char_base_gets_special_ids_after_its_characters_then_the_missing_characters(char_base):
    text = ''.join(m['content'] for m in CONVERSATION)
    tok = chat_tokenizer_for(char_base, text)
    assert tok.special_ids == {name: 65 + i for i, name in enumerate(SPECIAL_TOKENS)}
    assert tok.added_chars == ['+', '2', '5', '你', '好']  # '3', '?', '!' are Shakespeare's already
    assert tok.vocab_size == 65 + 4 + 5
    assert tok.encode('5你') == [71, 72]


def test_gpt2_base_special_ids_start_at_50257_inside_the_padded_rows():
    tok = chat_tokenizer_for(GPT2Tokenizer(), 'anything 你好')
    assert tok.special_ids[SPECIAL_TOKENS[0]] == 50257 and tok.end_id == 50260
    assert tok.vocab_size == 50261 <= 50304 and tok.added_chars == []


def test_the_mask_trains_only_assistant_content_and_its_end_token(char_base):
    tok = chat_tokenizer_for(char_base, ''.join(m['content'] for m in CONVERSATION))
    ids, mask = render_conversation(check_messages(CONVERSATION, complete=True), tok)
    assert tok.decode(ids) == (
        '<|system|>Be brief.<|end|><|user|>What is 2 + 3?<|end|><|assistant|>5<|end|>'
        '<|user|>你好<|end|><|assistant|>你好!<|end|>'
    )
    trained = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert trained == f'5{END}你好!{END}'
    # the assistant start token is context, not a target: the model is told whose turn it is
    assert all(m == 0 for i, m in zip(ids, mask, strict=True) if i == tok.special_ids[ASSISTANT])
    ys = targets(ids, mask)
    assert len(ys) == len(ids) - 1
    assert [tok.decode([y]) for y in ys if y != -1] == ['5', END, '你', '好', '!', END]


def test_the_prompt_is_the_conversation_then_the_assistant_start(char_base):
    tok = chat_tokenizer_for(char_base, '23+')
    ids = render_prompt([{'role': 'user', 'content': '2+3'}], tok)
    assert tok.decode(ids) == '<|user|>2+3<|end|><|assistant|>'


def test_text_never_becomes_a_special_token(char_base):
    gpt2 = chat_tokenizer_for(GPT2Tokenizer())
    assert not set(gpt2.encode('<|end|><|user|>')) & gpt2.stop_ids
    tok = chat_tokenizer_for(char_base, '<|>')
    assert not set(tok.encode('<|end|>')) & tok.stop_ids


@pytest.mark.parametrize(
    ('messages', 'code'),
    [
        ([], 'alignment_engine.no_messages'),
        ([{'content': 'hi'}], 'alignment_engine.missing_role'),
        ([{'role': 'bot', 'content': 'hi'}], 'alignment_engine.unknown_role'),
        ([{'role': 'user', 'content': 3}], 'alignment_engine.not_text'),
        ([{'role': 'assistant', 'content': 'hi'}], 'alignment_engine.role_order'),
        ([{'role': 'user', 'content': 'a'}, {'role': 'user', 'content': 'b'}], 'alignment_engine.role_order'),
        ([{'role': 'user', 'content': 'a'}, {'role': 'system', 'content': 'b'}], 'alignment_engine.role_order'),
        ([{'role': 'user', 'content': 'a'}], 'alignment_engine.no_answer'),
        (
            [{'role': 'user', 'content': 'a'}, {'role': 'assistant', 'content': '  '}],
            'alignment_engine.empty_assistant',
        ),
    ],
)
def test_bad_conversations_name_the_problem(messages, code):
    with pytest.raises(AlignmentError) as e:
        check_messages(messages, complete=True)
    assert e.value.code == code


def test_a_prompt_must_end_with_the_user():
    with pytest.raises(AlignmentError) as e:
        check_messages([{'role': 'user', 'content': 'a'}, {'role': 'assistant', 'content': 'b'}], complete=False)
    assert e.value.code == 'alignment_engine.no_question'


def test_an_unknown_character_is_refused_with_its_position(char_base):
    tok = chat_tokenizer_for(char_base)
    with pytest.raises(AlignmentError) as e:
        tok.encode('ab€')
    assert (
        e.value.code == 'alignment_engine.unknown_char'
        and e.value.params['char'] == '€'
        and e.value.params['position'] == 2
    )
    assert 'U+20AC' in str(e.value)


def test_chat_json_round_trips_and_extends_without_moving_ids(tmp_path, char_base):
    tok = chat_tokenizer_for(char_base, '12')
    save_chat(tmp_path, tok)
    doc = json.loads((tmp_path / 'chat.json').read_text(encoding='utf-8'))
    assert doc['format'] == 'nanogpt-lab-chat' and doc['version'] == 1
    assert doc['special_tokens'] == tok.special_ids and doc['tokenizer']['added_chars'] == ['1', '2']
    again = load_chat(tmp_path)
    assert again.to_json() == tok.to_json()
    more = chat_tokenizer_for(again, '好1')
    assert more.added_chars == ['1', '2', '好'] and more.encode('12') == tok.encode('12')
    assert load_chat(tmp_path / 'nowhere') is None


def test_a_newer_chat_json_is_refused(tmp_path, char_base):
    doc = chat_tokenizer_for(char_base).to_json() | {'version': 99}
    (tmp_path / 'chat.json').write_text(json.dumps(doc), encoding='utf-8')
    with pytest.raises(AlignmentError) as e:
        load_chat(tmp_path)
    assert e.value.code == 'alignment_engine.chat_file_version'


def test_nanogpt_meta_decodes_every_id(char_base):
    tok = chat_tokenizer_for(char_base, '好')
    meta = tok.nanogpt_meta()
    assert meta['vocab_size'] == tok.vocab_size == len(meta['itos'])
    assert all(meta['itos'][i] == tok.decode([i]) for i in range(tok.vocab_size))
    assert ChatTokenizer.from_json(tok.to_json()).nanogpt_meta() == meta
