"""Hugging Face GPT-2 folders: logits equal to transformers', every file variant, verification (downloads:
tests/data/test_hub.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nanogpt_lab import workspace
from nanogpt_lab.data.hub import download_weights
from nanogpt_lab.model.pretrained import WeightsError, load_pretrained, verify_weights_folder


def _hf_model(activation: str = 'gelu_new', vocab: int = 97, seed: int = 0):
    """A tiny random transformers GPT-2. A wide init makes GELU/LayerNorm/transpose mistakes show in the logits."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(
        n_layer=2,
        n_head=4,
        n_embd=64,
        n_positions=32,
        vocab_size=vocab,
        activation_function=activation,
        initializer_range=0.3,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():  # transformers zeroes biases and sets LayerNorm to identity: make them matter too
        for name, p in model.named_parameters():
            if name.endswith('bias') or '.ln_' in name:
                p.add_(torch.randn_like(p) * 0.3)
    return model


def _save(model, folder: Path) -> Path:
    model.save_pretrained(folder)
    return folder


def _logits_match(hf, ours, vocab: int, atol: float = 1e-5) -> float:
    x = torch.randint(0, vocab, (3, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = hf(x).logits
        got, _ = ours.eval()(x, targets=x)  # with targets: logits at every position
    return float((got - want).abs().max())


@pytest.mark.parametrize(('activation', 'gelu'), [('gelu_new', 'tanh'), ('gelu', 'exact')])
def test_safetensors_folder_gives_transformers_logits(tmp_path, activation, gelu):
    hf = _hf_model(activation)
    model = load_pretrained(_save(hf, tmp_path / 'm'))
    assert model.config.gelu == gelu and model.config.block_size == 32 and model.config.bias
    assert _logits_match(hf, model, 97) < 1e-5
    wrong = load_pretrained(tmp_path / 'm')  # the check can fail: the other GELU is visibly off
    for block in wrong.transformer.h:
        block.mlp.gelu.approximate = 'none' if gelu == 'tanh' else 'tanh'
    assert _logits_match(hf, wrong, 97) > 1e-4


def test_pytorch_model_bin_and_openai_tensor_names(tmp_path):
    hf = _hf_model()
    folder = _save(hf, tmp_path / 'bin')
    (folder / 'model.safetensors').unlink()
    # OpenAI's own files: no `transformer.` prefix, causal-mask buffers included, lm_head stored (tied)
    state = {k.removeprefix('transformer.'): v for k, v in hf.state_dict().items()}
    state['h.0.attn.bias'] = torch.tril(torch.ones(1, 1, 32, 32))
    torch.save(state, folder / 'pytorch_model.bin')
    model = load_pretrained(folder)
    assert _logits_match(hf, model, 97) < 1e-5
    assert model.lm_head.weight is model.transformer.wte.weight


def test_bad_folders_are_named(tmp_path):
    folder = _save(_hf_model(), tmp_path / 'm')
    cfg = json.loads((folder / 'config.json').read_text())
    (folder / 'config.json').write_text(json.dumps({**cfg, 'layer_norm_epsilon': 1e-6}))
    with pytest.raises(WeightsError, match='layer_norm_epsilon'):
        load_pretrained(folder)
    (folder / 'config.json').write_text(json.dumps({**cfg, 'activation_function': 'relu'}))
    with pytest.raises(WeightsError, match="activation_function 'relu'"):
        load_pretrained(folder)
    (folder / 'config.json').write_text(json.dumps({**cfg, 'n_layer': 3}))
    with pytest.raises(WeightsError, match='missing: transformer.h.2'):
        load_pretrained(folder)
    with pytest.raises(WeightsError, match='nanogpt-lab download-weights gpt2-medium'):
        load_pretrained('gpt2-medium')
    with pytest.raises(WeightsError, match='neither a model name'):
        load_pretrained(tmp_path / 'nowhere')


def _truncate_tensor(folder: Path, drop: str | None = None, reshape: str | None = None) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / 'model.safetensors'))
    if drop:
        del state[drop]
    if reshape:
        state[reshape] = state[reshape][:-1].clone()
    save_file(state, str(folder / 'model.safetensors'))


def test_verify_weights_folder(tmp_path):
    good = _save(_hf_model(), tmp_path / 'good')
    assert verify_weights_folder(good)['tensors'] == 2 + 2 * 12 + 2
    missing = _save(_hf_model(), tmp_path / 'missing')
    _truncate_tensor(missing, drop='transformer.h.1.mlp.c_fc.weight')
    with pytest.raises(WeightsError, match=r'missing: h\.1\.mlp\.c_fc\.weight'):
        verify_weights_folder(missing)
    shaped = _save(_hf_model(), tmp_path / 'shaped')
    _truncate_tensor(shaped, reshape='transformer.wpe.weight')
    with pytest.raises(WeightsError, match=r'wrong shape: wpe\.weight \(31, 64\) \(want \(32, 64\)\)'):
        verify_weights_folder(shaped)
    cut = _save(_hf_model(), tmp_path / 'cut')
    data = (cut / 'model.safetensors').read_bytes()
    (cut / 'model.safetensors').write_bytes(data[: len(data) - 100])
    with pytest.raises(WeightsError, match='incomplete'):
        verify_weights_folder(cut)


def test_verify_named_model_checks_its_config(tmp_path):
    folder = workspace.weights_root() / 'gpt2'
    _save(_hf_model(), folder)  # a tiny model placed where gpt2 should be
    with pytest.raises(WeightsError, match=r'not the config of gpt2: n_layer=2 \(want 12\)'):
        verify_weights_folder(folder)
    (folder / 'config.json').unlink()
    with pytest.raises(WeightsError, match='download-weights gpt2` or place the files by hand'):
        verify_weights_folder(folder)


def test_download_offline_says_why_hand_placed_files_fail():
    _save(_hf_model(), workspace.weights_root() / 'gpt2')  # the wrong model placed by hand
    with pytest.raises(WeightsError, match=r'offline.*do not verify: .*not the config of gpt2'):
        download_weights('gpt2')
