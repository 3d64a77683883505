"""Supervised fine-tuning: the training loop of `training/trainer.py` on conversations with masked targets.

Only what differs is here, as `Trainer` hooks: the data is a packed conversations folder in the base's chat
vocabulary (`_open_data`), the model is the base with rows for the new tokens (`_init_model`), and a batch is a set
of whole conversations, each from position 0 as in a chat, padded to the longest one, with -1 targets wherever
the mask says "not trained" (`ConversationBatches`). Events, checkpoints, resume, Ctrl-C, DDP and early stopping
are the trainer's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nanogpt_lab.alignment.conversations import MANIFEST_FILE
from nanogpt_lab.alignment.embeddings import attach_template
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.packed import PACKED_FILE, Packed, needed_chars, pack
from nanogpt_lab.alignment.template import ChatTokenizer, chat_tokenizer_for, load_chat, save_chat
from nanogpt_lab.config import TrainConfig
from nanogpt_lab.data import dataset_dir
from nanogpt_lab.errors import LabError
from nanogpt_lab.events import Emit, emit_log, null_emit
from nanogpt_lab.messages import ref
from nanogpt_lab.training.batches import EVAL_SEED_OFFSET
from nanogpt_lab.training.model_init import Start, check_vocab, init_model
from nanogpt_lab.training.trainer import Trainer, train


def sft(cfg: TrainConfig, emit: Emit = null_emit, should_stop: Callable[[], bool] = lambda: False) -> dict:
    """Fine-tune `cfg.init_from` on the conversations `cfg.dataset` names; return the trainer's summary."""
    return train(cfg, emit, should_stop, trainer_class=SFTTrainer)


@dataclass
class SFTData:
    """What the trainer reads as its data: the packed folder, its chat vocabulary, and the base model to start from."""

    packed: Packed
    tokenizer: ChatTokenizer
    base_model: torch.nn.Module | None  # None when resuming
    base_vocab: int  # the base model's tokenizer size: rows past it are new

    @property
    def folder(self) -> Path:
        return self.packed.folder

    @property
    def meta_vocab_size(self) -> int:
        """The chat vocabulary size, which `check_vocab` holds the model to."""
        return self.tokenizer.vocab_size


