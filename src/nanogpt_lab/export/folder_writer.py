"""What every export shares: the run's model and vocabulary, the tokenizer files, and the atomic folder swap."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanogpt_lab import __version__
from nanogpt_lab.alignment.template import CHAT_FILE
from nanogpt_lab.config import GPT2_VOCAB_SIZE
from nanogpt_lab.errors import LabError
from nanogpt_lab.fileio import atomic_write_bytes, atomic_write_text
from nanogpt_lab.tokenizers.unigram import FILE_NAME as UNIGRAM_FILE

PROVENANCE = 'provenance.json'
EXPORT_FORMAT = 'nanogpt-lab-export'
EXPORT_VERSION = 1
CHAR_VOCAB_FILE = 'char_vocab.json'


class ExportError(LabError):
    """A run cannot be exported as asked; the message says why and what would work."""


@dataclass
class Run:
    """A checkpoint ready to export: the model (fp32, eval mode), its vocabulary, and where it came from."""

    model: Any
    ckpt_path: Path
    iter_num: int | None
    best_val_loss: float | None
    dataset: str | None
    chars: list[str] | None  # a char run's vocabulary (index = id); None otherwise
    trained: Path | None = None  # a trained tokenizer's file (tokenizer.model or tokenizer.json); None otherwise

    @property
    def tokenizer(self) -> str:
        """'char', 'unigram' (SentencePiece), 'bpe' (a trained byte-level BPE) or 'gpt2'."""
        if self.chars is not None:
            return 'char'
        if self.trained is not None:
            return 'unigram' if self.trained.name == UNIGRAM_FILE else 'bpe'
        return 'gpt2'


def load_run(out_dir: str | Path) -> Run:
    """The run's model and vocabulary (the run's copy of its dataset's vocabulary file, or the dataset's own):
    meta.pkl for char runs, tokenizer.model / tokenizer.json for trained tokenizers, else GPT-2 BPE."""
    from nanogpt_lab.inference.loader import find_vocab
    from nanogpt_lab.model.checkpoint import CheckpointError, checkpoint_path, load_checkpoint, model_from_checkpoint
    from nanogpt_lab.tokenizers.char import read_meta

    try:
        ckpt = load_checkpoint(out_dir)
        model = model_from_checkpoint(ckpt, dropout=0.0).eval()
    except CheckpointError as e:
        raise ExportError(e.code, **e.params) from None
    path = checkpoint_path(out_dir)
    config = ckpt.get('config') or {}
    vocab = find_vocab(path.parent, config, None)
    chars = None
    if vocab is not None and vocab.name == 'meta.pkl':
        itos = read_meta(vocab)['itos']
        chars = [itos[i] for i in range(len(itos))]
    elif vocab is None and model.config.vocab_size < GPT2_VOCAB_SIZE:
        raise ExportError(
            'export.no_meta',
            path=path,
            vocab_size=model.config.vocab_size,
            dataset=str(config.get('dataset')),
            folder=path.parent,
        )
    best = ckpt.get('best_val_loss')
    trained = vocab if vocab is not None and chars is None else None
    best_val = float(best) if best is not None else None
    return Run(model, path, ckpt.get('iter_num'), best_val, config.get('dataset'), chars, trained)


def write_tokenizer(run: Run, folder: Path) -> list[str]:
    """Tokenizer files for `run` (`_vocab_files`), and a chat run's chat.json, without which its template is lost."""
    files = _vocab_files(run, folder)
    chat = run.ckpt_path.parent / CHAT_FILE
    if chat.is_file():
        atomic_write_bytes(folder / CHAT_FILE, chat.read_bytes())
        files.append(CHAT_FILE)
    return files


