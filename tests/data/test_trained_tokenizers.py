"""prepare custom --tokenizer sentencepiece|bpe: trained on the training split, saved beside the bins, round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nanogpt_lab.data import DataError, vocab_size_of
from nanogpt_lab.tokenizers import BPETokenizer, UnigramTokenizer, tokenizer_for_dataset

FILES = {'sentencepiece': 'tokenizer.model', 'bpe': 'tokenizer.json'}


@pytest.fixture
def text_file(tmp_path, shakespeare_txt):
    # the last tenth (val) holds a word and a character the first nine tenths never show
    text = shakespeare_txt.read_text()[:60_000]
    text = text[:54_000] + '\nzqxzqx Жzqxzqx zqxzqx Ж\n' * 40
    path = tmp_path / 'in.txt'
    path.write_text(text, encoding='utf-8')
    return path, text


@pytest.mark.parametrize('tokenizer', ['sentencepiece', 'bpe'])
def test_round_trip_through_the_bins(run, text_file, tokenizer):
    path, text = text_file
    folder, events = run(dataset='custom', input=str(path), name='t', tokenizer=tokenizer, vocab_size=500)
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(['train.bin', 'val.bin', 'stats.json', FILES[tokenizer]])
    tok = tokenizer_for_dataset(folder)
    assert isinstance(tok, UnigramTokenizer if tokenizer == 'sentencepiece' else BPETokenizer)
    train = np.fromfile(folder / 'train.bin', dtype='<u2')
    val = np.fromfile(folder / 'val.bin', dtype='<u2')
    assert tok.decode(train.tolist()) + tok.decode(val.tolist()) == text
    assert max(train.max(), val.max()) < tok.vocab_size == vocab_size_of(folder) <= 500
    assert len(train) + len(val) < 0.6 * len(text)  # it compresses
    stats = json.loads((folder / 'stats.json').read_text())
    record = stats['tokenizer_file']
    assert record['file'] == FILES[tokenizer] and record['vocab_size'] == tok.vocab_size
    assert record['trained_on'] == {'split': 'train', 'characters': stats['split']['split_at_char']}
    assert any('tokenizer' in e.get('message', '') for e in events.of('log'))


def test_trained_on_the_training_split_only(run, text_file):
    path, _ = text_file
    folder, _ = run(dataset='custom', input=str(path), name='u', tokenizer='sentencepiece', vocab_size=500)
    sp = tokenizer_for_dataset(folder).sp
    assert sp.piece_to_id('Ж') == sp.unk_id()  # val's character is spelled as bytes, not a piece
    folder, _ = run(dataset='custom', input=str(path), name='b', tokenizer='bpe', vocab_size=500)
    bpe = tokenizer_for_dataset(folder)
    assert len(bpe.encode('zqxzqx')) >= 4  # a word repeated 120 times in val was never merged


def test_a_new_tokenizer_replaces_the_old_vocabulary_file(run, text_file):
    path, _ = text_file
    run(dataset='custom', input=str(path), name='same', tokenizer='char')
    folder, _ = run(dataset='custom', input=str(path), name='same', tokenizer='bpe', vocab_size=400)
    assert not (folder / 'meta.pkl').exists() and (folder / 'tokenizer.json').is_file()
    folder, _ = run(dataset='custom', input=str(path), name='same', tokenizer='gpt2')
    assert not (folder / 'tokenizer.json').exists()


def test_a_vocabulary_beyond_uint16_is_refused_before_any_work(run, text_file, tmp_path):
    path, _ = text_file
    with pytest.raises(DataError, match='uint16.*at most 65535') as e:
        run(dataset='custom', input=str(path), name='big', tokenizer='bpe', vocab_size=70_000)
    assert e.value.code == 'data.vocab_too_big' and e.value.params['max'] == 65535
    assert not (tmp_path / 'data' / 'big').exists() or not any((tmp_path / 'data' / 'big').iterdir())
    with pytest.raises(DataError, match='fixed vocabulary'):
        run(dataset='custom', input=str(path), name='c', tokenizer='char', vocab_size=500)
