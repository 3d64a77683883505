"""`nanogpt-lab sim record|list|verify`: make the simulation assets by running the lab's own engine for real.

    nanogpt-lab sim record [NAME ...] [--threads=1] [--work=DIR] [--shakespeare=input.txt] [--sotu=FILE.jsonl]
                           [--tang=FOLDER]
    nanogpt-lab sim list
    nanogpt-lab sim verify NAME [--iters=100] [--work=DIR] [--shakespeare=input.txt]

`record` prepares the datasets with `nanogpt_lab.data.prepare`, trains each recipe (recipes.py) with
`nanogpt_lab.training.train` through an `EventLog`, exactly as a train job does, and stores under
`simulation/assets/<name>/` the compressed events and a provenance.json: the command, git commit (dirty or not),
torch, device, threads, load, date and wall time. `verify` re-runs a recorded run's first iterations and compares
the losses with the recording.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nanogpt_lab import revision, workspace
from nanogpt_lab.alignment.lab_tasks import LAB_TASKS
from nanogpt_lab.alignment.preferences import LAB_PREFERENCES, is_preferences
from nanogpt_lab.config import (
    SAMPLE_TEMPERATURE,
    SAMPLE_TOP_K,
    ConfigError,
    DataConfig,
    DpoConfig,
    TrainConfig,
    from_args,
    parse_overrides,
    run_preset,
)
from nanogpt_lab.events import EventLog, read_events
from nanogpt_lab.fileio import atomic_write_bytes, atomic_write_text
from nanogpt_lab.hardware import cpu_threads
from nanogpt_lab.simulation import assets as store
from nanogpt_lab.simulation import provenance as prov
from nanogpt_lab.simulation.recipes import DATASET_CONFIGS, RECIPES, Recipe
from nanogpt_lab.tools import record_alignment, shared_data

log = logging.getLogger(__name__)

USAGE = __doc__.split('\n\n')[1]
PER_RUN_KEYS = ('out_dir', 'data_dir', 'init_from', 'max_iters')  # differ between machines or on verify
SAMPLE = {'start': 'ROMEO:', 'num_samples': 1, 'max_new_tokens': 200, 'temperature': SAMPLE_TEMPERATURE,
          'top_k': SAMPLE_TOP_K, 'seed': 1337}  # fmt: skip


class Recorder:
    """One recording session: where it works, which inputs it reads, and the facts every provenance shares."""

    def __init__(self, opts: dict[str, Any], argv: list[str], assets_dir: Path | None = None):
        self.threads = int(opts.pop('threads', 1))
        if self.threads < 1:
            raise ConfigError('config.pydantic.greater_than_equal', key='threads', value=self.threads, ge=1)
        self.work = Path(opts.pop('work', workspace.home() / 'sim-record')).expanduser().resolve()
        self.assets = Path(assets_dir or store.ASSETS_DIR)
        shared = shared_data()
        self.inputs = {
            'shakespeare': _existing(opts.pop('shakespeare', shared / 'tinyshakespeare' / 'input.txt')),
            'sotu': _existing(opts.pop('sotu', shared / 'sotu_corpus' / 'sotu_1946_2026.jsonl')),
            'tang': _existing_folder(opts.pop('tang', shared / 'chinese-poetry')),  # None: prepare downloads it
        }
        bpe = shared / 'gpt2'
        if not os.environ.get('NANOGPT_LAB_GPT2_BPE_DIR') and (bpe / 'encoder.json').is_file():
            os.environ['NANOGPT_LAB_GPT2_BPE_DIR'] = str(bpe)  # offline GPT-2 BPE (hash-checked by tiktoken)
        if opts:
            raise ConfigError('cli.unknown_option', key=next(iter(opts)), command='sim')
        self.command = prov.command_line(argv)
        import nanogpt_lab.training.trainer  # noqa: F401 - the code that records, loaded before its commit is read

        self.git = revision.git_state()

    @property
    def data_dir(self) -> Path:
        return self.work / 'data'

    def run_dir(self, name: str) -> Path:
        return self.work / 'runs' / name


def _existing(path: str | Path | None) -> Path | None:
    p = Path(path).expanduser() if path else None
    return p.resolve() if p and p.is_file() else None


def _existing_folder(path: str | Path | None) -> Path | None:
    p = Path(path).expanduser() if path else None
    return p.resolve() if p and p.is_dir() else None


# --- data ---------------------------------------------------------------------------------------------------------


def prepare_dataset(rec: Recorder, dataset: str) -> Path:
    """Prepare one dataset into the work folder (once), with the data layer's own `prepare`."""
    from nanogpt_lab.data import prepare

    folder = rec.data_dir / dataset
    if (folder / 'stats.json').is_file() or is_preferences(folder):
        return folder
    if dataset == LAB_TASKS:
        return record_alignment.prepare_lab_tasks(rec.data_dir)
    if dataset == LAB_PREFERENCES:
        return record_alignment.prepare_lab_preferences(rec.data_dir, rec.threads)
    if dataset == 'sotu':
        if rec.inputs['sotu'] is None:
            raise ConfigError('cli.sim_sotu', key='sotu')
        cfg = DataConfig(dataset='openwebtext', input=str(rec.inputs['sotu']), name='sotu', data_dir=str(rec.data_dir))
    else:
        values = DATASET_CONFIGS.get(dataset, {'dataset': dataset})
        # None: prepare downloads the text (sha256-checked); the dialogue corpus comes with its package
        source = {'tang_poems': rec.inputs['tang'], 'dialogue': None}.get(values['dataset'], rec.inputs['shakespeare'])
        cfg = DataConfig(**values, input=str(source) if source else None, data_dir=str(rec.data_dir))
    return prepare(cfg)


