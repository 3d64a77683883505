"""How big a GPT is, what it costs to train, and whether training fits a device: arithmetic only, no torch.

The stage-3 page imports this at page load (simulation mode never loads torch), and `GET /api/models/sizes`
serves it. Every function takes a `ModelConfig` (or a plain dict of its keys) and returns plain dataclasses
whose `as_dict()` is JSON-ready.

Counts follow the module layout of `model/gpt.py` exactly (tests check them against `GPT(...)`):
    wte (V, C)  wpe (T, C)  per block: ln_1, attn.c_attn (C, 3C), attn.c_proj (C, C), ln_2, mlp.c_fc (C, 4C),
    mlp.c_proj (4C, C)  ln_f  lm_head (tied to wte: no parameters of its own)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nanogpt_lab.config import GPT2_BLOCK_SIZE, GPT2_VOCAB_SIZE, PRESETS, ModelConfig
from nanogpt_lab.errors import LabError

DTYPE_BYTES = {'float32': 4, 'bfloat16': 2, 'float16': 2}
ACTIVATIONS_SOURCE = (
    'Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models" '
    '(arXiv:2205.05198), section 4.1: 34·s·b·h + 5·a·s²·b bytes per layer with 16-bit activations'
)
FIT_HEADROOM = 0.9  # leave 10% of device memory for the allocator, CUDA context and kernels' workspace


def _cfg(cfg: ModelConfig | Mapping[str, Any]) -> ModelConfig:
    return cfg if isinstance(cfg, ModelConfig) else ModelConfig(**dict(cfg))


def preset_config(name: str, **overrides: Any) -> ModelConfig:
    """The shape OpenAI released as `name` (vocab 50257, 1024 positions, biases on), e.g. 'gpt2-medium'."""
    if name not in PRESETS:
        raise LabError('weights.unknown_model', name=name, pretrained=', '.join(PRESETS))
    values = dict(PRESETS[name], vocab_size=GPT2_VOCAB_SIZE, block_size=GPT2_BLOCK_SIZE, bias=True)
    return ModelConfig(**{**values, **overrides})


# --- parameters ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """One named piece of the model: its weight shapes, and parameters per copy (`per` = 'model' or 'block')."""

    name: str
    shapes: tuple[tuple[int, ...], ...]
    params: int
    per: str = 'model'
    note: str = ''


@dataclass(frozen=True)
class ParamBreakdown:
    """Parameters by component; `total` counts tied weights once, `nanogpt` leaves out wpe as nanoGPT prints."""

    components: list[Component]
    n_layer: int
    per_block: int
    total: int
    nanogpt: int
    embedding: int = 0
    non_embedding: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API and the UI."""
        return dataclasses.asdict(self)


def _linear(n_in: int, n_out: int, bias: bool) -> tuple[tuple[tuple[int, ...], ...], int]:
    shapes = ((n_out, n_in), (n_out,)) if bias else ((n_out, n_in),)
    return shapes, n_in * n_out + (n_out if bias else 0)


def _layernorm(c: int, bias: bool) -> tuple[tuple[tuple[int, ...], ...], int]:
    return ((c,), (c,)) if bias else ((c,),), c * (2 if bias else 1)


def block_components(cfg: ModelConfig | Mapping[str, Any]) -> list[Component]:
    """The parts of one transformer block: LayerNorms, attention (c_attn + c_proj), MLP (c_fc + c_proj)."""
    c = _cfg(cfg)
    C, b = c.n_embd, c.bias
    qkv, n_qkv = _linear(C, 3 * C, b)
    proj, n_proj = _linear(C, C, b)
    fc, n_fc = _linear(C, 4 * C, b)
    out, n_out = _linear(4 * C, C, b)
    ln, n_ln = _layernorm(C, b)
    return [
        Component('ln_1', ln, n_ln, 'block'),
        Component('attn', qkv + proj, n_qkv + n_proj, 'block', 'c_attn (q, k, v for all heads) + c_proj'),
        Component('ln_2', ln, n_ln, 'block'),
        Component('mlp', fc + out, n_fc + n_out, 'block', 'c_fc (C → 4C) + c_proj (4C → C)'),
    ]


def param_breakdown(cfg: ModelConfig | Mapping[str, Any]) -> ParamBreakdown:
    """Every parameter of `GPT(cfg)` by component, with the totals people quote (e.g. gpt2 = 124,439,808)."""
    c = _cfg(cfg)
    V, T, C = c.vocab_size, c.block_size, c.n_embd
    blocks = block_components(c)
    per_block = sum(p.params for p in blocks)
    ln_f, n_ln_f = _layernorm(C, c.bias) if c.ln_position == 'pre' else ((), 0)  # post-LN (GPT-1) has no ln_f
    parts = [
        Component('wte', ((V, C),), V * C, note='token embedding'),
        Component('wpe', ((T, C),), T * C, note='learned absolute position embedding'),
        *blocks,
        Component('ln_f', ln_f, n_ln_f, note='final LayerNorm (pre-LN only)'),
        Component('lm_head', ((V, C),), 0, note='tied to wte (Press & Wolf 2017): no parameters of its own'),
    ]
    total = V * C + T * C + c.n_layer * per_block + n_ln_f
    return ParamBreakdown(
        components=parts,
        n_layer=c.n_layer,
        per_block=per_block,
        total=total,
        nanogpt=total - T * C,
        embedding=V * C + T * C,
        non_embedding=total - V * C - T * C,
    )


