"""Dataset folders: `nanogpt-lab prepare DATASET` for every dataset, and locating and loading what it wrote."""

from __future__ import annotations

import errno
import json
import shutil
import time
from pathlib import Path

from nanogpt_lab import workspace
from nanogpt_lab.config import DataConfig
from nanogpt_lab.data.download import SHAKESPEARE_SHA256, SHAKESPEARE_URL, download
from nanogpt_lab.data.errors import DataError
from nanogpt_lab.data.sources import Source, resolve_input
from nanogpt_lab.data.stats import STATS_VERSION, stats_from_bins
from nanogpt_lab.data.text import TRAINED, check_vocab_size, prepare_text
from nanogpt_lab.errors import LabError
from nanogpt_lab.events import Emit, emit_log, null_emit
from nanogpt_lab.fileio import atomic_write_with, sha256_of
from nanogpt_lab.messages import ref
from nanogpt_lab.tokenizers import TokenizerError, load_vocab_file, read_meta, tokenizer_for_dataset, vocab_file

STATS_FILE = 'stats.json'


def dataset_dir(dataset: str, data_dir: str | None = None) -> Path:
    """The folder `<data_dir>/<dataset>` (data_dir defaults to the workspace's data/), checked to stay inside it."""
    try:
        return workspace.inside(workspace.data_root(data_dir), dataset)
    except LabError as e:
        raise DataError('data.dataset_name', key='dataset', reason=ref(e.code, **e.params)) from None


def load_meta(folder: str | Path) -> dict | None:
    """A char dataset's meta.pkl (vocab_size, itos, stoi), loaded without running code; None for BPE datasets."""
    path = Path(folder) / 'meta.pkl'
    if not path.is_file():
        return None
    try:
        return read_meta(path)
    except TokenizerError as e:
        raise DataError(e.code, **e.params) from None


def vocab_size_of(folder: str | Path) -> int | None:
    """The size of the vocabulary the dataset's own file defines (meta.pkl, tokenizer.model, tokenizer.json);
    None when it has none, i.e. GPT-2 BPE."""
    path = vocab_file(folder)
    if path is None:
        return None
    try:
        return load_vocab_file(path).vocab_size
    except TokenizerError as e:
        raise DataError(e.code, **e.params) from None


def load_stats(folder: str | Path) -> dict:
    """A dataset's stats.json; for a folder nanoGPT prepared (no stats.json) the stats its .bin files give."""
    folder = Path(folder)
    path = folder / STATS_FILE
    if not path.is_file():
        if not (folder / 'train.bin').is_file():
            raise DataError('data.not_prepared', path=folder)
        try:
            return stats_from_bins(folder, tokenizer_for_dataset(folder))
        except TokenizerError as e:
            raise DataError(e.code, **e.params) from None
    try:
        stats = json.loads(path.read_text(encoding='utf-8'))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError('data.stats_not_json', path=path, detail=str(e)) from None
    version = stats.get('version') if isinstance(stats, dict) else None
    if not isinstance(version, int) or version > STATS_VERSION:
        raise DataError('data.stats_version', path=path, version=repr(version), latest=STATS_VERSION)
    return stats


def _output_name(cfg: DataConfig) -> str:
    if cfg.name:
        return cfg.name
    if cfg.dataset == 'custom':
        # resolved first, so 'notes/' names the folder rather than the empty text after its slash
        return workspace.sanitize_name(str(Path(cfg.input or '').expanduser().resolve()), fallback='custom')
    if cfg.tokenizer in TRAINED and cfg.dataset == 'shakespeare':
        return f'shakespeare_{cfg.tokenizer}'  # beside the GPT-2 one, not over it
    return cfg.dataset