def record_dataset(rec: Recorder, recipe: Recipe) -> dict:
    """Store a prepared dataset's stats.json as it was written, with the data layer's timing and input hash."""
    started = _clock()
    shutil.rmtree(rec.data_dir / recipe.dataset, ignore_errors=True)  # prepare afresh: the timing is part of it
    folder = prepare_dataset(rec, recipe.dataset)
    stats = json.loads((folder / 'stats.json').read_text(encoding='utf-8'))
    target = _fresh_asset_dir(rec, recipe.name)
    atomic_write_text(target / 'stats.json', json.dumps(stats, indent=1, ensure_ascii=False) + '\n')
    extra = {'dataset': recipe.dataset, 'data_config': _data_config_of(stats), 'input': stats.get('source')}
    if recipe.name == 'dataset-sotu-for-openwebtext':
        extra['stand_in_for'] = 'openwebtext'
    # preparing data uses no torch threads; its tokenizer may use every CPU, so that is what is recorded
    return _write_provenance(rec, recipe, target, started, device='cpu', extra=extra, threads=cpu_threads())


def _data_config_of(stats: dict) -> dict:
    return {'kind': stats.get('kind'), 'tokenizer': stats.get('tokenizer'), 'split': stats.get('split')}


# --- training -----------------------------------------------------------------------------------------------------


def train_config(rec: Recorder, recipe: Recipe, out_dir: Path, extra: tuple[str, ...] = ()) -> TrainConfig:
    """The config `nanogpt-lab train|finetune|sft|dpo <recipe args>` builds, pointed at the work folder's data and
    run."""
    base = run_preset(recipe.loop) or None
    # recipes name config/*.py relative to the repository, as nanoGPT's README does
    args = [a if a.startswith('--') else str(revision.REPO_ROOT / a) for a in recipe.args]
    args += [f'--data_dir={rec.data_dir}', f'--out_dir={out_dir}', f'--threads={rec.threads}']
    if recipe.init_from_recipe:
        args.append(f'--init_from={rec.run_dir(recipe.init_from_recipe)}')
    return from_args(DpoConfig if recipe.loop == 'dpo' else TrainConfig, [*args, *extra], base=base)


