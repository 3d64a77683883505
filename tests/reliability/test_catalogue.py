"""The bad-input catalogue: every case in CASES tried through each surface it names (CLI, API, UI).

Each try must give the specific message listed, a non-zero exit (CLI) or a 4xx (API) or a message on the page
(UI); write nothing outside the workspace (the folders around it are snapshotted before and after); never run
code from a file (a marker file a payload would create must never appear); and leave the server serving.

The API cases run against one real `nanogpt-lab serve` per module. docs/reliability.md's table is generated from
CASES (`python tests/reliability/catalogue_doc.py`) and `test_the_doc_lists_every_case` keeps the two in step.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import pickle
import random
import re
import shutil
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / 'docs' / 'reliability.md'
DOC_START, DOC_END = '<!-- catalogue:start -->', '<!-- catalogue:end -->'
HUGE = 2 * 1024**3  # the "2 GB dataset": 1 MiB of text, then a hole that is never written (sparse)
TINY_TRAIN = dict(dataset='shakespeare_char', device='cpu', compile=False, dtype='float32', threads=1, n_layer=1,
                  n_head=2, n_embd=32, block_size=32, batch_size=4, gradient_accumulation_steps=1, eval_iters=1,
                  max_iters=1_000_000, eval_interval=1000, warmup_iters=0)  # fmt: skip


# --- the table ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cli:
    """`nanogpt-lab ARGV` ({in}: the inputs folder, {runs}: the lab's runs, {data}: a prepared data folder)."""

    argv: tuple[str, ...]
    code: int
    says: str

    def doc(self) -> str:
        command = ' '.join(a for a in self.argv if a not in ('--device=cpu', '--compile=False', '--num_samples=1',
                                                                '--max_new_tokens=3'))  # fmt: skip
        return f'`nanogpt-lab {_short(command, 60)}` → exit {self.code}: {self.says}'


@dataclass(frozen=True)
class Api:
    """One request; `job=True`: accepted (202), then the job must fail saying `says`."""

    method: str
    path: str
    status: int
    says: str
    json: Any = None
    raw: bytes | None = None
    ctype: str = 'application/json'
    files: dict | None = None
    declared: int | None = None  # a Content-Length header far larger than what is sent
    job: bool = False

    def doc(self) -> str:
        request = f'`{self.method} {_short(self.path, 48)}`'
        if self.job:
            return f'{request} → 202, then the job fails: {self.says}'
        return f'{request} → {self.status}: {self.says}'


@dataclass(frozen=True)
class Ui:
    """A scenario on a page (a function in UI_SCENARIOS) and the text it must show."""

    scenario: str
    says: str

    def doc(self) -> str:
        page = next(label for prefix, label in UI_PAGES if self.scenario.startswith(prefix))
        return f'{page}: {self.says}'


UI_PAGES = (
    ('upload', 'stage 1, upload'),
    ('architecture', 'stage 3, custom size'),
    ('pretraining', 'stage 4, config form'),
    ('finetuning', 'stage 5, config form'),
    ('url_traversal', '`/data?dataset=../../etc`'),
    ('url_nonsense', '`/architecture?size=gpt5&n_layer=-5&n_head=abc`'),
)


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    what: str
    cli: tuple[Cli, ...] = ()
    api: tuple[Api, ...] = ()
    ui: tuple[Ui, ...] = ()
    surfaces: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        found = tuple(s for s in ('cli', 'api', 'ui') if getattr(self, s))
        object.__setattr__(self, 'surfaces', found)


T = ('train', '--device=cpu', '--compile=False')
PREP = ('prepare', 'custom', '--input')
SAMPLE = ('sample', '--device=cpu', '--num_samples=1', '--max_new_tokens=3')
GEN = dict(max_new_tokens=3, num_samples=1, stream=False, device='cpu')
NOT_ALLOWED = 'is not allowed: use 1-100 letters'
NOT_TENSORS = 'was refused: it holds objects other than tensors'
CORRUPT = 'is corrupt or truncated'

CASES: tuple[Case, ...] = (
    # configs
    Case('wrong-type', 'config', 'batch_size is a word',
         cli=(Cli((*T, '--batch_size=twelve'), 2, "batch_size ('twelve'): Input should be a valid integer"),),
         api=(Api('POST', '/api/jobs/train', 422, "batch_size ('twelve'): Input should be a valid integer",
                  json={'batch_size': 'twelve'}),)),
    Case('bool-as-number', 'config', 'n_layer is `true`',
         cli=(Cli((*T, '--n_layer=True'), 2, 'n_layer (True): expected a number, got true'),),
         api=(Api('POST', '/api/jobs/train', 422, 'n_layer (True): expected a number, got true',
                  json={'n_layer': True}),)),
    Case('fraction-for-int', 'config', 'n_layer is 2.5',
         cli=(Cli((*T, '--n_layer=2.5'), 2, 'got a number with a fractional part'),),
         api=(Api('POST', '/api/jobs/train', 422, 'n_layer (2.5): Input should be a valid integer, got a number '
                  'with a fractional part', json={'n_layer': 2.5}),)),
    Case('heads-do-not-divide', 'config', 'n_embd 100 with n_head 3',
         cli=(Cli((*T, '--n_embd=100', '--n_head=3'), 2, 'n_embd (100) must be divisible by n_head (3)'),),
         api=(Api('POST', '/api/jobs/train', 422, 'n_embd (100) must be divisible by n_head (3)',
                  json={'nEmbd': 100, 'nHead': 3}),
              Api('GET', '/api/models/sizes?model=custom&n_embd=100&n_head=3', 422,
                  'n_embd (100) must be divisible by n_head (3)')),
         ui=(Ui('architecture_heads', 'must be divisible by n_head (3)'),
             Ui('pretraining_heads', 'n_embd (128) must be divisible by n_head (3)'))),
    Case('zero-size', 'config', 'n_layer 0',
         cli=(Cli((*T, '--n_layer=0'), 2, 'n_layer (0): Input should be greater than 0'),),
         api=(Api('POST', '/api/jobs/train', 422, 'n_layer (0): Input should be greater than 0', json={'n_layer': 0}),
              Api('GET', '/api/models/sizes?model=custom&n_layer=0', 422,
                  'n_layer (0): Input should be greater than 0')),
         ui=(Ui('architecture_zero_layers', 'n_layer (0): Input should be greater than 0'),)),
    Case('negative-size', 'config', 'batch_size -4',
         cli=(Cli((*T, '--batch_size=-4'), 2, 'batch_size (-4): Input should be greater than 0'),),
         api=(Api('POST', '/api/jobs/train', 422, 'batch_size (-4): Input should be greater than 0',
                  json={'batch_size': -4}),),
         ui=(Ui('pretraining_negative_batch', 'batch_size (-4): Input should be greater than 0'),)),
    Case('nan-learning-rate', 'config', 'learning_rate NaN',
         cli=(Cli((*T, '--learning_rate=nan'), 2, "learning_rate ('nan'): Input should be a finite number"),),
         api=(Api('POST', '/api/jobs/train', 400, 'NaN is not a JSON value (JSON has no NaN or Infinity)',
                  raw=b'{"learning_rate": NaN}'),)),
    Case('inf-learning-rate', 'config', 'learning_rate infinite (1e999)',
         cli=(Cli((*T, '--learning_rate=1e999'), 2, 'learning_rate (inf): Input should be a finite number'),),
         api=(Api('POST', '/api/jobs/train', 400, 'Infinity is not a JSON value',
                  raw=b'{"learning_rate": Infinity}'),)),
    Case('negative-learning-rate', 'config', 'learning_rate below zero',
         cli=(Cli((*T, '--learning_rate=-0.001'), 2, 'learning_rate (-0.001): Input should be greater than 0'),),
         api=(Api('POST', '/api/jobs/train', 422, 'learningRate (-0.001): Input should be greater than 0',
                  json={'learningRate': -0.001}),),
         ui=(Ui('pretraining_negative_lr', 'learning_rate (-0.001): Input should be greater than 0'),)),
    Case('block-beyond-pretrained', 'config', 'block_size 2048 for GPT-2 (1024 positions)',
         cli=(Cli(('finetune', '--init_from=gpt2', '--block_size=2048'), 2,
                  "block_size 2048 exceeds gpt2's 1024 positions"),),
         api=(Api('POST', '/api/jobs/finetune', 422, "block_size 2048 exceeds gpt2's 1024 positions",
                  json={'initFrom': 'gpt2', 'blockSize': 2048}),),
         ui=(Ui('finetuning_block_2048', "block_size 2048 exceeds gpt2's 1024 positions"),)),
    Case('unknown-key', 'config', 'a misspelt key (learning_rat)',
         cli=(Cli((*T, '--learning_rat=0.1'), 2, "unknown config key 'learning_rat'; did you mean learning_rate?"),),
         api=(Api('POST', '/api/jobs/train', 422, "unknown config key 'learning_rat'; did you mean learning_rate?",
                  json={'learning_rat': 0.1}),)),
    Case('out-of-range', 'config', 'dropout 1.5; temperature -1',
         cli=(Cli((*T, '--dropout=1.5'), 2, 'dropout (1.5): Input should be less than 1'),
              Cli((*SAMPLE, '--temperature=-1'), 2, 'temperature (-1): Input should be greater than or equal to 0')),
         api=(Api('POST', '/api/jobs/train', 422, 'dropout (1.5): Input should be less than 1', json={'dropout': 1.5}),
              Api('POST', '/api/generate', 422, 'temperature (-1): Input should be greater than or equal to 0',
                  json={'init_from': 'bundled', 'temperature': -1}))),
    Case('unknown-device', 'config', 'device tpu',
         cli=(Cli((*T, '--device=tpu'), 2, "device 'tpu' is not one of auto, cpu, cuda, cuda:N, mps"),),
         api=(Api('POST', '/api/jobs/train', 422, "device 'tpu' is not one of auto, cpu, cuda, cuda:N, mps",
                  json={'device': 'tpu'}),)),
    Case('config-file-with-code', 'config', 'a config file that imports os and calls os.system',
         cli=(Cli(('train', '{in}/code.py'), 2, '`import os` is not a simple assignment; config files may only '
                  'assign literal values'),
              Cli(('train', '{in}/call.py'), 2, 'calls a function; config files may only assign literal values'),)),
    Case('config-file-unreadable', 'config', 'a config file that is not UTF-8, or missing',
         cli=(Cli(('train', '{in}/latin1.py'), 2, 'cannot be read as UTF-8 text'),
              Cli(('train', '{in}/missing.py'), 2, 'missing.py does not exist'))),
    Case('flag-without-value', 'config', '`--batch_size` with nothing after it; an unknown serve option',
         cli=(Cli(('train', '--batch_size'), 2, '--batch_size needs a value (write --batch_size=VALUE)'),
              Cli(('serve', '--hots=0.0.0.0'), 2, 'serve has no option --hots'))),
    # datasets
    Case('empty-file', 'dataset', 'an empty file',
         cli=(Cli((*PREP, '{in}/empty.txt'), 1, 'is empty: there is no text to prepare'),),
         api=(Api('POST', '/api/datasets/upload', 422, 'the file is empty: upload some text',
                  files={'file': ('empty.txt', b'')}),),
         ui=(Ui('upload:empty.txt', 'This file is empty'),)),
    Case('binary-file', 'dataset', 'random bytes named .txt',
         cli=(Cli((*PREP, '{in}/random.txt'), 1, 'is not text: it has a NUL byte at byte offset'),),
         api=(Api('POST', '/api/datasets/upload', 422, 'the file is not text: it has a NUL byte at offset',
                  files={'file': ('random.txt', '@random.txt')}),),
         ui=(Ui('upload:random.txt', 'This file is not text'),)),
    Case('png-renamed', 'dataset', 'a PNG image renamed .txt',
         cli=(Cli((*PREP, '{in}/picture.txt'), 1, 'is not text: it looks like a PNG image'),),
         api=(Api('POST', '/api/datasets/upload', 422, 'the file is not text: it looks like a PNG image',
                  files={'file': ('picture.txt', '@picture.txt')}),),
         ui=(Ui('upload:picture.txt', 'This file is not text (it looks binary). (… it looks like a PNG image)'),)),
    Case('not-utf8', 'dataset', 'Latin-1 text',
         cli=(Cli((*PREP, '{in}/latin1.txt'), 1, 'is not UTF-8 text: byte 0xfc at byte offset 2'),),
         api=(Api('POST', '/api/datasets/upload', 422, 'the file is not UTF-8 text (a bad byte at offset 2)',
                  files={'file': ('latin1.txt', '@latin1.txt')}),),
         ui=(Ui('upload:latin1.txt', 'This file is not UTF-8 text'),)),
    Case('utf16', 'dataset', 'UTF-16 text',
         cli=(Cli((*PREP, '{in}/utf16.txt'), 1, 'looks like UTF-16 text (save it as UTF-8)'),),
         api=(Api('POST', '/api/datasets/upload', 422, 'it looks like UTF-16 text (save it as UTF-8)',
                  files={'file': ('utf16.txt', '@utf16.txt')}),)),
    Case('one-character', 'dataset', 'one character repeated 20,000 times',
         cli=(Cli((*PREP, '{in}/one_char.txt'), 1, "holds one character ('a') repeated"),),
         api=(Api('POST', '/api/jobs/prepare-data', 202, "holds one character ('a') repeated", job=True,
                  json={'dataset': 'custom', 'input': 'one_char.txt'}),),
         ui=(Ui('upload:one_char.txt', "holds one character ('a') repeated"),)),
    Case('two-gigabytes', 'dataset', 'a 2 GB file (sparse: 1 MiB of text, then a hole)',
         cli=(Cli((*PREP, '{in}/huge.txt'), 1, 'is not text: it has a NUL byte at byte offset 1048576'),),
         api=(Api('POST', '/api/datasets/upload', 413, f'the upload is {HUGE:,} bytes; the limit is 200,000,000',
                  declared=HUGE),),
         ui=(Ui('upload_huge', 'That file was refused: uploads must be'),)),
    Case('too-small', 'dataset', 'one line of text (smaller than one block)',
         cli=(Cli((*PREP, '{in}/short.txt'), 1, 'is too small: its val split has'),),
         api=(Api('POST', '/api/jobs/prepare-data', 202, 'is too small: its val split has', job=True,
                  json={'dataset': 'custom', 'input': 'short.txt'}),),
         ui=(Ui('upload:short.txt', 'This text is too small'),)),
    Case('bad-jsonl', 'dataset', 'a JSONL file with a line that is not JSON; a .json file',
         cli=(Cli((*PREP, '{in}/bad.jsonl'), 1, 'line 2 is not valid JSON'),
              Cli((*PREP, '{in}/corpus.json'), 1, 'use JSON Lines (.jsonl)')),
         ui=(Ui('upload:bad.jsonl', 'This JSONL file has a bad line'),)),
    Case('missing-input', 'dataset', 'a file that does not exist',
         cli=(Cli((*PREP, '/nonexistent/corpus.txt'), 1, 'input /nonexistent/corpus.txt does not exist'),),
         api=(Api('POST', '/api/jobs/prepare-data', 202, 'does not exist', job=True,
                  json={'dataset': 'custom', 'input': 'never-uploaded.txt'}),)),
    Case('name-traversal', 'dataset', 'a name with `../`',
         cli=(Cli((*PREP, '{in}/poem.txt', '--name', '../escaped'), 1,
                  f"dataset name: name '../escaped' {NOT_ALLOWED}"),),
         api=(Api('POST', '/api/jobs/prepare-data', 422, f"name '../escaped' {NOT_ALLOWED}",
                  json={'dataset': 'custom', 'input': 'poem.txt', 'name': '../escaped'}),
              Api('POST', '/api/jobs/train', 422, f"dataset '../../etc' {NOT_ALLOWED}", json={'dataset': '../../etc'}),
              Api('GET', '/api/datasets/..%2F..%2Fetc%2Fpasswd/stats', 404, 'Not Found'),
              Api('POST', '/api/tokenize', 404, "no dataset '../x'", json={'text': 'hi', 'dataset': '../x',
                                                                              'tokenizers': ['char']}),
              Api('POST', '/api/datasets/upload', 201, '"name":"pwned.txt"',
                  files={'file': ('../../outside/pwned.txt', b'hello world\n')})),
         ui=(Ui('upload_traversal', '✓ pwned is prepared.'),)),
    Case('absolute-path', 'dataset', 'absolute paths where only names belong',
         cli=(Cli((*PREP, '{in}/poem.txt', '--name', '/tmp/escaped'), 1, f"name '/tmp/escaped' {NOT_ALLOWED}"),),
         api=(Api('POST', '/api/jobs/prepare-data', 422, 'data_dir cannot be set through the API',
                  json={'dataset': 'custom', 'input': 'poem.txt', 'data_dir': '/tmp'}),
              Api('POST', '/api/jobs/train', 422, f"out_dir: name '/tmp/escaped' {NOT_ALLOWED}",
                  json={'out_dir': '/tmp/escaped'}),
              Api('POST', '/api/jobs/export', 422, f"to: name '/tmp/escaped' {NOT_ALLOWED}",
                  json={'out_dir': 'ckpt-good', 'to': '/tmp/escaped'}),
              Api('POST', '/api/datasets/upload', 201, '"name":"passwd.txt"',
                  files={'file': ('/etc/passwd', b'hello world\n')}))),
    Case('nul-byte', 'dataset', 'a NUL byte in a file or dataset name',
         cli=(Cli((*PREP, '{in}/poem\0.txt'), 2, 'a NUL byte cannot be part of a file or folder name'),
              Cli((*PREP, '{in}/poem.txt', '--name', 'po\0em'), 2, "name ('po\\x00em'): a NUL byte cannot be")),
         api=(Api('POST', '/api/jobs/prepare-data', 422, 'input contains a NUL byte',
                  json={'dataset': 'custom', 'input': 'poem\0.txt'}),
              Api('POST', '/api/jobs/prepare-data', 422, f"name 'po\\x00em' {NOT_ALLOWED}",
                  json={'dataset': 'custom', 'input': 'poem.txt', 'name': 'po\0em'})),
         ui=(Ui('upload_nul_name', '✓ po_em is prepared.'),)),
    Case('long-name', 'dataset', 'names of 300 and 5,000 characters',
         cli=(Cli((*PREP, '{in}/poem.txt', '--name', 'n' * 300), 1, NOT_ALLOWED),
              Cli((*PREP, '{in}/' + 'x' * 5000 + '.txt'), 1, 'cannot be read: File name too long')),
         api=(Api('POST', '/api/jobs/prepare-data', 422, NOT_ALLOWED,
                  json={'dataset': 'custom', 'input': 'poem.txt', 'name': 'n' * 300}),
              Api('GET', '/api/jobs/' + 'x' * 5000, 404, 'no job or run'),
              Api('POST', '/api/datasets/upload', 201, '"name":"' + 'l' * 64 + '.txt"',
                  files={'file': ('l' * 1000 + '.txt', b'hello world\n')}))),
    Case('not-prepared', 'dataset', 'training on a dataset never prepared',
         cli=(Cli((*T, '--dataset=nope', '--data_dir={data}'), 1, "dataset 'nope' is not prepared"),),
         ui=(Ui('pretraining_not_prepared', "dataset 'shakespeare_char' is not prepared in this workspace"),)),
    # checkpoints
    Case('ckpt-truncated', 'checkpoint', 'ckpt.pt cut in half',
         cli=(Cli((*SAMPLE, '--out_dir={runs}/ckpt-truncated'), 1, CORRUPT),),
         api=(Api('POST', '/api/generate', 422, CORRUPT, json={'out_dir': 'ckpt-truncated', **GEN}),)),
    Case('ckpt-random', 'checkpoint', 'ckpt.pt of random bytes; an empty ckpt.pt',
         cli=(Cli((*SAMPLE, '--out_dir={runs}/ckpt-random'), 1, CORRUPT),
              Cli((*SAMPLE, '--out_dir={runs}/ckpt-empty'), 1, CORRUPT)),
         api=(Api('POST', '/api/generate', 422, CORRUPT, json={'out_dir': 'ckpt-random', **GEN}),
              Api('POST', '/api/generate', 422, CORRUPT, json={'out_dir': 'ckpt-empty', **GEN}))),
    Case('ckpt-code-payload', 'checkpoint', 'a pickle whose payload runs os.system (torch.save of a __reduce__)',
         cli=(Cli((*SAMPLE, '--out_dir={runs}/ckpt-payload'), 1, NOT_TENSORS),),
         api=(Api('POST', '/api/generate', 422, NOT_TENSORS, json={'out_dir': 'ckpt-payload', **GEN}),
              Api('POST', '/api/jobs/train', 422, NOT_TENSORS,
                  json={**TINY_TRAIN, 'out_dir': 'ckpt-payload', 'init_from': 'resume', 'max_iters': 2}))),
    Case('meta-code-payload', 'checkpoint', 'a meta.pkl whose payload runs os.system',
         cli=(Cli((*SAMPLE, '--out_dir={runs}/meta-payload'), 1, 'meta.pkl refers to posix.system'),),
         api=(Api('POST', '/api/generate', 422, 'meta.pkl refers to posix.system',
                  json={'out_dir': 'meta-payload', **GEN}),
              Api('POST', '/api/tokenize', 422, 'meta.pkl refers to posix.system',
                  json={'text': 'hi', 'dataset': 'evil-meta', 'tokenizers': ['char']}))),
    Case('meta-corrupt', 'checkpoint', 'a meta.pkl whose length field claims 16 EiB',
         cli=(Cli((*SAMPLE, '--out_dir={runs}/meta-corrupt'), 1, 'is not a readable meta.pkl (OverflowError'),),
         api=(Api('POST', '/api/generate', 422, 'is not a readable meta.pkl (OverflowError',
                  json={'out_dir': 'meta-corrupt', **GEN}),
              Api('POST', '/api/tokenize', 422, 'is not a readable meta.pkl (OverflowError',
                  json={'text': 'hi', 'dataset': 'corrupt-meta', 'tokenizers': ['char']}))),
    Case('ckpt-other-architecture', 'checkpoint', "an LSTM's weights with nanoGPT's keys; a bare state_dict",
         cli=(Cli((*SAMPLE, '--out_dir={runs}/ckpt-lstm'), 1, 'the checkpoint does not fit a GPT with'),
              Cli((*SAMPLE, '--out_dir={runs}/ckpt-bare'), 1, 'is not a nanoGPT checkpoint')),
         api=(Api('POST', '/api/generate', 422, 'the checkpoint does not fit a GPT with',
                  json={'out_dir': 'ckpt-lstm', **GEN}),
              Api('POST', '/api/generate', 422, 'is not a nanoGPT checkpoint', json={'out_dir': 'ckpt-bare', **GEN}))),
    Case('ckpt-safetensors-renamed', 'checkpoint', 'a safetensors file renamed ckpt.pt',
         cli=(Cli((*SAMPLE, '--out_dir={runs}/ckpt-safetensors'), 1, CORRUPT),),
         api=(Api('POST', '/api/generate', 422, CORRUPT, json={'out_dir': 'ckpt-safetensors', **GEN}),)),
    Case('ckpt-missing', 'checkpoint', 'a run folder without ckpt.pt',
         cli=(Cli((*SAMPLE, '--out_dir={runs}/no-such-run'), 1, 'no checkpoint at'),),
         api=(Api('POST', '/api/generate', 422, 'no checkpoint at', json={'out_dir': 'no-such-run', **GEN}),)),
    # requests
    Case('malformed-json', 'request', 'a body that is not JSON',
         api=(Api('POST', '/api/jobs/train', 400, 'the request body is not valid JSON', raw=b'{not json'),
              Api('POST', '/api/jobs/train', 400, 'the request body is not valid JSON', raw=b'\xff\xfe{}'))),
    Case('deep-json', 'request', '100,000 nested brackets',
         api=(Api('POST', '/api/jobs/train', 400, 'maximum recursion depth exceeded', raw=b'[' * 100_000),)),
    Case('wrong-content-type', 'request', 'JSON sent as text/plain; a form; a non-object',
         api=(Api('POST', '/api/jobs/train', 415, "not 'text/plain'", raw=b'{}', ctype='text/plain'),
              Api('POST', '/api/jobs/train', 415, "not 'application/x-www-form-urlencoded'", raw=b'a=1',
                  ctype='application/x-www-form-urlencoded'),
              Api('POST', '/api/jobs/train', 422, 'the request body must be a JSON object, not list', raw=b'[1, 2]'),
              Api('POST', '/api/datasets/upload', 415, 'send the file as multipart/form-data', raw=b'{}'))),
    Case('huge-body', 'request', 'a 2 MB JSON body',
         api=(Api('POST', '/api/jobs/train', 413, 'the limit is 1,048,576',
                  raw=b'{"dataset": "' + b'x' * (2 << 20) + b'"}'),)),
    Case('bad-multipart', 'request', 'a broken multipart body; a form without its file',
         api=(Api('POST', '/api/datasets/upload', 400, 'the multipart body cannot be parsed', raw=b'garbage',
                  ctype='multipart/form-data; boundary=zz'),
              Api('POST', '/api/datasets/upload', 422, "the form has no field named 'file'",
                  files={'other': ('a.txt', b'hello')}))),
    Case('unknown-job', 'request', 'an unknown job id: get, cancel, events',
         api=(Api('GET', '/api/jobs/does-not-exist', 404, "no job 'does-not-exist' in this workspace"),
              Api('POST', '/api/jobs/does-not-exist/cancel', 404, "no job 'does-not-exist'"),
              Api('GET', '/api/jobs/does-not-exist/events', 404, "no job 'does-not-exist'"))),
    Case('id-traversal', 'request', 'job and run ids with `../`',
         api=(Api('GET', '/api/jobs/..%2F..%2Fetc', 404, 'Not Found'),
              Api('GET', '/api/runs/..%2F..%2Fetc/events', 404, 'Not Found'),
              Api('GET', '/api/runs/compare?a=..%2Fx&b=ckpt-good', 404, "no job or run '../x'"),
              Api('DELETE', '/api/runs/..', 404, 'Not Found'))),
    Case('cancel-twice', 'request', 'cancelling a finished job, twice',
         api=(Api('POST', '/api/jobs/{finished}/cancel', 409, 'has already ended (succeeded)'),
              Api('POST', '/api/jobs/{finished}/cancel', 409, 'has already ended (succeeded)'))),
    Case('concurrent-starts', 'request', 'four trainings into one run at the same instant, then a delete',
         api=(Api('POST', '/api/jobs/train', 409, "run 'race' already has a", json={**TINY_TRAIN, 'out_dir': 'race'}),
              Api('DELETE', '/api/runs/race', 409, "run 'race' is"))),
    Case('wrong-method', 'request', 'PUT on a POST endpoint; an unknown endpoint',
         api=(Api('PUT', '/api/jobs/train', 405, 'Method Not Allowed'),
              Api('GET', '/api/no-such-thing', 404, 'Not Found'),
              Api('GET', '/api', 404, 'Not Found'))),
    Case('url-nonsense', 'request', 'page URLs with traversal and impossible values',
         ui=(Ui('url_traversal', 'Not prepared here yet'),
             Ui('url_nonsense', '124,439,808'))),
)  # fmt: skip


# --- the world the cases run in -------------------------------------------------------------------------------------


@dataclass
class World:
    root: Path  # everything the catalogue made; only `home` may change
    inputs: Path
    home: Path
    data: Path
    lab: Any
    marker: Path  # a payload that ran would create this file
    finished: str = ''

    def fill(self, text: str) -> str:
        return (text.replace('{in}', str(self.inputs)).replace('{runs}', str(self.home / 'runs'))
                .replace('{data}', str(self.data)).replace('{finished}', self.finished))  # fmt: skip


class _Payload:
    """Unpickling this runs a shell command: what a hostile checkpoint or meta.pkl would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f'touch {self.marker}',))


def _inputs(folder: Path, text: str) -> None:
    folder.mkdir()
    rng = random.Random(8)
    (folder / 'empty.txt').write_bytes(b'')
    (folder / 'random.txt').write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    (folder / 'picture.txt').write_bytes(
        b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + bytes(rng.randrange(256) for _ in range(600))
    )
    (folder / 'latin1.txt').write_bytes('Grüße aus Köln, '.encode('latin-1') * 200)
    (folder / 'utf16.txt').write_bytes(text[:4000].encode('utf-16'))
    (folder / 'one_char.txt').write_text('a' * 20_000)
    (folder / 'short.txt').write_text('To be, or not to be, that is the question.\n')
    (folder / 'bad.jsonl').write_text('{"text": "fine"}\nnot json\n')
    (folder / 'corpus.json').write_text('{"text": "one"}')
    (folder / 'poem.txt').write_text(text[:30_000])
    with open(folder / 'huge.txt', 'wb') as f:
        f.write((text * 2).encode()[: 1 << 20])
        f.truncate(HUGE)  # the rest is a hole: 2 GB on paper, 1 MiB on disk
    (folder / 'code.py').write_text(f"import os\nos.system('touch {folder.parent / 'PWNED'}')\n")
    (folder / 'call.py').write_text(f"batch_size = __import__('os').system('touch {folder.parent / 'PWNED'}')\n")
    (folder / 'latin1.py').write_bytes('# Grüße\nbatch_size = 4\n'.encode('latin-1'))


def _checkpoints(runs: Path, meta: Path, marker: Path) -> None:
    """Good and bad run folders under the lab's runs/."""
    import torch
    from safetensors.torch import save_file

    from nanogpt_lab.config import ModelConfig
    from nanogpt_lab.model import GPT
    from nanogpt_lab.model.checkpoint import save_checkpoint

    cfg = ModelConfig(n_layer=1, n_head=2, n_embd=32, block_size=32, vocab_size=65, bias=False)
    model = GPT(cfg)
    good = runs / 'ckpt-good' / 'ckpt.pt'
    save_checkpoint(good.parent, model=model, optimizer=None, model_args=cfg, iter_num=1, best_val_loss=4.0,
                    config={'dataset': 'shakespeare_char'})  # fmt: skip
    data = good.read_bytes()
    lstm = torch.nn.LSTM(8, 8).state_dict()
    bodies = {
        'ckpt-truncated': data[: len(data) // 2],
        'ckpt-random': random.Random(9).randbytes(50_000),
        'ckpt-empty': b'',
    }
    for name, body in bodies.items():
        (runs / name).mkdir(parents=True)
        (runs / name / 'ckpt.pt').write_bytes(body)
    for name, obj in (('ckpt-payload', {'model': _Payload(marker), 'model_args': {}}),
                      ('ckpt-lstm', {'model': lstm, 'model_args': cfg.nanogpt_args()}),
                      ('ckpt-bare', model.state_dict())):  # fmt: skip
        (runs / name).mkdir(parents=True)
        torch.save(obj, runs / name / 'ckpt.pt')
    (runs / 'ckpt-safetensors').mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items() if 'lm_head' not in k},
              str(runs / 'ckpt-safetensors' / 'ckpt.pt'))  # fmt: skip
    for folder in runs.iterdir():
        shutil.copyfile(meta, folder / 'meta.pkl')
    shutil.copytree(good.parent, runs / 'meta-payload')
    shutil.copytree(good.parent, runs / 'meta-corrupt')
    for folder in (runs / 'meta-payload', runs.parent / 'data' / 'evil-meta'):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / 'meta.pkl').write_bytes(pickle.dumps(_Payload(marker)))
    for folder in (runs / 'meta-corrupt', runs.parent / 'data' / 'corrupt-meta'):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / 'meta.pkl').write_bytes(b'\x80\x04\x8d' + b'\xff' * 8)  # BINUNICODE8 of 2**64 - 1 bytes


