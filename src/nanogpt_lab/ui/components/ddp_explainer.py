"""Data-parallel training (PyTorch DDP under torchrun) in four steps, for N simulated GPUs.

1. Each process reads its own shard of the batch; 2. runs forward and backward on the same weights, so each gets
a different gradient g_k; 3. all-reduce averages them, ḡ = (g_0 + … + g_{N−1}) / N, and every process receives ḡ;
4. every process takes the same optimizer step, so the copies stay identical. The picture is symbolic: no
numbers are shown, so none is invented.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.i18n import Translator

STEPS = ('shard', 'backward', 'allreduce', 'update')
SHARD_FILLS = ('#dbeafe', '#dcfce7', '#fef3c7', '#fce7f3', '#ede9fe', '#ccfbf1', '#fee2e2', '#e0e7ff')
COL_W, GAP, ROW_H = 96, 12, 34
ROWS = {'shard': 40, 'model': 84, 'grad': 128, 'allreduce': 176, 'update': 224}


def _box(x: float, y: float, w: float, text: str, fill: str, active: bool) -> str:
    stroke, width = (theme.PRIMARY, 2.5) if active else (theme.PART_STROKE, 0.8)
    opacity = '1' if active else '0.55'
    return (
        f'<g opacity="{opacity}"><rect x="{x}" y="{y}" width="{w}" height="{ROW_H - 6}" rx="6" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="{width}"/><text x="{x + w / 2}" y="{y + 18}" font-size="11" '
        f'text-anchor="middle">{html.escape(text)}</text></g>'
    )


def ddp_svg(n: int, step: str, labels: dict[str, str]) -> str:
    """N columns (one per GPU) through the four steps; the current step's boxes are outlined."""
    n = max(1, min(n, len(SHARD_FILLS)))
    width = 20 + n * (COL_W + GAP)
    active = STEPS.index(step)
    out = [
        f'<svg viewBox="0 0 {width} 270" width="100%" role="img" aria-label="{html.escape(labels["aria"])}" '
        f'xmlns="http://www.w3.org/2000/svg" style="max-width:{width * 1.2:.0f}px;font-family:inherit">'
    ]
    for k in range(n):
        x = 10 + k * (COL_W + GAP)
        out.append(
            f'<text x="{x + COL_W / 2}" y="24" font-size="12" font-weight="700" text-anchor="middle">GPU {k}</text>'
        )
        out.append(_box(x, ROWS['shard'], COL_W, labels['shard'].format(k=k), SHARD_FILLS[k], active == 0))
        out.append(_box(x, ROWS['model'], COL_W, labels['model'], '#f8fafc', active in (0, 1)))
        out.append(_box(x, ROWS['grad'], COL_W, f'g{_sub(k)}', SHARD_FILLS[k], active == 1))
        out.append(_box(x, ROWS['update'], COL_W, labels['update'], theme.PART_COLORS['mlp'], active == 3))
    band = _box(
        10,
        ROWS['allreduce'],
        width - 20 - GAP,
        labels['allreduce'].format(last=f'g{_sub(n - 1)}', n=n),
        theme.PART_COLORS['attention'],
        active == 2,
    )
    out.append(band)
    out.append('</svg>')
    return ''.join(out)


def _sub(k: int) -> str:
    return ''.join('₀₁₂₃₄₅₆₇₈₉'[int(d)] for d in str(k))


class ddp_explainer(ui.column):  # noqa: N801 - a NiceGUI component
    """A GPU-count slider, the four steps (click or play), and the picture; `on_processes(n)` follows the slider."""

    def __init__(self, *, tr: Translator, marker: str, n: int = 4, on_processes: Callable[[int], None] | None = None):
        super().__init__()
        self.tr, self.n, self.step = tr, n, STEPS[0]
        self.on_processes = on_processes
        self.labels = {k: tr(f'components.ddp.{k}') for k in ('aria', 'shard', 'model', 'update', 'allreduce')}
        self.classes('w-full gap-2').mark(marker)
        with self:
            with ui.row().classes('items-center gap-4 w-full flex-wrap'):
                ui.label(tr('components.ddp.gpus')).classes('text-sm')
                self.slider = ui.slider(min=1, max=8, value=n, on_change=lambda e: self.set_n(int(e.value)))
                self.slider.props('label snap markers').classes('w-48').mark(f'{marker}-gpus')
                options = {s: tr(f'components.ddp.steps.{s}') for s in STEPS}
                self.toggle = ui.toggle(options, value=self.step, on_change=lambda e: self.set_step(e.value))
                self.toggle.props('no-caps dense unelevated').mark(f'{marker}-step')
                self.play = ui.button(tr('components.ddp.play'), icon='play_arrow', on_click=self._play)
                self.play.props('outline dense no-caps').mark(f'{marker}-play')
            self.picture = ui.html('', sanitize=False).classes('w-full overflow-x-auto')
            self.caption = ui.label().classes(theme.HELP).mark(f'{marker}-caption')
        self.timer = ui.timer(1.6, self._advance, active=False)
        self.draw()

    def set_n(self, n: int) -> None:
        """Show N GPUs."""
        self.n = n
        self.draw()
        if self.on_processes is not None:
            self.on_processes(n)

    def set_step(self, step: str) -> None:
        """Show one of the four steps."""
        self.step = step if step in STEPS else STEPS[0]
        self.draw()

    def draw(self) -> None:
        """Redraw the picture and the step's explanation."""
        self.picture.set_content(ddp_svg(self.n, self.step, self.labels))
        self.caption.set_text(self.tr(f'components.ddp.explain.{self.step}', n=self.n))

    def _play(self) -> None:
        self.timer.active = not self.timer.active
        self.play.props(f'icon={"pause" if self.timer.active else "play_arrow"}')

    def _advance(self) -> None:
        self.toggle.value = STEPS[(STEPS.index(self.step) + 1) % len(STEPS)]