def train_recipe(rec: Recorder, recipe: Recipe, out_dir: Path, extra: tuple[str, ...] = ()) -> tuple[Path, dict]:
    """Train one recipe from scratch into `out_dir`, events through an EventLog as a train job writes them."""
    import torch

    torch.set_num_threads(rec.threads)
    prepare_dataset(rec, recipe.dataset)
    cfg = train_config(rec, recipe, out_dir, extra)
    shutil.rmtree(out_dir, ignore_errors=True)  # a recording is one fresh run, never appended to an old one
    events = out_dir / workspace.EVENTS_NAME
    live = {'source': 'live', 'device': cfg.device, 'seed': cfg.seed, 'run_id': recipe.name}
    with EventLog(events, [_progress_logger(recipe.name)]) as emit:
        emit('start', kind=recipe.loop, run_id=recipe.name, pid=os.getpid(), config=cfg.model_dump(), provenance=live)
        try:
            summary = json.loads(json.dumps(_loop(recipe)(cfg, emit=emit), default=str))
        except Exception as e:
            emit('end', status='failed', error=str(e) or e.__class__.__name__)
            raise
        emit('end', status='succeeded', error=None, summary=summary)
    return events, cfg.model_dump()


def _loop(recipe: Recipe) -> Callable[..., dict]:
    """The engine function a recipe's command runs: `train` (train, finetune), `sft` or `dpo`."""
    if recipe.loop == 'sft':
        from nanogpt_lab.alignment.sft import sft

        return sft
    if recipe.loop == 'dpo':
        from nanogpt_lab.alignment.dpo import dpo

        return dpo
    from nanogpt_lab.training import train

    return train


def _progress_logger(name: str) -> Callable[[dict], None]:
    def listener(event: dict) -> None:
        if event['type'] == 'eval':
            log.info('%s: iter %s train %.4f val %.4f', name, event['iter'], event['train_loss'], event['val_loss'])
        elif event['type'] == 'train' and event['iter'] % 100 == 0:
            log.info('%s: iter %s loss %.4f (%.0f ms/iter)', name, event['iter'], event['loss'], event['dt_ms'] or 0)

    return listener


def record_run(rec: Recorder, recipe: Recipe) -> dict:
    """Train a recipe for real and store its events (gzipped) and provenance; export the bundled model."""
    if recipe.init_from_recipe and not (rec.run_dir(recipe.init_from_recipe) / workspace.CKPT_NAME).is_file():
        log.info('%s starts from %s: recording that first', recipe.name, recipe.init_from_recipe)
        record(rec, [recipe.init_from_recipe])
    started = _clock()
    out_dir = rec.run_dir(recipe.name)
    steps: dict[str, dict] = {}
    if recipe.loop == 'dpo':  # its pairs are the bundled chat model's own answers: sampled afresh, timed apart
        prepare_dataset(rec, 'shakespeare_char')  # the bundled base's text, which the report card may score
        shutil.rmtree(rec.data_dir / recipe.dataset, ignore_errors=True)
        prepare_dataset(rec, recipe.dataset)
        steps['prepare'] = _step(started)
    trained = _clock()
    events_path, config = train_recipe(rec, recipe, out_dir)
    steps[recipe.loop] = _step(trained)
    target = _fresh_asset_dir(rec, recipe.name)
    events = list(read_events(events_path))
    atomic_write_bytes(target / store.EVENTS, _gzip_jsonl(events))
    result = _result(events)
    if recipe.loop not in ('sft', 'dpo'):  # a chat model is scored on its held-out conversations below
        result.update(_checkpoint_val_loss(out_dir, rec.data_dir / recipe.dataset))
    extra: dict[str, Any] = {'config': config, 'train_command': _train_command(recipe), 'result': result}
    if recipe.loop == 'sft':
        extra.update(record_alignment.chat_model(out_dir, target, rec.data_dir / recipe.dataset))
    elif recipe.loop == 'dpo':
        scoring = _clock()
        extra.update(record_alignment.dpo_run(out_dir, target, rec.data_dir))
        extra['steps'] = {**steps, 'report': _step(scoring)}
    elif recipe.kind == 'model':
        extra.update(_export_model(out_dir, target))
    if recipe.loop == 'finetune':
        extra['comparison'] = _compare_finetune(rec, recipe, out_dir, target)
    return _write_provenance(rec, recipe, target, started, device=config['device'], extra=extra)


