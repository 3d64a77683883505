"""Text -> train.bin / val.bin the way nanoGPT's shakespeare prepare scripts do it, streamed for any size.

The text is split by characters: train is the first int(n * (1 - val_fraction)) characters, val the rest, and
each part is encoded on its own (nanoGPT: `data[:int(n*0.9)]`, `data[int(n*0.9):]`). Two passes over the input
keep memory bounded: the first counts characters (and collects the char vocabulary), the second encodes and
appends to the .bin files. Several documents (a folder, a JSONL) are joined by a blank line for the char
tokenizer, and each is followed by <|endoftext|> (50256) for GPT-2 BPE, as in nanoGPT's OpenWebText.

`sentencepiece` (unigram) and `bpe` (byte-level BPE) are trained between the two passes, on the training split's
text only, so val stays text the tokenizer never saw; their model file is written beside the .bin files.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nanogpt_lab.config import DataConfig
from nanogpt_lab.data.errors import DataError
from nanogpt_lab.data.progress import Progress
from nanogpt_lab.data.sources import Source, TextReader
from nanogpt_lab.data.stats import build_stats
from nanogpt_lab.data.writer import Outputs, TokenWriter, dataset_output
from nanogpt_lab.events import Emit, emit_log
from nanogpt_lab.messages import ref
from nanogpt_lab.tokenizers import (
    BPETokenizer,
    CharTokenizer,
    GPT2Tokenizer,
    Tokenizer,
    TokenizerError,
    UnigramTokenizer,
)
from nanogpt_lab.tokenizers.bpe import FILE_NAME as BPE_FILE
from nanogpt_lab.tokenizers.char import meta_bytes
from nanogpt_lab.tokenizers.lookup import META_FILE
from nanogpt_lab.tokenizers.unigram import FILE_NAME as UNIGRAM_FILE

MAX_CHAR_VOCAB = 65_535  # ids are stored as uint16
MAX_VOCAB = 65_535  # the largest vocabulary whose ids fit nanoGPT's uint16 .bin files
DEFAULT_TRAINED_VOCAB = 8000  # --tokenizer sentencepiece|bpe without --vocab_size
TRAINED = ('sentencepiece', 'bpe')  # the tokenizers prepare trains on the training split
VOCAB_FILE = {'char': META_FILE, 'sentencepiece': UNIGRAM_FILE, 'bpe': BPE_FILE, 'gpt2': None}
TRAIN_LINE_CHARS = 4096  # training lines are cut to this length (SentencePiece skips sentences over 64 KiB)
DOC_SEPARATOR = '\n\n'  # between documents, for the char tokenizer (it has no end-of-text token)
BPE_CHUNK_CHARS = 1 << 20  # GPT-2 BPE encodes about 1M characters at a time
BPE_FORCE_CUT = 8  # text with no whitespace for 8 chunks running is cut anyway, to bound memory
EOT = object()  # marker in the joined stream: a document ended (GPT-2 BPE writes 50256)


@dataclass
class _Joined:
    """The source as one stream of text pieces (and EOT markers), counting documents as it goes."""

    reader: TextReader
    tokenizer: str
    multi: bool
    documents: int = 0

    def __iter__(self) -> Iterator[str | object]:
        self.documents, pending_sep = 0, False
        for piece in self.reader:
            if piece is None:
                self.documents += 1
                if self.multi and self.tokenizer == 'gpt2':
                    yield EOT
                pending_sep = self.multi and self.tokenizer != 'gpt2'
                continue
            if pending_sep:
                yield DOC_SEPARATOR
                pending_sep = False
            yield piece


@dataclass
class _Scan:
    characters: int = 0
    vocab: set[str] = field(default_factory=set)


def _scan(stream: _Joined, emit: Emit, total: int) -> _Scan:
    """Pass 1: count characters (and collect the vocabulary for char), validating every byte on the way."""
    scan, progress = _Scan(), Progress(emit, ref('progress.read'), 'B', total)
    for piece in stream:
        if piece is EOT:
            continue
        scan.characters += len(piece)
        if stream.tokenizer == 'char':
            scan.vocab.update(piece)
        progress(stream.reader.bytes_done)
    progress(stream.reader.bytes_done, final=True)
    return scan


class _CharEncoder:
    def __init__(self, tok: CharTokenizer, out: TokenWriter):
        self.tok, self.out = tok, out

    def feed(self, text: str) -> None:
        self.out.write(self.tok.encode_array(text))

    def finish(self) -> None:
        pass


class _ChunkEncoder:
    """Buffers text and encodes it in big pieces, cut only where the tokenizer would cut anyway (`cut`).

    GPT-2's and the trained byte-level BPE's pre-tokenizer never joins a non-whitespace character to the
    whitespace after it (`_safe_cut`); the unigram tokenizer's newline is a piece of its own (`_after_newline`).
    So encoding the parts gives exactly the ids of encoding the whole.
    """

    def __init__(self, tok: Tokenizer, out: TokenWriter, chunk_chars: int | None = None):
        self.tok, self.out, self.chunk_chars = tok, out, chunk_chars or BPE_CHUNK_CHARS
        self.cut = _after_newline if isinstance(tok, UnigramTokenizer) else _safe_cut
        self.parts: list[str] = []
        self.size = 0

    def feed(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size >= self.chunk_chars:
            buf = ''.join(self.parts)
            cut = self.cut(buf)
            if cut == 0 and self.size >= BPE_FORCE_CUT * self.chunk_chars:
                cut = self.chunk_chars  # no safe place in 8M characters: tokens may differ at this one cut
            if cut > 0:
                self.out.write(self._encode(buf[:cut]))
                buf = buf[cut:]
            self.parts, self.size = [buf], len(buf)

    def _encode(self, text: str) -> list[int]:
        return self.tok.encode_ordinary(text) if isinstance(self.tok, GPT2Tokenizer) else self.tok.encode(text)

    def finish(self) -> None:
        if self.size:
            self.out.write(self._encode(''.join(self.parts)))
        self.parts, self.size = [], 0

    def eot(self) -> None:
        self.finish()
        self.out.write([self.tok.eot_token])


def _after_newline(buf: str) -> int:
    """Just after the last newline; 0 if there is none."""
    return buf.rfind('\n') + 1


def _safe_cut(buf: str) -> int:
    """The last index i with buf[i] a space or newline and buf[i-1] not whitespace; 0 if there is none."""
    i = len(buf)
    while True:
        i = max(buf.rfind(' ', 1, i), buf.rfind('\n', 1, i))
        if i <= 0:
            return 0
        if not buf[i - 1].isspace():
            return i


def _encode_pass(stream: _Joined, split_at: int, enc: dict, emit: Emit, total: int) -> None:
    """Pass 2: encode characters [0, split_at) into train and the rest into val."""
    pos, target, progress = 0, 'train', Progress(emit, ref('progress.tokenize'), 'B', total)
    for piece in stream:
        if piece is EOT:
            enc[target].eot()
            continue
        if target == 'train' and pos + len(piece) > split_at:
            cut = split_at - pos
            enc['train'].feed(piece[:cut])
            enc['train'].finish()
            target, piece, pos = 'val', piece[cut:], split_at
        if piece:
            enc[target].feed(piece)
            pos += len(piece)
        progress(stream.reader.bytes_done)
    enc[target].finish()
    progress(stream.reader.bytes_done, final=True)


def _tokenizer(kind: str, scan: _Scan, path: Path) -> Tokenizer:
    if kind == 'gpt2':
        try:
            return GPT2Tokenizer()
        except TokenizerError as e:
            raise DataError(e.code, **e.params) from None
    if len(scan.vocab) == 1:  # every target is that character: nothing to learn, and the loss is 0 from the start
        raise DataError('data.one_character', path=path, char=repr(next(iter(scan.vocab))))
    if len(scan.vocab) > MAX_CHAR_VOCAB:
        raise DataError('data.char_vocab', path=path, n=len(scan.vocab), max=MAX_CHAR_VOCAB)
    return CharTokenizer(sorted(scan.vocab))


def _check_sizes(tokens: dict[str, int], block_size: int, val_fraction: float, path: Path) -> None:
    need = block_size + 1
    for split in ('val', 'train'):
        if tokens[split] < need:
            raise DataError(
                'data.too_small',
                path=path,
                split=split,
                tokens=tokens[split],
                block_size=block_size,
                need=need,
                val_fraction=val_fraction,
            )


def _encode(stream: _Joined, tok: Tokenizer, split_at: int, out: Outputs, emit: Emit, total: int) -> dict:
    """Pass 2 into the open outputs; returns the train and val writers (counts, frequencies, first ids)."""
    writers = {s: TokenWriter(getattr(out, s), tok.vocab_size) for s in ('train', 'val')}
    make = _CharEncoder if isinstance(tok, CharTokenizer) else _ChunkEncoder
    try:
        _encode_pass(stream, split_at, {s: make(tok, w) for s, w in writers.items()}, emit, total)
    except TokenizerError as e:  # pass 1 saw every character: only a file changed in between gets here
        raise DataError('data.changed', path=stream.reader.source.path, detail=str(e)) from None
    return writers


def _train_lines(stream: _Joined, split_at: int) -> Iterator[str]:
    """The training split's text (characters [0, split_at)) as lines with their newlines, long lines cut."""
    pos, carry = 0, ''
    for piece in stream:
        if piece is EOT:
            continue
        piece = piece[: split_at - pos]
        pos += len(piece)
        *lines, carry = (carry + piece).split('\n')
        for line in lines:
            yield from _cut(line + '\n')
        if pos >= split_at:
            break
    yield from _cut(carry)


