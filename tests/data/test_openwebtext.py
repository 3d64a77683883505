"""The OpenWebText path on the State of the Union corpus: nanoGPT's layout, document split, every input form."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest

from nanogpt_lab.data import DataError, load_stats
from nanogpt_lab.tokenizers import GPT2Tokenizer

SOTU_TOKENS = 754_971  # GPT-2 tokens in the 92 documents (shared/data/sotu_corpus/README.md)


@pytest.fixture(scope='module')
def sotu(shared_data, tmp_path_factory):
    dst = tmp_path_factory.mktemp('sotu') / 'sotu.jsonl'
    shutil.copyfile(shared_data / 'sotu_corpus' / 'sotu_1946_2026.jsonl', dst)
    return dst


def ids(folder, split):
    return np.fromfile(folder / f'{split}.bin', dtype=np.uint16)


def test_sotu_jsonl_in_parallel_matches_nanogpts_layout(run, sotu):
    folder, events = run(dataset='openwebtext', input=str(sotu), num_proc=2)
    train, val = ids(folder, 'train'), ids(folder, 'val')
    assert len(train) + len(val) == SOTU_TOKENS + 92
    assert (train == 50256).sum() + (val == 50256).sum() == 92 and train[-1] == val[-1] == 50256
    # nanoGPT: train_test_split(seed=2357, shuffle=True), then each document's ids + [eot], in split order
    import datasets

    texts = [json.loads(line)['text'] for line in sotu.read_text(encoding='utf-8').splitlines()]
    split = datasets.Dataset.from_dict({'i': list(range(92))}).train_test_split(test_size=0.1, seed=2357)
    enc = GPT2Tokenizer()
    for name, part in (('train', split['train']), ('test', split['test'])):
        want = [t for i in part['i'] for t in enc.encode_ordinary(texts[i]) + [50256]]
        assert (train if name == 'train' else val).tolist() == want
    stats = load_stats(folder)
    assert stats['documents'] == 92 and stats['characters'] == 3_771_206
    assert stats['split'] | {'val_share': None} == {
        'method': 'documents',
        'val_fraction': 0.1,
        'seed': 2357,
        'train_documents': 82,
        'val_documents': 10,
        'val_share': None,
    }
    assert stats['source']['sha256'] == '419a79c0530adebbb3cf3b3ce0712ea4dc3ec26cce85ee94957ca89ee355332e'
    counts = np.bincount(np.concatenate([train, val]), minlength=50257)
    assert [t['count'] for t in stats['top_tokens']] == sorted(counts, reverse=True)[:50]
    assert events.of('progress', 'write train.bin')[-1]['done'] == len(train)
    assert events.of('progress', 'tokenize train')[-1] == {
        'type': 'progress',
        'done': 82,
        'total': 82,
        'unit': 'docs',
        'label': 'tokenize train',
        'label_code': 'progress.tokenize_split',
        'label_params': {'split': 'train'},
    }


def test_folder_of_txt_and_saved_dataset_inputs(run, sotu, tmp_path):
    docs = [json.loads(line)['text'] for line in sotu.read_text(encoding='utf-8').splitlines()[:6]]
    folder_in = tmp_path / 'speeches'
    folder_in.mkdir()
    for i, doc in enumerate(docs):
        (folder_in / f'{i:02d}.txt').write_text(doc, encoding='utf-8')
    import datasets

    datasets.Dataset.from_dict({'text': docs, 'year': list(range(6))}).save_to_disk(str(tmp_path / 'saved'))
    a, _ = run(dataset='openwebtext', input=str(folder_in), name='from_txt', val_fraction=0.34, num_proc=1)
    b, _ = run(dataset='openwebtext', input=str(tmp_path / 'saved'), name='from_disk', val_fraction=0.34)
    assert load_stats(a)['source']['kind'] == 'folder' and load_stats(b)['source']['kind'] == 'hf_disk'
    for split in ('train', 'val'):
        assert ids(a, split).tolist() == ids(b, split).tolist()  # same documents, same split, same ids
    assert load_stats(a)['split']['val_documents'] == 3


def test_document_corpus_errors(run, tmp_path):
    one = tmp_path / 'one.jsonl'
    one.write_text(json.dumps({'text': 'only one document here ' * 50}) + '\n')
    with pytest.raises(DataError, match='at least 2 documents'):
        run(dataset='openwebtext', input=str(one))
    bad = tmp_path / 'bad.jsonl'
    bad.write_text(json.dumps({'text': 'fine'}) + '\n' + json.dumps({'txt': 'no'}) + '\n')
    with pytest.raises(DataError, match='line 2 needs a "text" field'):
        run(dataset='openwebtext', input=str(bad))
    small = tmp_path / 'small.jsonl'
    small.write_text(''.join(json.dumps({'text': f'doc {i}'}) + '\n' for i in range(4)))
    with pytest.raises(DataError, match='val split has .* block_size 64'):
        run(dataset='openwebtext', input=str(small))
    assert not any((tmp_path / 'data' / 'openwebtext').glob('*.bin'))


def test_the_hub_dataset_offline_says_to_pass_input(run):
    t0 = time.perf_counter()
    with pytest.raises(DataError, match='54 GB.*pass --input'):  # conftest sets HF_*_OFFLINE=1
        run(dataset='openwebtext')
    assert time.perf_counter() - t0 < 10