def _train_command(recipe: Recipe) -> str:
    """The `nanogpt-lab train|finetune|sft|dpo` command the recipe is (plus --data_dir, --out_dir, --threads,
    init_from)."""
    import shlex

    return shlex.join(['nanogpt-lab', recipe.loop, *recipe.args])


def _gzip_jsonl(events: list[dict]) -> bytes:
    """The events as JSON lines, gzip-compressed reproducibly (no timestamp in the gzip header)."""
    text = ''.join(json.dumps(e, ensure_ascii=False, separators=(',', ':')) + '\n' for e in events)
    return gzip.compress(text.encode('utf-8'), compresslevel=9, mtime=0)


def _result(events: list[dict]) -> dict:
    """The headline numbers of a recorded run, read back from its events."""
    evals = [e for e in events if e['type'] == 'eval']
    train = [e for e in events if e['type'] == 'train']
    end = next((e for e in reversed(events) if e['type'] == 'end'), {})
    return {
        'iters': train[-1]['iter'] + 1 if train else 0,  # iterations trained (numbered from 0)
        'final_train_loss': evals[-1]['train_loss'] if evals else None,
        'final_val_loss': evals[-1]['val_loss'] if evals else None,
        'best_val_loss': min((e['val_loss'] for e in evals), default=None),
        'tokens': train[-1].get('tokens') if train else None,
        'events': len(events),
        'status': end.get('status'),
        'summary': end.get('summary'),
    }


def _checkpoint_val_loss(out_dir: Path, data: Path) -> dict:
    """The saved checkpoint's loss over the whole val.bin: exact, unlike the 20-batch estimate in the events."""
    from nanogpt_lab.evaluation.loss import full_val_loss
    from nanogpt_lab.model.checkpoint import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(out_dir)
    model = model_from_checkpoint(ckpt)
    loss = full_val_loss(model, data / 'val.bin', model.config.block_size)
    return {'checkpoint_iter': ckpt['iter_num'], 'checkpoint_full_val_loss': round(loss, 6)}


# --- the bundled model and the fine-tuning comparison ---------------------------------------------------------------


def _export_model(out_dir: Path, target: Path) -> dict:
    """Export the run as a Hugging Face folder into the asset and record a fixed-seed sample from it.

    The export's own provenance.json (which checkpoint, which iteration) is kept inside the asset's, under `export`.
    """
    from nanogpt_lab.export import export_run

    exported = Path(export_run(str(out_dir), str(out_dir / 'hf'), fmt='hf'))
    export = json.loads((exported / store.PROVENANCE).read_text(encoding='utf-8'))
    for name in export['files']:  # the model's files (config, weights, vocabulary); docs/simulation.md is its README
        shutil.copyfile(exported / name, target / name)
    return {'export': export, 'sample': {**SAMPLE, 'text': sample_text(target)}}


def sample_text(folder: Path, init_from: str | None = None) -> str:
    """The bundled model's sample with the recorded settings (SAMPLE): what the stability test compares."""
    from nanogpt_lab.config import SampleConfig
    from nanogpt_lab.inference import sample

    cfg = SampleConfig(init_from=init_from or str(folder), device='cpu', dtype='float32', **SAMPLE)
    return next(iter(sample(cfg)))