@pytest.fixture(scope='module')
def world(tmp_path_factory: pytest.TempPathFactory, char_data_dir: Path, shakespeare_txt: Path,
          helpers: Any) -> Iterator[World]:  # fmt: skip
    """The inputs, a workspace with good and bad runs, and a real lab serving it."""
    root = tmp_path_factory.mktemp('catalogue')
    home = root / 'home'
    (root / 'cwd').mkdir()
    _inputs(root / 'in', shakespeare_txt.read_text())
    shutil.copytree(char_data_dir / 'shakespeare_char', home / 'data' / 'shakespeare_char')
    (home / 'uploads').mkdir(parents=True)
    for name in ('one_char.txt', 'short.txt', 'poem.txt'):
        shutil.copyfile(root / 'in' / name, home / 'uploads' / name)
    _checkpoints(home / 'runs', char_data_dir / 'shakespeare_char' / 'meta.pkl', root / 'PWNED')
    lab = helpers.Lab(home, tmp_path_factory.mktemp('catalogue-log') / 'lab.log')
    lab.start()
    world = World(root, root / 'in', home, char_data_dir, lab, root / 'PWNED')
    done = lab.call('POST', '/api/jobs/prepare-data', json={'dataset': 'custom', 'input': 'poem.txt'}).json()
    world.finished = lab.ended(done['id'])['id']
    yield world
    lab.stop()


