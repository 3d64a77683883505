"""The recorded assets simulation mode shows: list them, load a run's events, its provenance and a chart label.

Layout (all under `simulation/assets/`, written by `nanogpt-lab sim record`):

    manifest.json                     {"version": 1, "assets": [{name, kind, groups, title, path, date, device}]}
    <name>/provenance.json            how it was made: command, commit (+ dirty flag), torch, device, threads,
                                      date, wall time, and what came out
    <name>/events.jsonl.gz            kinds "run", "model" and "dpo": the training run's events (DESIGN §4), gzipped
    <name>/stats.json                 kind "dataset": the stats.json the data preparation wrote
    <name>/model.safetensors, ...     kind "model": the bundled tiny model (tiny-shakespeare-char), HF layout
    <name>/comparison.json            a fine-tuning run: base vs fine-tuned model, measured after recording
    <name>/report.json                kind "dpo": the DPO run's report card (base -> SFT -> DPO, before/after answers)

Torch-free: the UI reads these at page load.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from nanogpt_lab.errors import LabError
from nanogpt_lab.messages import ref

ASSETS_DIR = Path(__file__).resolve().parent / 'assets'
MANIFEST = 'manifest.json'
PROVENANCE = 'provenance.json'
EVENTS = 'events.jsonl.gz'
FORMAT_VERSION = 1
KINDS = ('run', 'dataset', 'model', 'dpo')
LABEL_TEMPLATE = 'simulated: {asset} recorded {date} on {device}'


class AssetError(LabError):
    """An asset name that is not recorded, or an asset folder that is incomplete."""


@dataclass(frozen=True)
class AssetInfo:
    """One manifest entry: enough to list and group assets without opening them."""

    name: str
    kind: str  # run | dataset | model | dpo
    groups: tuple[str, ...]  # comparisons it belongs to (e.g. 'ln-position': pre-LN and post-LN)
    title: str
    path: Path
    date: str  # ISO date the recording finished
    device: str  # e.g. 'cpu (AMD EPYC 7B13, 1 thread)'


def _root(root: str | Path | None) -> Path:
    return Path(root) if root is not None else ASSETS_DIR


@lru_cache(maxsize=8)
def _manifest_cached(path: str, mtime: float) -> dict:
    return json.loads(Path(path).read_text(encoding='utf-8'))


def load_manifest(root: str | Path | None = None) -> dict:
    """The manifest as stored (cached until the file changes); an empty one when nothing is recorded yet."""
    path = _root(root) / MANIFEST
    if not path.exists():
        return {'version': FORMAT_VERSION, 'assets': []}
    manifest = _manifest_cached(str(path), path.stat().st_mtime)
    if manifest.get('version') != FORMAT_VERSION:
        raise AssetError(
            'simulation.manifest_version', path=path, version=repr(manifest.get('version')), latest=FORMAT_VERSION
        )
    return manifest


def list_assets(kind: str | None = None, group: str | None = None, root: str | Path | None = None) -> list[AssetInfo]:
    """Every recorded asset, in manifest order, optionally only one kind or group."""
    if kind is not None and kind not in KINDS:
        raise AssetError('simulation.kind', kind=kind, allowed=', '.join(KINDS))
    base = _root(root)
    out = []
    for entry in load_manifest(root)['assets']:
        if (kind and entry['kind'] != kind) or (group and group not in entry.get('groups', ())):
            continue
        out.append(
            AssetInfo(
                name=entry['name'],
                kind=entry['kind'],
                groups=tuple(entry.get('groups', ())),
                title=entry.get('title', entry['name']),
                path=base / entry['path'],
                date=entry.get('date', ''),
                device=entry.get('device', ''),
            )
        )
    return out


def get_asset(name: str, root: str | Path | None = None) -> AssetInfo:
    """The manifest entry for `name`, or an AssetError listing what is recorded."""
    assets = list_assets(root=root)
    for info in assets:
        if info.name == name:
            return info
    if not assets:
        raise AssetError('simulation.none_recorded', name=name)
    raise AssetError('simulation.no_asset', name=name, known=', '.join(a.name for a in assets))


def load_provenance(name: str, root: str | Path | None = None) -> dict:
    """How the asset was made: command, commit, torch, device, threads, date, wall time, results."""
    path = get_asset(name, root).path / PROVENANCE
    if not path.exists():
        raise AssetError('simulation.missing_file', name=name, file=PROVENANCE)
    return json.loads(path.read_text(encoding='utf-8'))


def load_events(name: str, types: tuple[str, ...] | None = None, root: str | Path | None = None) -> list[dict]:
    """A recorded run's events in recorded order (as written, so `t` and `seq` are the original run's)."""
    info = get_asset(name, root)
    path = info.path / EVENTS
    if not path.exists():
        raise AssetError('simulation.no_events', name=name, kind=info.kind)
    with gzip.open(path, 'rt', encoding='utf-8') as f:
        events = [_with_codes(json.loads(line)) for line in f if line.strip()]
    return [e for e in events if types is None or e.get('type') in types]


# Lines of recordings made before messages had codes, read back into their codes so a page can say them in its
# language (the recorded English `message` stays as it was written)
_MODEL_LINE = re.compile(
    r'^(?P<source>.+): (?P<millions>[\d.]+)M parameters, (?P<tokens>[\d,]+) tokens per iteration, '
    r'(?P<device>\S+) (?P<dtype>\S+), (?P<compiled>compiled|not compiled) \(compile=(?P<value>[^):]+)\)$'
)
_EARLY_STOP = re.compile(
    r'^early stopping: val loss has not improved for (?P<patience>\d+) evaluations '
    r'\(best (?P<best>[\d.]+); now (?P<now>[\d.]+) at iteration (?P<iter>\d+)\)$'
)


def _with_codes(event: dict) -> dict:
    if (
        event.get('type') == 'end'
        and (event.get('summary') or {}).get('reason')
        and 'reason_code' not in event['summary']
    ):
        coded = _coded(event['summary']['reason'])
        if coded:
            event['summary'] |= {'reason_code': coded[0], 'reason_params': coded[1]}
    if event.get('type') != 'log' or 'params' in event:
        return event
    coded = _coded(event.get('message', ''))
    return {**event, 'code': coded[0], 'params': coded[1]} if coded else event


def _coded(message: str) -> tuple[str, dict] | None:
    if m := _EARLY_STOP.match(message):
        return 'training.stop.early', {k: int(v) if k in ('patience', 'iter') else v for k, v in m.groupdict().items()}
    if m := _MODEL_LINE.match(message):
        g = m.groupdict()
        compiled = ref('log.compile.compiled' if g['compiled'] == 'compiled' else 'log.compile.not_compiled')
        why = ref('log.compile.fixed', value=g['value'])
        params = {'source': g['source'], 'millions': g['millions'], 'tokens': int(g['tokens'].replace(',', ''))}
        params |= {'device': g['device'], 'dtype': g['dtype'], 'compiled': compiled, 'why': why}
        return 'log.model_built', params
    return None


def curves(name: str, root: str | Path | None = None) -> dict[str, list]:
    """Chart-ready series of a recorded run: per iteration loss, grad norm and lr; per evaluation train/val loss."""
    out: dict[str, list] = {k: [] for k in ('iter', 'loss', 'grad_norm', 'lr', 'eval_iter', 'train_loss', 'val_loss')}
    for e in load_events(name, ('train', 'eval'), root):
        if e['type'] == 'train':
            for key in ('iter', 'loss', 'grad_norm', 'lr'):
                out[key].append(e.get(key))
        else:
            out['eval_iter'].append(e['iter'])
            out['train_loss'].append(e['train_loss'])
            out['val_loss'].append(e['val_loss'])
    return out


def read_json(name: str, filename: str, root: str | Path | None = None) -> Any:
    """Another JSON file of an asset (a dataset's stats.json, a fine-tuning run's comparison.json)."""
    path = get_asset(name, root).path / filename
    if not path.exists():
        raise AssetError('simulation.missing_file', name=name, file=filename)
    opener = gzip.open if path.suffix == '.gz' else open
    with opener(path, 'rt', encoding='utf-8') as f:
        return json.load(f)


def source_of(name: str, root: str | Path | None = None) -> str:
    """What made the asset, in one line: the command, its commit and the machine (the `source` of replayed events)."""
    p = load_provenance(name, root)
    commit = (p.get('commit') or '?')[:12] + ('+dirty' if p.get('dirty') else '')
    return f'recorded by `{p.get("command", "?")}` at commit {commit} on {p.get("device_name", "?")}'


def chart_label(name: str, template: str = LABEL_TEMPLATE, root: str | Path | None = None) -> str:
    """The label every simulated chart carries; pass a translated `template` with {asset}, {date}, {device}."""
    info = get_asset(name, root)
    return template.format(asset=info.name, date=info.date, device=info.device)


def dataset_stats(dataset: str, root: str | Path | None = None) -> tuple[dict, dict]:
    """Stage 1's recorded stats.json of `dataset` (shakespeare_char, shakespeare, openwebtext) and its provenance.

    `openwebtext` answers with the State of the Union corpus prepared by the OpenWebText pipeline; its provenance
    says so (`stand_in_for`, `note`), and so must the page.
    """
    from nanogpt_lab.simulation.recipes import DATASET_ASSETS

    if dataset not in DATASET_ASSETS:
        raise AssetError('simulation.no_stats', dataset=dataset, known=', '.join(DATASET_ASSETS))
    name = DATASET_ASSETS[dataset]
    provenance = {**load_provenance(name, root), 'asset': name}
    return read_json(name, 'stats.json', root), provenance
