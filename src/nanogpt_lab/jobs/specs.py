"""A job request (API body, UI form) checked and turned into what its worker runs: the config, the folder, the devices.

The path rule, the same for every kind: a request names things in the workspace by name (datasets, uploads, runs,
checkouts, exports) and everything a job writes stays inside the workspace. Absolute paths are accepted only for
*reading*, and only from callers on this machine (`local=True`: the loopback API, the CLI): a file to prepare, a
nanoGPT `out_dir` to sample from, a data folder or checkpoint to train from. Remote callers name workspace things.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from nanogpt_lab import workspace
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.preferences import load_info
from nanogpt_lab.alignment.template import CHAT_FILE
from nanogpt_lab.config import (
    PRETRAINED,
    BenchDpoArgs,
    BenchSampleArgs,
    BenchSftArgs,
    BenchTrainArgs,
    ConfigError,
    ConversationsConfig,
    DataConfig,
    DpoConfig,
    EvalConfig,
    PreferencesConfig,
    ReportConfig,
    SampleConfig,
    TrainConfig,
    build,
    from_camel,
    run_preset,
)
from nanogpt_lab.errors import LabError
from nanogpt_lab.inference.catalog import BUNDLED
from nanogpt_lab.messages import ref

CHECKOUT_KEY = 'nanogpt_checkout'  # train/finetune/sample with a nanoGPT checkout instead of the lab's engine
EXPORT_FORMATS = ('hf', 'onnx')
# The benchmark suites a job may run, each as its own program: a job never imports `tools`, and these two modules
# cannot import the server or the UI (an import-linter contract), so a bench job cannot load a page.
BENCH_PROGRAMS = {
    'sample': 'nanogpt_lab.tools.bench.sample',
    'train': 'nanogpt_lab.tools.bench.train',
    'sft': 'nanogpt_lab.tools.bench.sft',
    'dpo': 'nanogpt_lab.tools.bench.dpo',
}
BENCH_SUITES = tuple(BENCH_PROGRAMS)
# what a bench job of each suite may set through the API (tests/reliability/test_bounds.py: one per suite)
BENCH_ARGS = {'sample': BenchSampleArgs, 'train': BenchTrainArgs, 'sft': BenchSftArgs, 'dpo': BenchDpoArgs}
SIM_SPEEDS = (1, 10, '1x', '10x', 'instant')
_URL_RE = re.compile(r'^(https://|git@)[\w.@:/~+-]+$')


@dataclass
class JobSpec:
    """A validated job: what the worker rebuilds (`config`), where it runs, what it holds while it runs."""

    kind: str
    config: dict[str, Any]
    run_id: str | None = None  # a fixed run folder (train into an existing run, resume); None: a new one
    devices: list[str] = field(default_factory=list)
    runner: str = 'engine'  # or 'nanogpt-checkout'
    checkout: str | None = None


def uploads_root() -> Path:
    """Where uploaded files wait to be prepared."""
    return workspace.home() / 'uploads'


def checkouts_root() -> Path:
    """Where nanoGPT checkouts used by jobs live (cloned there, or copied there from a local path)."""
    return workspace.home() / 'checkouts'


def exports_root() -> Path:
    """Where export jobs write their Hugging Face / ONNX folders."""
    return workspace.home() / 'exports'


def _named(root: Path, value: str, key: str, what: str) -> Path:
    try:
        return workspace.inside(root, value)
    except LabError as e:
        raise _keyed(e, key) from None


def readable(value: Any, key: str, root: Path, local: bool, what: str) -> str:
    """A path a job only reads: a workspace name under `root`, or (local callers) an absolute path."""
    if not isinstance(value, str) or not value:
        raise ConfigError('config.path_not_string', key=key, what=ref(f'config.what.{what}'))
    if '\x00' in value:
        raise ConfigError('config.path_nul', key=key)
    if Path(value).expanduser().is_absolute():
        if not local:
            raise ConfigError('config.absolute_remote', key=key, what=ref(f'config.what.{what}'))
        return str(Path(value).expanduser().resolve())
    return str(_named(root, value, key, what))


def _folder_name(values: dict[str, Any], key: str) -> None:
    """A name that becomes a folder (a dataset): refused at once, not when the job runs and fails."""
    if values.get(key) is not None:
        try:
            workspace.check_name(values[key], key)
        except LabError as e:
            raise _keyed(e, key) from None


def _keyed(e: LabError, key: str) -> ConfigError:
    """A name or path problem as a config error that points at the request key."""
    return ConfigError('config.keyed', key=key, reason=ref(e.code, **e.params))


def _no_write_path(values: dict[str, Any], key: str, code: str) -> None:
    if values.get(key) is not None:
        raise ConfigError(code, key=key)


def _run_folder(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError('config.run_id', key=key)
    return str(_named(workspace.runs_root(), value, key, 'run'))


@functools.lru_cache(maxsize=16)
def _real_device(device: str) -> str:
    if device == 'cpu':
        return device  # always here; and no torch import for it (a first request stays fast)
    from nanogpt_lab.hardware import resolve_device

    try:
        return resolve_device(device)
    except LabError as e:  # a device that is not here: the request's fault, named by its key
        raise ConfigError(e.code, **e.params) from None


def device_slots(device: str, nproc: int = 1) -> list[str]:
    """The devices a job holds, its lanes in the one-job-per-device queue: the device it really runs on ('auto'
    resolved; one that is not here refused), so no spelling of a device gets a lane of its own."""
    return lanes(_real_device(device), nproc)


def lanes(device: str, nproc: int = 1) -> list[str]:
    """'cuda' and 'cuda:00' mean cuda:0; N processes on CUDA hold cuda:0..N-1."""
    if device.startswith('cuda'):
        first = int(device.partition(':')[2] or 0)
        return [f'cuda:{first + i}' for i in range(max(nproc, 1))]
    return [device]


def build_job(kind: str, params: Any, *, local: bool = False) -> JobSpec:
    """Check a job request and return its spec; ConfigError names the key at fault."""
    if kind not in KINDS:
        raise ConfigError('config.job_kind', key='kind', value=kind, allowed=', '.join(KINDS))
    if not isinstance(params, dict):
        raise ConfigError('config.body_not_object')
    values = from_camel(params)
    return _BUILDERS[kind](kind, values, local)


def _prepare(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    """prepare-data and prepare-conversations: an upload or a download into the workspace's data/."""
    _no_write_path(values, 'data_dir', 'config.data_dir_fixed')
    _folder_name(values, 'name')
    if values.get('input') is not None:
        values['input'] = readable(values['input'], 'input', uploads_root(), local, 'upload')
    cls = ConversationsConfig if kind == 'prepare-conversations' else DataConfig
    return JobSpec(kind, _set_keys(build(cls, values)))