def _cut(line: str) -> Iterator[str]:
    for i in range(0, len(line), TRAIN_LINE_CHARS):
        yield line[i : i + TRAIN_LINE_CHARS]


def check_vocab_size(tokenizer: str, vocab_size: int | None) -> None:
    """--vocab_size is for the trained tokenizers, and their ids must fit nanoGPT's uint16 token files."""
    if vocab_size is None:
        return
    if tokenizer not in TRAINED:
        raise DataError('data.vocab_size_fixed', key='vocab_size', vocab_size=vocab_size, tokenizer=tokenizer)
    if vocab_size > MAX_VOCAB:
        raise DataError('data.vocab_too_big', key='vocab_size', vocab_size=vocab_size, max=MAX_VOCAB)


def _train_tokenizer(cfg: DataConfig, stream: _Joined, split_at: int, emit: Emit) -> Tokenizer:
    """Train the chosen unigram or BPE tokenizer on the training split only."""
    asked = cfg.vocab_size or DEFAULT_TRAINED_VOCAB
    emit_log(emit, 'log.tokenizer_training', tokenizer=cfg.tokenizer, vocab_size=asked)
    started = time.time()
    lines = _train_lines(stream, split_at)
    try:
        tok = (
            UnigramTokenizer.train(lines, asked)
            if cfg.tokenizer == 'sentencepiece'
            else BPETokenizer.train(lines, asked)
        )
    except TokenizerError as e:
        raise DataError('data.tokenizer_training', tokenizer=cfg.tokenizer, detail=ref(e.code, **e.params)) from None
    seconds = round(time.time() - started, 1)
    emit_log(emit, 'log.tokenizer_trained', tokenizer=cfg.tokenizer, vocab_size=tok.vocab_size, seconds=seconds)
    return tok


