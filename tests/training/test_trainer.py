"""The training loop: events, checkpoints, exact resume, fine-tune starts, early stopping, logging sinks."""

from __future__ import annotations

import json
import math
import pickle

import pytest
import torch

from nanogpt_lab.config import TrainConfig, build
from nanogpt_lab.model.checkpoint import CKPT_KEYS, load_checkpoint, model_from_checkpoint
from nanogpt_lab.training.schedule import get_lr

TRAIN_FIELDS = {
    'iter',
    'max_iters',
    'loss',
    'bpc',
    'lr',
    'dt_ms',
    'tokens_per_s',
    'mfu',
    'mem_bytes',
    'tokens',
    'grad_norm',
}
EVAL_FIELDS = {'iter', 'train_loss', 'val_loss', 'train_bpc', 'val_bpc', 'best_val_loss', 'tokens', 'saved'}


def test_events_checkpoint_and_config(tiny, run_train, tmp_path, monkeypatch):
    monkeypatch.setenv('NANOGPT_LAB_CPU_PEAK_TFLOPS', '0.1')  # a fixed peak: measuring one on a busy CI is unknown
    cfg = tiny(max_iters=10, eval_interval=5)
    summary, events = run_train(cfg)
    trains, evals = events.of('train'), events.of('eval')
    assert [e['iter'] for e in trains] == list(range(10))
    assert all(set(e) - {'type'} == TRAIN_FIELDS for e in trains)
    assert trains[0]['loss'] == pytest.approx(4.17, abs=0.15)  # ln 65: a fresh model guesses uniformly
    assert trains[0]['bpc'] == pytest.approx(trains[0]['loss'] / math.log(2))  # char data: one character per token
    assert [e['lr'] for e in trains] == pytest.approx([get_lr(i, cfg) for i in range(10)])
    assert trains[-1]['tokens'] == 10 * 4 * 32
    assert all(e['tokens_per_s'] > 0 and e['mem_bytes'] > 0 and e['grad_norm'] > 0 for e in trains)
    assert all(0 < e['mfu'] < 1 for e in trains)  # against the configured peak
    assert [e['iter'] for e in evals] == [0, 5, 10]  # the last iteration is evaluated too
    assert all(set(e) - {'type'} == EVAL_FIELDS for e in evals)
    assert evals[0]['saved'] is False  # nanoGPT never saves at iteration 0
    assert evals[-1]['val_loss'] < evals[0]['val_loss']
    assert summary['iter_num'] == 10 and summary['best_val_loss'] == pytest.approx(min(e['val_loss'] for e in evals))
    assert summary['tokens'] == 1280 and 'reason' not in summary
    raw = torch.load(tmp_path / 'run' / 'ckpt.pt', weights_only=True)
    assert set(raw) == set(CKPT_KEYS)
    assert raw['iter_num'] == 10 and not any(k.startswith('_orig_mod.') for k in raw['model'])
    assert set(raw['model_args']) == {'n_layer', 'n_head', 'n_embd', 'block_size', 'bias', 'vocab_size', 'dropout'}
    assert all(isinstance(v, torch.Tensor) for v in raw['config']['resume_state'].values())
    config = json.loads((tmp_path / 'run' / 'config.json').read_text())
    assert config['n_layer'] == 2 and config['resolved']['tokens_per_iter'] == 128
    assert config['resolved']['device'] == 'cpu' and config['resolved']['dtype'] == 'float32'
    with open(tmp_path / 'run' / 'meta.pkl', 'rb') as f:
        assert pickle.load(f)['vocab_size'] == 65  # the run carries its vocabulary


def test_a_peak_the_run_beats_reads_unknown_and_is_measured_again(
    tiny, run_train, monkeypatch, workspace_home, measured_peak
):
    from nanogpt_lab import hardware

    slow = hardware.PeakSession(1e6, 1.0)  # a peak measured as if the machine were a thousand times busier
    monkeypatch.setattr(hardware, '_measure_session', lambda dtype: slow)
    _, events = run_train(tiny(max_iters=3))
    assert [e['mfu'] for e in events.of('train')] == [None] * 3
    assert [e['code'] for e in events.of('log') if e.get('level') == 'warning'] == ['log.peak_exceeded']
    assert json.loads((workspace_home / 'cache' / hardware.CPU_PEAK_FILE).read_text()) == {}


