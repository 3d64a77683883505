"""Stage 3: the GPT-2 architecture — a clickable diagram, sizes, a parameter calculator and "will it fit".

All numbers come from `nanogpt_lab.model.sizes` (torch-free arithmetic on the real module layout); this page only
lays them out; "inside a real model" runs one forward pass of a trained model (components/model_internals.py).
URL parameters: size, ln, part, n_layer/n_head/n_embd/block (custom), batch, ctx, dtype, accum, target, mfu, and
the inside view's model and prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from nanogpt_lab.config import (
    GPT1_PRESETS,
    GPT1_VOCAB_SIZE,
    GPT2_VOCAB_SIZE,
    GPT_PAIR,
    PRESETS,
    ConfigError,
    ModelConfig,
    build,
)
from nanogpt_lab.model import sizes
from nanogpt_lab.ui import estimates, theme
from nanogpt_lab.ui.components.architecture_diagram import architecture_diagram
from nanogpt_lab.ui.components.deferred import deferred
from nanogpt_lab.ui.components.fit_panel import DTYPES, FitChoice, fit_panel
from nanogpt_lab.ui.components.model_internals import model_internals
from nanogpt_lab.ui.components.param_numbers import param_numbers
from nanogpt_lab.ui.components.part_detail import PARTS, part_detail
from nanogpt_lab.ui.components.section import section
from nanogpt_lab.ui.view import View

SIZES = (*PRESETS, 'custom')
GPT1_MINI_VOCAB = GPT_PAIR['gpt1']['data']['vocab_size']  # stage 4's GPT-1 side: gpt1-mini's count with it
LN_POSITIONS = ('pre', 'post')
URL_KEYS = ('size', 'ln', 'part', 'batch', 'ctx', 'dtype', 'accum', 'target', 'mfu')  # _State's, in the address bar
CUSTOM_URL_KEYS = {'block_size': 'block'}  # a custom shape's keys in the URL, where they differ from ModelConfig's


@dataclass
class _State(FitChoice):
    """What this tab has chosen (mirrored in the URL): the model, the part shown, and the shape to size for."""

    size: str = 'gpt2'
    ln: str = 'pre'
    part: str = 'c_attn'
    custom: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_view(cls, view: View) -> _State:
        """The choice a URL describes; anything missing or invalid takes its default."""
        custom = {
            'n_layer': view.int_param('n_layer', 4, 1, 256),
            'n_head': view.int_param('n_head', 4, 1, 256),
            'n_embd': view.int_param('n_embd', 128, 1, 32768),
            'block_size': view.int_param('block', 64, 1, 65536),
        }
        return cls(
            size=view.param('size', 'gpt2', SIZES),
            ln=view.param('ln', 'pre', LN_POSITIONS),
            part=view.param('part', 'c_attn', PARTS),
            custom=custom,
            batch=view.int_param('batch', 12, 1, 4096),
            ctx=view.int_param('ctx', 1024, 1, 65536),
            dtype=view.param('dtype', 'bfloat16', DTYPES),
            accum=view.int_param('accum', 40, 1, 4096),
            target=view.param('target', 'here', ('here', *estimates.REFERENCE_GPUS)),
            mfu=view.int_param('mfu', 30, 1, 100),
        )


def create(view: View) -> None:
    """Fill stage 3's column."""
    ArchitecturePage(view)


