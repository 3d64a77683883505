"""Real mode with karpathy/nanoGPT itself: run a checkout's own train.py and sample.py, read its log as our events.

The lab copies the checkout's code (its *.py files and config/) into the run folder and runs it there, with
`data/` pointing at the lab's prepared datasets: nanoGPT's scripts read `data/<dataset>/` and `configurator.py`
relative to their working folder, so this is "its data/<name>/" without ever writing into the checkout. The
config becomes nanoGPT's `--key=value` flags (only keys its train.py defines); its printed lines
(`iter N: loss X, time Yms, mfu Z%`, `step N: train loss X, val loss Y`, `saving checkpoint to ...`) become
`train`, `eval` and `log` events, and a failure ends the job with the checkout's own last lines.

From a terminal: `python -m nanogpt_lab.jobs.nanogpt_checkout train --checkout=PATH [config.py] [--key=value ...]`.
"""

from __future__ import annotations

import ast
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.config import ConfigError, DataConfig, SampleConfig, TrainConfig
from nanogpt_lab.errors import LabError
from nanogpt_lab.events import Cancelled, Emit, emit_log
from nanogpt_lab.messages import ref

REQUIRED_FILES = ('train.py', 'model.py', 'configurator.py', 'sample.py')
TAIL_LINES = 15
STOP_GRACE_S = 10.0
SAMPLE_SEPARATOR = '---------------'

ITER_RE = re.compile(r'^iter (\d+): loss (\S+), time ([\d.]+)ms, mfu (-?[\d.]+)%$')
STEP_RE = re.compile(r'^step (\d+): train loss (\S+), val loss (\S+)$')
TOKENS_RE = re.compile(r'^tokens per iteration will be: ([\d,]+)$')
SAVE_RE = re.compile(r'^saving checkpoint to (.+)$')
INFO_PREFIXES = (
    'found vocab_size', 'Initializing', 'Resuming training', 'number of parameters', 'using fused AdamW',
    'compiling the model', 'defaulting to vocab_size',
)  # fmt: skip
# our keys nanoGPT's train.py does not have: fine at these values, refused otherwise
OURS_ONLY = {
    'ln_position': 'pre',
    'early_stopping_patience': 0,
    'eval_sample_tokens': 0,
    'tensorboard_log': False,
    'cooldown_iters': 0,
    'optimizer': 'adamw',
}


class CheckoutError(LabError):
    """The nanoGPT checkout is missing, incomplete, or its script failed (the message holds its last lines)."""


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class LogParser:
    """Turns nanoGPT train.py's printed lines into our events (DESIGN §4), one line at a time.

    `step N` (an evaluation) is held until the next line so a following `saving checkpoint` can mark it saved;
    iteration N's time includes that evaluation (and, for the first iteration, start-up), so no throughput is
    reported for it; `mfu -100.00%` is nanoGPT's "not measured yet" for its first five iterations. nanoGPT's MFU
    is always against an A100's 312 TFLOP/s, so it is kept as `mfu_a100`, never as our per-device `mfu`.
    """

    def __init__(self, max_iters: int | None = None, tokens_per_iter: int | None = None):
        self.max_iters, self.tokens_per_iter = max_iters, tokens_per_iter
        self.best_val: float | None = None
        self.last_iter: int | None = None
        self._pending: dict[str, Any] | None = None
        self._eval_iter: int | None = None

    def feed(self, line: str) -> list[tuple[str, dict[str, Any]]]:
        """Events for one line of output (an empty list for lines that are not news)."""
        line = line.rstrip('\r\n')
        out = self._flush_unless_saving(line)
        if m := ITER_RE.match(line):
            out.append(('train', self._train(int(m[1]), _num(m[2]), float(m[3]), float(m[4]))))
        elif m := STEP_RE.match(line):
            self._pending = self._eval(int(m[1]), _num(m[2]), _num(m[3]))
        elif m := TOKENS_RE.match(line):
            self.tokens_per_iter = int(m[1].replace(',', ''))
            out.append(('log', {'level': 'info', 'message': line}))
        elif m := SAVE_RE.match(line):
            out.append(('log', {'level': 'info', 'code': 'checkpoint_saved', 'message': line, 'path': m[1]}))
        elif line.startswith(INFO_PREFIXES):
            out.append(('log', {'level': 'info', 'message': line}))
        elif 'Warning:' in line:
            out.append(('log', {'level': 'warning', 'message': line.strip()}))
        return out

    def flush(self) -> list[tuple[str, dict[str, Any]]]:
        """The held evaluation, if any (at the end of the output)."""
        out = [('eval', self._pending)] if self._pending else []
        self._pending = None
        return out

    def _flush_unless_saving(self, line: str) -> list[tuple[str, dict[str, Any]]]:
        if self._pending and SAVE_RE.match(line):
            self._pending['saved'] = True
        return self.flush()

    def _tokens(self, steps: int) -> int | None:
        return steps * self.tokens_per_iter if self.tokens_per_iter else None

    def _train(self, it: int, loss: float | None, dt_ms: float, mfu: float) -> dict[str, Any]:
        self.last_iter = it
        timed = it != self._eval_iter and it != 0  # includes an evaluation or start-up: not a throughput sample
        rate = self.tokens_per_iter / (dt_ms / 1000) if timed and self.tokens_per_iter and dt_ms > 0 else None
        return {
            'iter': it, 'max_iters': self.max_iters, 'loss': loss, 'lr': None, 'dt_ms': dt_ms,
            'tokens_per_s': rate, 'mfu': None, 'mfu_a100': None if mfu <= -100 else mfu / 100, 'mem_bytes': None,
            'tokens': self._tokens(it + 1), 'grad_norm': None, 'includes_eval': not timed,
        }  # fmt: skip

    def _eval(self, it: int, train_loss: float | None, val_loss: float | None) -> dict[str, Any]:
        self._eval_iter = it
        if val_loss is not None:
            self.best_val = val_loss if self.best_val is None else min(self.best_val, val_loss)
        return {
            'iter': it, 'train_loss': train_loss, 'val_loss': val_loss, 'best_val_loss': self.best_val,
            'tokens': self._tokens(it), 'saved': False,
        }  # fmt: skip


