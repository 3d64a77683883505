"""One part of the GPT-2 diagram explained: its code in `model/gpt.py`, what it computes, its input and output
shapes (symbolic and for the chosen batch), its weights and how many parameters they hold.

`PARTS` names every clickable part of `architecture_diagram`; `part_detail(tr=...)` draws the panel and
`show(name, cfg, batch, ctx)` rewrites it in place (no flicker, small updates).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from nicegui import ui

from nanogpt_lab.config import ModelConfig
from nanogpt_lab.model import sizes
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.i18n import Translator


@dataclass(frozen=True)
class Part:
    """A clickable part: its code name in model/gpt.py, input and output shapes, weight shapes (symbolic)."""

    code: str
    shape_in: str
    shape_out: str
    weights: tuple[str, ...] = ()
    component: str | None = None  # the sizes.param_breakdown component it belongs to
    half: int | None = None  # 0/1: the first or second Linear of that component (c_attn|c_proj, c_fc|c_proj)


PARTS: dict[str, Part] = {
    'wte': Part('transformer.wte', 'B, T', 'B, T, C', ('V, C',), 'wte'),
    'wpe': Part('transformer.wpe', 'T', 'T, C', ('block_size, C',), 'wpe'),
    'ln_1': Part('transformer.h[i].ln_1', 'B, T, C', 'B, T, C', ('C', 'C'), 'ln_1'),
    'c_attn': Part('transformer.h[i].attn.c_attn', 'B, T, C', 'B, T, 3C', ('3C, C', '3C'), 'attn', 0),
    'attention': Part('F.scaled_dot_product_attention(q, k, v, is_causal=True)', 'B, nh, T, hs', 'B, T, C'),
    'attn_proj': Part('transformer.h[i].attn.c_proj', 'B, T, C', 'B, T, C', ('C, C', 'C'), 'attn', 1),
    'residual': Part('x = x + self.attn(self.ln_1(x))', 'B, T, C', 'B, T, C'),
    'ln_2': Part('transformer.h[i].ln_2', 'B, T, C', 'B, T, C', ('C', 'C'), 'ln_2'),
    'c_fc': Part('transformer.h[i].mlp.c_fc', 'B, T, C', 'B, T, 4C', ('4C, C', '4C'), 'mlp', 0),
    'gelu': Part('transformer.h[i].mlp.gelu', 'B, T, 4C', 'B, T, 4C'),
    'mlp_proj': Part('transformer.h[i].mlp.c_proj', 'B, T, 4C', 'B, T, C', ('C, 4C', 'C'), 'mlp', 1),
    'ln_f': Part('transformer.ln_f', 'B, T, C', 'B, T, C', ('C', 'C'), 'ln_f'),
    'lm_head': Part('lm_head (weight = transformer.wte.weight)', 'B, T, C', 'B, T, V', ('V, C',), 'lm_head'),
}


class part_detail(ui.column):  # noqa: N801 - a NiceGUI component
    """The chosen part's title, code, explanation, shapes, weights and parameter count."""

    def __init__(self, *, tr: Translator) -> None:
        super().__init__()
        self.tr = tr
        self.classes('w-full gap-2').mark('part-detail')
        with self:
            self.title = ui.label().classes(theme.CARD_TITLE).mark('part-title')
            self.code = ui.label().classes(f'{theme.MONO} text-indigo-800 bg-indigo-50 rounded px-2 py-1')
            self.code.mark('part-code')
            self.what = ui.label().classes(theme.HELP).mark('part-what')
            self.shape = ui.label().classes(theme.MONO).mark('part-shape')
            self.weights = ui.label().classes(theme.MONO).mark('part-weights')
            self.params = ui.label().classes('text-sm font-medium').mark('part-params')

    def show(self, name: str, cfg: ModelConfig, batch: int, ctx: int) -> None:
        """Describe part `name` of model `cfg` for a batch of `batch` sequences of `ctx` tokens."""
        tr, part = self.tr, PARTS[name]
        dims = _dims(cfg, batch, min(ctx, cfg.block_size))
        self.title.set_text(tr(f'architecture.parts.{name}.label'))
        self.code.set_text(part.code)
        self.what.set_text(tr(f'architecture.parts.{name}.what'))
        real_in, real_out = _shape(part.shape_in, dims), _shape(part.shape_out, dims)
        shape = tr('architecture.detail.shape', shape_in=part.shape_in, shape_out=part.shape_out, real_in=real_in,
                   real_out=real_out)  # fmt: skip
        self.shape.set_text(shape)
        weights = ', '.join(f'({w}) = {_shape(w, dims)}' for w in part.weights)
        self.weights.set_text(tr('architecture.detail.weights', weights=weights) if weights else '')
        self.weights.set_visibility(bool(weights))
        self.params.set_text(self._params_text(name, cfg))

    def _params_text(self, name: str, cfg: ModelConfig) -> str:
        part, tr = PARTS[name], self.tr
        if name == 'lm_head':
            return tr('architecture.detail.tied')
        component = next((c for c in sizes.param_breakdown(cfg).components if c.name == part.component), None)
        if component is None:
            return tr('architecture.detail.no_params')
        shapes = component.shapes
        if part.half is not None:
            mid = len(shapes) // 2
            shapes = shapes[:mid] if part.half == 0 else shapes[mid:]
        count = sum(prod(shape) for shape in shapes)
        if component.per == 'block':
            return tr(
                'architecture.detail.params_block', n=f'{count:,}', layers=cfg.n_layer, total=f'{count * cfg.n_layer:,}'
            )
        return tr('architecture.detail.params', n=f'{count:,}')


def _dims(cfg: ModelConfig, batch: int, ctx: int) -> dict[str, int]:
    C = cfg.n_embd
    return {
        'B': batch,
        'T': ctx,
        'C': C,
        '3C': 3 * C,
        '4C': 4 * C,
        'V': cfg.vocab_size,
        'nh': cfg.n_head,
        'hs': C // cfg.n_head,
        'block_size': cfg.block_size,
    }


def _shape(symbolic: str, dims: dict[str, int]) -> str:
    """'B, T, 3C' with B=12, T=1024, C=768 -> '(12, 1024, 2304)'."""
    return '(' + ', '.join(str(dims[d.strip()]) for d in symbolic.split(',')) + ')'
