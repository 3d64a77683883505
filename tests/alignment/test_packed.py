"""The packed format: ids, masks, offsets and kinds per split, made once per vocabulary, refused when nothing fits."""

from __future__ import annotations

import numpy as np
import pytest

from nanogpt_lab.alignment.conversations import write_conversations
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.packed import Packed, needed_chars, pack
from nanogpt_lab.alignment.template import chat_tokenizer_for, check_messages, render_conversation
from nanogpt_lab.tokenizers import CharTokenizer, GPT2Tokenizer, read_meta


def _conv(q: str, a: str, kind: str = 'conversation') -> dict:
    return {'messages': [{'role': 'user', 'content': q}, {'role': 'assistant', 'content': a}], 'kind': kind}


@pytest.fixture
def folder(tmp_path):
    splits = {'train': [_conv('What is 2 + 3?', '5', 'add'), _conv('Say hi.', 'hi', 'say'), _conv('x' * 80, 'y')],
              'val': [_conv('你好', '你好!', 'say')]}  # fmt: skip
    return write_conversations(tmp_path / 'data' / 'talk', splits, {'kind': 'test'})


def test_pack_round_trips_the_renderer(folder):
    base = CharTokenizer.from_text('abcdefghijklmnopqrstuvwxyz ?.!ASW')
    tok = chat_tokenizer_for(base, needed_chars(folder))
    packed = pack(folder, tok)
    assert packed.folder.parent == folder.parent and packed.folder.name.startswith('talk.char-')
    ids, mask = packed.conversation('train', 0)
    want = render_conversation(check_messages(_conv('What is 2 + 3?', '5')['messages'], complete=True), tok)
    assert (ids.tolist(), mask.tolist()) == want
    assert [packed.kind_names[k] for k in packed.kinds('train')] == ['add', 'say', 'conversation']
    stats = packed.stats(block_size=64)
    assert stats['train']['too_long'] == 1 and stats['val']['too_long'] == 0
    assert stats['train']['trained_tokens'] == int(sum(packed.conversation('train', i)[1].sum() for i in range(3)))
    assert packed.fitting('train', 64).tolist() == [0, 1]
    meta = read_meta(packed.folder / 'meta.pkl')  # nanoGPT's sample.py decodes every id with it
    assert meta['vocab_size'] == tok.vocab_size and meta['itos'][tok.end_id] == '<|end|>'
    assert pack(folder, tok).folder == packed.folder  # made once, then reused


def test_another_vocabulary_gets_another_folder(folder):
    char = pack(folder, chat_tokenizer_for(CharTokenizer.from_text('abcdefghijklmnopqrstuvwxyz ?.!ASW'),
                                           needed_chars(folder)))  # fmt: skip
    bpe = pack(folder, chat_tokenizer_for(GPT2Tokenizer()))
    assert bpe.folder != char.folder and bpe.folder.name.startswith('talk.gpt2-')
    assert not (bpe.folder / 'meta.pkl').exists()
    assert bpe.doc['dtype'] == 'uint16' and int(np.max(bpe.conversation('val', 0)[0])) <= 50260


def test_a_set_where_nothing_fits_is_refused_before_anything_is_written(tmp_path):
    long = [_conv('q' * 100, 'a' * 10), _conv('w' * 90, 'b')]
    folder = write_conversations(tmp_path / 'long', {'train': long, 'val': long[:1]}, {'kind': 'test'})
    tok = chat_tokenizer_for(CharTokenizer.from_text('qwab'))
    with pytest.raises(AlignmentError) as e:
        pack(folder, tok, block_size=64)
    assert e.value.code == 'alignment_engine.all_too_long' and e.value.params['shortest'] > 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ['long']


def test_a_folder_that_is_not_packed_is_named(tmp_path):
    with pytest.raises(AlignmentError) as e:
        Packed(tmp_path)
    assert e.value.code == 'alignment_engine.not_packed'
