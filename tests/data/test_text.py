"""Streaming text preparation: chunk edges change nothing, memory stays bounded, progress is reported."""

from __future__ import annotations

import hashlib
import tracemalloc

import numpy as np

from nanogpt_lab.data import sources, text
from nanogpt_lab.tokenizers import GPT2Tokenizer

BPE_TRAIN_SHA256 = '502a2bdc8210d1ac5d5674867cb74467dd31db575d25cf6dbb08c8bdbea8680f'  # nanoGPT's shakespeare


def test_small_chunks_give_nanogpts_bpe_bytes(run, shakespeare_txt, monkeypatch):
    monkeypatch.setattr(sources, 'CHUNK_BYTES', 50_000)
    monkeypatch.setattr(text, 'BPE_CHUNK_CHARS', 7_000)  # ~160 cuts inside train
    folder, events = run(dataset='shakespeare', input=str(shakespeare_txt))
    assert hashlib.sha256((folder / 'train.bin').read_bytes()).hexdigest() == BPE_TRAIN_SHA256
    assert len(events.of('progress', 'read')) >= 2 and events.of('progress', 'read')[-1]['done'] == 1_115_394


def test_safe_cuts_keep_tokens_for_any_text(tmp_path, run, monkeypatch):
    body = 'Mixed 中文 text,  double  spaces\n\n\nand\ttabs 🙂🙂 numbers 12345 67 — “quotes” end.\r\n' * 300
    src = tmp_path / 'mixed.txt'
    src.write_bytes(body.encode('utf-8'))
    monkeypatch.setattr(sources, 'CHUNK_BYTES', 4096)
    monkeypatch.setattr(text, 'BPE_CHUNK_CHARS', 1000)
    folder, _ = run(dataset='custom', input=str(src), tokenizer='gpt2')
    want = src.read_text(encoding='utf-8')  # text mode: \r\n -> \n, as nanoGPT reads it
    n = int(len(want) * 0.9)
    enc = GPT2Tokenizer()
    assert np.fromfile(folder / 'train.bin', dtype=np.uint16).tolist() == enc.encode_ordinary(want[:n])
    assert np.fromfile(folder / 'val.bin', dtype=np.uint16).tolist() == enc.encode_ordinary(want[n:])


def test_safe_cut_rule():
    assert text._safe_cut('abc def  ghi') == 7
    assert text._safe_cut('   ') == 0 and text._safe_cut('abc') == 0
    assert text._safe_cut('a\n\n b') == 1


def _peak_bytes(run, src, name) -> int:
    tracemalloc.start()
    try:
        run(dataset='custom', input=str(src), tokenizer='char', name=name)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_input(tmp_path, shakespeare_txt, run, monkeypatch):
    monkeypatch.setattr(sources, 'CHUNK_BYTES', 1 << 16)
    small, big = tmp_path / 'small.txt', tmp_path / 'big.txt'
    small.write_bytes(shakespeare_txt.read_bytes())  # 1.1 MB
    big.write_bytes(shakespeare_txt.read_bytes() * 4)  # 4.5 MB
    peak_small, peak_big = _peak_bytes(run, small, 'small'), _peak_bytes(run, big, 'big')
    assert peak_big < 1.3 * peak_small and peak_big < 4_000_000, f'peaks {peak_small:,} and {peak_big:,} bytes'
