"""Models for the inference tests: nanoGPT's own baby checkpoint with its char vocabulary, and a tiny BPE model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nanogpt_lab.config import ModelConfig
from nanogpt_lab.model import GPT
from nanogpt_lab.model.checkpoint import load_checkpoint, model_from_checkpoint
from nanogpt_lab.tokenizers.char import CharTokenizer, read_meta


@pytest.fixture(scope='session')
def baby(nanogpt_baby_ckpt: Path, char_data_dir: Path):
    """(model, tokenizer) of nanoGPT's README CPU checkpoint (4/4/128, block 64, 65 chars), in eval mode."""
    model = model_from_checkpoint(load_checkpoint(nanogpt_baby_ckpt)).eval()
    return model, CharTokenizer.from_meta(read_meta(char_data_dir / 'shakespeare_char' / 'meta.pkl'))


@pytest.fixture(scope='session')
def tiny_bpe_model():
    """A randomly initialised GPT with GPT-2's 50,257-token vocabulary (small enough to run in milliseconds)."""
    torch.manual_seed(0)
    return GPT(ModelConfig(n_layer=1, n_head=2, n_embd=16, block_size=32, vocab_size=50257)).eval()