def test_best_only_saving_keeps_the_best(tiny, run_train, tmp_path):
    # a learning rate this high makes val loss worse after the first evaluations
    cfg = tiny(always_save_checkpoint=False, max_iters=12, eval_interval=2, learning_rate=0.3, warmup_iters=0)
    summary, events = run_train(cfg)
    evals = events.of('eval')
    best = min(evals[1:], key=lambda e: e['val_loss'])
    assert any(not e['saved'] for e in evals[1:]), 'the loss never got worse; the test proves nothing'
    assert all(e['saved'] == (e['val_loss'] <= e['best_val_loss'] and e['iter'] > 0) for e in evals)
    assert load_checkpoint(tmp_path / 'run')['iter_num'] == best['iter']


def _losses(events):
    return {e['iter']: round(e['loss'], 4) for e in events.of('train')} | {
        ('eval', e['iter']): round(e['val_loss'], 4) for e in events.of('eval')
    }


def test_resume_reports_the_same_losses_as_an_uninterrupted_run(tiny, run_train, tmp_path):
    """Model, optimizer, iteration, best val loss and both RNG streams (batches, dropout) come back."""
    common = dict(dropout=0.1, max_iters=20, eval_interval=10)
    _, whole = run_train(tiny(out_dir=str(tmp_path / 'whole'), **common))
    _, first = run_train(tiny(out_dir=str(tmp_path / 'split'), **{**common, 'max_iters': 10}))
    # only what differs is given: the run's own settings (data, shape, schedule, dropout) come from its checkpoint
    again = dict(init_from='resume', out_dir=str(tmp_path / 'split'), max_iters=20, device='cpu', compile=False)
    summary, second = run_train(build(TrainConfig, again))
    resumed = _losses(first) | _losses(second)
    assert resumed == _losses(whole)
    assert [e['iter'] for e in second.of('train')] == list(range(10, 20))
    assert summary['tokens'] == 20 * 128 and summary['iter_num'] == 20


def test_nanogpt_batches_resume_deterministically(tiny, run_train, tmp_path):
    """nanoGPT's stream is the global one; a resume restores it from the checkpoint, so resuming twice from the same
    checkpoint trains the same steps (nanoGPT itself reseeds on resume; identity with an unbroken run is not kept)."""
    run_train(tiny(nanogpt_batches=True, max_iters=6, eval_interval=3))
    saved = (tmp_path / 'run' / 'ckpt.pt').read_bytes()
    again = dict(init_from='resume', out_dir=str(tmp_path / 'run'), max_iters=9, device='cpu', compile=False)
    _, first = run_train(build(TrainConfig, again))
    (tmp_path / 'run' / 'ckpt.pt').write_bytes(saved)
    _, second = run_train(build(TrainConfig, again))
    assert _losses(first) == _losses(second) and [e['iter'] for e in first.of('train')] == [6, 7, 8]
    assert load_checkpoint(tmp_path / 'run')['config']['nanogpt_batches'] is True  # inherited from the checkpoint


def test_nanogpts_checkpoint_resumes_under_our_trainer(nanogpt_baby_ckpt, char_data_dir, tmp_path, run_train):
    run = tmp_path / 'baby'
    run.mkdir()
    (run / 'ckpt.pt').write_bytes((nanogpt_baby_ckpt / 'ckpt.pt').read_bytes())
    cfg = build(
        TrainConfig,
        dict(
            init_from='resume',
            out_dir=str(run),
            dataset='shakespeare_char',
            data_dir=str(char_data_dir),
            device='cpu',
            compile=False,
            threads=1,
            max_iters=2006,
            eval_interval=2003,
            eval_iters=5,
            log_interval=1,
            learning_rate=1e-3,
            min_lr=1e-4,
            lr_decay_iters=2000,
            warmup_iters=100,
            beta2=0.99,
            batch_size=12,
            gradient_accumulation_steps=1,
        ),
    )
    summary, events = run_train(cfg)
    trains = events.of('train')
    assert [e['iter'] for e in trains] == list(range(2000, 2006))
    assert all(1.0 < e['loss'] < 2.3 for e in trains)  # a trained model stays trained: weights and Adam loaded
    assert all(e['lr'] == pytest.approx(1e-4) for e in trains)  # past lr_decay_iters: the floor
    # nanoGPT's run saved only on improvement (always_save_checkpoint=False in its config): the resumed run keeps
    # that setting, and 6 more steps at the floor lr do not beat its best val loss, so ckpt.pt is untouched
    inherited = [e['message'] for e in events.of('log') if e.get('code') == 'log.resume_settings']
    assert inherited and 'always_save_checkpoint' in inherited[0]
    assert load_checkpoint(run)['iter_num'] == 2000
    assert summary['best_val_loss'] == pytest.approx(1.8857, abs=1e-4)


