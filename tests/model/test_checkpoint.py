"""Checkpoints: nanoGPT's layout, atomic saves, weights_only loads, and nanoGPT's own file."""

from __future__ import annotations

import pickle

import pytest
import torch

from nanogpt_lab.config import ModelConfig
from nanogpt_lab.model import GPT
from nanogpt_lab.model.checkpoint import (
    CKPT_KEYS,
    CheckpointError,
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)

BABY = ModelConfig(n_layer=4, n_head=4, n_embd=128, block_size=64, vocab_size=65, bias=False)


def test_nanogpt_checkpoint_loads_and_counts(nanogpt_baby_ckpt):
    ckpt = load_checkpoint(nanogpt_baby_ckpt)
    assert set(ckpt) == set(CKPT_KEYS)
    model = model_from_checkpoint(ckpt)
    assert model.get_num_params() == 795_904
    assert ckpt['iter_num'] == 2000
    assert ckpt['best_val_loss'] == pytest.approx(1.8857, abs=1e-4)


def test_save_round_trip_keeps_nanogpt_keys_only(tmp_path):
    model = GPT(BABY)
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99), 'cpu')
    path = save_checkpoint(
        tmp_path,
        model=model,
        optimizer=opt,
        model_args=BABY,
        iter_num=7,
        best_val_loss=2.5,
        config={'dataset': 'shakespeare_char'},
    )
    raw = torch.load(path, weights_only=True)
    assert set(raw) == set(CKPT_KEYS)
    assert set(raw['model_args']) == {'n_layer', 'n_head', 'n_embd', 'block_size', 'bias', 'vocab_size', 'dropout'}
    again = model_from_checkpoint(load_checkpoint(path))
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert not list(tmp_path.glob('.*.tmp'))


def test_untrusted_and_broken_checkpoints_are_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ('pwned',))

    evil = tmp_path / 'evil.pt'
    evil.write_bytes(pickle.dumps({'model': Payload(), 'model_args': {}}))
    with pytest.raises(CheckpointError, match='refused'):
        load_checkpoint(evil)
    model = GPT(BABY)
    good = save_checkpoint(
        tmp_path / 'good.pt', model=model, optimizer=None, model_args=BABY, iter_num=1, best_val_loss=3.0, config={}
    )
    cut = tmp_path / 'cut.pt'
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match='corrupt or truncated'):
        load_checkpoint(cut)
    with pytest.raises(CheckpointError, match='no checkpoint'):
        load_checkpoint(tmp_path / 'missing')


def test_other_architecture_is_named(tmp_path):
    other = BABY.model_copy(update={'n_layer': 2})
    path = save_checkpoint(
        tmp_path, model=GPT(other), optimizer=None, model_args=other, iter_num=0, best_val_loss=9.0, config={}
    )
    ckpt = load_checkpoint(path)
    ckpt['model_args'] = BABY.nanogpt_args()
    with pytest.raises(CheckpointError, match='missing: transformer.h.2'):
        model_from_checkpoint(ckpt)