def count_params(cfg: ModelConfig | Mapping[str, Any], non_embedding: bool = False) -> int:
    """Parameters of `GPT(cfg)`; `non_embedding=True` gives nanoGPT's count (position embeddings left out)."""
    b = param_breakdown(cfg)
    return b.nanogpt if non_embedding else b.total


def flops_per_token(cfg: ModelConfig | Mapping[str, Any], seq_len: int | None = None) -> int:
    """Training FLOPs per token, 6N + 12·L·H·Q·T (PaLM Appendix B), N as nanoGPT counts it; the MFU numerator."""
    c = _cfg(cfg)
    L, H, Q, T = c.n_layer, c.n_head, c.n_embd // c.n_head, seq_len or c.block_size
    return 6 * count_params(c, non_embedding=True) + 12 * L * H * Q * T


def preset_sizes() -> list[dict[str, Any]]:
    """The four GPT-2 sizes side by side: shape, parameters (ours and nanoGPT's count), training FLOPs per token."""
    rows = []
    for name in PRESETS:
        c = preset_config(name)
        b = param_breakdown(c)
        rows.append(
            dict(
                name=name,
                n_layer=c.n_layer,
                n_head=c.n_head,
                n_embd=c.n_embd,
                block_size=c.block_size,
                vocab_size=c.vocab_size,
                params=b.total,
                nanogpt_params=b.nanogpt,
                flops_per_token=flops_per_token(c),
            )
        )
    return rows


# --- training memory ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one training process needs: model state (weights, grads, AdamW) plus activations for one micro-batch."""

    weights: int
    gradients: int
    optimizer: int
    autocast_copies: int
    activations: int
    total: int
    batch_size: int
    block_size: int
    dtype: str
    sources: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API and the UI."""
        return dataclasses.asdict(self)


def activation_bytes(
    cfg: ModelConfig | Mapping[str, Any], batch_size: int, block_size: int, dtype: str, flash: bool = True
) -> int:
    """Activations kept for the backward pass of one micro-batch (Korthikanti et al. 2022, section 4.1).

    Per layer their count is 34·s·b·h + 5·a·s²·b bytes with 2-byte activations and 1-byte dropout masks:
    attention 11sbh + 5as²b, MLP 19sbh, two LayerNorm inputs 4sbh. Here it is written as elements × bytes so
    float32 runs count 4 bytes each; masks are kept only when dropout > 0; flash attention (PyTorch's
    scaled_dot_product_attention on GPUs) recomputes the a·s²·b softmax instead of storing it.
    """
    c = _cfg(cfg)
    if dtype not in DTYPE_BYTES:
        raise LabError('config.pydantic.literal_error', key='dtype', value=repr(dtype), allowed=', '.join(DTYPE_BYTES))
    s, b, h, a, V = block_size, batch_size, c.n_embd, c.n_head, c.vocab_size
    e = DTYPE_BYTES[dtype]
    sbh = s * b * h
    # elements per layer: attention 5sbh (LN out, q, k, v, proj in), MLP 9sbh (LN out, fc out, gelu out), LN in 2sbh
    per_layer = 16 * sbh * e
    if not flash:
        per_layer += 2 * a * s * s * b * e  # softmax output and the (dropped-out) probabilities multiplied by v
    if c.dropout > 0:
        per_layer += 2 * sbh + (0 if flash else a * s * s * b)  # one-byte dropout masks
    # outside the blocks: embedding sum, final LayerNorm in/out, logits and their float32 softmax for the loss
    outside = 3 * sbh * e + s * b * V * (e + 4)
    return c.n_layer * per_layer + outside


def training_memory(
    cfg: ModelConfig | Mapping[str, Any],
    batch_size: int,
    block_size: int | None = None,
    dtype: str = 'float32',
    flash: bool = True,
) -> MemoryEstimate:
    """Memory to train `cfg` with AdamW at this micro-batch, block size and autocast dtype (an estimate).

    As nanoGPT trains, parameters, gradients and both AdamW moments stay float32 (16 bytes per parameter);
    `dtype` is autocast's compute dtype, which sets activation size, and autocast caches a 16-bit copy of
    each weight matrix during the forward pass. Gradient accumulation does not change the peak.
    """
    c = _cfg(cfg)
    T = block_size or c.block_size
    n = count_params(c)
    copies = 2 * (n - c.block_size * c.n_embd) if DTYPE_BYTES.get(dtype, 4) == 2 else 0
    act = activation_bytes(c, batch_size, T, dtype, flash=flash)
    return MemoryEstimate(
        weights=4 * n,
        gradients=4 * n,
        optimizer=8 * n,
        autocast_copies=copies,
        activations=act,
        total=16 * n + copies + act,
        batch_size=batch_size,
        block_size=T,
        dtype=dtype,
        sources={'activations': ACTIVATIONS_SOURCE, 'model_state': 'float32 weights, gradients, AdamW m and v'},
    )


# --- will it fit? -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lever:
    """One change that lowers memory: what to set (`change`), the bytes it would then need, whether that fits."""

    key: str
    change: dict[str, Any]
    needed: int
    fits: bool
    message: str


@dataclass(frozen=True)
class FitReport:
    """Whether training fits in `available` bytes and, if not, the lever to turn first (`lever`) and the others."""

    fits: bool
    needed: int
    available: int
    estimate: MemoryEstimate
    lever: Lever | None
    levers: list[Lever]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API and the UI."""
        return dataclasses.asdict(self)


