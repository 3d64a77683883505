"""Shared fixtures: the read-only shared data copied into temp dirs, an offline tiktoken cache, a temp workspace."""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from nanogpt_lab.config import TrainConfig, build
from nanogpt_lab.hardware import ENV_CPU_PEAK

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get('NANOGPT_LAB_SHARED_DATA', ROOT.parent / 'shared' / 'data')).resolve()
# nanoGPT itself (karpathy/nanoGPT 3adf61e, unmodified, MIT): the compatibility tests' oracle, read-only
NANOGPT_REF = Path(os.environ.get('NANOGPT_LAB_NANOGPT_REF', SHARED_DATA / 'nanogpt-ref')).resolve()

# tiktoken looks for sha1(url) under TIKTOKEN_CACHE_DIR (see shared/data/gpt2/README.md)
TIKTOKEN_CACHE_NAMES = {
    'vocab.bpe': '6d1cbeee0f20b3d9449abfede4726ed8212e3aee',
    'encoder.json': '6c7ea1a7e38e3a7f062df639a5b80947f075ffe6',
    'gpt2.tiktoken': '0ea1e91bbb3a60f729a8dc8f777fd2fc07cd8df4',
}

# tests never use the network: libraries that could reach a hub are told they are offline
for _var in ('HF_HUB_OFFLINE', 'HF_DATASETS_OFFLINE', 'TRANSFORMERS_OFFLINE'):
    os.environ[_var] = '1'


_FROZEN: set[bool] = set()  # whether torch was loaded at each gc.freeze() so far


@pytest.fixture(autouse=True)
def frozen_heap() -> None:
    """What the session has imported (NiceGUI, every test module, torch once a test loads it) lives to the end: keep
    it out of the garbage collector's walks (`gc.freeze`, at the first test and again once torch is in). NiceGUI's
    `user` fixture runs a full `gc.collect()` before and after every test, each a walk of all of it (0.2-1 s)."""
    torch_loaded = 'torch' in sys.modules
    if torch_loaded not in _FROZEN:
        _FROZEN.add(torch_loaded)
        gc.freeze()


def pytest_addoption(parser: pytest.Parser) -> None:
    help = 'browser tests save full-page screenshots into artifacts/screenshots/ for people to look at'
    parser.addoption('--screenshots', action='store_true', help=help)


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """The read-only shared fixtures folder (never write into it: copy first)."""
    if not (SHARED_DATA / 'tinyshakespeare' / 'input.txt').exists():
        pytest.fail(f'shared test data not found at {SHARED_DATA} (set NANOGPT_LAB_SHARED_DATA)')
    return SHARED_DATA


@pytest.fixture(scope='session')
def nanogpt_ref() -> Path:
    """nanoGPT's checkout (never write into it: copy first). Missing, the test fails saying where it looked; it
    skips only when NANOGPT_LAB_SKIP_NANOGPT=1 says so explicitly."""
    if not (NANOGPT_REF / 'train.py').is_file():
        why = f'nanoGPT (the compatibility oracle) is not at {NANOGPT_REF}; set NANOGPT_LAB_NANOGPT_REF to a checkout'
        if os.environ.get('NANOGPT_LAB_SKIP_NANOGPT') == '1':
            pytest.skip(f'{why} (skipped: NANOGPT_LAB_SKIP_NANOGPT=1)')
        pytest.fail(why)
    return NANOGPT_REF