def _compare_finetune(rec: Recorder, recipe: Recipe, out_dir: Path, target: Path) -> dict:
    """Base vs fine-tuned on the fine-tuning data, measured now and stored as comparison.json for stage 5.

    Val loss, perplexity and a sample of each from one prompt and seed (`evaluation.before_after`), plus the surprise
    (−log p) of every token of the first val passage under each model (`inference.token_surprise`).
    """
    import numpy as np

    from nanogpt_lab.config import SampleConfig
    from nanogpt_lab.evaluation.before_after import compare_models
    from nanogpt_lab.inference import load, token_surprise
    from nanogpt_lab.tokenizers import tokenizer_for_dataset

    data = rec.data_dir / recipe.dataset
    base = rec.run_dir(recipe.init_from_recipe)
    result = compare_models(str(base), str(out_dir), data, prompt=SAMPLE['start'], seed=SAMPLE['seed'])
    passage = tokenizer_for_dataset(data).decode(np.fromfile(data / 'val.bin', dtype=np.uint16)[:120].tolist())
    for entry, run in zip(result['models'], (base, out_dir), strict=True):
        loaded = load(SampleConfig(init_from='resume', out_dir=str(run), data_dir=str(rec.data_dir), device='cpu'))
        entry['surprise'] = token_surprise(loaded.model, loaded.tokenizer, passage)
        entry['run'] = recipe.init_from_recipe if run == base else recipe.name
    result = {**json.loads(json.dumps(result, default=str)), 'passage': passage}
    atomic_write_text(target / 'comparison.json', json.dumps(result, indent=1, ensure_ascii=False) + '\n')
    summary = {m['run']: {'val_loss': m['val_loss'], 'perplexity': m['perplexity']} for m in result['models']}
    return {'file': 'comparison.json', **summary}


# --- provenance and manifest ----------------------------------------------------------------------------------------


def _fresh_asset_dir(rec: Recorder, name: str) -> Path:
    target = rec.assets / workspace.check_name(name, 'asset')
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    return target


def _clock() -> tuple[float, list[float]]:
    """When a recording started and the machine's load then (shared machines make timings noisy)."""
    return time.time(), [round(x, 2) for x in os.getloadavg()]


def _step(started: tuple[float, list[float]]) -> dict[str, Any]:
    """How long one step of a recording took since `started` (a `_clock()`), with the load before and after."""
    end = [round(x, 2) for x in os.getloadavg()]
    return {'wall_time_s': round(time.time() - started[0], 1), 'load_avg_start': started[1], 'load_avg_end': end}


def _write_provenance(
    rec: Recorder,
    recipe: Recipe,
    target: Path,
    started: tuple[float, list[float]],
    device: str,
    extra: dict,
    threads: int | None = None,
) -> dict:
    """provenance.json beside the asset's files, then the manifest rebuilt from every provenance."""
    machine = {**prov.machine(device, threads or rec.threads), 'load_avg_start': started[1]}
    record_ = {
        'version': store.FORMAT_VERSION,
        'name': recipe.name,
        'kind': recipe.kind,
        'title': recipe.title,
        'note': recipe.note,
        'command': rec.command,
        'regenerate': f'nanogpt-lab sim record {recipe.name} --threads={rec.threads}',
        **rec.git,
        **machine,
        'load_avg_end': [round(x, 2) for x in os.getloadavg()],
        'date': prov.iso_now(),
        'wall_time_s': round(time.time() - started[0], 1),
        **extra,
        'files': {p.name: prov.file_record(p) for p in sorted(target.iterdir()) if p.name != store.PROVENANCE},
    }
    atomic_write_text(target / store.PROVENANCE, json.dumps(record_, indent=1, ensure_ascii=False) + '\n')
    for path in target.iterdir():
        path.chmod(0o644)  # package data: readable by everyone (atomic writes create files private)
    write_manifest(rec.assets)
    log.info('recorded %s in %.0f s', recipe.name, record_['wall_time_s'])
    return record_


def write_manifest(assets_dir: Path) -> dict:
    """The manifest: one entry per asset folder holding a provenance.json, in recipe order.

    How an asset was made comes from its provenance; how it is shown (title, the comparisons it belongs to) from
    its recipe, so regrouping assets never means editing a provenance record.
    """
    order = {name: i for i, name in enumerate(RECIPES)}
    entries = []
    for path in sorted(assets_dir.glob(f'*/{store.PROVENANCE}')):
        p = json.loads(path.read_text(encoding='utf-8'))
        recipe = RECIPES.get(p['name'])
        entries.append(
            {
                'name': p['name'],
                'kind': p['kind'],
                'groups': list(recipe.groups) if recipe else [],
                'title': recipe.title if recipe else p.get('title', p['name']),
                'path': path.parent.name,
                'date': p['date'][:10],
                'device': p['device_name'],
            }
        )
    entries.sort(key=lambda e: (order.get(e['name'], len(order)), e['name']))
    manifest = {'version': store.FORMAT_VERSION, 'assets': entries}
    atomic_write_text(assets_dir / store.MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False) + '\n')
    (assets_dir / store.MANIFEST).chmod(0o644)
    return manifest