def _smaller_models(c: ModelConfig) -> list[tuple[ModelConfig, str]]:
    """The smaller designs to try, largest first: the GPT-2 presets below this one, else n_layer halved down to 1."""
    names = list(PRESETS)
    for i, name in enumerate(names):
        if i and all(getattr(c, k) == v for k, v in PRESETS[name].items()):
            return [(c.model_copy(update=PRESETS[n]), n) for n in reversed(names[:i])]
    layers = []
    n = c.n_layer // 2
    while n >= 1:
        layers.append((c.model_copy(update={'n_layer': n}), f'n_layer={n}'))
        n //= 2
    return layers


def _levers(c: ModelConfig, batch: int, block: int, dtype: str, accum: int, avail: int, flash: bool) -> list[Lever]:
    """Each single change, taken as far as it usefully goes, with the memory it leaves."""

    def need(cfg: ModelConfig = c, b: int = batch, t: int = block, d: str = dtype) -> int:
        return training_memory(cfg, b, t, d, flash=flash).total

    def lever(key: str, change: dict[str, Any], needed: int, why: str) -> Lever:
        return Lever(key, change, needed, needed <= avail, why)

    out: list[Lever] = []
    b = batch
    while b > 1 and need(b=b) > avail:
        b //= 2
    if b < batch:
        g = accum * -(-batch // b)  # keep tokens per optimizer step: batch × accumulation stays (about) the same
        why = f'micro-batch {batch} → {b} with gradient_accumulation_steps {accum} → {g}: same tokens per step'
        out.append(lever('batch_size', {'batch_size': b, 'gradient_accumulation_steps': g}, need(b=b), why))
    if dtype == 'float32':
        why = 'bfloat16 autocast halves activations (GPUs since Ampere, recent CPUs)'
        out.append(lever('dtype', {'dtype': 'bfloat16'}, need(d='bfloat16'), why))
    t = block
    while t > 64 and need(t=t) > avail:
        t //= 2
    if t < block:
        out.append(lever('block_size', {'block_size': t}, need(t=t), f'block_size {block} → {t}: shorter context'))
    # the largest smaller model that fits; when none does, the smallest, whose lever says it does not fit either
    smaller = [(name, need(cfg, t=min(block, cfg.block_size))) for cfg, name in _smaller_models(c)]
    if smaller:
        name, needed = next(((n, b) for n, b in smaller if b <= avail), smaller[-1])
        out.append(lever('model', {'model': name}, needed, f'a smaller model ({name})'))
    return out


def will_it_fit(
    cfg: ModelConfig | Mapping[str, Any],
    batch_size: int,
    block_size: int | None,
    dtype: str,
    device_memory_bytes: int,
    gradient_accumulation_steps: int = 1,
    flash: bool = True,
) -> FitReport:
    """Does training fit this device's memory (keeping 10% headroom)? If not, the biggest lever to turn.

    The lever is the change that frees the most memory while keeping the model: a smaller micro-batch with more
    accumulation, bfloat16, or a shorter block. A smaller model is offered only when none of those fits alone.
    """
    c = _cfg(cfg)
    T = block_size or c.block_size
    est = training_memory(c, batch_size, T, dtype, flash=flash)
    avail = int(device_memory_bytes * FIT_HEADROOM)
    if est.total <= avail:
        return FitReport(True, est.total, avail, est, None, [])
    levers = _levers(c, batch_size, T, dtype, gradient_accumulation_steps, avail, flash)
    keep_model = sorted((lv for lv in levers if lv.key != 'model'), key=lambda lv: lv.needed)
    model_levers = [lv for lv in levers if lv.key == 'model']
    if est.total - est.activations > avail:  # weights, gradients and AdamW alone are too big: only the model helps
        best = model_levers[0] if model_levers else None
    else:
        fitting = [lv for lv in keep_model if lv.fits] or [lv for lv in model_levers if lv.fits]
        best = fitting[0] if fitting else min(levers, key=lambda lv: lv.needed, default=None)
    return FitReport(False, est.total, avail, est, best, levers)
