"""Which model to sample from, and its tokenizer: a run's or nanoGPT's ckpt.pt, gpt2* weights, the bundled model,
or any Hugging Face layout folder."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nanogpt_lab import workspace
from nanogpt_lab.config import PRETRAINED, SampleConfig
from nanogpt_lab.errors import LabError
from nanogpt_lab.inference.catalog import BUNDLED, bundled_folder
from nanogpt_lab.messages import ref

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    """A model ready to sample (eval mode, on its device and dtype), its tokenizer, and where both came from."""

    model: Any
    tokenizer: Any
    source: dict[str, Any] = field(default_factory=dict)
    device: str = 'cpu'
    dtype: str = 'float32'


def resolve_dtype(dtype: str, device: str) -> str:
    """`auto`: bfloat16 on GPUs that have it, float16 on older GPUs, float32 on CPU and MPS (as nanoGPT's sample.py)."""
    if dtype != 'auto':
        return dtype
    if device.startswith('cuda'):
        return 'bfloat16' if torch.cuda.is_bf16_supported() else 'float16'
    return 'float32'


def load(cfg: SampleConfig) -> Loaded:
    """Build the model and tokenizer `cfg.init_from` names, on `cfg.device` in `cfg.dtype`, ready to sample."""
    from nanogpt_lab.hardware import resolve_device

    model, tokenizer, source = open_model(cfg.init_from, cfg.out_dir, cfg.data_dir)
    device = resolve_device(cfg.device)
    dtype = resolve_dtype(cfg.dtype, device)
    model = model.to(device=device, dtype=getattr(torch, dtype)).eval()
    if cfg.compile:
        if cfg.kv_cache:
            raise LabError('inference.compile_cache', key='compile')
        model = torch.compile(model, dynamic=True)  # one graph for every window length
    return Loaded(model, tokenizer, {**source, 'device': device, 'dtype': dtype}, device, dtype)


def open_model(
    init_from: str, out_dir: str | None = None, data_dir: str | None = None, dropout: float = 0.0
) -> tuple[Any, Any, dict[str, Any]]:
    """(model on the CPU, its tokenizer, where both came from) for resume (out_dir), gpt2*, bundled or a path.

    The tokenizer is identified, never guessed: a run's chat.json, a char vocabulary (meta.pkl, char_vocab.json),
    or GPT-2 BPE for a model with GPT-2's vocabulary; anything else is refused with what is missing.
    """
    model, _, tokenizer, source = _open(init_from, out_dir, data_dir, dropout, weights=True)
    return model, tokenizer, source


def open_vocabulary(init_from: str, out_dir: str | None = None, data_dir: str | None = None) -> tuple[Any, Any]:
    """(the model's shape, its tokenizer), identified as `open_model` does but without loading the weights: what
    counting a dataset's tokens for that model needs (a checkpoint is memory-mapped, never read whole)."""
    _, config, tokenizer, _ = _open(init_from, out_dir, data_dir, 0.0, weights=False)
    return config, tokenizer


def _open(
    init_from: str, out_dir: str | None, data_dir: str | None, dropout: float, weights: bool
) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(model or None without `weights`, its ModelConfig, its tokenizer, where they came from)."""
    if init_from == 'resume':
        return _from_checkpoint(Path(out_dir or 'out'), data_dir, dropout, weights)
    if init_from in PRETRAINED:
        return _from_folder(init_from, init_from, dropout, weights)
    if init_from in BUNDLED:
        return _from_folder(bundled_folder(BUNDLED[init_from]), 'bundled', dropout, weights)
    path = Path(init_from).expanduser()
    from nanogpt_lab.model.pretrained import model_path_kind

    kind = model_path_kind(path)  # `init_from=PATH`: a Hugging Face layout folder, a run folder with ckpt.pt, a .pt
    if kind == 'hf_folder':
        return _from_folder(path, 'folder', dropout, weights)
    if kind == 'checkpoint':
        return _from_checkpoint(path, data_dir, dropout, weights)
    raise LabError('inference.init_from', key='init_from', source=str(path), pretrained=', '.join(PRETRAINED))


def _from_folder(
    name_or_folder: str | Path, kind: str, dropout: float, weights: bool
) -> tuple[Any, Any, Any, dict[str, Any]]:
    """A Hugging Face layout folder; its chat.json (an exported or bundled chat model) names the vocabulary first."""
    from nanogpt_lab.alignment.template import load_chat
    from nanogpt_lab.model.pretrained import (
        config_from_hf,
        load_pretrained,
        read_char_vocab,
        read_hf_config,
        resolve_folder,
    )
    from nanogpt_lab.tokenizers.char import CharTokenizer

    folder = resolve_folder(name_or_folder)
    if kind == 'bundled' and not folder.is_dir():
        raise LabError('inference.no_bundled', path=folder)
    model = load_pretrained(folder, dropout=dropout) if weights else None
    config = model.config if model is not None else config_from_hf(read_hf_config(folder))
    chat = load_chat(folder)
    chars = None if chat else read_char_vocab(folder)
    tokenizer = chat or (CharTokenizer(chars) if chars is not None else _trained_or_gpt2(folder, config))
    _check_vocab(config, tokenizer, str(folder))
    name = f'chat ({chat.kind})' if chat else tokenizer.name
    return model, config, tokenizer, {'kind': kind, 'path': str(folder), 'tokenizer': name}


def _trained_or_gpt2(folder: Path, config: Any) -> Any:
    """An exported run's own trained tokenizer (tokenizer.model, or tokenizer.json beside a model smaller than
    GPT-2's vocabulary: a Hub GPT-2 folder also has a tokenizer.json, and tiktoken reads that one), else GPT-2 BPE."""
    from nanogpt_lab.tokenizers import load_vocab_file
    from nanogpt_lab.tokenizers.gpt2 import VOCAB_SIZE

    for name in ('tokenizer.model', 'tokenizer.json'):
        if (folder / name).is_file() and (name == 'tokenizer.model' or config.vocab_size < VOCAB_SIZE):
            return load_vocab_file(folder / name)
    return _gpt2_tokenizer(config, ref('inference.no_char_vocab', path=str(folder)))


def _gpt2_tokenizer(config: Any, why_no_char_vocab: dict) -> Any:
    """GPT-2 BPE, the default as in nanoGPT, unless the model is too small for it (then it needs a char vocab)."""
    from nanogpt_lab.tokenizers.gpt2 import VOCAB_SIZE, GPT2Tokenizer

    if config.vocab_size < VOCAB_SIZE:
        raise LabError('inference.vocab_small', vocab_size=config.vocab_size, gpt2=VOCAB_SIZE, why=why_no_char_vocab)
    return GPT2Tokenizer()


def _check_vocab(config: Any, tokenizer: Any, where: str) -> None:
    if tokenizer.vocab_size > config.vocab_size:
        raise LabError('inference.vocab_mismatch', path=where, tokens=tokenizer.vocab_size, model=config.vocab_size)


def _from_checkpoint(
    path: Path, data_dir: str | None, dropout: float, weights: bool
) -> tuple[Any, Any, Any, dict[str, Any]]:
    from nanogpt_lab.alignment.template import load_chat
    from nanogpt_lab.model.checkpoint import checkpoint_path, load_checkpoint, model_args_of, model_from_checkpoint
    from nanogpt_lab.tokenizers import load_vocab_file

    ckpt = load_checkpoint(path, mmap=not weights)  # without weights, only the small entries are ever read
    model = model_from_checkpoint(ckpt, dropout=dropout) if weights else None
    config = model.config if model is not None else model_args_of(ckpt)
    chat = load_chat(checkpoint_path(path).parent)  # a chat model's vocabulary: base + special tokens (stage 7)
    vocab = None if chat else find_vocab(checkpoint_path(path).parent, ckpt.get('config') or {}, data_dir)
    if chat is not None:
        tokenizer = chat
    elif vocab is not None:
        tokenizer = load_vocab_file(vocab)
    else:
        tokenizer = _gpt2_tokenizer(config, _vocab_help(ckpt.get('config') or {}, data_dir))
    _check_vocab(config, tokenizer, str(checkpoint_path(path)))
    source = {
        'kind': 'checkpoint',
        'path': str(checkpoint_path(path)),
        'iter_num': ckpt.get('iter_num'),
        'best_val_loss': ckpt.get('best_val_loss'),
        'dataset': (ckpt.get('config') or {}).get('dataset'),
        'tokenizer': f'{tokenizer.name} ({vocab})' if vocab else f'chat ({chat.kind})' if chat else tokenizer.name,
    }
    del ckpt  # the optimizer state can be twice the model: free it before sampling
    return model, config, tokenizer, source


def vocab_folders(run_dir: Path, ckpt_config: dict[str, Any], data_dir: str | None) -> list[Path]:
    """Where a checkpoint's vocabulary may be, in order: the run itself, then <dataset>/ under --data_dir, the run's
    own data_dir, the workspace and ./data (nanoGPT's sample.py looks in data/<dataset>/)."""
    dataset = ckpt_config.get('dataset')
    out = [run_dir]
    if isinstance(dataset, str) and dataset:
        roots = [data_dir, ckpt_config.get('data_dir'), str(workspace.data_root()), 'data']  # 'data': nanoGPT's
        for root in dict.fromkeys(r for r in roots if r):
            try:
                out.append(workspace.inside(Path(root).expanduser().resolve(), dataset))
            except LabError:
                continue  # a dataset name that is not a plain folder name is never turned into a path
    return out


def find_vocab(run_dir: Path, ckpt_config: dict[str, Any], data_dir: str | None) -> Path | None:
    """The vocabulary file (meta.pkl, tokenizer.model, tokenizer.json) of the first of `vocab_folders` with one."""
    from nanogpt_lab.tokenizers import vocab_file

    return next((f for f in map(vocab_file, vocab_folders(run_dir, ckpt_config, data_dir)) if f), None)


def _vocab_help(ckpt_config: dict[str, Any], data_dir: str | None) -> dict:
    dataset = ckpt_config.get('dataset', '?')
    return ref('inference.no_meta', dataset=dataset, data_dir=data_dir or '-', root=str(workspace.data_root()))