# --- commands -----------------------------------------------------------------------------------------------------


def record(rec: Recorder, names: list[str]) -> list[dict]:
    """Record the named recipes (all when none are named), in recipe order."""
    if not rec.git['commit']:
        raise ConfigError('cli.sim_git')
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise ConfigError('cli.sim_recipe', key='name', name=unknown[0], allowed=', '.join(RECIPES))
    chosen = [r for r in RECIPES.values() if not names or r.name in names]
    return [record_dataset(rec, r) if r.kind == 'dataset' else record_run(rec, r) for r in chosen]


def verify(name: str, iters: int = 100, work: str | Path | None = None, inputs: dict | None = None) -> dict:
    """Re-run the first `iters` iterations of recorded run `name` here and compare its train losses.

    Returns the largest absolute difference and the facts needed to judge it. Float results depend on the torch
    version and thread count, so with either different from the recording the answer says why it was not run.
    """
    import torch

    recorded = store.load_provenance(name)
    if not prov.same_torch_release(recorded['torch']):
        return {'skipped': f'recorded with torch {recorded["torch"]}, this is torch {torch.__version__}'}
    opts: dict[str, Any] = {'threads': recorded['threads'], **(inputs or {})}
    if work is not None:
        opts['work'] = work
    rec = Recorder(opts, ['nanogpt-lab', 'sim', 'verify', name])
    recipe = RECIPES[name]
    out_dir = rec.work / 'verify' / name
    cfg = train_config(rec, recipe, out_dir, (f'--max_iters={iters}',)).model_dump()
    # a key added to TrainConfig after the recording counts as its default: the behaviour the recording had
    defaults = {k: field.default for k, field in TrainConfig.model_fields.items()}
    changed = [k for k in cfg if k not in PER_RUN_KEYS and cfg[k] != recorded['config'].get(k, defaults.get(k))]
    if changed:
        return {'skipped': f'the recipe no longer matches the recording in {", ".join(changed)}'}
    events_path, _ = train_recipe(rec, recipe, out_dir, (f'--max_iters={iters}',))
    mine = {e['iter']: e['loss'] for e in read_events(events_path) if e['type'] == 'train' and e['iter'] < iters}
    stored = {e['iter']: e['loss'] for e in store.load_events(name, ('train',)) if e['iter'] < iters}
    diffs = [abs(mine[i] - stored[i]) for i in sorted(stored) if i in mine]
    return {
        'compared': len(diffs),
        'max_abs_diff': max(diffs) if diffs else None,
        'threads': rec.threads,
        'torch': torch.__version__,
    }


def _list() -> int:
    recorded = {a.name: a for a in store.list_assets()}
    for name, recipe in RECIPES.items():
        info = recorded.get(name)
        state = f'recorded {info.date} on {info.device}' if info else 'not recorded'
        print(f'{name:32} {recipe.kind:8} {state}')
    return 0


def main(args: list[str]) -> int:
    """`nanogpt-lab sim ...`; ConfigError reaches cli.main, which prints it and exits 2."""
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s', stream=sys.stderr)
    if not args or args[0] in ('-h', '--help'):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    names, opts = parse_overrides(rest)
    if command == 'list':
        return _list()
    if command == 'record':
        record(Recorder(opts, ['nanogpt-lab', 'sim', *args]), names)
        return 0
    if command == 'verify':
        if len(names) != 1 or names[0] not in RECIPES:
            raise ConfigError('cli.sim_verify', key='name', allowed=', '.join(RECIPES))
        result = verify(names[0], int(opts.pop('iters', 100)), opts.pop('work', None), inputs=opts)
        print(json.dumps(result))
        return 0 if result.get('skipped') or (result['max_abs_diff'] or 0) <= 1e-3 else 1
    raise ConfigError('cli.unknown_command', key='command', command=' '.join(args), usage=USAGE)
