"""Dialogue data, the plan's GPT-1 corpus: chatterbot-corpus (BSD-3) as a pretraining text and a conversations set.

The package (installed from the package index with the lab) keeps short English and Chinese dialogues as YAML
under `chatterbot_corpus/data/<language>/`, each file a list of conversations, each conversation a list of turns.
`prepare dialogue` writes two things into the dataset folder:
- `input.txt` and its train.bin / val.bin: every conversation, one turn per line, a blank line between them, in
  a seeded shuffled order, so that both splits hold every language and topic (the files go topic by topic);
- `conversations.jsonl`: the same conversations in OpenAI's `messages` shape (turns alternate user / assistant;
  a last user turn with no answer is left out), and from it, through stage 7's own conversations preparation
  (`alignment.conversations.prepare_file`), the conversations set `<name>-chat/` that `nanogpt-lab sft` reads.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from nanogpt_lab.config import DataConfig
from nanogpt_lab.data.errors import DataError
from nanogpt_lab.events import Emit, emit_log
from nanogpt_lab.fileio import atomic_write_text

PACKAGE = 'chatterbot-corpus'
LICENSE = 'BSD-3-Clause (chatterbot-corpus, copyright Gunther Cox)'
HOMEPAGE = 'https://github.com/gunthercox/chatterbot-corpus'
LANGUAGES = {'en': ('english',), 'zh': ('chinese',), 'all': ('english', 'chinese')}
CONVERSATIONS_FILE = 'conversations.jsonl'
SHUFFLE_SEED = 1337
CHAT_SUFFIX = '-chat'  # data/dialogue-chat/: the conversations set for `nanogpt-lab sft --dataset=dialogue-chat`


def corpus_root() -> Path:
    """The package's data folder; a clear error if the package is missing."""
    try:
        import chatterbot_corpus
    except ImportError:
        raise DataError('data.dialogue.no_package', package=PACKAGE) from None
    return Path(chatterbot_corpus.__file__).resolve().parent / 'data'


def conversations(lang: str) -> Iterator[tuple[str, list[str]]]:
    """(category file, turns) of every conversation in the chosen languages, in a stable order."""
    import yaml

    root = corpus_root()
    for language in LANGUAGES[lang]:
        for path in sorted((root / language).glob('*.yml')):
            data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
            for turns in data.get('conversations') or []:
                turns = [str(t).strip() for t in turns if isinstance(t, (str, int, float))] if turns else []
                if len(turns) >= 2:
                    yield f'{language}/{path.name}', turns


def as_messages(turns: list[str]) -> list[dict[str, str]]:
    """Turns as OpenAI chat messages, user first; an unanswered last user turn is dropped."""
    turns = turns[: len(turns) // 2 * 2]
    return [{'role': 'user' if i % 2 == 0 else 'assistant', 'content': t} for i, t in enumerate(turns)]


def write_input(cfg: DataConfig, folder: Path, emit: Emit) -> tuple[Path, dict]:
    """input.txt and conversations.jsonl in the dataset folder; returns input.txt and its origin."""
    found = list(conversations(cfg.lang))
    random.Random(SHUFFLE_SEED).shuffle(found)
    if not found:
        raise DataError('data.dialogue.none', package=PACKAGE, lang=cfg.lang, path=corpus_root())
    text = '\n'.join('\n'.join(turns) + '\n' for _, turns in found)
    lines = [json.dumps({'messages': as_messages(turns), 'source': src}, ensure_ascii=False) for src, turns in found]
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / CONVERSATIONS_FILE, '\n'.join(lines) + '\n')
    chat = _conversations_set(folder, cfg.val_fraction, emit)
    dest = folder / 'input.txt'
    atomic_write_text(dest, text)
    emit_log(emit, 'log.dialogue', conversations=len(found), lang=cfg.lang, characters=len(text))
    origin = {
        'kind': 'package',
        'package': PACKAGE,
        'version': metadata.version(PACKAGE),
        'license': LICENSE,
        'lang': cfg.lang,
        'conversations': len(found),
        'conversations_file': CONVERSATIONS_FILE,
        'conversations_set': chat.name,
    }
    return dest, origin


def _conversations_set(folder: Path, val_fraction: float, emit: Emit) -> Path:
    """The conversations as stage 7's set (`data/<name>-chat/`: train/val split by prompt), beside this dataset."""
    from nanogpt_lab.alignment.conversations import prepare_file

    return prepare_file(
        str(folder / CONVERSATIONS_FILE), folder.parent / f'{folder.name}{CHAT_SUFFIX}', val_fraction, emit
    )