def _vocab_files(run: Run, folder: Path) -> list[str]:
    """char_vocab.json for char runs, the trained tokenizer's own file (tokenizer.model for SentencePiece,
    tokenizer.json for a trained BPE), GPT-2's vocab.json + merges.txt for GPT-2 BPE runs."""
    if run.chars is not None:
        atomic_write_text(folder / CHAR_VOCAB_FILE, json.dumps({'chars': run.chars}, ensure_ascii=False))
        return [CHAR_VOCAB_FILE]
    if run.trained is not None:
        atomic_write_bytes(folder / run.trained.name, run.trained.read_bytes())
        if run.tokenizer == 'unigram':
            return [run.trained.name]
        config = {'tokenizer_class': 'PreTrainedTokenizerFast', 'model_max_length': run.model.config.block_size}
        atomic_write_text(folder / 'tokenizer_config.json', json.dumps(config, indent=2))
        return [run.trained.name, 'tokenizer_config.json']
    from nanogpt_lab.export.bpe_files import gpt2_merges, gpt2_vocab

    block = run.model.config.block_size
    atomic_write_text(folder / 'vocab.json', json.dumps(gpt2_vocab(), ensure_ascii=False))
    atomic_write_text(folder / 'merges.txt', '#version: 0.2\n' + '\n'.join(gpt2_merges()) + '\n')
    eot = '<|endoftext|>'
    config = {
        'tokenizer_class': 'GPT2Tokenizer',
        'model_max_length': block,
        'add_prefix_space': False,
        'bos_token': eot,
        'eos_token': eot,
        'unk_token': eot,
    }
    atomic_write_text(folder / 'tokenizer_config.json', json.dumps(config, indent=2))
    return ['vocab.json', 'merges.txt', 'tokenizer_config.json']


def write_provenance(run: Run, folder: Path, fmt: str, notes: dict[str, Any]) -> None:
    """provenance.json: what was exported, from which checkpoint, by which version (it also marks our folders)."""
    record = {
        'format': EXPORT_FORMAT,
        'version': EXPORT_VERSION,
        'export': fmt,
        'source': str(run.ckpt_path),
        'iter_num': run.iter_num,
        'best_val_loss': run.best_val_loss,
        'dataset': run.dataset,
        'tokenizer': run.tokenizer,
        'model_args': run.model.config.nanogpt_args(),
        'nanogpt_lab': __version__,
        'exported_at': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        **notes,
    }
    atomic_write_text(folder / PROVENANCE, json.dumps(record, indent=2, default=str))


def _ours(folder: Path) -> bool:
    """An earlier export of ours (which may be replaced), or an empty folder."""
    if not any(folder.iterdir()):
        return True
    try:
        return json.loads((folder / PROVENANCE).read_text(encoding='utf-8')).get('format') == EXPORT_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def write_folder(to: Path, writer: Callable[[Path], None]) -> Path:
    """Build the export in a temporary folder beside `to`, then swap it in; never overwrite someone else's folder
    (checked before the writing and again after it: an ONNX export takes a while, and `to` may appear meanwhile)."""
    to = to.expanduser().resolve()
    _check_replaceable(to)
    to.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{to.name}.', suffix='.tmp', dir=to.parent))
    try:
        writer(tmp)
        _swap_in(tmp, to)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return to


def _check_replaceable(to: Path) -> None:
    if to.exists() and (not to.is_dir() or not _ours(to)):
        raise ExportError('export.exists', path=to)


def _swap_in(tmp: Path, to: Path) -> None:
    """Rename the finished export to `to`, an earlier export of ours moved aside first (and back if that fails);
    whatever else is there now is left alone and refused."""
    _check_replaceable(to)
    if to.exists():
        old = to.with_name(f'.{to.name}.old-{os.getpid()}')
        os.replace(to, old)
        try:
            os.replace(tmp, to)
        except BaseException:
            os.replace(old, to)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    try:
        os.rename(tmp, to)  # onto a folder with files in it, or a file, this fails: nothing is replaced
    except OSError:
        if to.exists():  # it appeared since the check just above
            raise ExportError('export.exists', path=to) from None
        raise
