"""Bad input and faults: each ends with a message that says what to do, and a checkpoint that still loads."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nanogpt_lab import fileio
from nanogpt_lab.events import Cancelled
from nanogpt_lab.model.checkpoint import load_checkpoint, model_from_checkpoint
from nanogpt_lab.training import TrainingError


def _finite(run: Path) -> bool:
    model = model_from_checkpoint(load_checkpoint(run))
    return all(torch.isfinite(p).all() for p in model.parameters())


def test_missing_data_names_the_prepare_command(tiny, run_train, tmp_path):
    with pytest.raises(TrainingError, match=r'Run `nanogpt-lab prepare shakespeare_char --data_dir=\S+` first'):
        run_train(tiny(data_dir=str(tmp_path / 'empty')))
    with pytest.raises(TrainingError, match=r'nanogpt-lab prepare custom --input=YOUR_TEXT --name=my_notes'):
        run_train(tiny(dataset='my_notes'))


def _bins(folder: Path, train_tokens: int, val_tokens: int, vocab: int = 50000) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rng.integers(0, vocab, train_tokens, dtype=np.uint16).tofile(folder / 'train.bin')
    rng.integers(0, vocab, val_tokens, dtype=np.uint16).tofile(folder / 'val.bin')


def test_data_shorter_than_a_block_and_vocab_mismatch(tiny, run_train, tmp_path):
    _bins(tmp_path / 'data' / 'small', 1000, 20)
    with pytest.raises(TrainingError, match=r'val.bin has 20 tokens but block_size 32 needs at least 33'):
        run_train(tiny(dataset='small', data_dir=str(tmp_path / 'data')))
    run_train(tiny(out_dir=str(tmp_path / 'char'), max_iters=2, eval_interval=2))
    _bins(tmp_path / 'data' / 'bpe', 1000, 1000)  # no meta.pkl: GPT-2 BPE ids, as nanoGPT assumes
    with pytest.raises(TrainingError, match=r'uses GPT-2 BPE \(50257 tokens\) but the model has only 65 tokens'):
        run_train(tiny(dataset='bpe', data_dir=str(tmp_path / 'data'), init_from=str(tmp_path / 'char')))
    with pytest.raises(TrainingError, match=r"init_from \('no-such-model'\) is not scratch, resume"):
        run_train(tiny(init_from='no-such-model'))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny, run_train, tmp_path, monkeypatch):
    run_train(tiny(max_iters=4, eval_interval=4))
    real = torch.nn.functional.cross_entropy
    # the loss turns NaN, as a diverging run's does (a learning rate that makes it happen is beyond the lab's bounds)
    monkeypatch.setattr(torch.nn.functional, 'cross_entropy', lambda *a, **k: real(*a, **k) * float('nan'))
    with pytest.raises(TrainingError, match=r'became (nan|inf).*last good checkpoint.*is kept.*Lower learning_rate'):
        run_train(tiny(init_from='resume', max_iters=30, decay_lr=False))
    assert load_checkpoint(tmp_path / 'run')['iter_num'] == 4 and _finite(tmp_path / 'run')


def test_out_of_memory_names_the_knobs(tiny, run_train, monkeypatch):
    def out_of_memory(*args, **kwargs):  # what the allocator raises for a batch the machine cannot hold
        raise torch.OutOfMemoryError('CPU out of memory: tried to allocate 64.00 GiB')

    monkeypatch.setattr(torch.nn.functional, 'cross_entropy', out_of_memory)
    with pytest.raises(
        TrainingError,
        match=r'out of memory on cpu while .*lower batch_size \(now 4096\).*gradient_accumulation_steps.*block_size',
    ):
        run_train(tiny(batch_size=4096))


def test_float16_on_the_cpu_is_warned_about_and_float32_is_not(tiny, run_train):
    """float16 on a CPU is emulated (about 15x slower, no better): the run says so once, in its log."""
    _, events = run_train(tiny(dtype='float16', max_iters=0))
    slow = [e for e in events.of('log') if e.get('code') == 'log.slow_dtype']
    assert len(slow) == 1 and slow[0]['level'] == 'warning' and slow[0]['params'] == {'dtype': 'float16'}
    _, events = run_train(tiny(dtype='float32', max_iters=0))
    assert not [e for e in events.of('log') if e.get('code') == 'log.slow_dtype']


def test_sampling_in_float16_on_the_cpu_is_warned_about(capsys):
    from nanogpt_lab import cli

    sample = ['sample', '--init_from=bundled', '--device=cpu', '--num_samples=1', '--max_new_tokens=2', '--start=a']
    assert cli.main([*sample, '--dtype=float16']) == 0
    err = capsys.readouterr().err
    assert err.count('warning: dtype float16 on the CPU is emulated') == 1
    assert cli.main([*sample, '--dtype=float32']) == 0 and 'warning' not in capsys.readouterr().err


def test_resume_with_another_shape_is_refused(tiny, run_train):
    run_train(tiny(max_iters=2, eval_interval=2))
    with pytest.raises(
        TrainingError,
        match=r'different model: n_layer: checkpoint 2, config 3; n_embd: checkpoint '
        r'32, config 64',
    ):
        run_train(tiny(init_from='resume', n_layer=3, n_embd=64))
    run_train(tiny(init_from='resume', max_iters=3, dropout=0.1))  # dropout may change


def test_full_disk_while_checkpointing_keeps_the_previous_one(tiny, run_train, tmp_path, monkeypatch):
    run_train(tiny(max_iters=4, eval_interval=4))
    before = (tmp_path / 'run' / 'ckpt.pt').read_bytes()

    real_fsync = os.fsync

    def full(fd: int) -> None:
        if '.ckpt.pt.' in os.readlink(f'/proc/self/fd/{fd}'):  # the checkpoint's temp file (Linux names fds here)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(fileio.os, 'fsync', full)  # the disk fills up while the new checkpoint is written
    with pytest.raises(TrainingError, match=r'could not save the checkpoint .*the disk is full.*previous checkpoint'):
        run_train(tiny(init_from='resume', max_iters=8, eval_interval=4))
    monkeypatch.undo()
    assert (tmp_path / 'run' / 'ckpt.pt').read_bytes() == before
    assert load_checkpoint(tmp_path / 'run')['iter_num'] == 4
    assert not list((tmp_path / 'run').glob('.ckpt.pt.*'))  # no half-written temp file left behind


def test_a_killed_writers_temp_files_are_removed_when_the_run_starts_again(tiny, run_train, tmp_path):
    """SIGKILL mid-write leaves `.ckpt.pt.xxxxxxxx.tmp`; the next run in the folder removes it, and nothing else."""
    run_train(tiny(max_iters=2, eval_interval=2))
    run = tmp_path / 'run'
    stale = [run / '.ckpt.pt.k1ll3d_x.tmp', run / '.config.json.abcdefgh.tmp']
    kept = [run / 'notes.tmp', run / '.ckpt.pt.tmp', run / '.other.pt.abcdefgh.tmp']
    for path in stale + kept:
        path.write_bytes(b'half a checkpoint')
    _, events = run_train(tiny(init_from='resume', max_iters=4, eval_interval=2))
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    assert any('2 stale temp file(s)' in e['message'] for e in events.of('log'))
    assert load_checkpoint(run)['iter_num'] == 4


def test_a_best_only_run_that_never_improves_says_no_checkpoint_was_saved(tiny, run_train, tmp_path):
    """A learning rate far too high makes val worse than at iteration 0; best-only saving then keeps nothing."""
    settings = dict(always_save_checkpoint=False, learning_rate=0.5, decay_lr=False, max_iters=4, eval_interval=2)
    _, events = run_train(tiny(**settings))
    warned = [e for e in events.of('log') if e.get('code') == 'log.no_checkpoint']
    assert not (tmp_path / 'run' / 'ckpt.pt').exists()
    assert len(warned) == 1 and '--always_save_checkpoint=True' in warned[0]['message']
    _, events = run_train(tiny(**{**settings, 'learning_rate': 3e-3}))  # one that improves is silent
    assert (tmp_path / 'run' / 'ckpt.pt').is_file() and not any(e.get('code') == 'log.no_checkpoint' for e in events)


def test_stop_request_saves_and_resumes_exactly(tiny, run_train, tmp_path):
    common = dict(dropout=0.1, max_iters=12, eval_interval=6)
    _, whole = run_train(tiny(out_dir=str(tmp_path / 'whole'), **common))
    calls = iter(range(100))
    first = None
    with pytest.raises(Cancelled, match=r'stopped at iteration 8; checkpoint saved to .*--init_from=resume'):
        first = run_train(tiny(**common), should_stop=lambda: next(calls) >= 8)
    assert first is None and load_checkpoint(tmp_path / 'run')['iter_num'] == 8
    _, second = run_train(tiny(init_from='resume', **common))
    losses = {e['iter']: round(e['loss'], 4) for e in second.of('train')}
    assert losses == {e['iter']: round(e['loss'], 4) for e in whole.of('train') if e['iter'] >= 8}


def test_wandb_without_the_package_says_how_to_get_it(tiny, run_train):
    try:
        import wandb  # noqa: F401

        pytest.skip('wandb is installed here')
    except ImportError:
        pass
    with pytest.raises(TrainingError, match=r'wandb package is not installed: `pip install wandb`.*--wandb_log=False'):
        run_train(tiny(wandb_log=True))


def test_sigterm_through_the_cli_checkpoints_and_ends_cancelled(char_data_dir, tmp_path, tiny_values):
    out = tmp_path / 'run'
    args = [f'--{k}={v}' for k, v in {**tiny_values, 'max_iters': 100000, 'eval_interval': 100000}.items()]
    cmd = [sys.executable, '-m', 'nanogpt_lab.cli', 'train', *args, f'--data_dir={char_data_dir}', f'--out_dir={out}']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    events = out / 'events.jsonl'
    deadline = time.time() + 60
    while time.time() < deadline and (not events.exists() or events.read_text().count('"type": "train"') < 5):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    job = json.loads((out / 'job.json').read_text())
    assert job['status'] == 'cancelled' and 'checkpoint saved' in job['error']
    assert load_checkpoint(out)['iter_num'] >= 5


def test_stopping_a_best_only_run_keeps_the_best_as_best_pt(tiny, run_train, tmp_path):
    calls = iter(range(100))
    with pytest.raises(Cancelled, match='best-val checkpoint is kept as best.pt'):
        run_train(
            tiny(always_save_checkpoint=False, max_iters=50, eval_interval=4), should_stop=lambda: next(calls) >= 6
        )
    assert load_checkpoint(tmp_path / 'run' / 'best.pt')['iter_num'] == 4
    assert load_checkpoint(tmp_path / 'run')['iter_num'] == 6
