"""One forward pass with hooks (inference/internals.py): every number agrees with what the model itself computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from nanogpt_lab.config import ModelConfig
from nanogpt_lab.inference.internals import MAX_TOKENS, attention_weights, look_inside
from nanogpt_lab.model import GPT


def test_attention_weights_rebuild_the_attention_output(baby):
    """The patterns shown are the ones the model used: weights @ v, through c_proj, is the attention's output."""
    model, tok = baby
    ids = tok.encode('ROMEO:\nWhat light through yonder window breaks?')
    inside = look_inside(model, ids)
    block = model.transformer.h[0]
    with torch.no_grad():
        x = model.transformer.wte(torch.tensor([ids])) + model.transformer.wpe(torch.arange(len(ids)))
        h = block.ln_1(x)
        q, k, v = block.attn.c_attn(h).split(model.config.n_embd, dim=2)
        B, T, C = h.shape
        v = v.view(B, T, model.config.n_head, C // model.config.n_head).transpose(1, 2)
        att = torch.from_numpy(inside.attention[0])[None]
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        assert torch.allclose(block.attn.c_proj(y), block.attn(h), atol=1e-5)
    a = inside.attention
    assert a.shape == (4, 4, len(ids), len(ids))
    assert np.allclose(a.sum(-1), 1, atol=1e-5)  # each row is a distribution
    assert np.all(np.triu(a, k=1) == 0)  # and never looks ahead


def test_stream_norms_embeddings_and_next_token_probabilities(baby):
    model, tok = baby
    ids = tok.encode('JULIET:\nO Romeo, Romeo!')
    inside = look_inside(model, ids)
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))
    probs = F.softmax(logits[0, -1], dim=-1)
    assert inside.next_ids[0] == int(probs.argmax())
    assert inside.next_probs[0] == pytest.approx(float(probs.max()), rel=1e-5)
    assert inside.next_probs == sorted(inside.next_probs, reverse=True)
    assert np.allclose(inside.tok_emb, model.transformer.wte.weight[ids].detach().numpy())
    assert np.allclose(inside.pos_emb, model.transformer.wpe.weight[: len(ids)].detach().numpy())
    assert inside.stream_norm.shape == (5, len(ids))
    assert inside.ln_position == 'pre' and [n.name for n in inside.norms][-1] == 'ln_f'
    assert not any(n.on_stream for n in inside.norms)  # pre-LN: every LayerNorm feeds a branch or the head
    assert inside.mlp_hist.shape == (4, len(inside.mlp_edges) - 1)
    assert inside.mlp_hist[0].sum() == len(ids) * 4 * model.config.n_embd  # every activation counted once
    assert 0 < inside.mlp_stats[0, 0] < 1  # GELU switches some units off, not all


def test_post_ln_puts_its_layernorms_on_the_stream():
    torch.manual_seed(0)
    model = GPT(ModelConfig(n_layer=3, n_head=2, n_embd=32, block_size=16, vocab_size=50, ln_position='post')).eval()
    inside = look_inside(model, list(range(10)))
    assert inside.ln_position == 'post' and {n.name for n in inside.norms} == {'ln_1', 'ln_2'}
    assert all(n.on_stream for n in inside.norms)
    ln_2_out = [n.norm_out for n in inside.norms if n.name == 'ln_2']
    assert np.allclose(inside.stream_norm[1:].mean(axis=1), ln_2_out, rtol=1e-5)  # the stream *is* ln_2's output


def test_long_prompts_keep_their_last_tokens():
    torch.manual_seed(0)
    model = GPT(ModelConfig(n_layer=1, n_head=2, n_embd=16, block_size=128, vocab_size=50)).eval()
    ids = [i % 50 for i in range(200)]
    inside = look_inside(model, ids)
    assert inside.ids == ids[-MAX_TOKENS:] and inside.attention.shape[-1] == MAX_TOKENS
    with pytest.raises(ValueError):
        look_inside(model, [])


def test_attention_weights_are_causal_softmax():
    q, k = torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4)
    att = attention_weights(q, k)
    v = torch.randn(1, 2, 5, 4)
    assert torch.allclose(att @ v, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-6)
