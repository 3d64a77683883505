"""OpenWebText as nanoGPT's data/openwebtext/prepare.py builds it, through Hugging Face `datasets`.

Documents (the Hub's `openwebtext`, or --input: a folder of .txt/.md, a .jsonl with a `text` field, or a folder
written by `save_to_disk`) are split by document with `train_test_split(seed=2357)`, tokenized in parallel
(`num_proc` processes, each encoding batches with tiktoken's `encode_ordinary_batch` on several threads),
<|endoftext|> 50256 appended to each document, and streamed into train.bin / val.bin through `np.memmap` in
batches of documents. Nothing holds the corpus in memory: `datasets` keeps the text and the ids in Arrow files
in a work folder beside the output, removed at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from nanogpt_lab.config import DataConfig
from nanogpt_lab.data.download import hf_offline
from nanogpt_lab.data.errors import DataError
from nanogpt_lab.data.progress import Progress
from nanogpt_lab.data.sources import iter_documents, resolve_input
from nanogpt_lab.data.stats import build_stats
from nanogpt_lab.data.writer import dataset_output, memmap_output
from nanogpt_lab.events import Emit, emit_log
from nanogpt_lab.messages import ref
from nanogpt_lab.tokenizers import EOT_TOKEN, GPT2Tokenizer, TokenizerError, gpt2_encoding

NANOGPT_TEST_SIZE = 0.0005  # nanoGPT's share of OpenWebText documents held out for val
SPLIT_SEED = 2357  # nanoGPT's seed, so the Hub dataset splits into the same documents
SHARD_DOCS = 100_000  # documents tokenized per map() call, so progress moves on millions of documents
WRITE_DOCS = 1024  # documents copied into the memmap per step
SMALL_CORPUS = 10_000  # below this many documents one process (with threads) beats starting a pool


def worker_counts(num_proc: int, n_docs: int) -> tuple[int, int]:
    """(processes, threads per process): nanoGPT's ~cores/2 processes for big corpora, threads for small ones."""
    cpus = os.cpu_count() or 1
    if num_proc == 0:
        num_proc = 1 if n_docs < SMALL_CORPUS else max(1, min(8, cpus // 2))
    return num_proc, max(1, cpus // num_proc)


def _generate(path: str) -> Any:
    """Documents of a text/folder/JSONL input, validated by the same reader `custom` uses."""
    for doc in iter_documents(resolve_input(path)):
        yield {'text': doc}


def _from_input(datasets: Any, cfg: DataConfig, work: Path) -> tuple[Any, dict]:
    source = resolve_input(cfg.input)
    if source.kind == 'hf_disk':
        return _from_disk(datasets, source.path), source.describe()
    features = datasets.Features({'text': datasets.Value('string')})
    try:
        ds = datasets.Dataset.from_generator(
            _generate, features=features, cache_dir=str(work / 'hf'), gen_kwargs={'path': str(source.path)}
        )
    except Exception as e:  # datasets wraps what the generator raised; show ours as it is
        cause = e.__cause__ or e.__context__
        if isinstance(cause, DataError):
            raise cause from None
        raise
    return ds, source.describe()


def _from_disk(datasets: Any, path: Path) -> Any:
    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        if 'train' not in ds and len(ds) != 1:
            raise DataError('data.owt.splits', path=path, splits=', '.join(ds))
        ds = ds['train'] if 'train' in ds else next(iter(ds.values()))
    if 'text' not in ds.column_names:
        raise DataError('data.owt.no_text_column', path=path, columns=', '.join(ds.column_names))
    return ds.select_columns(['text'])


def _from_hub(datasets: Any, num_proc: int) -> Any:
    if hf_offline():
        raise DataError('download.owt_offline_set')
    try:
        return datasets.load_dataset('openwebtext', num_proc=num_proc if num_proc > 1 else None)['train']
    except Exception as e:  # network, Hub and script errors all end here: say what happened and what to do
        raise DataError('download.owt_failed', detail=f'{type(e).__name__}: {e}') from e


def _encode_batch(batch: dict, num_threads: int) -> dict:
    """nanoGPT's `process`, batched: GPT-2 ids of each document followed by <|endoftext|>."""
    ids = gpt2_encoding().encode_ordinary_batch(batch['text'], num_threads=num_threads)
    for doc in ids:
        doc.append(EOT_TOKEN)  # nanoGPT appends (its comment wonders whether to prepend); we keep its layout
    return {'ids': ids, 'len': [len(d) for d in ids], 'chars': [len(t) for t in batch['text']]}


def _tokenize(datasets: Any, ds: Any, split: str, work: Path, workers: tuple[int, int], emit: Emit) -> Any:
    """Tokenize one split, SHARD_DOCS documents per map() call, reporting documents done."""
    num_proc, threads = workers
    features = datasets.Features(
        {
            'ids': datasets.Sequence(datasets.Value('uint16')),
            'len': datasets.Value('int64'),
            'chars': datasets.Value('int64'),
        }
    )
    n, parts, progress = len(ds), [], Progress(emit, ref('progress.tokenize_split', split=split), 'docs', len(ds))
    progress(0)
    for k, start in enumerate(range(0, n, SHARD_DOCS)):
        shard = ds.select(range(start, min(n, start + SHARD_DOCS)))
        procs = min(num_proc, len(shard))
        parts.append(
            shard.map(
                _encode_batch,
                batched=True,
                batch_size=1000,
                num_proc=procs if procs > 1 else None,
                remove_columns=shard.column_names,
                features=features,
                fn_kwargs={'num_threads': threads},
                cache_file_name=str(work / f'{split}-{k:05d}.arrow'),
            )
        )
        progress(start + len(shard))
    return datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]


def _copy_into(arr: np.ndarray, ds: Any, split: str, counts: np.ndarray, emit: Emit) -> None:
    """Write a tokenized split into its memmap, WRITE_DOCS documents at a time (nanoGPT writes 1024 shards)."""
    idx, progress = 0, Progress(emit, ref('progress.write', file=f'{split}.bin'), 'tokens', len(arr))
    for batch in ds.with_format('numpy').iter(batch_size=WRITE_DOCS):
        chunk = np.concatenate(list(batch['ids'])).astype(np.uint16, copy=False)
        arr[idx : idx + len(chunk)] = chunk
        idx += len(chunk)
        counts += np.bincount(chunk, minlength=len(counts))
        progress(idx)
    assert idx == len(arr), f'{split}: wrote {idx} of {len(arr)} tokens'
    if isinstance(arr, np.memmap):
        arr.flush()


def _check_sizes(lens: dict[str, int], cfg: DataConfig) -> None:
    for split in ('val', 'train'):
        if lens[split] < cfg.block_size + 1:
            raise DataError(
                'data.owt.too_small',
                split=split,
                tokens=lens[split],
                block_size=cfg.block_size,
                need=cfg.block_size + 1,
            )


def _write(cfg: DataConfig, folder: Path, tokenized: dict, info: dict, emit: Emit) -> dict:
    """Put the tokenized splits into train.bin / val.bin and write stats.json, all atomically."""
    lens = {s: int(np.sum(d.with_format('numpy')['len'], dtype=np.uint64)) for s, d in tokenized.items()}
    _check_sizes(lens, cfg)
    tok = GPT2Tokenizer()
    counts = np.zeros(tok.vocab_size, dtype=np.int64)
    with dataset_output(folder, vocab_file=None) as out:
        head: list[int] = []
        for split in ('train', 'val'):
            arr = memmap_output(getattr(out, split), lens[split])
            _copy_into(arr, tokenized[split], split, counts, emit)
            head = head or [int(i) for i in arr[:64]]
            emit_log(emit, 'log.split_tokens', split=split, tokens=lens[split])
            del arr  # unmap before the file is closed and renamed
        docs = {s: len(d) for s, d in tokenized.items()}
        chars = sum(int(np.sum(d.with_format('numpy')['chars'], dtype=np.uint64)) for d in tokenized.values())
        stats = build_stats(
            name=folder.name,
            dataset=cfg.dataset,
            tok=tok,
            tokens=lens,
            counts=counts,
            head=head,
            characters=chars,
            documents=docs['train'] + docs['val'],
            split={
                'method': 'documents',
                'val_fraction': info['test_size'],
                'seed': SPLIT_SEED,
                'train_documents': docs['train'],
                'val_documents': docs['val'],
            },
            source=info['origin'],
            started=info['started'],
        )
        out.write_stats(stats)
    return stats


def _split(ds: Any, test_size: float, work: Path) -> dict:
    if len(ds) < 2:
        raise DataError('data.owt.one_document', n=len(ds))
    split = ds.train_test_split(
        test_size=test_size,
        seed=SPLIT_SEED,
        shuffle=True,
        train_indices_cache_file_name=str(work / 'train-indices.arrow'),
        test_indices_cache_file_name=str(work / 'val-indices.arrow'),
    )
    return {'train': split['train'], 'val': split['test']}


def prepare_openwebtext(cfg: DataConfig, folder: Path, emit: Emit) -> dict:
    """Prepare OpenWebText (or a document corpus given with --input) into `folder`; return its stats."""
    try:
        import datasets
    except ImportError:
        raise DataError('data.owt.no_datasets') from None
    datasets.disable_progress_bars()  # progress goes out as events
    started = time.time()
    try:
        gpt2_encoding()  # fail before any work if the BPE files are missing
    except TokenizerError as e:
        raise DataError(e.code, **e.params) from None
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix='.prepare-', dir=folder))
    try:
        if cfg.input:
            ds, origin = _from_input(datasets, cfg, work)
            test_size = cfg.val_fraction
        else:
            ds = _from_hub(datasets, worker_counts(cfg.num_proc, 1 << 30)[0])
            origin = {'kind': 'hf_hub', 'name': 'openwebtext', 'path': None, 'bytes': None, 'sha256': None}
            test_size = cfg.val_fraction if 'val_fraction' in cfg.model_fields_set else NANOGPT_TEST_SIZE
        parts = _split(ds, test_size, work)
        workers = worker_counts(cfg.num_proc, len(ds))
        tokenized = {s: _tokenize(datasets, d, s, work, workers, emit) for s, d in parts.items()}
        info = {'origin': origin, 'test_size': test_size, 'started': started}
        return _write(cfg, folder, tokenized, info, emit)
    finally:
        shutil.rmtree(work, ignore_errors=True)
