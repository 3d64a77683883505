"""A run as a Hugging Face GPT-2 folder: config.json, model.safetensors, tokenizer files, a README.

Our parameter names are GPT-2's, so the export is a rename (plus `transformer.`) and a transpose of the four
projection matrices, which Hugging Face stores as Conv1D weights (in, out). What cannot be expressed is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from nanogpt_lab.config import GPT2_VOCAB_SIZE
from nanogpt_lab.export.folder_writer import ExportError, Run, write_provenance, write_tokenizer
from nanogpt_lab.fileio import atomic_write_text, atomic_write_with
from nanogpt_lab.model.pretrained import CONFIG_FILE, WEIGHTS_FILE

CONV1D_WEIGHTS = ('attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight')
ACTIVATION = {'exact': 'gelu', 'tanh': 'gelu_new'}  # nanoGPT's nn.GELU() is exact; OpenAI's GPT-2 used tanh


def export_vocab_size(run: Run) -> int:
    """GPT-2 BPE runs trained from scratch have 50304 rows (nanoGPT pads 50257 for speed): the export keeps the
    50257 the tokenizer can produce. The padding rows are never a token, so no real logit changes; only the
    softmax loses the padding rows' tiny probability mass (noted in provenance.json)."""
    vocab = run.model.config.vocab_size
    return GPT2_VOCAB_SIZE if run.tokenizer == 'gpt2' and vocab > GPT2_VOCAB_SIZE else vocab


def hf_config(run: Run) -> dict:
    """config.json for transformers' GPT2Config."""
    cfg = run.model.config
    config = {
        'architectures': ['GPT2LMHeadModel'],
        'model_type': 'gpt2',
        'vocab_size': export_vocab_size(run),
        'n_positions': cfg.block_size,
        'n_ctx': cfg.block_size,
        'n_embd': cfg.n_embd,
        'n_layer': cfg.n_layer,
        'n_head': cfg.n_head,
        'n_inner': None,
        'activation_function': ACTIVATION[cfg.gelu],
        'layer_norm_epsilon': 1e-5,
        'initializer_range': 0.02,
        'resid_pdrop': cfg.dropout,
        'embd_pdrop': cfg.dropout,
        'attn_pdrop': cfg.dropout,
        'scale_attn_weights': True,
        'tie_word_embeddings': True,
        'use_cache': True,
    }
    if run.tokenizer == 'gpt2':
        config.update(bos_token_id=50256, eos_token_id=50256)
    return config


def hf_state_dict(run: Run) -> dict[str, torch.Tensor]:
    """Our weights under transformers' GPT2LMHeadModel names; zero biases where the run had none (bias=False)."""
    model, vocab = run.model, export_vocab_size(run)
    out: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        if name == 'lm_head.weight':
            continue  # tied to wte: transformers re-ties it on load
        if name == 'transformer.wte.weight':
            tensor = tensor[:vocab]
        if name.endswith(CONV1D_WEIGHTS):
            tensor = tensor.t()
        out[name] = tensor.detach().to(torch.float32).contiguous().clone()
    if not model.config.bias:  # Hugging Face GPT-2 always has biases; zeros compute exactly what none does
        for name, module in model.named_modules():
            if name.endswith(('c_attn', 'c_proj', 'c_fc', 'ln_1', 'ln_2', 'ln_f')):
                width = module.weight.shape[0]  # nn.Linear (out, in) and LayerNorm (C,): the output width
                out[f'{name}.bias'] = torch.zeros(width)
    return out


def write_hf(run: Run, folder: Path) -> None:
    """Write the Hugging Face folder's files into `folder` (a fresh temporary folder)."""
    from safetensors.torch import save

    if run.model.config.ln_position != 'pre':
        raise ExportError('export.post_ln')
    atomic_write_text(folder / CONFIG_FILE, json.dumps(hf_config(run), indent=2))
    blob = save(hf_state_dict(run), metadata={'format': 'pt'})
    atomic_write_with(folder / WEIGHTS_FILE, lambda f: f.write(blob))
    files = write_tokenizer(run, folder)
    padded = run.model.config.vocab_size - export_vocab_size(run)
    notes = {'files': [CONFIG_FILE, WEIGHTS_FILE, *files]}
    if padded:
        notes['vocab_note'] = f'{padded} padding rows of the trained embedding (ids >= 50257) were left out'
    write_provenance(run, folder, 'hf', notes)
    atomic_write_text(folder / 'README.md', readme(run))


def readme(run: Run) -> str:
    """How to load the folder and sample from it, with this run's tokenizer (the export panel shows the same)."""
    from nanogpt_lab.export.usage import python_snippet

    about = {
        'gpt2': 'GPT-2 BPE (vocab.json and merges.txt)',
        'bpe': "a byte-level BPE trained on the run's own training text (tokenizer.json)",
        'unigram': "a SentencePiece unigram model trained on the run's own training text (tokenizer.model)",
        'char': f'one token per character ({len(run.chars or [])} characters, listed in char_vocab.json)',
    }[run.tokenizer]
    snippet = python_snippet('.', 'hf', run.tokenizer, run.model.config.block_size)
    return '\n'.join(
        [
            f'# GPT-2 exported by nanoGPT Lab from {run.ckpt_path.name} (iteration {run.iter_num})',
            '',
            f'Tokenizer: {about}.',
            '',
            '```python',
            snippet,
            '```',
            '',
        ]
    )