def parse_samples(output: str) -> list[str]:
    """The texts sample.py printed (each followed by its separator line), without its preamble."""
    lines = output.split('\n')
    start = 0
    for i, line in enumerate(lines):
        if line.startswith(('Loading meta from', 'No meta.pkl found')):
            start = i + 1
    body = '\n'.join(lines[start:])
    parts = body.split('\n' + SAMPLE_SEPARATOR + '\n')
    if body.startswith(SAMPLE_SEPARATOR + '\n'):
        parts = ['', *body[len(SAMPLE_SEPARATOR) + 1 :].split('\n' + SAMPLE_SEPARATOR + '\n')]
    return [p.removesuffix('\n' + SAMPLE_SEPARATOR).removesuffix('\n') for p in parts[:-1]] if len(parts) > 1 else []


# --- the checkout ---------------------------------------------------------------------------------------------


def resolve_checkout(spec: str, emit: Emit) -> Path:
    """The checkout folder: a path as given, or an https/git URL cloned (once) into the workspace's checkouts/."""
    from nanogpt_lab.jobs.specs import checkouts_root

    if re.match(r'^(https://|git@)', spec):
        name = workspace.sanitize_name(spec.rstrip('/').removesuffix('.git'), fallback='nanoGPT')
        target = workspace.inside(checkouts_root(), name)
        if not target.exists():
            emit_log(emit, 'log.git_clone', url=spec, path=target)
            _git_clone(spec, target)
        spec = str(target)
    folder = Path(spec).expanduser().resolve()
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        raise CheckoutError('checkout.incomplete', path=folder, missing=', '.join(missing))
    return folder