class ArchitecturePage:
    """Stage 3's widgets and how they follow the chosen size, LayerNorm position, part and training shape."""

    def __init__(self, view: View) -> None:
        self.view, self.tr = view, view.tr
        self.state = _State.from_view(view)
        valid = self._config()
        self.cfg = valid or sizes.preset_config('gpt2')
        tr = self.tr
        ui.label(tr('architecture.intro')).classes(theme.HELP)
        self._size_controls()
        with ui.column().classes('w-full gap-4') as self.model_views:  # hidden while the shape is invalid
            self._diagram_section()
            deferred(self._below_diagram)
        self.model_views.set_visibility(valid is not None)  # a shared invalid shape shows its error, no other model
        deferred(self._gpt1_table)

    def _below_diagram(self) -> None:
        """Inside a real model, the parameter calculator and "will it fit" (built after the first paint)."""
        tr, s = self.tr, self.state
        with section(tr('walk.inside.title'), tr('walk.inside.help'), marker='inside-section'):
            self.inside = model_internals(self.view, part=s.part, on_part=self._select_part)
        with section(tr('architecture.params.title'), tr('architecture.params.help')):
            self.numbers = param_numbers(tr=tr, cfg=self.cfg, size=s.size)
        with section(tr('architecture.fit.title'), tr('architecture.fit.help'), marker='fit-section'):
            self.fit = fit_panel(tr=tr, choice=s, cfg=self.cfg, on_change=self._set)
        self.view.device.on_ready(self.fit.set_device)

    # --- model choice --------------------------------------------------------------------------------------------

    def _config(self) -> ModelConfig | None:
        """The chosen shape, or None (with a message per field) when custom values are invalid."""
        s = self.state
        s.errors = {}
        if s.size != 'custom':
            return sizes.preset_config(s.size, ln_position=s.ln)
        values = {**s.custom, 'vocab_size': GPT2_VOCAB_SIZE, 'ln_position': s.ln}
        try:
            return build(ModelConfig, values)
        except ConfigError as e:
            key = e.key if e.key in s.custom else 'n_embd'
            s.errors[key] = self.tr('architecture.custom.invalid', message=self.tr.error(e))
            return None

    def _size_controls(self) -> None:
        tr, s = self.tr, self.state
        with section(tr('architecture.size.title'), tr('architecture.size.help'), marker='size-section'):
            names = {k: tr(f'architecture.size.{k}') for k in SIZES}
            ui.toggle(names, value=s.size, on_change=lambda e: self._set(size=e.value)).props('no-caps').mark('size')
            with ui.row().classes('gap-3 items-start') as self.custom_row:
                self.custom_inputs = {
                    key: ui.number(
                        tr(f'architecture.custom.{key}'),
                        value=value,
                        min=1,
                        precision=0,
                        on_change=lambda e, k=key: self._set_custom(k, e.value),
                    )
                    .props('dense outlined')
                    .classes('w-36')
                    .mark(f'custom-{key}')
                    for key, value in s.custom.items()
                }
            self.custom_row.set_visibility(s.size == 'custom')
            self.custom_error = ui.label().classes(theme.ERROR_TEXT).mark('custom-error')
            self.custom_error.props['role'] = 'alert'
        self._show_errors()

    def _set_custom(self, key: str, value: Any) -> None:
        try:
            self.state.custom[key] = int(value)
        except (TypeError, ValueError):
            self.state.errors[key] = self.tr('architecture.custom.number')
            self._show_errors()
            return
        self._set()

    def _set(self, **changes: Any) -> None:
        """Apply a change, re-validate, redraw everything, and put the choice in the URL."""
        for key, value in changes.items():
            setattr(self.state, key, value)
        cfg = self._config()
        if cfg is not None:
            self.cfg = cfg
        self._show_errors()
        self.custom_row.set_visibility(self.state.size == 'custom')
        if cfg is not None:
            self.model_views.set_visibility(True)  # an edit that turns invalid keeps the last valid model on screen
            self.redraw()
        self.view.share(**self._url_params())

    def _show_errors(self) -> None:
        """Invalid fields turn red; their message is written once, in full, under the row (never inside a narrow
        field, where a long message would run into what follows)."""
        for key, field_input in self.custom_inputs.items():
            wrong = key in self.state.errors
            if field_input.props.get('error', False) != wrong:  # untouched fields cost the browser nothing
                field_input.props['error'] = wrong
                field_input.props['hide-bottom-space'] = True
                field_input.update()
        self.custom_error.set_text(' '.join(self.state.errors.values()))

    def _url_params(self) -> dict[str, Any]:
        s = self.state
        params = {key: getattr(s, key) for key in URL_KEYS}
        for key, value in s.custom.items():  # only a custom shape is in the URL; None removes it
            params[CUSTOM_URL_KEYS.get(key, key)] = value if s.size == 'custom' else None
        return params

    # --- diagram ---------------------------------------------------------------------------------------------------

    def _diagram_section(self) -> None:
        tr, s = self.tr, self.state
        with section(tr('architecture.diagram.title'), tr('architecture.diagram.help')):
            ln_names = {'pre': tr('architecture.ln.pre'), 'post': tr('architecture.ln.post')}
            ui.toggle(ln_names, value=s.ln, on_change=lambda e: self._set(ln=e.value)).props('no-caps').mark('ln')
            self.ln_note = ui.label(tr(f'architecture.ln.{s.ln}_note')).classes(theme.HELP).mark('ln-note')
            with ui.row().classes('w-full gap-6 items-start no-wrap max-md:flex-wrap'):
                labels = {p: tr(f'architecture.parts.{p}.label') for p in PARTS}
                labels |= {k: tr(f'architecture.diagram.{k}') for k in ('input', 'output', 'block_times', 'aria')}
                self.diagram = architecture_diagram(s.ln, self.cfg.n_layer, s.part, labels, self._select_part)
                self.diagram.mark('diagram')
                with ui.column().classes('flex-1 min-w-[18rem] gap-2'):
                    names = {p: tr(f'architecture.parts.{p}.label') for p in PARTS}
                    self.part_select = ui.select(
                        names,
                        value=s.part,
                        label=tr('architecture.diagram.pick'),
                        on_change=lambda e: self._select_part(e.value),
                    )
                    self.part_select.props('dense outlined').mark('part')
                    self.detail = part_detail(tr=tr)
        self.detail.show(s.part, self.cfg, s.batch, s.ctx)

    def _select_part(self, part: str) -> None:
        """A click on the diagram or a pick in the list: both show the part, and each follows the other."""
        if part not in PARTS or part == self.state.part:
            return
        self.part_select.set_value(part)  # its on_change comes back here with the same part: a no-op
        self._set(part=part)
        self.inside.show_part(part)

    # --- GPT-1 vs GPT-2 ------------------------------------------------------------------------------------------

    def _gpt1_table(self) -> None:
        tr = self.tr
        with section(tr('architecture.gpt1.title'), tr('architecture.gpt1.help')):
            rows = [
                {
                    'feature': tr(f'architecture.gpt1.{k}'),
                    'gpt1': tr(f'architecture.gpt1.{k}_1'),
                    'gpt2': tr(f'architecture.gpt1.{k}_2'),
                }
                for k in ('params', 'tokenizer', 'context', 'data', 'training', 'focus', 'ln')
            ]
            columns = [
                {'name': 'feature', 'label': tr('architecture.gpt1.feature'), 'field': 'feature', 'align': 'left'},
                {'name': 'gpt1', 'label': 'GPT-1 (minimal-gpt1)', 'field': 'gpt1', 'align': 'left'},
                {'name': 'gpt2', 'label': 'GPT-2 (nanoGPT)', 'field': 'gpt2', 'align': 'left'},
            ]
            ui.table(columns=columns, rows=rows, row_key='feature').props('flat bordered dense wrap-cells').classes(
                'w-full'
            ).mark('gpt1-table')
            mini = sizes.count_params(ModelConfig(**GPT1_PRESETS['gpt1-mini'], vocab_size=GPT1_MINI_VOCAB))
            full = sizes.count_params(ModelConfig(**GPT1_PRESETS['gpt1'], vocab_size=GPT1_VOCAB_SIZE))
            text = tr('gpt1.stage3.presets', mini=f'{mini:,}', vocab=f'{GPT1_MINI_VOCAB:,}', full=f'{full:,}')
            ui.label(text).classes(theme.HELP).mark('gpt1-presets')

    # --- redraw --------------------------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Bring every view on the page in line with the current choice."""
        s = self.state
        self.diagram.draw(s.ln, self.cfg.n_layer, s.part)
        self.ln_note.set_text(self.tr(f'architecture.ln.{s.ln}_note'))
        self.detail.show(s.part, self.cfg, s.batch, s.ctx)
        self.numbers.show(self.cfg, s.size)
        self.fit.show(self.cfg)
