"""The GPT module: nanoGPT's checkpoint scores its known val loss, the KV cache gives the full pass's logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nanogpt_lab.config import ModelConfig
from nanogpt_lab.model import GPT
from nanogpt_lab.model.checkpoint import load_checkpoint, model_from_checkpoint

SMALL = ModelConfig(n_layer=2, n_head=4, n_embd=64, block_size=32, vocab_size=50, bias=True)


@torch.no_grad()
def test_nanogpt_checkpoint_full_val_loss(nanogpt_baby_ckpt, char_data_dir):
    """Over all of val.bin in non-overlapping 64-token windows nanoGPT's README CPU model scores 1.8982."""
    model = model_from_checkpoint(load_checkpoint(nanogpt_baby_ckpt)).eval()
    val = np.fromfile(char_data_dir / 'shakespeare_char' / 'val.bin', dtype=np.uint16).astype(np.int64)
    n = (len(val) - 1) // 64
    x = torch.from_numpy(val[: n * 64].reshape(n, 64))
    y = torch.from_numpy(val[1 : n * 64 + 1].reshape(n, 64))
    total = sum(float(model(xb, yb)[1]) * xb.numel() for xb, yb in zip(x.split(256), y.split(256), strict=True))
    assert n * 64 == 111_488
    assert total / (n * 64) == pytest.approx(1.8982, abs=5e-5)


@pytest.mark.parametrize('ln_position', ['pre', 'post'])
@torch.no_grad()
def test_cached_steps_give_the_full_pass_logits(ln_position):
    torch.manual_seed(0)
    model = GPT(SMALL.model_copy(update={'ln_position': ln_position})).eval()
    x = torch.randint(0, 50, (2, 32))
    full, _ = model(x, targets=x)  # (2, 32, V): logits at every position
    cache = model.new_cache(2)
    first, _ = model(x[:, :20], cache=cache)
    assert torch.allclose(first[:, -1], full[:, 19], atol=1e-5)
    for t in range(20, 32):
        step, _ = model(x[:, t : t + 1], cache=cache)
        assert torch.allclose(step[:, -1], full[:, t], atol=1e-5)
    with pytest.raises(ValueError, match='block_size is only 32'):
        model(x[:, :1], cache=cache)


def test_forward_contract_and_post_ln():
    model = GPT(SMALL.model_copy(update={'ln_position': 'post'}))
    x = torch.randint(0, 50, (3, 8))
    logits, loss = model(x)
    assert logits.shape == (3, 1, 50) and loss is None
    logits, loss = model(x, x)
    assert logits.shape == (3, 8, 50) and loss.ndim == 0
    assert isinstance(model.transformer.ln_f, torch.nn.Identity)  # post-LN blocks already end normalised


def test_crop_block_size():
    model = GPT(SMALL)
    wpe = model.transformer.wpe.weight[:16].detach().clone()
    model.crop_block_size(16)
    assert model.config.block_size == 16 and torch.equal(model.transformer.wpe.weight, wpe)
    model(torch.zeros((1, 16), dtype=torch.long))
    with pytest.raises(ValueError, match='cannot grow'):
        model.crop_block_size(64)