def test_finetune_start_takes_weights_only(tiny, run_train, tmp_path):
    run_train(tiny(out_dir=str(tmp_path / 'base'), max_iters=6, eval_interval=3))
    cfg = tiny(
        out_dir=str(tmp_path / 'ft'),
        init_from=str(tmp_path / 'base'),
        block_size=16,
        dropout=0.2,
        max_iters=4,
        eval_interval=2,
    )
    summary, events = run_train(cfg)
    assert events.of('train')[0]['iter'] == 0  # iteration 0, fresh optimizer
    assert events.of('eval')[0]['val_loss'] < 3.9  # but not a fresh model
    ckpt = load_checkpoint(tmp_path / 'ft')
    assert ckpt['model_args']['block_size'] == 16 and ckpt['model_args']['dropout'] == 0.2
    assert model_from_checkpoint(ckpt).transformer.wpe.weight.shape == (16, 32)


def test_early_stopping_ends_with_a_reason(tiny, run_train):
    cfg = tiny(
        learning_rate=0.5, warmup_iters=0, decay_lr=False, max_iters=200, eval_interval=2, early_stopping_patience=2
    )
    summary, events = run_train(cfg)
    assert summary['reason'].startswith('early stopping: val loss has not improved for 2 evaluations')
    assert summary['iter_num'] < 200
    evals = events.of('eval')
    assert evals[-1]['val_loss'] >= evals[-1]['best_val_loss'] and evals[-2]['val_loss'] >= evals[-2]['best_val_loss']


def test_eval_only_and_gradient_accumulation(tiny, run_train):
    summary, events = run_train(tiny(eval_only=True))
    assert [e['iter'] for e in events.of('eval')] == [0] and not events.of('train')
    assert summary['reason'].startswith('eval_only')
    summary, events = run_train(tiny(gradient_accumulation_steps=3, max_iters=3))
    assert events.of('train')[-1]['tokens'] == 3 * 3 * 4 * 32


@pytest.mark.parametrize('dtype', ['bfloat16', 'float16'])
def test_mixed_precision_on_cpu(tiny, run_train, dtype, tmp_path):
    summary, events = run_train(tiny(dtype=dtype, max_iters=4, eval_interval=4))
    assert summary['dtype'] == dtype
    assert events.of('eval')[-1]['val_loss'] < 4.3
    scale = load_checkpoint(tmp_path / 'run')['config']['resume_state'].get('grad_scale')
    assert (scale is not None) == (dtype == 'float16')  # float16 keeps its GradScaler's loss scale for a resume
    summary, _ = run_train(tiny(init_from='resume', max_iters=6))
    assert summary['iter_num'] == 6


def test_tensorboard_writes_scalars(tiny, run_train, tmp_path):
    run_train(tiny(tensorboard_log=True, max_iters=3))
    assert list((tmp_path / 'run' / 'tensorboard').glob('events.out.tfevents.*'))


def test_eval_samples_use_the_data_tokenizer(tiny, run_train):
    _, events = run_train(tiny(eval_sample_tokens=20, max_iters=2, eval_interval=2))
    samples = events.of('sample')
    assert [s['iter'] for s in samples] == [0, 2]
    assert all(len(s['text']) == 20 for s in samples)
