"""Sizes: exact GPT-2 parameter counts, agreement with the real module, FLOPs, memory, and the fit advice."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from nanogpt_lab.config import ModelConfig
from nanogpt_lab.model import GPT, sizes

BABY = ModelConfig(n_layer=4, n_head=4, n_embd=128, block_size=64, vocab_size=65, bias=False)


@pytest.mark.parametrize(
    ('name', 'params'),
    [('gpt2', 124_439_808), ('gpt2-medium', 354_823_168), ('gpt2-large', 774_030_080), ('gpt2-xl', 1_557_611_200)],
)
def test_preset_counts_are_exact(name, params):
    b = sizes.param_breakdown(sizes.preset_config(name))
    assert b.total == params
    assert sum(c.params * (b.n_layer if c.per == 'block' else 1) for c in b.components) == params
    assert b.nanogpt == params - 1024 * sizes.preset_config(name).n_embd


def test_nanogpt_baby_count():
    assert sizes.count_params(BABY, non_embedding=True) == 795_904
    assert sizes.count_params(BABY.model_dump()) == 795_904 + 64 * 128  # plain dicts work too


@pytest.mark.parametrize(
    'cfg',
    [
        BABY,
        BABY.model_copy(update={'bias': True, 'ln_position': 'post'}),
        ModelConfig(n_layer=2, n_head=3, n_embd=48, block_size=16, vocab_size=101),
    ],
)
def test_counts_match_the_real_module(cfg):
    model = GPT(cfg)
    b = sizes.param_breakdown(cfg)
    assert b.total == sum(p.numel() for p in model.parameters())  # tied weights are one Parameter
    assert b.nanogpt == model.get_num_params()
    block = model.transformer.h[0]
    by_name = {c.name: c.params for c in b.components}
    assert by_name['attn'] == sum(p.numel() for p in block.attn.parameters())
    assert by_name['mlp'] == sum(p.numel() for p in block.mlp.parameters())
    assert by_name['ln_f'] == sum(p.numel() for p in model.transformer.ln_f.parameters())
    assert model.flops_per_token() == sizes.flops_per_token(cfg)


def test_flops_per_token_formula():
    c = sizes.preset_config('gpt2')
    assert sizes.flops_per_token(c) == 6 * 123_653_376 + 12 * 12 * 12 * 64 * 1024
    assert sizes.flops_per_token(c, seq_len=256) < sizes.flops_per_token(c)


def test_sizes_does_not_import_torch():
    code = 'import sys, nanogpt_lab.model.sizes as s; s.preset_sizes(); assert "torch" not in sys.modules'
    subprocess.run([sys.executable, '-c', code], check=True)


def test_activation_formula_is_korthikantis():
    """With 16-bit activations, dropout and no flash attention, layers cost 34·s·b·h + 5·a·s²·b bytes each."""
    cfg = ModelConfig(n_layer=3, n_head=8, n_embd=256, block_size=128, vocab_size=1000, dropout=0.1)
    s, b, h, a = 128, 4, 256, 8
    outside = sizes.activation_bytes(cfg.model_copy(update={'n_layer': 1}), b, s, 'bfloat16', flash=False)
    per_layer = sizes.activation_bytes(cfg, b, s, 'bfloat16', flash=False) - outside
    assert per_layer == 2 * (34 * s * b * h + 5 * a * s * s * b)


def _saved_activation_bytes(cfg: ModelConfig, b: int, t: int) -> int:
    """What autograd really keeps for backward in one forward pass (parameters left out), in bytes."""
    model = GPT(cfg)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(x):
        storage = x.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return x

    x = torch.randint(0, cfg.vocab_size, (b, t))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        model(x, x)
    return sum(saved.values())


@pytest.mark.parametrize(
    'cfg', [BABY, ModelConfig(n_layer=2, n_head=4, n_embd=256, block_size=128, vocab_size=512, bias=True)]
)
def test_activation_estimate_matches_what_autograd_saves(cfg):
    measured = _saved_activation_bytes(cfg, 3, cfg.block_size)
    estimate = sizes.activation_bytes(cfg, 3, cfg.block_size, 'float32', flash=True)  # CPU SDPA is a flash kernel
    assert estimate == pytest.approx(measured, rel=0.1)


def test_training_memory_parts():
    c = sizes.preset_config('gpt2')
    m32 = sizes.training_memory(c, 12, 1024, 'float32')
    m16 = sizes.training_memory(c, 12, 1024, 'bfloat16')
    assert m32.weights == m32.gradients == 4 * 124_439_808 and m32.optimizer == 8 * 124_439_808
    assert m16.activations < 0.75 * m32.activations and m16.autocast_copies > 0 == m32.autocast_copies
    assert m32.total == m32.weights + m32.gradients + m32.optimizer + m32.activations
    assert 'Korthikanti' in m32.sources['activations']
    assert sizes.training_memory(c, 6, 1024).total < m32.total
    with pytest.raises(ValueError, match='dtype'):
        sizes.training_memory(c, 1, 1024, 'float64')


def test_will_it_fit_and_its_levers():
    gib = 2**30
    gpt2 = sizes.preset_config('gpt2')
    assert sizes.will_it_fit(gpt2, 12, 1024, 'bfloat16', 80 * gib).fits
    r = sizes.will_it_fit(gpt2, 12, 1024, 'float32', 8 * gib, gradient_accumulation_steps=40)
    assert not r.fits and r.lever.fits and r.lever.needed <= r.available
    assert r.lever.key in ('batch_size', 'block_size')
    batch = next(lv for lv in r.levers if lv.key == 'batch_size')
    b, g = batch.change['batch_size'], batch.change['gradient_accumulation_steps']
    assert b * g >= 12 * 40  # tokens per optimizer step are kept
    assert {lv.key for lv in r.levers} >= {'batch_size', 'dtype', 'block_size', 'model'}
    xl = sizes.will_it_fit(sizes.preset_config('gpt2-xl'), 1, 1024, 'bfloat16', 16 * gib)
    # only what fits is suggested: gpt2-large would not fit 16 GiB either, so medium is the one
    assert not xl.fits and xl.lever.key == 'model' and xl.lever.change == {'model': 'gpt2-medium'} and xl.lever.fits
    none = sizes.will_it_fit(sizes.preset_config('gpt2-xl'), 1, 1024, 'bfloat16', 1 * gib)
    assert none.lever.change == {'model': 'gpt2'} and not none.lever.fits  # nothing does: the page says so
    assert r.as_dict()['lever']['key'] == r.lever.key
