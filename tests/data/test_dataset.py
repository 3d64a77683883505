"""prepare(): nanoGPT's bytes for both Shakespeare datasets, custom inputs, names, and the folder helpers."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from nanogpt_lab.data import DataError, dataset_dir, load_meta, load_stats
from nanogpt_lab.tokenizers import CharTokenizer, GPT2Tokenizer, tokenizer_for_dataset

# nanoGPT's data/shakespeare_char/prepare.py and data/shakespeare/prepare.py on tiny Shakespeare (docs/compatibility.md)
NANOGPT_SHA256 = {
    'shakespeare_char/train.bin': '6ec305602a99ac2802745a134e1f5e33e2231b4855525b00b9aebb730ac2626f',
    'shakespeare_char/val.bin': 'd37d30cc0c8327c270d493299c3dca54135f6d5f1c9ef60cda78076e311204b1',
    'shakespeare_char/meta.pkl': '6ee5a37533af83b67fcbe6b93705fde9e15e78bafe895f54b2cb2cb32534526c',
    'shakespeare/train.bin': '502a2bdc8210d1ac5d5674867cb74467dd31db575d25cf6dbb08c8bdbea8680f',
    'shakespeare/val.bin': '68a53422394c26a655ebe641f5c6f49888e8f4e45fe5d6f02abda63ba3ebd65b',
}


def tokens(path) -> np.ndarray:
    return np.fromfile(path, dtype=np.uint16)


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shakespeare_char_is_byte_identical_to_nanogpt(char_data_dir):
    folder = char_data_dir / 'shakespeare_char'
    for name in ('train.bin', 'val.bin', 'meta.pkl'):
        assert sha(folder / name) == NANOGPT_SHA256[f'shakespeare_char/{name}'], name
    assert len(tokens(folder / 'train.bin')) == 1_003_854 and len(tokens(folder / 'val.bin')) == 111_540
    assert load_meta(folder)['vocab_size'] == 65


def test_shakespeare_char_stats(char_data_dir, shakespeare_txt):
    stats = load_stats(char_data_dir / 'shakespeare_char')
    assert stats['version'] == 1 and stats['tokenizer'] == 'char' and stats['vocab_size'] == 65
    assert stats['tokens'] == {'train': 1_003_854, 'val': 111_540, 'total': 1_115_394}
    assert stats['characters'] == 1_115_394 and stats['documents'] == 1
    assert stats['split']['method'] == 'characters' and stats['split']['val_fraction'] == 0.1
    top = stats['top_tokens']
    assert len(top) == 50 and top[0] == {'id': 1, 'text': ' ', 'count': 169_892}
    assert [t['count'] for t in top] == sorted((t['count'] for t in top), reverse=True)
    text = shakespeare_txt.read_text()
    assert ''.join(p['text'] for p in stats['preview']) == text[:64]
    assert stats['source']['sha256'] == '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed'
    assert stats['source']['bytes'] == 1_115_394 and stats['seconds'] >= 0
    assert stats['distinct_tokens'] == 65 and stats['coverage'][0][0] == 1 and stats['coverage'][-1] == [65, 1.0]
    shares = [share for _, share in stats['coverage']]
    assert shares == sorted(shares) and shares[0] == pytest.approx(top[0]['count'] / 1_115_394, abs=1e-6)


def test_shakespeare_bpe_is_byte_identical_to_nanogpt(run, shakespeare_txt):
    folder, events = run(dataset='shakespeare', input=str(shakespeare_txt))
    assert folder.name == 'shakespeare' and not (folder / 'meta.pkl').exists()
    for name in ('train.bin', 'val.bin'):
        assert sha(folder / name) == NANOGPT_SHA256[f'shakespeare/{name}'], name
    stats = load_stats(folder)
    assert stats['tokens'] == {'train': 301_966, 'val': 36_059, 'total': 338_025}
    assert stats['tokenizer'] == 'gpt2' and stats['vocab_size'] == 50257
    assert stats['preview'][:2] == [{'id': 5962, 'text': 'First'}, {'id': 22307, 'text': ' Citizen'}]
    assert isinstance(tokenizer_for_dataset(folder), GPT2Tokenizer)
    assert events.of('progress', 'tokenize')[-1]['done'] == 1_115_394


def test_custom_gpt2_of_one_file_equals_shakespeare_and_custom_char_equals_shakespeare_char(run, shakespeare_txt):
    folder, _ = run(dataset='custom', input=str(shakespeare_txt), tokenizer='char')
    assert folder.name == 'input'  # from the input's name
    assert sha(folder / 'train.bin') == NANOGPT_SHA256['shakespeare_char/train.bin']
    assert load_stats(folder)['kind'] == 'custom'


def test_custom_folder_joins_documents(run, tmp_path):
    src = tmp_path / 'My Notes!'
    (src / 'sub').mkdir(parents=True)
    (src / 'a.txt').write_text('alpha beta gamma\n' * 20)
    (src / 'sub' / 'b.md').write_text('你好 世界 🙂 ' * 20)
    (src / 'skip.bin').write_bytes(b'\x00\x01')
    (src / '.hidden.txt').write_text('not read')
    folder, _ = run(dataset='custom', input=str(src) + '/', tokenizer='char', block_size=8)
    assert folder.name == 'My_Notes'
    tok = CharTokenizer.from_meta(load_meta(folder))
    text = tok.decode(np.concatenate([tokens(folder / 'train.bin'), tokens(folder / 'val.bin')]))
    assert text == 'alpha beta gamma\n' * 20 + '\n\n' + '你好 世界 🙂 ' * 20
    stats = load_stats(folder)
    assert stats['documents'] == 2 and stats['source']['kind'] == 'folder' and stats['source']['files'] == 2

    folder, _ = run(dataset='custom', input=str(src), tokenizer='gpt2', block_size=8, name='notes-bpe')
    ids = np.concatenate([tokens(folder / 'train.bin'), tokens(folder / 'val.bin')])
    assert (ids == 50256).sum() == 2 and ids[-1] == 50256  # <|endoftext|> after each document


def test_custom_jsonl(run, tmp_path):
    src = tmp_path / 'docs.jsonl'
    lines = [json.dumps({'text': f'document {i} says hello to the world. ' * 5, 'id': i}) for i in range(10)]
    src.write_text('\n'.join(lines[:5]) + '\n\n' + '\n'.join(lines[5:]) + '\n')
    folder, _ = run(dataset='custom', input=str(src), tokenizer='gpt2', block_size=16)
    stats = load_stats(folder)
    assert stats['documents'] == 10 and stats['source']['kind'] == 'jsonl'
    enc = GPT2Tokenizer()
    assert stats['tokens']['total'] == sum(len(enc.encode_ordinary(json.loads(x)['text'])) + 1 for x in lines)


def test_switching_a_name_from_char_to_gpt2_drops_the_old_meta(run, shakespeare_txt):
    folder, _ = run(dataset='custom', input=str(shakespeare_txt), tokenizer='char', name='mine')
    assert load_meta(folder) is not None
    folder, _ = run(dataset='custom', input=str(shakespeare_txt), tokenizer='gpt2', name='mine')
    assert load_meta(folder) is None and isinstance(tokenizer_for_dataset(folder), GPT2Tokenizer)


def test_names_and_folders(tmp_path):
    assert dataset_dir('shakespeare_char', str(tmp_path)) == (tmp_path / 'shakespeare_char').resolve()
    assert dataset_dir('x').parent.name == 'data'  # the workspace's data/ by default
    for bad in ('../up', 'a/b', '.hidden', ''):
        with pytest.raises(DataError, match='dataset .* is not allowed'):
            dataset_dir(bad, str(tmp_path))


def test_bad_name_and_missing_input_are_data_errors(run, shakespeare_txt, tmp_path):
    with pytest.raises(DataError, match='dataset .* is not allowed'):
        run(dataset='custom', input=str(shakespeare_txt), name='../escape')
    with pytest.raises(DataError, match='custom needs --input'):
        run(dataset='custom')
    with pytest.raises(DataError, match='does not exist'):
        run(dataset='custom', input=str(tmp_path / 'nope.txt'))
    with pytest.raises(DataError, match='shakespeare_char always uses char'):
        run(dataset='shakespeare_char', input=str(shakespeare_txt), tokenizer='gpt2')


def test_load_stats_of_a_nanogpt_folder_without_stats_json(char_data_dir, tmp_path):
    src = char_data_dir / 'shakespeare_char'
    bare = tmp_path / 'bare'
    bare.mkdir()
    for name in ('train.bin', 'val.bin', 'meta.pkl'):
        shutil.copyfile(src / name, bare / name)
    derived, real = load_stats(bare), load_stats(src)
    assert derived['derived'] is True and derived['tokens'] == real['tokens']
    assert derived['top_tokens'] == real['top_tokens'] and derived['preview'] == real['preview']
    with pytest.raises(DataError, match='not a prepared dataset'):
        load_stats(tmp_path)
    (bare / 'stats.json').write_text('{"version": 99}')
    with pytest.raises(DataError, match='version 99'):
        load_stats(bare)
    (bare / 'stats.json').write_text('[]')
    with pytest.raises(DataError, match='version None'):
        load_stats(bare)
