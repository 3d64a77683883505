"""Stage 6's sampling controls: temperature, top-k, top-p, repetition penalty, length and seed.

Temperature and top-k move in uneven steps (small where they matter), so their sliders are indexes into
`TEMPERATURES` and `TOP_KS`; every slider still tells assistive technology its name and its *value*
(`aria-valuenow` 0.8, not position 8) and shows it beside its label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from nanogpt_lab.config import SAMPLE_TOP_K, SamplingSettings
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.i18n import Translator

# Temperature moves in small steps where it matters (around 1) and big ones beyond: the slider is an index.
TEMPERATURES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0)
TOP_KS = (1, 2, 3, 5, 10, 20, 40, 100, 200, 0)  # 0: no cut (the slider's right end)
MAX_TOKENS = 500


def nearest(values: tuple, value: float) -> int:
    """The index of the value closest to `value`."""
    return min(range(len(values)), key=lambda i: abs(values[i] - value))


class sampling_controls(ui.column):  # noqa: N801 - a NiceGUI component
    """The sliders and the seed; `knobs` and `max_tokens` are the current choice, `on_change()` hears a move."""

    def __init__(
        self,
        *,
        tr: Translator,
        knobs: SamplingSettings,
        max_tokens: int,
        seed: int,
        on_change: Callable[[], None],
        on_seed: Callable[[int], None],
    ) -> None:
        super().__init__()
        self.tr, self.knobs, self.max_tokens, self.on_change = tr, knobs, max_tokens, on_change
        self.classes('w-full gap-2')
        self.value_labels: dict[str, ui.label] = {}
        with self:
            self.temperature = self._slider(
                'temperature', len(TEMPERATURES) - 1, nearest(TEMPERATURES, knobs.temperature)
            )
            top_k = TOP_KS.index(knobs.top_k) if knobs.top_k in TOP_KS else TOP_KS.index(SAMPLE_TOP_K)
            self.top_k = self._slider('top_k', len(TOP_KS) - 1, top_k)
            self.top_p = self._slider('top_p', 1.0, knobs.top_p, low=0.05, step=0.05)
            self.rep = self._slider('repetition_penalty', 2.0, knobs.repetition_penalty, low=1.0, step=0.05)
            self.length = self._slider('max_tokens', MAX_TOKENS, min(max_tokens, MAX_TOKENS), low=1, step=1)
            with ui.row().classes('items-center gap-2'):
                number = ui.number(
                    tr('inference.controls.seed'),
                    value=seed,
                    min=0,
                    step=1,
                    format='%d',
                    on_change=lambda e: on_seed(int(e.value)) if e.value is not None else None,
                )
                number.props('dense outlined').classes('w-36').mark('seed')
        self._show_values()

    def _slider(self, name: str, high: float, value: float, *, low: float = 0, step: float = 1) -> ui.slider:
        with ui.column().classes('w-full gap-0'):
            with ui.row().classes('w-full items-baseline justify-between'):
                ui.label(self.tr(f'inference.controls.{name}')).classes('text-sm font-medium')
                label = ui.label().classes('font-mono text-sm').mark(f'{name}-value')
            slider = ui.slider(min=low, max=high, step=step, value=value, on_change=lambda e: self._moved())
            slider.props('dense').classes('w-full').mark(name)
            slider.props['aria-label'] = self.tr(f'inference.controls.{name}')
            self.value_labels[name] = label
            ui.label(self.tr(f'inference.controls.{name}_help')).classes(theme.CAPTION)
        return slider

    def _moved(self) -> None:
        self.knobs = SamplingSettings(
            temperature=TEMPERATURES[int(self.temperature.value)],
            top_k=TOP_KS[int(self.top_k.value)],
            top_p=round(float(self.top_p.value), 2),
            repetition_penalty=round(float(self.rep.value), 2),
        )
        self.max_tokens = int(self.length.value)
        self._show_values()
        self.on_change()

    def _show_values(self) -> None:
        """Each value beside its label, and the same value (not the slider's position) for screen readers."""
        k = self.knobs
        greedy = self.tr('inference.controls.greedy') if k.temperature == 0 else ''
        off = self.tr('inference.controls.off')
        shown: dict[str, tuple[ui.slider, Any, str]] = {
            'temperature': (self.temperature, f'{k.temperature:g}', f'{k.temperature:g}{greedy}'),
            'top_k': (self.top_k, k.top_k, str(k.top_k) if k.top_k else off),
            'top_p': (self.top_p, f'{k.top_p:g}', f'{k.top_p:.2f}'),
            'repetition_penalty': (self.rep, f'{k.repetition_penalty:g}', f'{k.repetition_penalty:.2f}'),
            'max_tokens': (self.length, self.max_tokens, str(self.max_tokens)),
        }
        for name, (slider, value, text) in shown.items():
            self.value_labels[name].set_text(text)
            if slider.props.get('aria-valuenow') != value:
                slider.props['aria-valuenow'] = value  # a fallthrough attribute: it wins over Quasar's position
                slider.props['aria-valuetext'] = text
                slider.update()