class ConversationBatches:
    """Random whole conversations from a seeded generator (saved and restored with the checkpoint, as `Batches`).

    A set with task kinds is a mixture: each row picks a kind uniformly, then a conversation of that kind, so 26
    verse couplets are learned as surely as 400 words are spelled. Without kinds, every conversation is as likely.
    """

    def __init__(self, data: SFTData, batch_size: int, block_size: int, device: str, seed: int):
        self.data, self.batch_size, self.block_size, self.device = data, batch_size, block_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.pools = {s: self._pools(s) for s in ('train', 'val')}
        self.pad = data.tokenizer.end_id  # any id: its targets are -1

    def _pools(self, split: str) -> list[np.ndarray]:
        """Per kind, the conversations of `split` that fit block_size."""
        fitting = self.data.packed.fitting(split, self.block_size)
        kinds = self.data.packed.kinds(split)[fitting]
        return [p for p in (fitting[kinds == k] for k in np.unique(kinds)) if len(p)]

    def draw(self, split: str = 'train') -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y): batch_size conversations, x their ids but the last, y the next ids where trained, else -1."""
        pools = self.pools[split]
        which = torch.randint(len(pools), (self.batch_size,), generator=self.generator).tolist()
        picks = [int(pools[k][torch.randint(len(pools[k]), (1,), generator=self.generator)]) for k in which]
        rows = [self.data.packed.conversation(split, i) for i in picks]
        t = max(len(ids) for ids, _ in rows) - 1
        x = np.full((self.batch_size, t), self.pad, dtype=np.int64)
        y = np.full((self.batch_size, t), -1, dtype=np.int64)
        for r, (ids, mask) in enumerate(rows):
            n = len(ids) - 1
            x[r, :n] = ids[:-1]
            y[r, :n] = np.where(mask[1:] == 1, ids[1:], -1)
        x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
        if self.device.startswith('cuda'):
            x_t, y_t = x_t.pin_memory(), y_t.pin_memory()
        return x_t.to(self.device, non_blocking=True), y_t.to(self.device, non_blocking=True)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.draw('train')

    def prefetch(self) -> None:
        """Nothing to fetch ahead: SFT batches are drawn when needed."""


class SFTTrainer(Trainer):
    """The trainer with conversations as data and the base model grown by the chat vocabulary."""

    def _open_data(self) -> SFTData:
        cfg = self.cfg
        if cfg.nanogpt_batches:
            raise AlignmentError('alignment_engine.nanogpt_batches', key='nanogpt_batches')
        folder = _conversations_folder(cfg)
        data = _resume_data(cfg, folder) if cfg.init_from == 'resume' else _fresh_data(cfg, folder)
        # the checkpoint names the packed folder: nanoGPT's sample.py reads data/<dataset>/meta.pkl from it
        self.cfg = cfg.model_copy(update={'dataset': data.folder.name, 'data_dir': str(data.folder.parent)})
        return data

    def _init_model(self, resume_ckpt: dict | None) -> Start:
        data: SFTData = self.data
        if data.base_model is None:
            start = init_model(self.cfg, data, resume_ckpt)
        else:
            model, data.base_model = data.base_model, None  # the trainer owns it now
            attach_template(model, data.tokenizer, data.base_vocab)
            if 'block_size' in self.cfg.model_fields_set and self.cfg.block_size < model.config.block_size:
                model.crop_block_size(self.cfg.block_size)
            check_vocab(model.config, data)
            start = Start(model, self.cfg.init_from)
        block_size = start.model.config.block_size
        if not len(data.packed.fitting('val', block_size)):
            raise AlignmentError('alignment_engine.no_val', name=data.folder.name, block_size=block_size)
        return start

    def _new_batches(self, seed: int | None) -> ConversationBatches:
        seed = self.cfg.seed if seed is None else seed
        return ConversationBatches(self.data, self.cfg.batch_size, self.block_size, self.rt.device, seed)

    def _eval_batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        batches = self._new_batches(self.cfg.seed + EVAL_SEED_OFFSET + (split == 'val'))
        for _ in range(self.cfg.eval_iters):
            yield batches.draw(split)

    def _sample(self) -> None:
        """A `sample` event: the model's greedy answer, as it is now, to the first held-out question."""
        from nanogpt_lab.config import SamplingSettings
        from nanogpt_lab.inference.sampler import stream

        tok = self.data.tokenizer
        ids, mask = self.data.packed.conversation('val', int(self.data.packed.fitting('val', self.block_size)[0]))
        prompt = ids[: int(np.argmax(mask))].tolist()  # up to <|assistant|>: the answer's first token is trained
        room = min(self.cfg.eval_sample_tokens, self.block_size - len(prompt))
        self.raw_model.eval()
        with self.rt.autocast():
            events = stream(self.raw_model, tok, prompt, SamplingSettings(temperature=0.0), room, alternatives=0,
                            stop_ids=tok.stop_ids)  # fmt: skip
            text = ''.join(e.text for e in events)
        self.raw_model.train()
        self.emit('sample', iter=self.iter_num, text=tok.decode(prompt) + text)

    def _announce(self, source: str) -> None:
        super()._announce(source)
        if not self.dist.master:
            return
        data: SFTData = self.data
        if self.out_dir is not None:
            save_chat(self.out_dir, data.tokenizer)
        stats = data.packed.stats(self.block_size)
        added = data.tokenizer.added_chars
        if added:
            emit_log(self.emit, 'log.alignment_engine.added_chars', count=len(added), chars=''.join(added))
        for split, s in stats.items():
            level = 'warning' if s['too_long'] else 'info'
            counts = {k: s[k] for k in ('conversations', 'tokens', 'trained_tokens', 'too_long', 'block_size')}
            percent = f'{100 * s["trained_share"]:.1f}'
            emit_log(self.emit, 'log.alignment_engine.split_stats', level, split=split, percent=percent, **counts)


