"""Atomic outputs: a failure part-way leaves no new file and keeps the old dataset as it was."""

from __future__ import annotations

import hashlib

import pytest

from nanogpt_lab.data import DataError, sources
from nanogpt_lab.events import Cancelled


def snapshot(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_failure_while_writing_leaves_nothing(run, shakespeare_txt, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, 'CHUNK_BYTES', 100_000)

    def stop_mid_tokenize(type, **fields):
        if type == 'progress' and fields['label'] == 'tokenize' and fields['done'] > 500_000:
            raise Cancelled('stopped by the test')

    from nanogpt_lab.config import DataConfig
    from nanogpt_lab.data import prepare

    cfg = DataConfig(dataset='custom', input=str(shakespeare_txt), data_dir=str(tmp_path / 'data'), name='ts')
    with pytest.raises(Cancelled):
        prepare(cfg, emit=stop_mid_tokenize)
    assert list((tmp_path / 'data' / 'ts').iterdir()) == []  # no train.bin, no temp file


def test_a_failed_rerun_keeps_the_previous_dataset(run, shakespeare_txt, tmp_path):
    folder, _ = run(dataset='custom', input=str(shakespeare_txt), tokenizer='char', name='keep')
    before = snapshot(folder)
    small = tmp_path / 'small.txt'
    small.write_text('tiny text but long enough in characters, ' * 20)
    # gpt2 tokens are only counted after encoding: this fails after train.bin and val.bin were written (to temps)
    with pytest.raises(DataError, match='block_size 256'):
        run(dataset='custom', input=str(small), tokenizer='gpt2', name='keep', block_size=256)
    assert snapshot(folder) == before