@pytest.fixture
def untouched(world: World, tmp_path: Path, workspace_home: Path, helpers: Any) -> Iterator[None]:
    """Nothing outside the workspaces changes, and no payload ever runs."""
    before = helpers.snapshot(world.root, skip=world.home), helpers.snapshot(tmp_path, skip=workspace_home)
    yield
    after = helpers.snapshot(world.root, skip=world.home), helpers.snapshot(tmp_path, skip=workspace_home)
    for b, a in zip(before, after, strict=True):
        changed = sorted(set(a) ^ set(b) | {k for k in a if k in b and a[k] != b[k]})
        assert not changed, f'written outside the workspace: {changed[:10]}'
    assert not world.marker.exists(), 'a payload ran'


def _ids(surface: str) -> list:
    return [pytest.param(c, id=c.id) for c in CASES if getattr(c, surface)]


# --- CLI --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('case', _ids('cli'))
def test_cli(case: Case, world: World, untouched: None, own_signals: None, capsys, monkeypatch) -> None:
    from nanogpt_lab.cli import main

    monkeypatch.chdir(world.root / 'cwd')
    monkeypatch.setenv('NANOGPT_LAB_CPU_PEAK_TFLOPS', '0.1')
    for step in case.cli:
        capsys.readouterr()
        code = main([world.fill(a) for a in step.argv])
        err = capsys.readouterr().err
        assert code == step.code, err[-2000:]
        assert step.says in ' '.join(err.split()), err[-2000:]  # the terminal wraps long lines


