"""Where stages 4 and 5 get runs to show: recorded ones (simulation assets) and the learner's own (the workspace).

Both come as the same events, so the loss chart draws them alike; each comes with the provenance a chart
carries. Torch-free (read at page load).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.jobs.client import JobsClient
from nanogpt_lab.ui import dataset_stats
from nanogpt_lab.ui.components.loss_chart import Curves, Reference, from_events
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.i18n import Translator

log = logging.getLogger(__name__)
GPT2_VOCAB = 50257
TRAINING_KINDS = ('train', 'finetune')
REPLAY_SPEEDS = ('10', '1', 'instant')  # a replay's speed as the URL and the toggle say it


def replay_speed(speed: str) -> int | str:
    """The `simulate` job's speed parameter for a toggle value: 10, 1 or 'instant'."""
    return int(speed) if speed.isdigit() else speed


def speed_factor(speed: str) -> float:
    """How much faster than recorded a replay runs (for its ETA); 1 for 'instant' (no ETA to speak of)."""
    return float(speed) if speed.isdigit() else 1.0


@dataclass(frozen=True)
class Recorded:
    """A recorded run: its asset name, title, the config it ran with and where it was recorded."""

    name: str
    title: str
    config: dict[str, Any]
    provenance: Provenance
    groups: tuple[str, ...] = ()


def recorded_runs(tr: Translator, group: str | None = None) -> list[Recorded]:
    """Every recorded training run (optionally one comparison group), in manifest order; [] if none is recorded."""
    try:
        from nanogpt_lab.simulation import assets

        infos = assets.list_assets(kind='run', group=group)
    except (ImportError, ValueError) as e:
        log.info('no recorded runs: %s', e)
        return []
    out = []
    for info in infos:
        try:
            config = assets.load_provenance(info.name).get('config') or {}
            provenance = Provenance.asset(info.name, info.date, tr)
        except (ValueError, OSError) as e:  # an asset still being recorded
            log.info('skipping asset %s: %s', info.name, e)
            continue
        out.append(Recorded(info.name, tr(f'assets.{info.name}.title'), config, provenance, info.groups))
    return out


def recorded_config(name: str) -> dict[str, Any]:
    """The config a recorded run was made with ({} when it is not recorded)."""
    try:
        from nanogpt_lab.simulation import assets

        return assets.load_provenance(name).get('config') or {}
    except (ImportError, ValueError, OSError):
        return {}


def recorded(name: str, tr: Translator) -> Recorded | None:
    """One recorded run by asset name, or None when it is not recorded (yet)."""
    return next((r for r in recorded_runs(tr) if r.name == name), None)


@lru_cache(maxsize=16)  # assets ship with the package and never change while the lab runs
def _recorded_events(name: str) -> tuple[dict[str, Any], ...]:
    from nanogpt_lab.simulation import assets

    return tuple(assets.load_events(name))


def recorded_curves(name: str) -> Curves:
    """A recorded run's points, all of them (for ghosts and side-by-side comparisons)."""
    return from_events(_recorded_events(name))


def ghost(name: str, label: str) -> Reference:
    """A recorded run's train loss as a grey dashed reference curve."""
    curves = recorded_curves(name)
    return Reference(label, curves.train, bits=curves.train_bpc or None)


def past_runs(manager: JobsClient | None, kinds: tuple[str, ...] = TRAINING_KINDS) -> list[dict[str, Any]]:
    """The learner's own runs of `kinds` (training and fine-tuning; not replays), newest first, as the registry
    lists them; a folder someone copied in with only a ckpt.pt (a nanoGPT out_dir, say) counts as training."""
    if manager is None:
        return []
    copied = 'train' in kinds
    return [
        r
        for r in manager.runs()
        if not r.get('simulated')
        and (r.get('kind') in kinds or (copied and r.get('kind') is None and r.get('has_checkpoint')))
    ]


def past_events(manager: JobsClient, run_id: str) -> list[dict[str, Any]]:
    """A past run's events, from its events.jsonl."""
    from nanogpt_lab.events import read_events

    return list(read_events(manager.run_dir(run_id) / workspace.EVENTS_NAME))


def past_curves(manager: JobsClient, run_id: str) -> Curves:
    """A past run's points, from its events.jsonl."""
    return from_events(past_events(manager, run_id))


def run_label(run: dict[str, Any], tr: Translator) -> str:
    """'train-20261128-0102 · shakespeare_char · best val 1.912' for a select."""
    best = run.get('best_val_loss')
    dataset = (run.get('config') or {}).get('dataset', '?')
    extra = tr('components.runs.best', loss=f'{best:.3f}') if isinstance(best, (int, float)) else run.get('status', '')
    return f'{run["id"]} · {dataset} · {extra}'


def vocab_size(dataset: str, real: bool, tr: Translator) -> int | None:
    """How many tokens the dataset's tokenizer has: from its stats (prepared here or recorded); GPT-2 BPE's for a
    dataset we have no stats of unless it is char-level."""
    found = dataset_stats.stats_for(dataset, real, tr)
    if found is not None and found.stats.get('vocab_size'):
        return int(found.stats['vocab_size'])
    return None if dataset.endswith('_char') else GPT2_VOCAB


def start_loss(dataset: str, real: bool, tr: Translator) -> float | None:
    """The loss of a uniform guess, ln(vocab): where a fresh model's loss starts."""
    vocab = vocab_size(dataset, real, tr)
    return math.log(vocab) if vocab else None
