"""`nanogpt-lab prepare conversations|lab-tasks|preferences|lab-preferences`: one entry point for the three sources
of conversations, and one for the three sources of preference pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.alignment.conversations import MANIFEST_FILE, prepare_file, prepare_hf
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.lab_tasks import LAB_TASKS, prepare_lab_tasks
from nanogpt_lab.alignment.preferences import LAB_PREFERENCES, is_preferences
from nanogpt_lab.alignment.preferences import prepare_file as prepare_preference_file
from nanogpt_lab.alignment.preferences import prepare_hf as prepare_preference_hf
from nanogpt_lab.config import ConversationsConfig, PreferencesConfig
from nanogpt_lab.data import dataset_dir
from nanogpt_lab.events import Emit, null_emit


def prepare_conversations(cfg: ConversationsConfig, emit: Emit = null_emit) -> Path:
    """Write `<data_dir>/<name>/` from lab-tasks, a JSONL file or a Hugging Face dataset; return the folder."""
    folder = dataset_dir(_name(cfg), cfg.data_dir)
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MANIFEST_FILE).is_file():
        raise AlignmentError('alignment_engine.name_taken', key='name', path=folder)
    if cfg.source == 'lab-tasks':
        return prepare_lab_tasks(folder, cfg.seed, emit)
    if cfg.input:
        return prepare_file(cfg.input, folder, cfg.val_fraction, emit)
    return prepare_hf(str(cfg.hf), folder, cfg.val_fraction, cfg.max_rows, emit)


def prepare_preferences(cfg: PreferencesConfig, emit: Emit = null_emit) -> dict[str, Any]:
    """Write `<data_dir>/<name>/` from an SFT run's judged answers, a JSONL file or a Hugging Face dataset; return
    its preferences.json."""
    name = cfg.name or (
        LAB_PREFERENCES if cfg.source == 'lab-preferences' else _source_name(cfg.input, cfg.hf, 'pairs')
    )
    folder = dataset_dir(name, cfg.data_dir)
    if folder.is_dir() and any(folder.iterdir()) and not is_preferences(folder):
        raise AlignmentError('dpo.name_taken', key='name', path=folder)
    if cfg.source == 'lab-preferences':
        from nanogpt_lab.alignment.lab_preferences import prepare_from_run

        return prepare_from_run(cfg, folder, emit)
    if cfg.input:
        return prepare_preference_file(cfg.input, folder, cfg.val_fraction, emit)
    return prepare_preference_hf(str(cfg.hf), folder, cfg.val_fraction, cfg.max_rows, emit)


def _name(cfg: ConversationsConfig) -> str:
    if cfg.name:
        return cfg.name
    if cfg.source == 'lab-tasks':
        return LAB_TASKS
    return _source_name(cfg.input, cfg.hf, 'conversations')


def _source_name(input: str | None, hf: str | None, fallback: str) -> str:
    """A folder name from the input file's name (its extension dropped), or the Hugging Face dataset's (whole)."""
    if input:
        return workspace.sanitize_name(str(Path(input).expanduser()), fallback=fallback)
    return hub_name(str(hf), fallback)


def hub_name(dataset: str, fallback: str = 'conversations') -> str:
    """The workspace name a named Hugging Face dataset is prepared under: its name after the owner, dots kept."""
    return workspace.sanitize_name(dataset, fallback=fallback, is_file=False)
