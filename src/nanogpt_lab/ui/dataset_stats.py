"""Where stage 1 and 2 get a dataset's statistics: prepared in this workspace (live) or recorded (simulated).

Both are stats.json dictionaries (schema in docs/data.md); the provenance says which one a page shows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.i18n import Translator

log = logging.getLogger(__name__)
CARDS = ('shakespeare_char', 'shakespeare', 'openwebtext', 'tang_poems', 'dialogue', 'custom')


@dataclass(frozen=True)
class Found:
    """A dataset's stats.json, where it came from, and whether it stands in for another dataset (and why)."""

    stats: dict[str, Any]
    provenance: Provenance
    stand_in_note: str = ''  # the recording's own explanation when it is not the dataset itself


def workspace_dir(name: str) -> Path | None:
    """The dataset's folder in the workspace if it is prepared there (train.bin present)."""
    from nanogpt_lab.data import dataset_dir

    try:
        folder = dataset_dir(name)
    except ValueError:
        return None
    return folder if (folder / 'train.bin').is_file() else None


def workspace_stats(name: str, tr: Translator) -> Found | None:
    """Stats of a dataset prepared here, labelled live (this machine, its folder)."""
    from nanogpt_lab.data import DataError, load_stats

    folder = workspace_dir(name)
    if folder is None:
        return None
    try:
        stats = load_stats(folder)
    except DataError as e:
        log.warning('cannot read stats of %s: %s', folder, e)
        return None
    return Found(stats, Provenance.live(tr('data.this_machine'), f'data/{name}'))


def recorded_stats(name: str, tr: Translator) -> Found | None:
    """Stats recorded by `nanogpt-lab sim record` (simulation assets), labelled with the recording; None if none."""
    try:
        from nanogpt_lab.simulation import assets
    except ImportError:
        return None
    try:
        stats, provenance = assets.dataset_stats(name)
        info = assets.get_asset(provenance['asset'])
        found = Provenance.asset(info.name, info.date, tr)
    except (ValueError, KeyError, OSError) as e:  # AssetError: not recorded (yet)
        log.info('no recorded stats for %s: %s', name, e)
        return None
    except Exception:  # a broken asset module must not take the page down; it is a bug, so say so loudly
        log.exception('reading the recorded stats of %s failed', name)
        return None
    note = tr(f'assets.{info.name}.note') if provenance.get('stand_in_for') == name else ''
    return Found(stats, found, note)


def stats_for(name: str, real: bool, tr: Translator) -> Found | None:
    """Real mode shows what is prepared here; simulation mode the recording (or, without one, what is here)."""
    if real:
        return workspace_stats(name, tr)
    return recorded_stats(name, tr) or workspace_stats(name, tr)


def shakespeare_pair(real: bool, tr: Translator) -> tuple[tuple[dict, dict], Provenance] | None:
    """tiny Shakespeare's char and GPT-2 stats together (for stage 2's dataset-size comparison)."""
    char = stats_for('shakespeare_char', real, tr) or recorded_stats('shakespeare_char', tr)
    bpe = stats_for('shakespeare', real, tr) or recorded_stats('shakespeare', tr)
    if char is None or bpe is None:
        return None
    first, second = char.provenance, bpe.provenance
    detail = ' · '.join(p.detail for p in (first, second) if p.detail)
    if first.kind == second.kind:
        return (char.stats, bpe.stats), Provenance(first.kind, f'{first.source} + {second.source}', detail)
    both = f'{first.text(tr)} + {second.text(tr)}'  # one prepared here, one recorded: each half named as what it is
    return (char.stats, bpe.stats), Provenance('mixed', both, detail)


def own_datasets() -> list[str]:
    """Datasets prepared in this workspace that are not one of the cards (the learner's own texts), by name."""
    from nanogpt_lab import workspace

    root = workspace.data_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.name not in CARDS and (p / 'train.bin').is_file())