# --- API --------------------------------------------------------------------------------------------------------------


def _declared(port: int, path: str, length: int) -> tuple[int, str]:
    """Send only headers claiming `length` bytes of multipart body; return the status and body of the answer."""
    with socket.create_connection(('127.0.0.1', port), timeout=60) as s:
        s.sendall(f'POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=zz\r\n'
                  f'Content-Length: {length}\r\n\r\n--zz\r\n'.encode())  # fmt: skip
        data = b''
        while b'\r\n\r\n' not in data or len(data.split(b'\r\n\r\n', 1)[1]) < _length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    return int(head.split()[1]), body.decode(errors='replace')


def _length(data: bytes) -> int:
    found = re.search(rb'content-length: *(\d+)', data, re.I)
    return int(found.group(1)) if found else 0


def _send(world: World, step: Api) -> tuple[int, str]:
    lab, path = world.lab, world.fill(step.path)
    if step.declared:
        return _declared(lab.port, path, step.declared)
    kw: dict[str, Any] = {}
    if step.files:
        kw['files'] = {k: (n, (world.inputs / b[1:]).read_bytes() if isinstance(b, str) else b)
                       for k, (n, b) in step.files.items()}  # fmt: skip
    elif step.raw is not None:
        kw['content'], kw['headers'] = step.raw, {'Content-Type': step.ctype}
    elif step.json is not None:
        kw['json'] = step.json
    r = lab.call(step.method, path, **kw)
    return r.status_code, r.text


