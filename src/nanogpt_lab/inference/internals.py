"""Inside one forward pass: what every part of the GPT-2 diagram computes for a prompt, read with forward hooks.

`look_inside(model, ids)` runs the model once (no gradients, no cache) and returns, for the last `max_tokens`
tokens: the token and position embeddings, each head's attention pattern, the residual stream's norm after the
embeddings and after every block, each LayerNorm's input and output norms (pre-LN normalises the branch, post-LN
the stream: the numbers show which), the distribution of the MLP's GELU activations per layer, and the final
logits → probabilities of the next token. Nothing is re-implemented except the attention weights, which
`scaled_dot_product_attention` never materialises: they are softmax(q kᵀ / √hs) with the causal mask, computed
from the c_attn output the hook sees (`tests/inference/test_internals.py` checks them against the model's output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from nanogpt_lab.errors import LabError

MAX_TOKENS = 64  # the attention patterns grow as T²: the last 64 tokens of a prompt are plenty to look at
ONE_THREAD_BELOW = 20_000_000  # parameters: a pass this small is fastest on one thread (see look_inside)
HIST_BINS = 40
TOP_PROBS = 10


@dataclass(frozen=True)
class NormStat:
    """One LayerNorm: where it sits, and the mean L2 norm per position of what goes in and what comes out."""

    layer: int | None  # None: ln_f
    name: str  # ln_1 | ln_2 | ln_f
    on_stream: bool  # post-LN: its output *is* the residual stream; pre-LN: it feeds a branch (or the head)
    norm_in: float
    norm_out: float


@dataclass(frozen=True)
class Inside:
    """What one forward pass computed, as numpy arrays over the T tokens looked at (see the module docstring)."""

    ids: list[int]
    ln_position: str
    tok_emb: np.ndarray  # (T, C) rows of wte
    pos_emb: np.ndarray  # (T, C) rows of wpe
    attention: np.ndarray  # (L, nh, T, T): row t = how token t spreads its attention over tokens 0..t
    stream_norm: np.ndarray  # (L + 1, T): ‖x‖ after the embeddings, then after each block
    norms: list[NormStat]
    mlp_edges: np.ndarray  # (HIST_BINS + 1,) shared bin edges of the GELU outputs
    mlp_hist: np.ndarray  # (L, HIST_BINS) counts per layer (values beyond the last edge count in the last bin)
    mlp_stats: np.ndarray  # (L, 3): share ≤ 0 (off), mean, max
    next_ids: list[int]  # the most likely next tokens, best first
    next_logits: list[float]
    next_probs: list[float]

    @property
    def n_layer(self) -> int:
        """Blocks in the model."""
        return int(self.attention.shape[0])

    @property
    def n_head(self) -> int:
        """Heads per attention layer."""
        return int(self.attention.shape[1])


class _Recorder:
    """Forward hooks that keep what each part computed (detached, float32, on the CPU)."""

    def __init__(self, model: Any) -> None:
        self.n_head = model.config.n_head
        self.q_k: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.blocks: list[torch.Tensor] = []
        self.gelu: list[torch.Tensor] = []
        self.norms: list[tuple[int | None, str, torch.Tensor, torch.Tensor]] = []
        t = model.transformer
        hooks = [t.wte.register_forward_hook(self._keep('tok')), t.wpe.register_forward_hook(self._keep('pos'))]
        for i, block in enumerate(t.h):
            hooks.append(block.attn.c_attn.register_forward_hook(self._attn))
            hooks.append(block.mlp.gelu.register_forward_hook(lambda m, a, out: self.gelu.append(_cpu(out))))
            hooks.append(block.register_forward_hook(lambda m, a, out: self.blocks.append(_cpu(out))))
            for name in ('ln_1', 'ln_2'):
                hooks.append(getattr(block, name).register_forward_hook(self._norm(i, name)))
        if isinstance(t.ln_f, torch.nn.Module) and not isinstance(t.ln_f, torch.nn.Identity):
            hooks.append(t.ln_f.register_forward_hook(self._norm(None, 'ln_f')))
        self.hooks = hooks

    def _keep(self, name: str) -> Any:
        return lambda module, args, out: setattr(self, name, _cpu(out))

    def _attn(self, module: Any, args: Any, out: torch.Tensor) -> None:
        B, T, C3 = out.shape
        C = C3 // 3
        q, k, _ = _cpu(out).split(C, dim=2)
        shape = (B, T, self.n_head, C // self.n_head)
        self.q_k.append((q.view(shape).transpose(1, 2), k.view(shape).transpose(1, 2)))  # (B, nh, T, hs)

    def _norm(self, layer: int | None, name: str) -> Any:
        def hook(module: Any, args: Any, out: torch.Tensor) -> None:
            self.norms.append((layer, name, _cpu(args[0]), _cpu(out)))

        return hook

    def remove(self) -> None:
        for hook in self.hooks:
            hook.remove()


def _cpu(x: torch.Tensor) -> torch.Tensor:
    return x.detach().float().cpu()


def attention_weights(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √hs) with the causal mask: what scaled_dot_product_attention(is_causal=True) weighs v by."""
    T, hs = q.size(-2), q.size(-1)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (B, nh, T, T)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    return F.softmax(att.masked_fill(~mask, float('-inf')), dim=-1)