def _conversations_folder(cfg: TrainConfig) -> Path:
    """The folder `--dataset` names: prepared conversations, or (on resume) the packed folder a checkpoint names."""
    folder = dataset_dir(cfg.dataset, cfg.data_dir)  # a DataError names a bad name
    if not (folder / MANIFEST_FILE).is_file() and not (folder / PACKED_FILE).is_file():
        raise AlignmentError('alignment_engine.no_conversations_folder', key='dataset', path=folder)
    return folder


def _fresh_data(cfg: TrainConfig, folder: Path) -> SFTData:
    """Load the base and its tokenizer, extend the tokenizer by the template (and missing characters), pack."""
    model, config, base_tok = _base(cfg, folder, weights=True)
    tokenizer, packed = _chat_packed(cfg, folder, config, base_tok)
    return SFTData(packed, tokenizer, model, base_tok.vocab_size)


def _base(cfg: TrainConfig, folder: Path, weights: bool) -> tuple[torch.nn.Module | None, Any, Any]:
    """(the base model, or None without `weights`; its ModelConfig; its tokenizer) for SFT on `folder`."""
    from nanogpt_lab.inference.loader import open_model, open_vocabulary

    if (folder / PACKED_FILE).is_file():
        raise AlignmentError('alignment_engine.packed_as_dataset', key='dataset', name=folder.name)
    try:
        if not weights:
            return None, *open_vocabulary(cfg.init_from, None, cfg.data_dir)
        model, base_tok, _ = open_model(cfg.init_from, None, cfg.data_dir, dropout=cfg.dropout)
        return model, model.config, base_tok
    except (ValueError, OSError) as e:
        if isinstance(e, AlignmentError):
            raise
        reason = ref(e.code, **e.params) if isinstance(e, LabError) else str(e) or e.__class__.__name__
        raise AlignmentError('alignment_engine.unknown_base', key='init_from', init_from=cfg.init_from,
                             reason=reason) from None  # fmt: skip


def _chat_packed(cfg: TrainConfig, folder: Path, config: Any, base_tok: Any) -> tuple[ChatTokenizer, Packed]:
    """The base's tokenizer extended by the template (and the characters `folder` needs), and `folder` packed."""
    tokenizer = chat_tokenizer_for(base_tok, needed_chars(folder))
    return tokenizer, pack(folder, tokenizer, _block_size(cfg, config))


def _block_size(cfg: TrainConfig, config: Any) -> int:
    """The context SFT trains in: the base's, or a shorter one the config sets."""
    if 'block_size' in cfg.model_fields_set:
        return min(config.block_size, cfg.block_size)
    return config.block_size


def data_stats(cfg: TrainConfig) -> dict[str, Any]:
    """What an SFT run of `cfg.init_from` on `cfg.dataset` would train on, shown before it starts: per split the
    conversations, tokens, trained share and how many are too long, and the characters the base lacked. It packs
    the folder the run will reuse, and refuses a set in which nothing fits exactly as the run would; the base's
    weights are never loaded (its tokenizer and context size are all this needs)."""
    folder = _conversations_folder(cfg)
    _, config, base_tok = _base(cfg, folder, weights=False)
    tokenizer, packed = _chat_packed(cfg, folder, config, base_tok)
    return {'splits': packed.stats(_block_size(cfg, config)), 'added_chars': ''.join(tokenizer.added_chars)}


def _resume_data(cfg: TrainConfig, folder: Path) -> SFTData:
    """A resumed SFT run: its chat.json and the packed folder its checkpoint names (or re-packed conversations)."""
    tokenizer = load_chat(cfg.out_dir) if cfg.out_dir else None
    if tokenizer is None:
        raise AlignmentError('alignment_engine.not_sft_run', path=str(cfg.out_dir))
    packed = Packed(folder) if (folder / PACKED_FILE).is_file() else pack(folder, tokenizer)
    if packed.tokenizer is None or packed.tokenizer.to_json() != tokenizer.to_json():
        raise AlignmentError('alignment_engine.vocab_mismatch', name=packed.folder.name, path=str(cfg.out_dir))
    return SFTData(packed, tokenizer, None, tokenizer.vocab_size)