def _concurrent(world: World, step: Api) -> None:
    """Four identical starts at once: one is accepted, three are refused; the run cannot be deleted meanwhile."""
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _send(world, step), range(4)))
    codes = sorted(code for code, _ in answers)
    assert codes == [202, 409, 409, 409], answers
    assert all(step.says in text for code, text in answers if code == 409)


@pytest.mark.parametrize('case', _ids('api'))
def test_api(case: Case, world: World, untouched: None) -> None:
    lab = world.lab
    try:
        for step in case.api:
            if case.id == 'concurrent-starts' and step.method == 'POST':
                _concurrent(world, step)
                continue
            status, text = _send(world, step)
            if step.job:
                assert status == 202, text
                job = lab.ended(json.loads(text)['id'])
                assert job['status'] == 'failed' and step.says in job['error'], job
                continue
            assert status == step.status, (status, text[:2000])
            if status >= 400:  # the one error shape, with the message a person reads
                error = json.loads(text)['error']
                assert set(error) == {'code', 'message', 'field', 'params'} and step.says in error['message'], error
            else:
                assert step.says in text, text[:2000]
    finally:
        for job in lab.call('GET', '/api/jobs').json()['jobs']:  # leave nothing running for the next case
            if job['status'] in ('queued', 'starting', 'running'):
                lab.call('POST', f'/api/jobs/{job["id"]}/cancel')
                lab.ended(job['id'])
    assert lab.proc.poll() is None and lab.call('GET', '/api/jobs').status_code == 200  # still serving


