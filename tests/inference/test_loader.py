"""Where models come from: nanoGPT's checkpoint (meta.pkl found as sample.py finds it), HF folders, char folders."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import save_file

from nanogpt_lab import workspace
from nanogpt_lab.config import ModelConfig, SampleConfig
from nanogpt_lab.inference import bundled_folder, load
from nanogpt_lab.model import GPT


def test_resume_finds_meta_in_data_dir_then_workspace(nanogpt_baby_ckpt, char_data_dir):
    loaded = load(SampleConfig(out_dir=str(nanogpt_baby_ckpt), data_dir=str(char_data_dir), device='cpu'))
    assert loaded.tokenizer.name == 'char' and loaded.tokenizer.vocab_size == 65
    assert loaded.source['iter_num'] == 2000 and loaded.source['dataset'] == 'shakespeare_char'
    assert loaded.dtype == 'float32' and not loaded.model.training
    with pytest.raises(ValueError, match="no meta.pkl for dataset 'shakespeare_char'.*--data_dir"):
        load(SampleConfig(out_dir=str(nanogpt_baby_ckpt), device='cpu'))
    ws = workspace.data_root() / 'shakespeare_char'
    ws.mkdir(parents=True)
    shutil.copy(char_data_dir / 'shakespeare_char' / 'meta.pkl', ws / 'meta.pkl')
    assert load(SampleConfig(out_dir=str(nanogpt_baby_ckpt), device='cpu')).source['tokenizer'].startswith('char')


def test_bfloat16_and_missing_weights(nanogpt_baby_ckpt, char_data_dir):
    loaded = load(
        SampleConfig(out_dir=str(nanogpt_baby_ckpt), data_dir=str(char_data_dir), device='cpu', dtype='bfloat16')
    )
    assert loaded.model.lm_head.weight.dtype == torch.bfloat16
    with pytest.raises(ValueError, match='compile=True needs kv_cache=False'):
        load(SampleConfig(out_dir=str(nanogpt_baby_ckpt), data_dir=str(char_data_dir), device='cpu', compile=True))
    with pytest.raises(ValueError, match='nanogpt-lab download-weights gpt2'):
        load(SampleConfig(init_from='gpt2', device='cpu'))
    with pytest.raises(ValueError, match='is not resume, bundled'):
        load(SampleConfig(init_from='/no/such/place', device='cpu'))


def _hf_folder(tmp_path, chars=None, vocab=50257):
    """A folder in the HF export layout: config.json, model.safetensors (Conv1D layout), char_vocab.json if chars."""
    vocab = len(chars) if chars else vocab
    cfg = ModelConfig(n_layer=1, n_head=2, n_embd=16, block_size=16, vocab_size=vocab, bias=True)
    model = GPT(cfg)
    conv = ('attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight')
    state = {
        k: (v.t() if k.endswith(conv) else v).contiguous()
        for k, v in model.state_dict().items()
        if k != 'lm_head.weight'
    }
    folder = tmp_path / 'char-model'
    folder.mkdir()
    save_file(state, str(folder / 'model.safetensors'))
    hf = {
        'model_type': 'gpt2',
        'n_layer': 1,
        'n_head': 2,
        'n_embd': 16,
        'n_positions': 16,
        'vocab_size': vocab,
        'activation_function': 'gelu',
    }
    (folder / 'config.json').write_text(json.dumps(hf))
    if chars:
        (folder / 'char_vocab.json').write_text(json.dumps({'chars': chars}))
    return folder, model


def test_char_folder_by_path(tmp_path):
    folder, model = _hf_folder(tmp_path, list('\n abcdefgh'))
    loaded = load(SampleConfig(init_from=str(folder), device='cpu'))
    assert loaded.source['kind'] == 'folder' and loaded.tokenizer.decode([1, 2, 3]) == ' ab'
    x = torch.tensor([[1, 2, 3, 4]])
    assert torch.allclose(loaded.model(x, x)[0], model.eval()(x, x)[0], atol=1e-6)
    (folder / 'char_vocab.json').unlink()
    with pytest.raises(ValueError, match='too small for GPT-2 BPE'):
        load(SampleConfig(init_from=str(folder), device='cpu'))


def test_bpe_folder_by_path(tmp_path):
    from nanogpt_lab.inference import SamplingSettings, stream

    folder, _ = _hf_folder(tmp_path)
    loaded = load(SampleConfig(init_from=str(folder), device='cpu'))
    assert loaded.tokenizer.name == 'gpt2' and loaded.source['tokenizer'] == 'gpt2'
    events = list(stream(loaded.model, loaded.tokenizer, 'Hello', SamplingSettings(temperature=0.0), 5))
    assert len(events) == 5 and all(0 <= e.id < 50257 for e in events)


def test_bundled_model_loads_and_samples():
    assert (bundled_folder() / 'config.json').is_file(), 'the bundled tiny model ships with the package'
    from nanogpt_lab.inference import SamplingSettings, stream

    loaded = load(SampleConfig(init_from='bundled', device='cpu'))
    assert loaded.tokenizer.name == 'char' and loaded.source['kind'] == 'bundled'
    events = list(stream(loaded.model, loaded.tokenizer, 'ROMEO:', SamplingSettings(temperature=0.0), 20))
    assert len(events) == 20