@torch.no_grad()
def look_inside(model: Any, ids: list[int], max_tokens: int = MAX_TOKENS) -> Inside:
    """One forward pass of `model` over the last `max_tokens` of `ids` (at most block_size), read by hooks."""
    if not ids:
        raise LabError('inference.empty_prompt')
    ids = list(ids[-min(max_tokens, model.config.block_size) :])
    device = next(model.parameters()).device
    recorder = _Recorder(model)
    # A small model's pass takes milliseconds: OpenMP's barriers between threads cost more than they save, and far
    # more when the cores are shared. torch's thread count is per calling thread here, so this thread alone changes.
    threads = torch.get_num_threads()
    if device.type == 'cpu' and sum(p.numel() for p in model.parameters()) < ONE_THREAD_BELOW:
        torch.set_num_threads(1)
    try:
        logits, _ = model(torch.tensor([ids], dtype=torch.long, device=device))
    finally:
        recorder.remove()
        torch.set_num_threads(threads)
    pre = model.config.ln_position == 'pre'
    attention = torch.stack([attention_weights(q, k)[0] for q, k in recorder.q_k])  # (L, nh, T, T)
    x0 = recorder.tok[0] + recorder.pos  # the stream before block 0 (dropout is off in eval mode)
    stream = torch.stack([x0, *(b[0] for b in recorder.blocks)]).norm(dim=-1)  # (L + 1, T)
    norms = [
        NormStat(layer, name, name != 'ln_f' and not pre, _mean_norm(x_in), _mean_norm(x_out))
        for layer, name, x_in, x_out in recorder.norms
    ]
    edges, hist, stats = _mlp_distribution(recorder.gelu)
    probs = F.softmax(_cpu(logits[0, -1]), dim=-1)
    top = torch.topk(probs, min(TOP_PROBS, probs.numel()))
    return Inside(
        ids=ids,
        ln_position=model.config.ln_position,
        tok_emb=recorder.tok[0].numpy(),
        pos_emb=recorder.pos.numpy(),
        attention=attention.numpy(),
        stream_norm=stream.numpy(),
        norms=norms,
        mlp_edges=edges,
        mlp_hist=hist,
        mlp_stats=stats,
        next_ids=top.indices.tolist(),
        next_logits=_cpu(logits[0, -1])[top.indices].tolist(),
        next_probs=top.values.tolist(),
    )


def _mean_norm(x: torch.Tensor) -> float:
    return float(x.reshape(-1, x.size(-1)).norm(dim=-1).mean())


def _mlp_distribution(gelus: list[torch.Tensor]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Histograms of every layer's GELU outputs over shared edges (GELU's minimum, −0.17, up to the 99.9th
    percentile of all layers), plus per layer: the share at or below zero, the mean and the max."""
    values = np.stack([g.reshape(-1).numpy() for g in gelus])  # (L, T · 4C): every layer has as many
    flat = values.reshape(-1)
    rank = int(0.999 * (flat.size - 1))
    high = max(float(np.partition(flat, rank)[rank]), 0.5)  # a partial sort is enough for one percentile
    edges = np.linspace(-0.2, high, HIST_BINS + 1)
    bins = np.clip(((values - edges[0]) / (edges[1] - edges[0])).astype(np.int64), 0, HIST_BINS - 1)
    hist = np.stack([np.bincount(row, minlength=HIST_BINS) for row in bins])  # uniform bins: no search needed
    stats = np.stack([(values <= 0).mean(axis=1), values.mean(axis=1), values.max(axis=1)], axis=1)
    return edges, hist, stats
