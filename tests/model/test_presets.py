"""The GPT-1 presets: the paper's 117M shape (checked against transformers' OpenAIGPT) and the plan's ~11M mini."""

from __future__ import annotations

import torch

from nanogpt_lab.config import GPT1_VOCAB_SIZE, TrainConfig, build
from nanogpt_lab.model import GPT
from nanogpt_lab.model.sizes import count_params


def _params(cfg: TrainConfig, vocab: int) -> int:
    with torch.device('meta'):  # shapes only: no memory for 117M weights
        return sum(p.numel() for p in GPT(cfg.model_args(vocab)).parameters())


def test_gpt1_is_the_papers_model():
    cfg = build(TrainConfig, {'model': 'gpt1'})
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size) == (12, 12, 768, 512)
    assert cfg.ln_position == 'post' and cfg.bias
    n = _params(cfg, GPT1_VOCAB_SIZE)
    assert n == 116_534_784 == count_params(cfg.model_args(GPT1_VOCAB_SIZE), non_embedding=False)
    from transformers import OpenAIGPTConfig, OpenAIGPTLMHeadModel

    with torch.device('meta'):
        assert sum(p.numel() for p in OpenAIGPTLMHeadModel(OpenAIGPTConfig()).parameters()) == n


def test_gpt1_mini_is_the_plans_size():
    cfg = build(TrainConfig, {'model': 'gpt1-mini'})
    assert cfg.block_size == 128 and cfg.ln_position == 'post'
    assert 10e6 < _params(cfg, 2000) < 12e6  # with a 2,000-token unigram vocabulary
    assert cfg.model_args(2000).nanogpt_args()['ln_position'] == 'post'


def test_a_preset_fixes_the_shape_but_the_context_is_a_default():
    cfg = build(TrainConfig, {'model': 'gpt1-mini', 'block_size': 64, 'n_layer': 2, 'ln_position': 'pre'})
    assert cfg.block_size == 64 and cfg.n_layer == 6 and cfg.ln_position == 'post'