# --- UI ---------------------------------------------------------------------------------------------------------------


def _find(user: Any, marker: str) -> Any:
    elements = user.find(marker=marker).elements
    assert len(elements) == 1, marker
    return next(iter(elements))


def _text(user: Any, marker: str) -> str:
    try:
        return ' '.join(getattr(e, 'text', '') or '' for e in user.find(marker=marker).elements)
    except AssertionError:
        return ''


async def _until(check: Callable[[], bool], timeout: float = 120) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        assert loop.time() < end, 'the page did not show it in time'
        await asyncio.sleep(0.05)


async def _set(user: Any, page: str, marker: str, value: Any, error: str) -> str:
    await user.open(page)
    _find(user, marker).value = value
    await _until(lambda: _text(user, error) != '')
    return _text(user, error)


async def _upload(user: Any, name: str, data: bytes | Path) -> str:
    """What the browser does on stage 1: pick a file for "your own text", send it to the lab's upload route (the user
    fixture runs no JavaScript, so the request is made here, for real) and hand the answer to the page; a file over
    the limit (a Path) is refused by the browser's uploader before it is sent. Returns what the card then says."""
    import httpx
    from nicegui import app

    from nanogpt_lab.ui.components.file_upload import UPLOAD_ROUTE

    await user.open('/data?lang=en&mode=real')
    _find(user, 'upload-custom')
    uploader = user.find(marker='upload-custom')
    uploader.trigger('added', name)
    if isinstance(data, Path):
        uploader.trigger('rejected')
    else:
        user.find(marker='upload-send').click()
        form = {'name': _find(user, 'upload-name').value}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url='http://127.0.0.1') as client:
            answer = await client.post(UPLOAD_ROUTE, files={'file': (name, data, 'text/plain')}, data=form)
        uploader.trigger('uploaded' if answer.is_success else 'failed',
                         answer.text if answer.is_success else [answer.status_code, answer.text])  # fmt: skip

    def shown() -> str:  # the route's refusal, the preparation's error, or the prepared dataset's ✓
        return _text(user, 'card-custom-job-error') or _text(user, 'card-custom-result')

    await _until(lambda: shown() != '' and not shown().endswith('…'))
    return shown()