@pytest.fixture(scope='session', autouse=True)
def offline_tiktoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed tiktoken's cache and the lab's BPE folder from shared/data/gpt2 so GPT-2 BPE works offline."""
    cache = tmp_path_factory.mktemp('tiktoken_cache')
    bpe_dir = tmp_path_factory.mktemp('gpt2_bpe')
    for name, key in TIKTOKEN_CACHE_NAMES.items():
        shutil.copyfile(SHARED_DATA / 'gpt2' / name, cache / key)
        shutil.copyfile(SHARED_DATA / 'gpt2' / name, bpe_dir / name)
    mp = pytest.MonkeyPatch()
    mp.setenv('TIKTOKEN_CACHE_DIR', str(cache))
    mp.setenv('NANOGPT_LAB_GPT2_BPE_DIR', str(bpe_dir))
    yield cache
    mp.undo()


@pytest.fixture(scope='session', autouse=True)
def cpu_peak_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """This CPU's peak, measured once per session by the lab itself (`hardware.cpu_peak`, in a subprocess so that
    this process loads no torch yet) and given to every process as NANOGPT_LAB_CPU_PEAK_TFLOPS, the documented
    setting: else each training started in a fresh workspace measures it again (0.4-1.2 s, hundreds of starts).
    Unset when the measurement is not trusted (a busy machine), and for the tests of measuring (`measured_peak`)."""
    if os.environ.get(ENV_CPU_PEAK):
        yield os.environ[ENV_CPU_PEAK]
        return
    code = "from nanogpt_lab import hardware; print(hardware.cpu_peak('float32', 1).per_core or '')"
    env = {**os.environ, 'NANOGPT_LAB_HOME': str(tmp_path_factory.mktemp('cpu_peak_home'))}
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=300)
    per_core = out.stdout.strip() if out.returncode == 0 else ''
    tflops = f'{float(per_core) * (os.cpu_count() or 1) / 1e12:.4g}' if per_core else None
    mp = pytest.MonkeyPatch()
    if tflops:
        mp.setenv(ENV_CPU_PEAK, tflops)  # a figure for all the cores, as the setting reads
    yield tflops
    mp.undo()


@pytest.fixture
def measured_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CPU peak is measured (and cached in the workspace) as on a learner's machine, not the session's figure."""
    monkeypatch.delenv(ENV_CPU_PEAK, raising=False)


@pytest.fixture(autouse=True)
def workspace_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty workspace, so nothing touches ~/.nanogpt-lab."""
    home = tmp_path / 'home'
    monkeypatch.setenv('NANOGPT_LAB_HOME', str(home))
    return home


@pytest.fixture(scope='session')
def shakespeare_txt(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of tiny Shakespeare."""
    dst = tmp_path_factory.mktemp('tinyshakespeare') / 'input.txt'
    shutil.copyfile(shared_data / 'tinyshakespeare' / 'input.txt', dst)
    return dst