def _shakespeare_source(cfg: DataConfig, folder: Path, emit: Emit) -> tuple[Source, dict]:
    """tiny Shakespeare from --input, else from input.txt beside the data (downloaded once, sha256-checked)."""
    if cfg.input:
        return resolve_input(cfg.input), {}
    dest = folder / 'input.txt'
    for sibling in ('shakespeare_char', 'shakespeare'):  # the other Shakespeare dataset may have it already
        other = folder.parent / sibling / 'input.txt'
        if other != dest and not dest.is_file() and other.is_file() and sha256_of(other) == SHAKESPEARE_SHA256:
            with open(other, 'rb') as src:
                atomic_write_with(dest, lambda f, src=src: shutil.copyfileobj(src, f))
    download(SHAKESPEARE_URL, dest, SHAKESPEARE_SHA256, emit)
    return Source('file', dest, [dest]), {'kind': 'url', 'url': SHAKESPEARE_URL}


def _text_source(cfg: DataConfig) -> Source:
    if not cfg.input:
        raise DataError('data.custom_needs_input')
    return resolve_input(cfg.input)


FIXED_TOKENIZER = {'shakespeare_char': 'char', 'shakespeare': 'gpt2', 'openwebtext': 'gpt2'}
TRAINS_ITS_OWN = ('shakespeare',)  # fixed to GPT-2 BPE, yet a tokenizer trained on the same text may stand beside it
OPTION_OF = {'lang': 'dialogue', 'simplified': 'tang_poems'}  # options that only one dataset reads


def _check_options(cfg: DataConfig) -> None:
    """--tokenizer chooses only where the dataset lets it, and --lang / --simplified only for their dataset: asking
    anything else is an error, not ignored."""
    fixed = FIXED_TOKENIZER.get(cfg.dataset)
    trained_here = cfg.dataset in TRAINS_ITS_OWN and cfg.tokenizer in TRAINED
    if fixed and 'tokenizer' in cfg.model_fields_set and cfg.tokenizer != fixed and not trained_here:
        raise DataError(
            'data.fixed_tokenizer', key='tokenizer', tokenizer=cfg.tokenizer, dataset=cfg.dataset, fixed=fixed
        )
    for key, dataset in OPTION_OF.items():
        if key in cfg.model_fields_set and cfg.dataset != dataset:
            raise DataError('data.option_elsewhere', key=key, owner=dataset, dataset=cfg.dataset)


def _prepare_into(cfg: DataConfig, folder: Path, emit: Emit) -> dict:
    if cfg.dataset == 'openwebtext':
        from nanogpt_lab.data.openwebtext import prepare_openwebtext

        return prepare_openwebtext(cfg, folder, emit)
    if cfg.dataset in ('shakespeare_char', 'shakespeare'):
        source, origin = _shakespeare_source(cfg, folder, emit)
        tokenizer = (
            'char' if cfg.dataset == 'shakespeare_char' else cfg.tokenizer if cfg.tokenizer in TRAINED else 'gpt2'
        )
        return prepare_text(cfg, source, folder, tokenizer, emit, origin)
    if cfg.dataset in ('tang_poems', 'dialogue'):
        from nanogpt_lab.data import dialogue, tang_poems

        check_vocab_size(cfg.tokenizer, cfg.vocab_size)  # before any download or conversion
        module = tang_poems if cfg.dataset == 'tang_poems' else dialogue
        path, origin = module.write_input(cfg, folder, emit)
        return prepare_text(cfg, Source('file', path, [path]), folder, cfg.tokenizer, emit, origin)
    return prepare_text(cfg, _text_source(cfg), folder, cfg.tokenizer, emit, {})


def prepare(cfg: DataConfig, emit: Emit = null_emit) -> Path:
    """Prepare `cfg.dataset` into `<data_dir>/<name>/` (train.bin, val.bin, meta.pkl for char, stats.json)."""
    _check_options(cfg)
    folder = dataset_dir(_output_name(cfg), cfg.data_dir)
    started = time.time()
    try:
        stats = _prepare_into(cfg, folder, emit)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # every file is written beside its target and renamed at the end, so a full disk changed nothing
        raise DataError('data.disk_full', parent=folder.parent, name=folder.name, reason=e.strerror) from None
    tokens = stats['tokens']
    emit_log(
        emit,
        'log.prepared',
        path=folder,
        vocab=stats['vocab_size'],
        train=tokens['train'],
        val=tokens['val'],
        seconds=round(time.time() - started, 1),
    )
    return folder
