"""Stage 5's before-and-after: a base model and its fine-tuned self, scored on the same text, sampled the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nanogpt_lab.config import SAMPLE_TEMPERATURE, SAMPLE_TOP_K, SampleConfig
from nanogpt_lab.evaluation.bits import bits_per_char, split_chars_per_token
from nanogpt_lab.evaluation.loss import full_val_loss, perplexity
from nanogpt_lab.messages import ref
from nanogpt_lab.training.faults import TrainingError


def load_model(source: str, data_dir: str | None, device: str) -> Any:
    """A model and its tokenizer through the sampler's loader: a run folder, ckpt.pt, gpt2*, bundled or HF folder."""
    from nanogpt_lab.inference.loader import load
    from nanogpt_lab.model.pretrained import model_path_kind

    path = Path(source).expanduser()
    is_run = model_path_kind(path) == 'checkpoint'
    cfg = SampleConfig(
        init_from='resume' if is_run else source,
        out_dir=str(path) if is_run else 'out',
        data_dir=data_dir,
        device=device,
        dtype='float32',
    )
    return load(cfg)


def _sample(loaded: Any, prompt: str, seed: int, max_new_tokens: int, temperature: float, top_k: int | None) -> str:
    """prompt + continuation, from a generator seeded alike for both models, so only the weights differ."""
    from nanogpt_lab.inference.sampler import generate_ids
    from nanogpt_lab.tokenizers import prompt_ids

    tokenizer = loaded.tokenizer
    ids = prompt_ids(tokenizer, prompt) or [0]
    idx = torch.tensor([ids], dtype=torch.long, device=loaded.device)
    generator = torch.Generator(device=loaded.device).manual_seed(seed)
    out = generate_ids(
        loaded.model,
        idx,
        max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        generator=generator,
        vocab_size=tokenizer.vocab_size,
    )
    return prompt + tokenizer.decode(out[0, len(ids) :].tolist())


def compare_models(
    base: str,
    tuned: str,
    dataset_dir: str | Path,
    *,
    prompt: str = '\n',
    seed: int = 1337,
    max_new_tokens: int = 200,
    temperature: float = SAMPLE_TEMPERATURE,
    top_k: int | None = SAMPLE_TOP_K,
    device: str = 'cpu',
    max_val_tokens: int | None = None,
) -> dict[str, Any]:
    """Val loss (nats per token and bits per character) and perplexity of both models over the same val.bin
    windows, and a sample of each from one prompt.

    `max_val_tokens` scores only the start of val.bin (GPT-2 on a CPU takes about a minute per 30k tokens).
    """
    from nanogpt_lab.tokenizers import tokenizer_for_dataset

    folder = Path(dataset_dir)
    data_tokenizer = tokenizer_for_dataset(folder)
    loaded = {
        'base': load_model(base, str(folder.parent), device),
        'tuned': load_model(tuned, str(folder.parent), device),
    }
    for name, item in loaded.items():
        if (item.tokenizer.name, item.tokenizer.vocab_size) != (data_tokenizer.name, data_tokenizer.vocab_size):
            raise TrainingError(
                'training.compare_tokenizer',
                which=ref(f'training.compare_which.{name}'),
                model=item.source.get('path') or base,
                tokenizer=item.tokenizer.name,
                dataset=folder.name,
                data_tokenizer=data_tokenizer.name,
            )
    block = min(item.model.config.block_size for item in loaded.values())  # the same windows for both
    cpt = split_chars_per_token(folder, 'val')
    models = []
    for name, item in loaded.items():
        loss = full_val_loss(item.model, folder / 'val.bin', block, item.device, max_tokens=max_val_tokens)
        text = _sample(item, prompt, seed, max_new_tokens, temperature, top_k)
        bpc = bits_per_char(loss, cpt) if cpt else None
        models.append(
            {'name': name, 'source': item.source, 'val_loss': loss, 'bits_per_char': bpc,
             'perplexity': perplexity(loss), 'sample': text}
        )  # fmt: skip
    return {'dataset': str(folder), 'block_size': block, 'prompt': prompt, 'seed': seed, 'models': models}
