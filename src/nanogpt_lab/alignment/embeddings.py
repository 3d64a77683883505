"""Model surgery for a chat vocabulary: rows for the new token ids, started at the mean of the base's rows.

A new token's row at the mean embedding makes its first logits average rather than random, so SFT starts from the
base model's behaviour instead of a spike of noise (the same choice as Hugging Face's `resize_token_embeddings`
with mean initialisation). GPT-2's padded rows 50257-50303 were pushed down in pretraining; the ones the template
uses are reset to the mean too.
"""

from __future__ import annotations

import torch
from torch import nn

from nanogpt_lab.alignment.template import ChatTokenizer
from nanogpt_lab.config import PADDED_VOCAB_SIZE
from nanogpt_lab.model.gpt import GPT


def attach_template(model: GPT, tokenizer: ChatTokenizer, base_vocab: int) -> None:
    """Rows for every id of `tokenizer` past the base's `base_vocab`, at the mean of the base rows. A GPT-2 BPE
    model keeps (or gets) nanoGPT's padded 50304 rows, so a Hugging Face GPT-2 (50257) grows to the same shape."""
    rows = max(tokenizer.vocab_size, PADDED_VOCAB_SIZE) if tokenizer.kind == 'gpt2' else tokenizer.vocab_size
    fit_vocab(model, rows, range(base_vocab, tokenizer.vocab_size), base_vocab)


@torch.no_grad()
def fit_vocab(model: GPT, vocab_size: int, fresh: range, base_rows: int) -> None:
    """Give `model` at least `vocab_size` token rows; rows `fresh` become the mean of rows 0..base_rows-1."""
    wte = model.transformer.wte.weight
    if vocab_size > wte.size(0):
        grown = nn.Embedding(vocab_size, wte.size(1), device=wte.device, dtype=wte.dtype)
        grown.weight[: wte.size(0)] = wte
        model.transformer.wte = grown
        model.lm_head = nn.Linear(wte.size(1), vocab_size, bias=False, device=wte.device, dtype=wte.dtype)
        model.lm_head.weight = grown.weight  # keep the weight tying of GPT-2
        model.config = model.config.model_copy(update={'vocab_size': vocab_size})
    weight = model.transformer.wte.weight
    if len(fresh):
        weight[fresh.start : fresh.stop] = weight[:base_rows].mean(dim=0)


def with_template(model: GPT, tokenizer: ChatTokenizer) -> GPT:
    """A copy of a base model that reads `tokenizer`'s chat vocabulary, new rows at the mean and nothing learned:
    the "before SFT" of stage 7's x-ray and accuracy (the original, perhaps shared by a cache, is left as it is)."""
    import copy

    twin = copy.deepcopy(model)
    attach_template(twin, tokenizer, tokenizer.base_vocab_size)
    return twin
