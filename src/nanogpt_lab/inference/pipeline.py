"""The sampling pipeline as pure functions over next-token logits: penalty, temperature, top-k, top-p, softmax.

Stage 6 shows the distribution after every step, and recomputes them all when a slider moves, from logits it
computed once for the prompt: nothing here runs the model. Each function takes logits of shape (V,) or (B, V)
and returns new logits; a token that is cut gets -inf, so the final softmax renormalises over the tokens kept.

With only temperature and top-k set, `process` does exactly what nanoGPT's `generate` does (divide, keep the k
largest, softmax), so the same seed draws the same tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F

from nanogpt_lab.config import SamplingSettings

STAGES = ('raw', 'repetition_penalty', 'temperature', 'top_k', 'top_p', 'renormalised')


def apply_vocab_limit(logits: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Never pick ids the tokenizer lacks (nanoGPT pads GPT-2's 50257 to 50304 for speed)."""
    if vocab_size >= logits.size(-1):
        return logits
    out = logits.clone()
    out[..., vocab_size:] = -float('inf')
    return out


def apply_repetition_penalty(logits: torch.Tensor, context: torch.Tensor | None, penalty: float) -> torch.Tensor:
    """CTRL's penalty (Keskar et al. 2019): a token already in `context` has a positive logit divided by the penalty
    and a negative one multiplied, so it becomes less likely either way. `context` is (T,) or (B, T) token ids."""
    if penalty == 1.0 or context is None or context.numel() == 0:
        return logits
    squeeze = logits.dim() == 1
    lg = logits.unsqueeze(0) if squeeze else logits
    ctx = context.reshape(1, -1) if context.dim() == 1 else context
    seen = torch.gather(lg, 1, ctx.to(lg.device))  # (B, T) the logits of tokens in the context
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    out = lg.scatter(1, ctx.to(lg.device), seen)
    return out.squeeze(0) if squeeze else out


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide by the temperature (< 1 sharpens, > 1 flattens); 0 means greedy: only the argmax survives."""
    if temperature == 0:
        keep = logits == logits.max(dim=-1, keepdim=True).values
        first = keep & (keep.cumsum(-1) == 1)  # one winner even on an exact tie: the lowest id, like argmax
        return logits.masked_fill(~first, -float('inf'))
    return logits / temperature


def apply_top_k(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep the k largest logits (nanoGPT's cut: every logit below the k-th largest becomes -inf)."""
    if not k or k >= logits.size(-1):
        return logits
    v, _ = torch.topk(logits, k)
    return logits.masked_fill(logits < v[..., [-1]], -float('inf'))


def apply_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus sampling (Holtzman et al. 2020): keep the fewest most likely tokens whose probability reaches p."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    # a token is cut when the tokens before it already reach p; the most likely token always stays
    cut_sorted = (cum - sorted_logits.softmax(dim=-1)) >= p
    cut = cut_sorted.scatter(-1, order, cut_sorted)
    return logits.masked_fill(cut, -float('inf'))


def process(
    logits: torch.Tensor, settings: SamplingSettings, context: torch.Tensor | None = None, vocab_size: int | None = None
) -> torch.Tensor:
    """Every step in order: vocab limit, repetition penalty, temperature, top-k, top-p; softmax of this samples."""
    x = logits.float()
    if vocab_size is not None:
        x = apply_vocab_limit(x, vocab_size)
    x = apply_repetition_penalty(x, context, settings.repetition_penalty)
    x = apply_temperature(x, settings.temperature)
    x = apply_top_k(x, settings.top_k)
    return apply_top_p(x, settings.top_p)


def sample_from(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one id per row from softmax(logits), (B, V) -> (B, 1), as nanoGPT draws (torch.multinomial)."""
    probs = F.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)


def stage_distributions(
    logits: torch.Tensor, settings: SamplingSettings, context: torch.Tensor | None = None, vocab_size: int | None = None
) -> dict[str, torch.Tensor]:
    """The next-token distribution (V,) after each stage, for drawing the pipeline.

    raw: softmax of the model's logits; repetition_penalty and temperature: softmax after each; top_k and top_p:
    the previous distribution with the cut tokens set to 0 and *not* renormalised (so the mass cut away shows);
    renormalised: what is actually sampled from (sums to 1).
    """
    x = logits.float().reshape(-1)
    if vocab_size is not None:
        x = apply_vocab_limit(x, vocab_size)
    out = {'raw': F.softmax(x, dim=-1)}
    x = apply_repetition_penalty(x, None if context is None else context.reshape(-1), settings.repetition_penalty)
    out['repetition_penalty'] = F.softmax(x, dim=-1)
    x = apply_temperature(x, settings.temperature)
    out['temperature'] = probs = F.softmax(x, dim=-1)
    x = apply_top_k(x, settings.top_k)
    out['top_k'] = probs = probs.masked_fill(torch.isinf(x), 0.0)
    x = apply_top_p(x, settings.top_p)
    out['top_p'] = probs.masked_fill(torch.isinf(x), 0.0)
    out['renormalised'] = F.softmax(x, dim=-1)
    return out


def _entropy(p: torch.Tensor) -> float:
    """Entropy in bits of a (possibly cut, unnormalised) distribution, renormalised first."""
    q = p / p.sum()
    nz = q[q > 0]
    return float(-(nz * nz.log2()).sum())


def stage_view(
    dists: dict[str, torch.Tensor], tokenizer: Any = None, top_n: int = 20, extra_ids: Sequence[int] = ()
) -> dict[str, Any]:
    """A JSON-ready summary of `stage_distributions` for a chart: the same few tokens followed through every stage.

    The tokens are the `top_n` most likely under the raw and the final distribution (plus `extra_ids`), ordered by
    raw probability; each stage gives their probabilities, how many tokens it keeps, its total mass and entropy.
    """
    raw, final = dists['raw'], dists['renormalised']
    n = min(top_n, raw.numel())
    kept = [i for i in torch.topk(final, n).indices.tolist() if final[i] > 0]
    ids = dict.fromkeys([*torch.topk(raw, n).indices.tolist(), *kept, *extra_ids])
    ids = sorted(ids, key=lambda i: -float(raw[i]))
    tokens = [{'id': i, 'text': tokenizer.token_text(i) if tokenizer is not None else str(i)} for i in ids]
    idx = torch.tensor(ids, dtype=torch.long)
    stages = [
        {
            'name': name,
            'probs': [round(float(v), 6) for v in p[idx]],
            'kept': int((p > 0).sum()),
            'mass': round(float(p.sum()), 6),
            'entropy_bits': round(_entropy(p), 4),
        }
        for name, p in dists.items()
    ]
    return {'tokens': tokens, 'stages': stages}