def _vocab_bytes(tok: Tokenizer) -> bytes:
    """The vocabulary file's content: meta.pkl for char, the trained tokenizer's own model file otherwise."""
    if isinstance(tok, CharTokenizer):
        return meta_bytes(tok)
    if isinstance(tok, UnigramTokenizer):
        return tok.model_proto
    return tok.hf.to_str().encode('utf-8')


def prepare_text(cfg: DataConfig, source: Source, folder: Path, tokenizer: str, emit: Emit, origin: dict) -> dict:
    """Prepare a text source with the char, GPT-2, or a freshly trained unigram / BPE tokenizer into `folder`."""
    check_vocab_size(tokenizer, cfg.vocab_size)
    started, total = time.time(), source.bytes
    stream = _Joined(TextReader(source), tokenizer, multi=source.kind in ('folder', 'jsonl'))
    scan = _scan(stream, emit, total)
    if scan.characters == 0:
        raise DataError('data.empty', path=source.path)
    split_at = int(scan.characters * (1 - cfg.val_fraction))  # nanoGPT: data[:int(n*0.9)]
    if tokenizer == 'char':  # characters are tokens: reject a too-small input before encoding anything
        sizes = {'train': split_at, 'val': scan.characters - split_at}
        _check_sizes(sizes, cfg.block_size, cfg.val_fraction, source.path)
    if tokenizer in TRAINED:
        tok = _train_tokenizer(cfg, stream, split_at, emit)
    else:
        tok = _tokenizer(tokenizer, scan, source.path)
    vocab_name = VOCAB_FILE[tokenizer]
    with dataset_output(folder, vocab_name) as out:
        writers = _encode(stream, tok, split_at, out, emit, total)
        tokens = {s: w.n for s, w in writers.items()}
        _check_sizes(tokens, cfg.block_size, cfg.val_fraction, source.path)
        for split, n in tokens.items():
            emit_log(emit, 'log.split_tokens', split=split, tokens=n)
        vocab = _vocab_bytes(tok) if out.vocab else b''
        if out.vocab:
            out.vocab.write(vocab)
        stats = build_stats(
            name=folder.name,
            dataset=cfg.dataset,
            tok=tok,
            tokens=tokens,
            counts=writers['train'].counts + writers['val'].counts,
            head=writers['train'].head,
            characters=scan.characters,
            documents=stream.documents,
            split={'method': 'characters', 'val_fraction': cfg.val_fraction, 'split_at_char': split_at},
            source={**source.describe(stream.reader.sha256), **origin},
            started=started,
        )
        if tokenizer in TRAINED:
            stats['tokenizer_file'] = {
                'file': vocab_name,
                'format': 'sentencepiece' if tokenizer == 'sentencepiece' else 'huggingface-tokenizers',
                'sha256': hashlib.sha256(vocab).hexdigest(),
                'vocab_size': tok.vocab_size,
                'vocab_size_asked': cfg.vocab_size or DEFAULT_TRAINED_VOCAB,
                'trained_on': {'split': 'train', 'characters': split_at},
            }
        out.write_stats(stats)
    return stats
