"""The packed conversations: a conversations folder tokenized for one chat vocabulary, with loss masks and offsets.

Conversations stay tokenizer-agnostic on disk (`conversations.py`); the base model decides the tokenizer, so each
(conversations, chat vocabulary) pair gets its own folder beside them, made once and reused:

    <data_dir>/<conversations>.<kind>-<digest>/      e.g. lab-tasks.char-3f2a9c1d
        packed.json          format "nanogpt-lab-packed", version, source conversations (name, sha256), dtype,
                             per-split counts and token statistics
        chat.json            the chat vocabulary these ids are in (template.py)
        meta.pkl             char vocabularies only: nanoGPT's meta.pkl of the chat vocabulary, special tokens by
                             name, so nanoGPT's sample.py decodes every id of a model fine-tuned on this folder
        {train,val}.ids.bin      every conversation's ids end to end, little-endian uint16 (uint32 past 65,536)
        {train,val}.mask.bin     one byte per id: 1 where the id is a trained target (template.render_conversation)
        {train,val}.offsets.bin  little-endian int64, n + 1 entries: conversation i is ids[offsets[i]:offsets[i+1]]
        {train,val}.kind.bin     one byte per conversation: its index in packed.json's "kinds" (task kinds)

The digest covers the conversations' sha256 and the chat vocabulary, so a changed file or another base gets a new
folder. An SFT checkpoint's `config['dataset']` names this folder: that is where nanoGPT looks for meta.pkl.
Conversations longer than block_size + 1 ids are kept here but never trained on (counted and reported, never cut).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from nanogpt_lab.alignment.conversations import SPLITS, read_conversations, read_manifest
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.template import (
    ChatTokenizer,
    load_chat,
    render_conversation,
    save_vocabulary,
    vocabulary_folder_name,
)
from nanogpt_lab.fileio import atomic_write_bytes, atomic_write_text, write_folder

PACKED_FORMAT = 'nanogpt-lab-packed'
PACKED_VERSION = 1
PACKED_FILE = 'packed.json'


def packed_name(conversations: Path, tokenizer: ChatTokenizer) -> str:
    """The folder name for these conversations in this vocabulary."""
    manifest = read_manifest(conversations)
    key = json.dumps({'sha256': manifest.get('sha256'), 'chat': tokenizer.to_json(), 'v': PACKED_VERSION})
    return vocabulary_folder_name(conversations.name, tokenizer, key)


def needed_chars(conversations: Path) -> set[str]:
    """Every character of both splits: a char base gains the ones it lacks (val's too, so val can be scored)."""
    chars: set[str] = set()
    for split in SPLITS:
        for conv in read_conversations(conversations, split):
            for m in conv['messages']:
                chars.update(m['content'])
    return chars


def pack(conversations: Path, tokenizer: ChatTokenizer, block_size: int | None = None) -> Packed:
    """The packed folder for `conversations` in `tokenizer`, written (atomically, as a whole) if not there yet.

    With `block_size`, a set in which no training conversation fits is refused before anything is written.
    """
    folder = conversations.parent / packed_name(conversations, tokenizer)
    if (folder / PACKED_FILE).is_file():
        packed = Packed(folder)
    else:
        convs = {s: read_conversations(conversations, s) for s in SPLITS}
        rendered = {s: [render_conversation(c['messages'], tokenizer) for c in convs[s]] for s in SPLITS}
        if block_size is not None:
            check_fits([len(ids) for ids, _ in rendered['train']], block_size, conversations.name)
        kinds = {s: [c.get('kind', 'conversation') for c in convs[s]] for s in SPLITS}
        packed = Packed(_write(folder, conversations, tokenizer, rendered, kinds))
    if block_size is not None:
        check_fits(packed.lengths('train').tolist(), block_size, conversations.name)
    return packed


def check_fits(lengths: list[int], block_size: int, name: str) -> None:
    """Refuse a training split in which no conversation fits block_size: nothing would be trained."""
    if lengths and min(lengths) > block_size + 1:
        raise AlignmentError(
            'alignment_engine.all_too_long', conversations=len(lengths), name=name, block_size=block_size,
            shortest=min(lengths) - 1,
        )  # fmt: skip


def _write(
    folder: Path, conversations: Path, tokenizer: ChatTokenizer, rendered: dict[str, list], kinds: dict[str, list]
) -> Path:
    """Write every file into a temporary folder beside `folder`, then rename it into place in one step."""
    dtype = np.uint16 if tokenizer.vocab_size <= 65536 else np.uint32
    names = sorted({k for ks in kinds.values() for k in ks})[:256]

    def fill(tmp: Path) -> None:
        splits = {}
        for split, convs in rendered.items():
            lengths = np.array([len(ids) for ids, _ in convs], dtype=np.int64)
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype('<i8')
            ids = np.array([i for c, _ in convs for i in c], dtype=dtype).astype(np.dtype(dtype).newbyteorder('<'))
            mask = np.array([m for _, c in convs for m in c], dtype=np.uint8)
            kind = np.array([names.index(k) if k in names else 0 for k in kinds[split]], dtype=np.uint8)
            for suffix, arr in (('ids', ids), ('mask', mask), ('offsets', offsets), ('kind', kind)):
                atomic_write_bytes(tmp / f'{split}.{suffix}.bin', arr.tobytes())
            splits[split] = {'conversations': len(convs), 'tokens': int(len(ids)), 'trained_tokens': int(mask.sum())}
        save_vocabulary(tmp, tokenizer)
        doc = {
            'format': PACKED_FORMAT,
            'version': PACKED_VERSION,
            'conversations': {'name': conversations.name, 'sha256': read_manifest(conversations).get('sha256')},
            'dtype': np.dtype(dtype).name,
            'kinds': names,
            'splits': splits,
        }
        atomic_write_text(tmp / PACKED_FILE, json.dumps(doc, indent=2) + '\n')

    return write_folder(folder, fill, PACKED_FILE)  # another rank or process may have packed the same folder first


@dataclass
class Packed:
    """An opened packed folder: its chat vocabulary and, per split, memory-mapped ids, masks and offsets."""

    folder: Path

    def __post_init__(self) -> None:
        try:
            self.doc = json.loads((self.folder / PACKED_FILE).read_text(encoding='utf-8'))
        except (OSError, ValueError):
            self.doc = None
        if not isinstance(self.doc, dict) or self.doc.get('format') != PACKED_FORMAT:
            raise AlignmentError('alignment_engine.not_packed', path=self.folder)
        if int(self.doc.get('version', 99)) > PACKED_VERSION:
            raise AlignmentError(
                'alignment_engine.packed_version', path=self.folder, version=str(self.doc.get('version')),
                supported=PACKED_VERSION,
            )  # fmt: skip
        self.tokenizer = load_chat(self.folder)

    @cached_property
    def _arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        dtype = np.dtype(self.doc['dtype']).newbyteorder('<')
        out = {}
        for split in SPLITS:
            ids = np.fromfile(self.folder / f'{split}.ids.bin', dtype=dtype).astype(np.int64)
            mask = np.fromfile(self.folder / f'{split}.mask.bin', dtype=np.uint8)
            offsets = np.fromfile(self.folder / f'{split}.offsets.bin', dtype='<i8')
            out[split] = (ids, mask, offsets, np.fromfile(self.folder / f'{split}.kind.bin', dtype=np.uint8))
        return out

    def conversation(self, split: str, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, mask) of conversation i of `split`."""
        ids, mask, offsets, _ = self._arrays[split]
        return ids[offsets[i] : offsets[i + 1]], mask[offsets[i] : offsets[i + 1]]

    def kinds(self, split: str) -> np.ndarray:
        """Each conversation's task kind, as an index into `kind_names`."""
        return self._arrays[split][3]

    @property
    def kind_names(self) -> list[str]:
        return list(self.doc.get('kinds') or ['conversation'])

    def lengths(self, split: str) -> np.ndarray:
        """Ids per conversation."""
        return np.diff(self._arrays[split][2])

    def fitting(self, split: str, block_size: int) -> np.ndarray:
        """Indices of the conversations that train whole in block_size (inputs are ids[:-1])."""
        return np.flatnonzero(self.lengths(split) <= block_size + 1)

    def stats(self, block_size: int) -> dict[str, Any]:
        """Per split: conversations, tokens, trained tokens and their share, and how many are too long."""
        out = {}
        for split in SPLITS:
            ids, mask, _, _ = self._arrays[split]
            n = len(self.lengths(split))
            fit = len(self.fitting(split, block_size))
            out[split] = {
                'conversations': n,
                'tokens': int(len(ids)),
                'trained_tokens': int(mask.sum()),
                'trained_share': round(float(mask.sum()) / max(1, len(ids)), 4),
                'too_long': n - fit,
                'block_size': block_size,
            }
        return out
