"""`nanogpt-lab prepare conversations|lab-tasks`: one entry point for the three sources of conversations."""

from __future__ import annotations

from pathlib import Path

from nanogpt_lab import workspace
from nanogpt_lab.alignment.conversations import MANIFEST_FILE, prepare_file, prepare_hf
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.lab_tasks import LAB_TASKS, prepare_lab_tasks
from nanogpt_lab.config import ConversationsConfig
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


def _name(cfg: ConversationsConfig) -> str:
    if cfg.name:
        return cfg.name
    if cfg.source == 'lab-tasks':
        return LAB_TASKS
    raw = cfg.input or str(cfg.hf).split('/')[-1]
    return workspace.sanitize_name(str(Path(raw).expanduser()), fallback='conversations')
