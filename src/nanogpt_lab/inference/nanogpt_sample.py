"""`nanogpt-lab sample`: nanoGPT's sample.py on the lab's sampler — the same prompt rules, random stream and output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from nanogpt_lab.errors import LabError
from nanogpt_lab.inference.loader import load
from nanogpt_lab.inference.sampler import stream
from nanogpt_lab.tokenizers import prompt_ids


def read_start(start: str) -> str:
    """The prompt text: `start` itself, or the contents of the file named by `FILE:path` (as nanoGPT's sample.py)."""
    if not start.startswith('FILE:'):
        return start
    path = start[5:]
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except FileNotFoundError:
        raise LabError('inference.start_file_missing', key='start', path=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise LabError('inference.start_file_unreadable', key='start', path=path, reason=e.__class__.__name__) from None


def _nanogpt_generator(device: str, seed: int) -> torch.Generator:
    """The random stream nanoGPT's sample.py draws from, so the same seed gives the same samples.

    nanoGPT seeds, then builds its model on the CPU (initialisation consumes CPU draws), then samples: on CPU from
    where initialisation left the stream, on CUDA from the untouched, seeded CUDA stream. One stream serves all
    num_samples in turn.
    """
    generator = torch.Generator(device=device)
    if device == 'cpu':
        generator.set_state(torch.get_rng_state())
    else:
        generator.manual_seed(seed)
    return generator


def sample(cfg: Any) -> Iterator[str]:
    """`nanogpt-lab sample`: yield each of cfg.num_samples texts, prompt + continuation, as nanoGPT prints them."""
    torch.manual_seed(cfg.seed)  # before the model is built, as nanoGPT's sample.py: its init draws come first
    loaded = load(cfg)
    prompt = read_start(cfg.start)
    ids = prompt_ids(loaded.tokenizer, prompt)
    settings = cfg.sampling()
    generator = _nanogpt_generator(loaded.device, cfg.seed)
    for _ in range(cfg.num_samples):
        pieces = [prompt]
        for event in stream(
            loaded.model,
            loaded.tokenizer,
            ids,
            settings,
            cfg.max_new_tokens,
            generator=generator,
            kv_cache=cfg.kv_cache,
            stop=cfg.stop,
            alternatives=0,
        ):
            pieces.append(event.text)
        yield ''.join(pieces)
