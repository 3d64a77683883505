"""Where a run's weights come from: a fresh model, its own checkpoint (resume), GPT-2, or another run or folder."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nanogpt_lab.config import (
    GPT2_BLOCK_SIZE,
    GPT2_VOCAB_SIZE,
    PRESETS,
    PRETRAINED,
    ConfigError,
    ModelConfig,
    TrainConfig,
    build,
)
from nanogpt_lab.messages import ref
from nanogpt_lab.model.checkpoint import (
    CheckpointError,
    checkpoint_path,
    load_checkpoint,
    model_args_of,
    model_from_checkpoint,
)
from nanogpt_lab.model.gpt import GPT
from nanogpt_lab.training.batches import RunData
from nanogpt_lab.training.faults import TrainingError

log = logging.getLogger(__name__)

# the keys that fix a model's shape: a resumed run must ask for the same ones (dropout may change)
SHAPE_KEYS = ('n_layer', 'n_head', 'n_embd', 'block_size', 'bias', 'ln_position')


# settings of the machine rather than of the run: a resumed run takes them from its own command line
MACHINE_KEYS = ('device', 'dtype', 'compile', 'threads', 'backend', 'nproc_per_node', 'init_from', 'out_dir')


def inherit_resume_settings(cfg: TrainConfig) -> tuple[TrainConfig, list[str], dict | None]:
    """`init_from=resume` continues the run as it was configured: every run setting the command line leaves out
    comes from the checkpoint's `config` (ours or nanoGPT's), so `--init_from=resume --out_dir=RUN` alone resumes
    with the same batch size, schedule and accumulation. Machine settings (device, dtype, compile...) do not.

    Returns the config, the keys taken from the checkpoint, and the checkpoint itself for `init_model` (read once).
    """
    if cfg.init_from != 'resume' or not cfg.out_dir or not checkpoint_path(cfg.out_dir).is_file():
        return cfg, [], None
    try:
        ckpt = load_checkpoint(cfg.out_dir)
    except CheckpointError:
        return cfg, [], None  # the resume itself reports it
    saved = ckpt.get('config') or {}
    keep = {
        k: v
        for k, v in saved.items()
        if k in type(cfg).model_fields
        and k not in cfg.model_fields_set
        and k not in MACHINE_KEYS
        and k != 'model'
        and getattr(cfg, k) != v
    }
    if not keep:
        return cfg, [], ckpt
    try:
        return build(type(cfg), {**cfg.model_dump(exclude_unset=True), **keep}), sorted(keep), ckpt
    except ConfigError as e:
        log.warning('checkpoint settings not reused (%s)', e)
        return cfg, [], ckpt


@dataclass
class Start:
    """A model ready to train and where the run picks up: iteration, best val loss, optimizer and RNG states."""

    model: GPT
    source: str
    iter_num: int = 0
    best_val_loss: float = 1e9
    optimizer_state: dict | None = None
    resume_state: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False


def init_model(cfg: TrainConfig, data: RunData, resume_ckpt: dict | None = None) -> Start:
    """Build the model `cfg.init_from` names (on CPU), checked against the data's vocabulary and cfg's shape.

    `resume_ckpt`: the run's ckpt.pt when `inherit_resume_settings` already read it (a resume reads it once)."""
    if cfg.init_from == 'scratch':
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank and in every run with this seed
        start = Start(GPT(cfg.model_args(data.vocab_size)), 'scratch')
    elif cfg.init_from == 'resume':
        start = _resume(cfg, resume_ckpt)
    else:
        start = Start(load_source(cfg.init_from, dropout=cfg.dropout), cfg.init_from)
        check_shape(cfg, start.model.config, cfg.init_from, resume=False)
        _crop(start.model, cfg)
    check_vocab(start.model.config, data)
    return start


def with_model_shape(cfg: TrainConfig, args: ModelConfig) -> TrainConfig:
    """The config as the run really trains: the loaded model's shape (a fine-tune from gpt2 is 12/12/768 whatever
    the defaults say), so config.json and the checkpoint never record a shape that was not used."""
    return cfg.model_copy(update={k: getattr(args, k) for k in SHAPE_KEYS})


def check_start(cfg: TrainConfig) -> None:
    """What can be refused before a run writes anything (so a refused request leaves its folder as it was): a
    resume whose checkpoint is missing, unreadable or of another shape; shape settings a loaded model cannot take."""
    if cfg.init_from == 'scratch':
        return
    if cfg.init_from == 'resume':
        _resume_args(cfg)
        return
    if cfg.init_from in PRETRAINED:
        args = ModelConfig(**PRESETS[cfg.init_from], block_size=GPT2_BLOCK_SIZE, vocab_size=GPT2_VOCAB_SIZE)
    elif checkpoint_path(cfg.init_from).is_file():
        try:
            args = model_args_of(load_checkpoint(cfg.init_from))
        except CheckpointError as e:
            raise TrainingError(
                'training.init_from_failed', key='init_from', source=cfg.init_from, reason=ref(e.code, **e.params)
            ) from None
    else:
        return  # a Hugging Face folder: checked when it is loaded
    check_shape(cfg, args, cfg.init_from, resume=False)
    if cfg.block_size > args.block_size and 'block_size' in cfg.model_fields_set:
        raise _longer_block(cfg, args.block_size)


