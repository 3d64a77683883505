"""Text -> train.bin / val.bin the way nanoGPT's shakespeare prepare scripts do it, streamed for any size.

The text is split by characters: train is the first int(n * (1 - val_fraction)) characters, val the rest, and
each part is encoded on its own (nanoGPT: `data[:int(n*0.9)]`, `data[int(n*0.9):]`). Two passes over the input
keep memory bounded: the first counts characters (and collects the char vocabulary), the second encodes and
appends to the .bin files. Several documents (a folder, a JSONL) are joined by a blank line for the char
tokenizer, and each is followed by <|endoftext|> (50256) for GPT-2 BPE, as in nanoGPT's OpenWebText.
"""

from __future__ import annotations

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
from nanogpt_lab.tokenizers import CharTokenizer, GPT2Tokenizer, Tokenizer, TokenizerError
from nanogpt_lab.tokenizers.char import meta_bytes

MAX_CHAR_VOCAB = 65_535  # ids are stored as uint16
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
                pending_sep = self.multi and self.tokenizer == 'char'
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


class _BPEEncoder:
    """Buffers text and encodes it in big pieces cut where GPT-2's pre-tokenizer would cut anyway.

    A cut just before whitespace that follows a non-whitespace character never changes the tokens: no regex
    piece spans such a boundary, so encoding the parts gives exactly the ids of encoding the whole.
    """

    def __init__(self, tok: GPT2Tokenizer, out: TokenWriter, chunk_chars: int | None = None):
        self.tok, self.out, self.chunk_chars = tok, out, chunk_chars or BPE_CHUNK_CHARS
        self.parts: list[str] = []
        self.size = 0

    def feed(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size >= self.chunk_chars:
            buf = ''.join(self.parts)
            cut = _safe_cut(buf)
            if cut == 0 and self.size >= BPE_FORCE_CUT * self.chunk_chars:
                cut = self.chunk_chars  # no safe place in 8M characters: tokens may differ at this one cut
            if cut > 0:
                self.out.write(self.tok.encode_ordinary(buf[:cut]))
                buf = buf[cut:]
            self.parts, self.size = [buf], len(buf)

    def finish(self) -> None:
        if self.size:
            self.out.write(self.tok.encode_ordinary(''.join(self.parts)))
        self.parts, self.size = [], 0

    def eot(self) -> None:
        self.finish()
        self.out.write([self.tok.eot_token])


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
    make = _CharEncoder if isinstance(tok, CharTokenizer) else _BPEEncoder
    try:
        _encode_pass(stream, split_at, {s: make(tok, w) for s, w in writers.items()}, emit, total)
    except TokenizerError as e:  # pass 1 saw every character: only a file changed in between gets here
        raise DataError('data.changed', path=stream.reader.source.path, detail=str(e)) from None
    return writers


def prepare_text(cfg: DataConfig, source: Source, folder: Path, tokenizer: str, emit: Emit, origin: dict) -> dict:
    """Prepare a text source with the char or GPT-2 tokenizer into `folder`; return its stats."""
    started, total = time.time(), source.bytes
    stream = _Joined(TextReader(source), tokenizer, multi=source.kind in ('folder', 'jsonl'))
    scan = _scan(stream, emit, total)
    if scan.characters == 0:
        raise DataError('data.empty', path=source.path)
    split_at = int(scan.characters * (1 - cfg.val_fraction))  # nanoGPT: data[:int(n*0.9)]
    if tokenizer == 'char':  # characters are tokens: reject a too-small input before encoding anything
        sizes = {'train': split_at, 'val': scan.characters - split_at}
        _check_sizes(sizes, cfg.block_size, cfg.val_fraction, source.path)
    tok = _tokenizer(tokenizer, scan, source.path)
    with dataset_output(folder, with_meta=tokenizer == 'char') as out:
        writers = _encode(stream, tok, split_at, out, emit, total)
        tokens = {s: w.n for s, w in writers.items()}
        _check_sizes(tokens, cfg.block_size, cfg.val_fraction, source.path)
        for split, n in tokens.items():
            emit_log(emit, 'log.split_tokens', split=split, tokens=n)
        if out.meta:
            out.meta.write(meta_bytes(tok))
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
        out.write_stats(stats)
    return stats