UI_SCENARIOS: dict[str, Callable[[Any, World, Path], Awaitable[str]]] = {
    'architecture_heads': lambda u, w, t: _set(u, '/architecture?lang=en&size=custom&n_layer=4&n_head=4&n_embd=128',
                                               'custom-n_head', 3, 'custom-error'),
    'architecture_zero_layers': lambda u, w, t: _set(u, '/architecture?lang=en&size=custom', 'custom-n_layer', 0,
                                                     'custom-error'),
    'pretraining_heads': lambda u, w, t: _set(u, '/pretraining?lang=en', 'form-n_head', 3, 'form-error'),
    'pretraining_negative_batch': lambda u, w, t: _set(u, '/pretraining?lang=en', 'form-batch_size', -4, 'form-error'),
    'pretraining_negative_lr': lambda u, w, t: _set(u, '/pretraining?lang=en', 'form-learning_rate', -0.001,
                                                    'form-error'),
    'pretraining_not_prepared': lambda u, w, t: _set(u, '/pretraining?lang=en&mode=real', 'form-max_iters', 5,
                                                     'form-error'),
    'finetuning_block_2048': lambda u, w, t: _set(u, '/finetuning?lang=en', 'ft-form-block_size', 2048,
                                                  'ft-form-error'),
    'upload_huge': lambda u, w, t: _upload(u, 'huge.txt', _sparse_copy(w.inputs / 'huge.txt', t / 'huge.txt')),
    'upload_traversal': lambda u, w, t: _upload(u, '../../outside/pwned.txt', (w.inputs / 'poem.txt').read_bytes()),
    'upload_nul_name': lambda u, w, t: _upload(u, 'po\0em.txt', (w.inputs / 'poem.txt').read_bytes()),
    'url_traversal': lambda u, w, t: _page(u, '/data?lang=en&mode=real&dataset=..%2F..%2Fetc', 'Not prepared here yet'),
    'url_nonsense': lambda u, w, t: _page(u, '/architecture?lang=en&size=gpt5&n_layer=-5&n_head=abc&block=1e99',
                                          '124,439,808', marker='params-total-value'),
}  # fmt: skip


