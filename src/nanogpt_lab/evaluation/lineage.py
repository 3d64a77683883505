"""A run's lineage: the chain of models it grew from (base → SFT → DPO), read from each run folder's own files.

Each run says where its weights came from in `init_from` (config.json, or the first `start` event of
events.jsonl when a resumed run's config.json says only `resume`). Following those links back gives the chain the
report card compares. Torch-free: it reads JSON only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.alignment.template import CHAT_FILE
from nanogpt_lab.config import PRETRAINED
from nanogpt_lab.events import read_events
from nanogpt_lab.fileio import read_json_object
from nanogpt_lab.inference.catalog import BUNDLED, bundled_folder

MAX_DEPTH = 32  # a chain longer than this is a loop of folders pointing at each other, not a history
STAGES = ('base', 'sft', 'dpo')  # what a model in the chain is, in learning order


@dataclass(frozen=True)
class Link:
    """One model of a lineage: the run folder it lives in (None for released weights such as gpt2)."""

    source: str  # what `init_from` named: a run folder, a ckpt.pt, gpt2*, or the run itself for the newest
    run: Path | None
    stage: str  # 'base' | 'sft' | 'dpo', or 'unknown' for a parent folder that is gone
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """A short name for tables: the run folder's name or the released model's."""
        return self.run.name if self.run else self.source


def run_config(run: Path) -> dict[str, Any]:
    """The run's config: config.json, else the config its job.json recorded."""
    return (
        read_json_object(run / workspace.RUN_CONFIG_NAME)
        or read_json_object(run / workspace.JOB_NAME).get('config')
        or {}
    )


def _stage(run: Path, config: dict[str, Any]) -> str:
    """The job kind says it (sft, dpo); a run of any other kind (train, finetune, imported nanoGPT) is a base."""
    kind = read_json_object(run / workspace.JOB_NAME).get('kind')
    if kind in STAGES:
        return kind
    if 'beta' in config:  # a DPO run copied without its job.json
        return 'dpo'
    return 'sft' if (run / 'chat.json').is_file() else 'base'


def released(source: str) -> list[Link]:
    """Where a chain ends in weights the lab did not train here, newest first. gpt2* and the bundled tiny model are
    bases; bundled-chat is an SFT of the bundled model on lab-tasks, as its recording's provenance.json says, so its
    base comes with it. A bundled model's config is what its recording was trained with, so the report card can
    score every model of the chain on the bundled base's own text."""
    folder = bundled_folder(BUNDLED[source]) if source in BUNDLED else None
    if folder is None:
        return [Link(source, None, 'base')]
    config = _recorded(folder)
    if not (folder / CHAT_FILE).is_file():
        return [Link(source, None, 'base', config)]
    parent = config.get('init_from')
    return [Link(source, None, 'sft', config)] + (released(parent) if parent in BUNDLED else [])


def _recorded(folder: Path) -> dict[str, Any]:
    recorded = read_json_object(folder / 'provenance.json').get('config') or {}
    return {k: recorded[k] for k in ('init_from', 'dataset') if k in recorded}


def parent_source(run: Path, config: dict[str, Any] | None = None) -> str | None:
    """Where the run's first weights came from: its init_from, looking past `resume` to the run's first start."""
    config = run_config(run) if config is None else config
    source = config.get('init_from')
    if source and source != 'resume':
        return str(source)
    for event in read_events(run / workspace.EVENTS_NAME):
        if event.get('type') == 'start':
            earlier = (event.get('config') or {}).get('init_from')
            if earlier and earlier != 'resume':
                return str(earlier)
    return None


def resolve_source(source: str, child: Path) -> Path | None:
    """The run folder `source` names, tried as given, then beside the child run, then under the workspace's runs/."""
    for candidate in (Path(source).expanduser(), child.parent / source, workspace.runs_root() / source):
        folder = candidate.parent if candidate.suffix == '.pt' else candidate
        if (folder / workspace.CKPT_NAME).is_file() or (folder / workspace.RUN_CONFIG_NAME).is_file():
            return folder.resolve()
    return None


def lineage(run: str | Path) -> list[Link]:
    """The chain of models ending at `run`, oldest first; it stops at scratch, released weights or a lost folder."""
    here: Path | None = Path(run).expanduser().resolve()
    chain: list[Link] = []
    source = str(here)
    seen: set[Path] = set()
    while here is not None and here not in seen and len(chain) < MAX_DEPTH:
        seen.add(here)
        config = run_config(here)
        chain.append(Link(source, here, _stage(here, config), config))
        source = parent_source(here, config)
        if source in (None, 'scratch'):
            break
        if source in PRETRAINED or source in BUNDLED:
            chain += released(source)
            break
        here = resolve_source(source, here)
        if here is None:
            chain.append(Link(source, None, 'unknown'))  # named but not found here: kept, so the card says so
    return chain[::-1]