def check_shape(cfg: TrainConfig, args: ModelConfig, source: str, *, resume: bool) -> None:
    """Shape settings given with a model to start from must be that model's: a setting that cannot apply is
    refused, never ignored and then recorded as if it had been used. (A shorter block_size crops a loaded model.)"""
    differ = [
        ref('training.resume_differs' if resume else 'training.source_differs', key=k,
            checkpoint=repr(getattr(args, k)), config=repr(getattr(cfg, k)))
        for k in SHAPE_KEYS
        if k in cfg.model_fields_set
        and getattr(cfg, k) != getattr(args, k)
        and (resume or k != 'block_size')  # a fine-tune crops (shorter) or refuses (longer) block_size itself
    ]  # fmt: skip
    if not differ:
        return
    if resume:
        raise TrainingError('training.resume_shape', path=source, differ=differ)
    raise TrainingError('training.source_shape', key=differ[0]['params']['key'], source=source, differ=differ)


def _longer_block(cfg: TrainConfig, positions: int) -> TrainingError:
    return TrainingError(
        'training.block_too_long', key='block_size', block_size=cfg.block_size, positions=positions,
        source=cfg.init_from,
    )  # fmt: skip


def load_source(source: str, dropout: float | None = None) -> GPT:
    """Weights only, for a fine-tune start: gpt2*, a run folder or ckpt.pt (ours or nanoGPT's), or an HF folder."""
    from nanogpt_lab.model.pretrained import WeightsError, load_pretrained, model_path_kind

    path = Path(source).expanduser()
    kind = model_path_kind(path)
    try:
        if source in PRETRAINED or kind == 'hf_folder':
            return load_pretrained(source if source in PRETRAINED else path, dropout=dropout)
        if kind == 'checkpoint':
            return model_from_checkpoint(load_checkpoint(path), dropout=dropout)
    except (WeightsError, CheckpointError) as e:
        raise TrainingError(
            'training.init_from_failed', key='init_from', source=source, reason=ref(e.code, **e.params)
        ) from None
    raise TrainingError('training.init_from_unknown', key='init_from', source=source, pretrained=', '.join(PRETRAINED))


def _resume_args(cfg: TrainConfig, ckpt: dict | None = None) -> tuple[dict[str, Any], ModelConfig]:
    """The checkpoint to continue (read here unless given) and its model shape, refusing another shape."""
    if not cfg.out_dir:
        raise TrainingError('training.resume_needs_out_dir', key='out_dir')
    try:
        ckpt = ckpt if ckpt is not None else load_checkpoint(cfg.out_dir)
        args = model_args_of(ckpt)
    except CheckpointError as e:
        raise TrainingError('training.resume_failed', reason=ref(e.code, **e.params)) from None
    check_shape(cfg, args, str(checkpoint_path(cfg.out_dir)), resume=True)
    return ckpt, args


def _resume(cfg: TrainConfig, ckpt: dict | None) -> Start:
    """Continue a run from `out_dir/ckpt.pt` (read here unless given), refusing another model shape."""
    ckpt, _ = _resume_args(cfg, ckpt)
    model = model_from_checkpoint(ckpt, dropout=cfg.dropout)
    state = (ckpt.get('config') or {}).get('resume_state') or {}
    return Start(
        model,
        f'resume ({checkpoint_path(cfg.out_dir)})',
        int(ckpt.get('iter_num', 0)),
        float(ckpt.get('best_val_loss', 1e9)),
        ckpt.get('optimizer') or None,
        state,
        resumed=True,
    )


def _crop(model: GPT, cfg: TrainConfig) -> None:
    """A fine-tune may use a shorter context than the weights were trained with (nanoGPT's crop_block_size)."""
    if cfg.block_size < model.config.block_size:
        log.info('cropping block_size %d -> %d', model.config.block_size, cfg.block_size)
        model.crop_block_size(cfg.block_size)
    elif cfg.block_size > model.config.block_size and 'block_size' in cfg.model_fields_set:
        raise _longer_block(cfg, model.config.block_size)


def check_vocab(args: ModelConfig, data: RunData) -> None:
    """The data's token ids must all have a row in the model's embedding."""
    need = data.meta_vocab_size or GPT2_VOCAB_SIZE
    if need > args.vocab_size:
        kind = ref('training.vocab.char', n=need) if data.meta_vocab_size else ref('training.vocab.gpt2')
        raise TrainingError('training.vocab_mismatch', dataset=data.folder.name, kind=kind, vocab_size=args.vocab_size)