def _in_order(parts: list[str], text: str) -> bool:
    """Whether every part appears in `text`, in this order ('…' in a case's text stands for anything)."""
    at = 0
    for part in parts:
        at = text.find(part, at)
        if at < 0:
            return False
        at += len(part)
    return True


def _sparse_copy(src: Path, dst: Path) -> Path:
    """The upload takes its file away when done: hand it a copy (sparse: 1 MiB on disk)."""
    with open(src, 'rb') as f, open(dst, 'wb') as g:
        g.write(f.read(1 << 20))
        g.truncate(src.stat().st_size)
    return dst


async def _page(user: Any, path: str, text: str, marker: str | None = None) -> str:
    await user.open(path)
    await user.should_see(text)
    return _text(user, marker) if marker else text


@pytest.mark.parametrize('case', _ids('ui'))
async def test_ui(case: Case, world: World, untouched: None, user: Any, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv('NANOGPT_LAB_UI_DETECT_DEVICE', '0')
    scratch = tmp_path / 'home' / 'scratch'  # inside the page's workspace: the test's own files
    scratch.mkdir(parents=True)
    for step in case.ui:
        if step.scenario.startswith('upload:'):
            name = step.scenario.split(':', 1)[1]
            shown = await _upload(user, name, (world.inputs / name).read_bytes())
        else:
            shown = await UI_SCENARIOS[step.scenario](user, world, scratch)
        assert _in_order(step.says.split('…'), shown), shown
    await user.open('/data?lang=en')  # the lab still serves its pages
    await user.should_see('Shakespeare')


# --- the doc ----------------------------------------------------------------------------------------------------------


def render_table(results: dict[tuple[str, str], str]) -> str:
    """docs/reliability.md's catalogue table; `results[(surface, case id)]` is 'pass' or what failed."""
    lines = ['| # | group | bad input | CLI | API | UI | result |', '|---|---|---|---|---|---|---|']
    for i, case in enumerate(CASES, 1):
        cells = []
        for surface in ('cli', 'api', 'ui'):
            steps = getattr(case, surface)
            cells.append('<br>'.join(_cell(s.doc()) for s in steps) if steps else '—')
        outcome = [results.get((s, case.id), 'not run') for s in case.surfaces]
        verdict = 'pass' if all(o == 'pass' for o in outcome) else ', '.join(outcome)
        lines.append(f'| {i} | {case.group} | {_cell(case.what)} | {" | ".join(cells)} | {verdict} |')
    return '\n'.join(lines)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + '…'


def _cell(text: str) -> str:
    return _short(text.replace('\0', '\\0').replace('|', '\\|'), 240)


def test_the_doc_lists_every_case() -> None:
    """At least 40 cases, and docs/reliability.md shows exactly this table, every case passing."""
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)
    assert all(c.surfaces for c in CASES)
    doc = DOC.read_text(encoding='utf-8')
    section = doc.split(DOC_START, 1)[1].split(DOC_END, 1)[0].strip()
    passed = {(s, c.id): 'pass' for c in CASES for s in c.surfaces}
    assert section == render_table(passed), 'docs/reliability.md is stale: python tests/reliability/catalogue_doc.py'