def _download(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    model = values.get('model', values.get('init_from'))
    if set(values) - {'model'} or model not in PRETRAINED:
        raise ConfigError('config.download_model', key='model', allowed=', '.join(PRETRAINED))
    return JobSpec(kind, {'model': model})


def _train(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    """train, finetune, sft, dpo: a run folder the manager names; `init_from` a run, released or bundled weights."""
    checkout = _checkout(values.pop(CHECKOUT_KEY, None), local)
    _folder_name(values, 'dataset')
    run_id = None
    if values.get('out_dir') is not None:
        run_id = Path(_run_folder(values['out_dir'], 'out_dir')).name
        values['out_dir'] = None  # the manager decides the folder: runs/<run_id>
    if values.get('data_dir') is not None:
        values['data_dir'] = readable(values['data_dir'], 'data_dir', workspace.data_root(), local, 'data_folder')
    init = values.get('init_from')
    if isinstance(init, str) and init not in ('scratch', 'resume', *PRETRAINED, *BUNDLED):
        values['init_from'] = readable(init, 'init_from', workspace.runs_root(), local, 'start_run')
    values = {**run_preset(kind), **values}
    cfg = build(CONFIGS[kind], values)
    if cfg.nproc_per_node > 1:
        raise ConfigError('config.ddp_in_terminal', key='nproc_per_node')
    return JobSpec(kind, _set_keys(cfg), run_id, device_slots(cfg.device), *_runner(checkout))


def _sft(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    """SFT is training on conversations: the same checks, the lab's own engine only (nanoGPT has no SFT)."""
    if values.get(CHECKOUT_KEY) is not None:
        raise ConfigError('config.sft_checkout', key=CHECKOUT_KEY)
    if values.get('init_from', 'scratch') == 'scratch':
        raise ConfigError('alignment_engine.needs_init_from', key='init_from')
    return _train(kind, values, local)


def _dpo(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    """DPO is training on preference pairs from an SFT run: the same checks, with DPO's config (beta)."""
    if values.get(CHECKOUT_KEY) is not None:
        raise ConfigError('config.sft_checkout', key=CHECKOUT_KEY)
    if values.get('init_from', 'scratch') == 'scratch':
        raise ConfigError('dpo.needs_init_from', key='init_from')
    spec = _train(kind, values, local)
    _dpo_inputs(spec.config)
    return spec


def _dpo_inputs(config: dict[str, Any]) -> None:
    """A start without a chat template and a dataset without training pairs (0 picks) are refused now, as a 4xx
    naming the key, not later by a failed job."""
    init = str(config.get('init_from'))
    if init not in ('resume', *BUNDLED):  # a bundled model says what it is when it loads
        start = Path(init)
        if not ((start.parent if start.suffix == '.pt' else start) / CHAT_FILE).is_file():
            raise ConfigError('dpo.no_chat_template', key='init_from', init_from=init)
    folder = workspace.data_root(config.get('data_dir')) / str(config.get('dataset'))
    try:
        pairs = (load_info(folder).get('pairs') or {}).get('train')
    except AlignmentError as e:
        raise ConfigError(e.code, **{**e.params, 'key': 'dataset'}) from None
    if not pairs:
        raise ConfigError('dpo.no_train_pairs', key='dataset', dataset=folder.name)


def _prepare_preferences(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    _no_write_path(values, 'data_dir', 'config.data_dir_fixed')
    _folder_name(values, 'name')
    _folder_name(values, 'tasks')
    if 'from' in values:  # the CLI's --from
        values['from_run'] = values.pop('from')
    if values.get('input') is not None:
        values['input'] = readable(values['input'], 'input', uploads_root(), local, 'upload')
    if values.get('from_run') is not None:
        values['from_run'] = readable(values['from_run'], 'from_run', workspace.runs_root(), local, 'start_run')
    cfg = build(PreferencesConfig, values)
    return JobSpec(kind, _set_keys(cfg), None, device_slots(cfg.device) if cfg.source == 'lab-preferences' else [])


def _report(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    values['out_dir'] = readable(values.get('out_dir'), 'out_dir', workspace.runs_root(), local, 'run')
    if values.get('data_dir') is not None:
        values['data_dir'] = readable(values['data_dir'], 'data_dir', workspace.data_root(), local, 'data_folder')
    cfg = build(ReportConfig, values)
    return JobSpec(kind, _set_keys(cfg), None, device_slots(cfg.device))


def _eval(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    values['out_dir'] = readable(values.get('out_dir'), 'out_dir', workspace.runs_root(), local, 'run')
    _folder_name(values, 'dataset')
    if values.get('data_dir') is not None:
        values['data_dir'] = readable(values['data_dir'], 'data_dir', workspace.data_root(), local, 'data_folder')
    cfg = build(EvalConfig, values)
    return JobSpec(kind, _set_keys(cfg), None, device_slots(cfg.device))


def _sample(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    checkout = _checkout(values.pop(CHECKOUT_KEY, None), local)
    if values.get('init_from', 'resume') == 'resume':
        out = values.get('out_dir')
        if out is None:
            raise ConfigError('config.sample_run', key='out_dir')
        values['out_dir'] = readable(out, 'out_dir', workspace.runs_root(), local, 'run')
    if values.get('data_dir') is not None:
        values['data_dir'] = readable(values['data_dir'], 'data_dir', workspace.data_root(), local, 'data_folder')
    if isinstance(values.get('start'), str) and values['start'].startswith('FILE:'):
        raise ConfigError('api.file_prompt', key='start')
    cfg = build(SampleConfig, values)
    return JobSpec(kind, _set_keys(cfg), None, device_slots(cfg.device), *_runner(checkout))


def _export(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    unknown = set(values) - {'out_dir', 'run', 'format', 'to'}
    if unknown:
        raise ConfigError('config.export_key', key='to', name=sorted(unknown)[0])
    run = values.get('out_dir', values.get('run'))
    out_dir = readable(run, 'out_dir', workspace.runs_root(), local, 'export_run')
    fmt = values.get('format', 'hf')
    if fmt not in EXPORT_FORMATS:
        raise ConfigError('config.export_format', key='format', value=fmt, allowed=', '.join(EXPORT_FORMATS))
    name = values.get('to') or f'{Path(out_dir).name}-{fmt}'
    to = _named(exports_root(), name, 'to', 'export_name')
    return JobSpec(kind, {'out_dir': out_dir, 'format': fmt, 'to': str(to)})


def _bench(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    suite, args = values.get('suite'), values.get('args', {})
    if suite not in BENCH_SUITES:
        raise ConfigError('config.bench_suite', key='suite', allowed=', '.join(BENCH_SUITES))
    if set(values) - {'suite', 'args'} or not isinstance(args, dict):
        raise ConfigError('config.bench_shape', key='args')
    try:
        args = build(BENCH_ARGS[suite], args).model_dump(exclude_none=True)
    except ConfigError as e:
        raise ConfigError('config.bench_args', key='args', detail=ref(e.code, **e.params)) from None
    # the lane is where the suite really runs: the GPU suite on CUDA, every other on the CPU
    device = 'cuda' if args.get('suite') == 'gpu' else 'cpu'
    return JobSpec(kind, {'suite': suite, 'args': args}, None, device_slots(device))


def _simulate(kind: str, values: dict[str, Any], local: bool) -> JobSpec:
    asset, speed = values.get('asset'), values.get('speed', 'instant')
    if not isinstance(asset, str):
        raise ConfigError('config.sim_asset', key='asset')
    try:
        workspace.check_name(asset, 'asset')
    except LabError as e:
        raise _keyed(e, 'asset') from None
    if speed not in SIM_SPEEDS or isinstance(speed, bool):
        raise ConfigError('config.sim_speed', key='speed')
    if set(values) - {'asset', 'speed'}:
        raise ConfigError('config.sim_shape', key='asset')
    from nanogpt_lab.simulation.assets import get_asset  # torch-free: the manifest only

    try:
        get_asset(asset)
    except LabError as e:
        raise _keyed(e, 'asset') from None
    return JobSpec(kind, {'asset': asset, 'speed': speed})


def _set_keys(cfg: BaseModel) -> dict[str, Any]:
    """The validated values of only the keys the caller set: the worker rebuilds the config from them, so the
    engine still tells a key the caller gave from a default (a resumed run inherits the unset ones from its
    checkpoint; a default shape key is not taken as a request for another shape)."""
    return cfg.model_dump(exclude_unset=True)


def _checkout(value: Any, local: bool) -> str | None:
    """A nanoGPT checkout: a name under the workspace's checkouts/, a git URL (cloned there), or a local path."""
    if value is None:
        return None
    if isinstance(value, str) and _URL_RE.match(value):
        return value
    return readable(value, CHECKOUT_KEY, checkouts_root(), local, 'checkout')


def _runner(checkout: str | None) -> tuple[str, str | None]:
    return ('nanogpt-checkout', checkout) if checkout else ('engine', None)


_BUILDERS = {
    'prepare-data': _prepare,
    'download-weights': _download,
    'train': _train,
    'finetune': _train,
    'sft': _sft,
    'prepare-conversations': _prepare,
    'eval': _eval,
    'dpo': _dpo,
    'prepare-preferences': _prepare_preferences,
    'report': _report,
    'sample': _sample,
    'export': _export,
    'bench': _bench,
    'simulate': _simulate,
}
KINDS = tuple(_BUILDERS)  # every job kind; the worker's RUNNERS and the API's JOB_BODIES name the same ones


# the config class each kind's worker rebuilds from job.json (kinds not named here keep a plain dict)
CONFIGS: dict[str, type[BaseModel]] = {
    'prepare-data': DataConfig,
    'train': TrainConfig,
    'finetune': TrainConfig,
    'sft': TrainConfig,
    'dpo': DpoConfig,
    'prepare-conversations': ConversationsConfig,
    'prepare-preferences': PreferencesConfig,
    'eval': EvalConfig,
    'report': ReportConfig,
    'sample': SampleConfig,
}


def load_config(kind: str, config: dict[str, Any]) -> BaseModel | dict[str, Any]:
    """The config object a worker runs with, rebuilt from the dump the manager stored in job.json."""
    cls = CONFIGS.get(kind)
    return build(cls, config) if cls else dict(config)