def _git_clone(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(['git', 'clone', '--depth', '1', url, str(target)], capture_output=True, text=True)
    except FileNotFoundError:
        raise CheckoutError('checkout.no_git') from None
    if done.returncode:
        shutil.rmtree(target, ignore_errors=True)
        tail = '\n'.join(done.stderr.strip().splitlines()[-5:])
        raise CheckoutError('checkout.clone_failed', url=url, tail=tail)


def config_keys(train_py: Path) -> dict[str, Any]:
    """The keys (and defaults) a nanoGPT script accepts: its assignments before the configurator, read not run."""
    keys: dict[str, Any] = {}
    for node in ast.parse(train_py.read_text(encoding='utf-8')).body:
        if isinstance(node, ast.Expr) and 'configurator' in ast.unparse(node):
            break  # exec(open('configurator.py').read()): everything after it is the script, not its config
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name == 'config_keys':
                break
            try:
                keys[name] = ast.literal_eval(node.value)
            except (ValueError, SyntaxError, TypeError):
                keys[name] = None  # e.g. dtype's expression: a string at run time
    return keys


def working_copy(checkout: Path, run_dir: Path, data_root: Path) -> Path:
    """Copy the checkout's code into run_dir/nanogpt (the run keeps what it ran) and point its data/ at ours."""
    work = run_dir / 'nanogpt'
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for f in checkout.glob('*.py'):
        shutil.copy2(f, work / f.name)
    if (checkout / 'config').is_dir():
        shutil.copytree(checkout / 'config', work / 'config')
    _link(data_root, work / 'data')
    return work


def _link(source: Path, link: Path) -> None:
    try:
        os.symlink(source, link, target_is_directory=True)
    except OSError:  # no symlinks (Windows without developer mode): link the files one by one
        for f in source.rglob('*'):
            if f.is_file():
                (link / f.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
                os.link(f, link / f.relative_to(source))


def _data_root(cfg: Any, checkout: Path, dataset: str | None, emit: Emit) -> Path:
    """Where `<dataset>/train.bin` is: the lab's data folder, the checkout's own data/, or prepared now."""
    ours = workspace.data_root(getattr(cfg, 'data_dir', None))
    if dataset is None or (ours / dataset / 'train.bin').is_file():
        return ours
    if (checkout / 'data' / dataset / 'train.bin').is_file():
        return checkout / 'data'
    from nanogpt_lab.data import prepare

    emit_log(emit, 'log.preparing_for_nanogpt', dataset=dataset, path=ours)
    prepare(DataConfig(dataset=dataset, data_dir=str(ours)), emit=emit)
    return ours


# --- flags ------------------------------------------------------------------------------------------------------


def _flag(key: str, value: Any) -> str:
    text = repr(value) if isinstance(value, float) else str(value)
    if '=' in text or '\n' in text:
        raise ConfigError('checkout.bad_value', key=key)
    return f'--{key}={text}'


def _system(device: str, dtype: str, compile_: Any) -> dict[str, Any]:
    """Our 'auto' values made concrete the way nanoGPT would want them on this machine."""
    from nanogpt_lab.hardware import resolve_device

    device = resolve_device(device)
    if dtype == 'auto':
        import torch

        cuda_bf16 = device.startswith('cuda') and torch.cuda.is_bf16_supported()
        dtype = 'bfloat16' if cuda_bf16 else 'float16' if device.startswith('cuda') else 'float32'
    return {'device': device, 'dtype': dtype, 'compile': device.startswith('cuda') if compile_ == 'auto' else compile_}


def train_flags(cfg: TrainConfig, accepted: dict[str, Any], out_dir: Path) -> list[str]:
    """The config as nanoGPT train.py flags: only keys it defines; our own keys must be at nanoGPT's behaviour."""
    for key, plain in OURS_ONLY.items():
        if getattr(cfg, key) != plain:
            raise ConfigError('checkout.lab_feature', key=key, value=repr(getattr(cfg, key)))
    if cfg.init_from not in ('scratch', 'resume') and not cfg.init_from.startswith('gpt2'):
        raise ConfigError('checkout.init_from', key='init_from')
    values = cfg.model_dump()
    values.update(_system(cfg.device, cfg.dtype, cfg.compile), out_dir=str(out_dir))
    if values['backend'] == 'auto':
        values['backend'] = 'nccl' if values['device'].startswith('cuda') else 'gloo'
    return [_flag(k, values[k]) for k in accepted if k in values and values[k] is not None]


def sample_flags(cfg: SampleConfig, accepted: dict[str, Any], prompt_file: Path) -> list[str]:
    """The sampling config as nanoGPT sample.py flags; options it lacks must be off."""
    for key, plain in (('top_p', 1.0), ('repetition_penalty', 1.0), ('stop', ())):
        if getattr(cfg, key) != plain:
            raise ConfigError('checkout.lab_sampling', key=key)
    if cfg.init_from == 'bundled':
        raise ConfigError('checkout.bundled', key='init_from')
    if not cfg.top_k:
        raise ConfigError('checkout.top_k', key='top_k')
    values = cfg.model_dump()
    values.update(_system(cfg.device, cfg.dtype, cfg.compile), start=f'FILE:{prompt_file}')
    return [_flag(k, values[k]) for k in accepted if k in values and values[k] is not None]


# --- running a script -------------------------------------------------------------------------------------------


def _lines(proc: subprocess.Popen, should_stop: Callable[[], bool]) -> Iterator[str]:
    """The child's output lines as they come; on should_stop, SIGTERM (then SIGKILL) it and raise Cancelled."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            line = ''
        if line is None:
            return
        if line:
            yield line
        if should_stop():
            _stop(proc)
            raise Cancelled('checkout.cancelled')


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _run_script(work: Path, script: str, flags: list[str], should_stop: Callable[[], bool], on_line: Any) -> None:
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    proc = subprocess.Popen(
        [sys.executable, script, *flags], cwd=work, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding='utf-8', errors='replace', bufsize=1,
    )  # fmt: skip
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        for line in _lines(proc, should_stop):
            tail.append(line.rstrip('\n'))
            on_line(line)
    finally:
        if proc.poll() is None and should_stop():
            _stop(proc)
    rc = proc.wait()
    if rc:
        how = ref('checkout.signal', signal=-rc) if rc < 0 else ref('checkout.exit_code', code=rc)
        raise CheckoutError('checkout.script_failed', script=script, how=how, tail='\n'.join(tail))


def run(
    cfg: Any, emit: Emit, should_stop: Callable[[], bool], *, kind: str, checkout: str, run_dir: Path
) -> dict[str, Any]:
    """The worker's runner for a job with a nanoGPT checkout: train/finetune with train.py, sample with sample.py."""
    folder = resolve_checkout(checkout, emit)
    if kind in ('train', 'finetune'):
        return _train(cfg, emit, should_stop, folder)
    if kind == 'sample':
        return _sample(cfg, emit, should_stop, folder, run_dir)
    raise CheckoutError('checkout.kind', kind=kind)


def _train(cfg: TrainConfig, emit: Emit, should_stop: Callable[[], bool], folder: Path) -> dict[str, Any]:
    run_dir = Path(cfg.out_dir)
    flags = train_flags(cfg, config_keys(folder / 'train.py'), run_dir)
    work = working_copy(folder, run_dir, _data_root(cfg, folder, cfg.dataset, emit))
    emit_log(emit, 'log.nanogpt_command', path=folder, command='python train.py ' + ' '.join(flags))
    parser = LogParser(cfg.max_iters, cfg.tokens_per_iter)

    def on_line(line: str) -> None:
        for type_, fields in parser.feed(line):
            emit(type_, **fields)

    try:
        _run_script(work, 'train.py', flags, should_stop, on_line)
    finally:
        for type_, fields in parser.flush():
            emit(type_, **fields)
    return {'runner': 'nanogpt-checkout', 'checkout': str(folder), 'out_dir': str(run_dir),
            'iter_num': parser.last_iter, 'best_val_loss': parser.best_val}  # fmt: skip


def _sample(
    cfg: SampleConfig, emit: Emit, should_stop: Callable[[], bool], folder: Path, run_dir: Path
) -> dict[str, Any]:
    from nanogpt_lab.fileio import atomic_write_text
    from nanogpt_lab.inference.nanogpt_sample import read_start

    prompt = run_dir / 'prompt.txt'  # sample.py reads FILE:...: no quoting trouble with any prompt text
    atomic_write_text(prompt, read_start(cfg.start))
    flags = sample_flags(cfg, config_keys(folder / 'sample.py'), prompt)
    work = working_copy(folder, run_dir, workspace.data_root(cfg.data_dir))
    emit_log(emit, 'log.nanogpt_command', path=folder, command='python sample.py ' + ' '.join(flags))
    output: list[str] = []
    _run_script(work, 'sample.py', flags, should_stop, output.append)
    texts = parse_samples(''.join(output))
    for i, text in enumerate(texts):
        emit('sample', iter=None, index=i, text=text)
    return {'runner': 'nanogpt-checkout', 'checkout': str(folder), 'samples': len(texts)}


def main(argv: list[str] | None = None) -> int:
    """`python -m nanogpt_lab.jobs.nanogpt_checkout train|finetune|sample --checkout=PATH [--key=value ...]`."""
    import functools

    from nanogpt_lab.config import from_args
    from nanogpt_lab.jobs.lifecycle import run_dir_for, run_job, stop_on_signals
    from nanogpt_lab.terminal import TerminalProgress

    args = list(sys.argv[1:] if argv is None else argv)
    checkout = next((a.split('=', 1)[1] for a in args if a.startswith('--checkout=')), None)
    if not args or args[0] not in ('train', 'finetune', 'sample') or not checkout:
        print('usage: python -m nanogpt_lab.jobs.nanogpt_checkout train|finetune|sample --checkout=PATH '
              '[config.py] [--key=value ...]', file=sys.stderr)  # fmt: skip
        return 2
    kind, rest = args[0], [a for a in args[1:] if not a.startswith('--checkout=')]
    cfg = from_args(SampleConfig if kind == 'sample' else TrainConfig, rest)
    run_dir = run_dir_for(kind, cfg)
    runner = functools.partial(run, kind=kind, checkout=checkout, run_dir=run_dir)
    with TerminalProgress() as bar:
        status = run_job(kind, cfg, run_dir, listeners=[bar], should_stop=stop_on_signals(), runner=runner)
    return {'succeeded': 0, 'cancelled': 130}.get(status, 1)


if __name__ == '__main__':
    raise SystemExit(main())