@pytest.fixture(scope='session')
def char_data_dir(shakespeare_txt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding shakespeare_char/ prepared once per session (train.bin, val.bin, meta.pkl)."""
    from nanogpt_lab.config import DataConfig
    from nanogpt_lab.data import prepare

    data_dir = tmp_path_factory.mktemp('data')
    prepare(DataConfig(dataset='shakespeare_char', input=str(shakespeare_txt), data_dir=str(data_dir)))
    return data_dir


@pytest.fixture(scope='session')
def nanogpt_baby_ckpt(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding a copy of the checkpoint nanoGPT itself wrote (4/4/128, block 64, char vocab 65)."""
    run = tmp_path_factory.mktemp('nanogpt_baby')
    shutil.copyfile(shared_data / 'nanogpt-baby' / 'ckpt.pt', run / 'ckpt.pt')
    return run


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test, restored afterwards: on a shared 2-core machine spinning OpenMP threads make
    small-model tests ~10x slower (folders whose tests all want it request it from an autouse fixture)."""
    with _torch_threads(1):
        yield


@pytest.fixture
def own_signals() -> Iterator[None]:
    """The CLI or a worker run in-process installs SIGINT/SIGTERM handlers (Ctrl-C saves a checkpoint), as its own
    process should: put pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.fixture
def lab_cli(own_signals: None, monkeypatch: pytest.MonkeyPatch):
    """`lab_cli(*args, stdin='')` -> CompletedProcess: `nanogpt-lab ARGS` run in this process (`cli.main`), its
    stdout, stderr and exit status as a fresh process would give them, without paying torch's import again (seconds
    each). Where the process itself is the point (signals, threads chosen before torch loads) run the script."""
    from nanogpt_lab.cli import main

    def run(*args: str, stdin: str = '') -> subprocess.CompletedProcess:
        monkeypatch.setattr(sys, 'stdin', StringIO(stdin))  # piped, not a terminal
        out, err = StringIO(), StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
        return subprocess.CompletedProcess(['nanogpt-lab', *args], code, out.getvalue(), err.getvalue())

    return run


# 2 layers, 32 wide, 32 positions: ~30k parameters, a step in a few milliseconds on one thread
TINY: dict[str, Any] = dict(
    dataset='shakespeare_char',
    device='cpu',
    compile=False,
    threads=1,
    n_layer=2,
    n_head=2,
    n_embd=32,
    block_size=32,
    batch_size=4,
    gradient_accumulation_steps=1,
    dropout=0.0,
    learning_rate=3e-3,
    min_lr=3e-4,
    warmup_iters=2,
    lr_decay_iters=40,
    max_iters=10,
    eval_interval=5,
    eval_iters=4,
    log_interval=1,
    beta2=0.99,
)


class Events(list):
    """An Emit that keeps every event, for assertions."""

    def __call__(self, type: str, **fields: Any) -> None:
        self.append({'type': type, **fields})

    def of(self, type: str) -> list[dict]:
        return [e for e in self if e['type'] == type]


@pytest.fixture
def tiny_values() -> dict[str, Any]:
    """The tiny model's settings, for tests that pass them as --key=value flags."""
    return dict(TINY)


@pytest.fixture
def tiny(char_data_dir: Path, tmp_path: Path):
    """tiny(**overrides) -> TrainConfig for the tiny model, writing to tmp_path/'run' unless out_dir is given."""

    def _cfg(**overrides: Any) -> TrainConfig:
        values = {**TINY, 'data_dir': str(char_data_dir), 'out_dir': str(tmp_path / 'run'), **overrides}
        return build(TrainConfig, values)

    return _cfg


@pytest.fixture
def run_train():
    """run_train(cfg, should_stop=...) -> (summary, events), the engine called as the worker calls it."""
    from nanogpt_lab.training import train

    def _run(cfg: TrainConfig, **kwargs: Any) -> tuple[dict, Events]:
        events = Events()
        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        summary = train(cfg, emit=events, **kwargs)
        return summary, events

    return _run


@pytest.fixture(scope='session')
def lab_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding lab-tasks/ (prepared once; tests that write pack into copies of it)."""
    from nanogpt_lab.alignment.lab_tasks import prepare_lab_tasks

    data = tmp_path_factory.mktemp('lab_data')
    prepare_lab_tasks(data / 'lab-tasks')
    return data


def _baby_base(folder: Path, nanogpt_baby_ckpt: Path, char_data_dir: Path) -> Path:
    folder.mkdir()
    shutil.copyfile(nanogpt_baby_ckpt / 'ckpt.pt', folder / 'ckpt.pt')
    shutil.copyfile(char_data_dir / 'shakespeare_char' / 'meta.pkl', folder / 'meta.pkl')
    return folder


@pytest.fixture
def baby_run(nanogpt_baby_ckpt: Path, char_data_dir: Path, tmp_path: Path) -> Path:
    """nanoGPT's README CPU checkpoint as a run folder with its meta.pkl beside it (as our trainer leaves it)."""
    return _baby_base(tmp_path / 'baby', nanogpt_baby_ckpt, char_data_dir)


@pytest.fixture(scope='session')
def sft_run(lab_data: Path, nanogpt_baby_ckpt: Path, char_data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """(run folder, data folder) of a short real SFT of the baby base on lab-tasks (made once per session)."""
    from nanogpt_lab.alignment.sft import sft
    from nanogpt_lab.config import SFT_PRESET, TrainConfig, build

    root = tmp_path_factory.mktemp('sft_run')
    base = _baby_base(root / 'baby', nanogpt_baby_ckpt, char_data_dir)
    data = Path(shutil.copytree(lab_data, root / 'data'))
    values = {**SFT_PRESET, 'init_from': str(base), 'data_dir': str(data), 'out_dir': str(root / 'sft'),
              'device': 'cpu', 'compile': False, 'threads': 1, 'batch_size': 8, 'max_iters': 20, 'eval_interval': 10,
              'eval_iters': 2}  # fmt: skip
    sft(build(TrainConfig, values))
    return root / 'sft', data


def _swapped_pairs(conversations: list[dict], n: int) -> list[Any]:
    """The task's own answer chosen over another prompt's answer."""
    from nanogpt_lab.alignment.preferences import Pair

    out = []
    for conv, other in zip(conversations[:n], conversations[n : 2 * n], strict=True):
        if conv['messages'][-1]['content'].strip() != other['messages'][-1]['content'].strip():
            prompt = tuple((m['role'], m['content']) for m in conv['messages'][:-1])
            out.append(Pair(prompt, conv['messages'][-1]['content'], other['messages'][-1]['content']))
    return out


@pytest.fixture(scope='session')
def dpo_chain(sft_run, char_data_dir, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(dpo run, sft run, data folder): four DPO steps on 24 pairs from the session's SFT run (its data trimmed:
    4,096 val tokens of the base's text, 48 held-out conversations), made once per session."""
    from nanogpt_lab.alignment.conversations import read_conversations
    from nanogpt_lab.alignment.dpo import dpo
    from nanogpt_lab.alignment.preferences import write_preferences
    from nanogpt_lab.config import DPO_PRESET, DpoConfig

    root = tmp_path_factory.mktemp('card')
    data = Path(shutil.copytree(sft_run[1], root / 'data'))
    text = Path(shutil.copytree(char_data_dir / 'shakespeare_char', data / 'shakespeare_char'))  # the base's own
    (text / 'val.bin').write_bytes((text / 'val.bin').read_bytes()[: 2 * 4096])  # 4,096 tokens: a lean test
    tasks = data / 'lab-tasks'
    held = (tasks / 'val.jsonl').read_text(encoding='utf-8').splitlines(keepends=True)
    (tasks / 'val.jsonl').write_text(''.join(held[:48]), encoding='utf-8')  # both languages, several kinds
    splits = {'train': _swapped_pairs(read_conversations(tasks, 'train'), 24)}
    splits['val'] = _swapped_pairs(read_conversations(tasks, 'val'), 8)
    write_preferences(data / 'prefs', splits, {'kind': 'test'})
    values = {**DPO_PRESET, 'init_from': str(sft_run[0]), 'dataset': 'prefs', 'data_dir': str(data),
              'out_dir': str(root / 'dpo'), 'device': 'cpu', 'compile': False, 'threads': 1, 'batch_size': 4,
              'max_iters': 4, 'eval_interval': 4, 'eval_iters': 1}  # fmt: skip
    dpo(build(DpoConfig, values))
    return root / 'dpo', sft_run[0], data


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


@pytest.fixture(scope='session')
def file_digests():
    """`file_digests(folder)`: each file's sha256, to prove a folder was only read."""
    return _digests


@pytest.fixture(scope='session')
def dpo_card(dpo_chain) -> tuple[dict, dict[str, str]]:
    """dpo_chain's report card, written into its run's report.json once, and the SFT run's file hashes before it."""
    from nanogpt_lab.evaluation.card import report_card

    run, sft_dir, data = dpo_chain
    before = _digests(sft_dir)
    with _torch_threads(1):  # a session fixture runs before the tests' one-thread fixtures
        return report_card(str(run), str(data), 'cpu', max_conversations=16), before
