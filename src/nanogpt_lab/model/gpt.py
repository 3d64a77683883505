"""The GPT language model, all of it in this one file, in the shape of nanoGPT's model.py.

GPT-2 (pre-LayerNorm) and GPT-1 style post-LayerNorm blocks, selected by `ln_position`. Parameter names are
GPT-2's (`wte`, `wpe`, `h`, `ln_f`, `c_attn`, `c_proj`, `c_fc`), so Hugging Face weights load key for key.
References: OpenAI's GPT-2 (github.com/openai/gpt-2/blob/master/src/model.py), Hugging Face's modeling_gpt2.py,
and karpathy/nanoGPT's model.py.
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn as nn
from torch.nn import functional as F

from nanogpt_lab.config import ModelConfig
from nanogpt_lab.errors import LabError

GPTConfig = ModelConfig  # nanoGPT's name for the model shape


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (nn.LayerNorm cannot simply switch its bias off)."""

    def __init__(self, ndim: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class KVCache:
    """Keys and values of every layer for the tokens seen so far, so generation forwards one new token at a time."""

    def __init__(self, config: ModelConfig, batch_size: int, device: torch.device, dtype: torch.dtype):
        hs = config.n_embd // config.n_head
        shape = (config.n_layer, batch_size, config.n_head, config.block_size, hs)  # (L, B, nh, T_max, hs)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.pos = 0  # how many positions are filled

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this step's (B, nh, T, hs) keys and values at the current position; return all of them so far."""
        t = k.size(2)
        self.k[layer, :, :, self.pos : self.pos + t] = k
        self.v[layer, :, :, self.pos : self.pos + t] = v
        end = self.pos + t
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def advance(self, t: int) -> None:
        """Mark `t` more positions as filled, once every layer has stored them."""
        self.pos += t

    def reset(self) -> None:
        """Forget everything (the context window moved, so every position embedding changed)."""
        self.pos = 0


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        # key, query, value projections for all heads, in one matmul
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        # output projection
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        self.layer = layer

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        B, T, C = x.size()  # batch size, sequence length, embedding width (n_embd)
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        if cache is not None:
            k, v = cache.update(self.layer, k, v)  # (B, nh, T_past + T, hs)
        # a fresh sequence is causal; one new token may look at every cached position, so needs no mask.
        # `cache is None or ...` keeps is_causal a plain bool without a cache, so ONNX export can trace it
        is_causal = cache is None or T > 1
        if is_causal and cache is not None and k.size(2) != T:
            raise LabError('model.cache_multi_token')
        # softmax(q kᵀ / √hs) v, with flash / memory-efficient kernels where the device has them
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0.0, is_causal=is_causal
        )  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble all head outputs side by side
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        # nanoGPT uses the exact GELU; OpenAI's GPT-2 weights were trained with its tanh approximation (gelu_new)
        self.gelu = nn.GELU(approximate='tanh' if config.gelu == 'tanh' else 'none')
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One transformer block. GPT-2 normalises before each sub-layer (pre-LN); GPT-1 after the residual add."""

    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        self.pre_ln = config.ln_position == 'pre'
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config, layer)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        if self.pre_ln:
            # the residual stream is never normalised, so gradients reach early layers undiminished
            x = x + self.attn(self.ln_1(x), cache)
            x = x + self.mlp(self.ln_2(x))
        else:
            x = self.ln_1(x + self.attn(x, cache))
            x = self.ln_2(x + self.mlp(x))
        return x


class GPT(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config, i) for i in range(config.n_layer)]),
                # post-LN blocks already end normalised, so GPT-1 has no final LayerNorm
                ln_f=LayerNorm(config.n_embd, bias=config.bias) if config.ln_position == 'pre' else nn.Identity(),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # weight tying: the output projection is the token embedding (Press & Wolf 2017), as in GPT-2
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        # GPT-2's scaled init of the residual projections: std 0.02 / √(2 · n_layer), one per residual add
        for pn, p in self.named_parameters():
            if pn.endswith('c_proj.weight'):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def get_num_params(self, non_embedding: bool = True) -> int:
        """Parameters, counted once (tied weights). nanoGPT's count leaves out the position embeddings."""
        n_params = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n_params -= self.transformer.wpe.weight.numel()
        return n_params

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits for every position with `targets` (and the mean cross-entropy), else for the last one only."""
        b, t = idx.size()
        start = cache.pos if cache is not None else 0
        if start + t > self.config.block_size:
            raise LabError('model.too_long', positions=start + t, block_size=self.config.block_size)
        pos = torch.arange(start, start + t, dtype=torch.long, device=idx.device)  # (t)
        tok_emb = self.transformer.wte(idx)  # (b, t, n_embd)
        pos_emb = self.transformer.wpe(pos)  # (t, n_embd)
        x = self.transformer.drop(tok_emb + pos_emb)
        for block in self.transformer.h:
            x = block(x, cache)
        if cache is not None:
            cache.advance(t)
        x = self.transformer.ln_f(x)
        if targets is not None:
            logits = self.lm_head(x)  # (b, t, vocab_size)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
            return logits, loss
        # inference only needs the next token: project the last position alone (a list keeps the time dim)
        return self.lm_head(x[:, [-1], :]), None

    def crop_block_size(self, block_size: int) -> None:
        """Model surgery for a shorter context (e.g. GPT-2's 1024 positions down to 256): keep the first rows."""
        if block_size > self.config.block_size:
            raise LabError('model.cannot_grow', block_size=self.config.block_size, wanted=block_size)
        self.config = self.config.model_copy(update={'block_size': block_size})
        self.transformer.wpe.weight = nn.Parameter(self.transformer.wpe.weight[:block_size])

    def new_cache(self, batch_size: int = 1) -> KVCache:
        """An empty KV cache on this model's device and dtype."""
        w = self.transformer.wte.weight
        return KVCache(self.config, batch_size, w.device, w.dtype)

    def configure_optimizers(
        self, weight_decay: float, learning_rate: float, betas: tuple[float, float], device_type: str
    ) -> torch.optim.AdamW:
        """AdamW decaying matrices and embeddings only (not biases or LayerNorm gains); fused where possible."""
        params = [p for p in self.parameters() if p.requires_grad]
        optim_groups = [
            {'params': [p for p in params if p.dim() >= 2], 'weight_decay': weight_decay},
            {'params': [p for p in params if p.dim() < 2], 'weight_decay': 0.0},
        ]
        # fused AdamW runs one kernel for all parameters; CUDA has it, and CPU/MPS since torch 2.4
        fused = 'fused' in inspect.signature(torch.optim.AdamW).parameters and device_type in ('cuda', 'cpu', 'mps')
        try:
            return torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas, fused=fused or None)
        except (RuntimeError, TypeError):  # an older torch or a device without the fused kernel
            return torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas)

    def flops_per_token(self, seq_len: int | None = None) -> int:
        """Training FLOPs per token, 6N + 12·L·H·Q·T (PaLM, arXiv:2204.02311, Appendix B), from `sizes`."""
        from nanogpt_lab.model.sizes import flops_per_token

        return flops_per_token(self.config, seq_len)

    @torch.no_grad()
    def generate(
        self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None
    ) -> torch.Tensor:
        """nanoGPT's `generate` signature, served by the lab's sampler (KV cache, same context window rule)."""
        from nanogpt_lab.inference.sampler import generate_ids

        return generate_ids(self, idx, max_new_tokens, temperature=temperature, top_k=top_k)
