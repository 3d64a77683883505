"""Tokens per iteration, as a formula and as an animation: micro-batches adding their gradients into one step.

nanoGPT's optimizer step sees batch_size × block_size × gradient_accumulation_steps × processes tokens: each
micro-batch's gradient is added (backward accumulates into .grad) and only then does AdamW step once. The SVG
animates exactly that, one packet per micro-batch filling the sum, then the step; people who ask their system for
reduced motion get the still picture.
"""

from __future__ import annotations

import html

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.i18n import Translator

SHOWN = 8  # micro-batches drawn; more are summarised in a label
SLOT_S = 0.6  # seconds each micro-batch's packet takes
ROW, TOP = 30, 34


def tokens_per_iter(batch: int, block: int, accum: int, processes: int = 1) -> int:
    """Tokens one optimizer step learns from (nanoGPT prints this as 'tokens per iteration will be')."""
    return batch * block * accum * processes


def formula(batch: int, block: int, accum: int, processes: int, tr: Translator) -> str:
    """'12 × 64 × 1 × 1 = 768 tokens per iteration'."""
    total = tokens_per_iter(batch, block, accum, processes)
    return tr(
        'components.micro.formula',
        batch=f'{batch:,}',
        block=f'{block:,}',
        accum=f'{accum:,}',
        procs=processes,
        total=f'{total:,}',
    )


def _style(shown: int) -> str:
    """Keyframes for one cycle: each packet travels in its slot, the sum fills in steps, then the step lights up."""
    cycle = SLOT_S * shown + 1.4
    full = 100 * SLOT_S * shown / cycle
    move = 100 * SLOT_S / cycle
    lit = theme.PART_COLORS['attention']
    rules = [
        f'.mb-packet{{animation:mb-move {cycle:.2f}s linear infinite;opacity:0}}',
        f'@keyframes mb-move{{0%{{transform:translateX(0);opacity:1}}'
        f'{move:.1f}%{{transform:translateX(150px);opacity:1}}{move + 0.1:.1f}%,100%{{opacity:0}}}}',
        '.mb-fill{transform-box:fill-box;transform-origin:bottom;'
        f'animation:mb-fill {cycle:.2f}s steps({shown}) infinite}}',
        f'@keyframes mb-fill{{0%{{transform:scaleY(0)}}{full:.1f}%,96%{{transform:scaleY(1)}}'
        '100%{transform:scaleY(0)}}',
        f'.mb-step{{animation:mb-step {cycle:.2f}s linear infinite}}',
        f'@keyframes mb-step{{0%,{full:.1f}%{{fill:#fff}}{full + 2:.1f}%,96%{{fill:{lit}}}100%{{fill:#fff}}}}',
        '@media (prefers-reduced-motion: reduce){.mb-packet,.mb-fill,.mb-step{animation:none}'
        '.mb-packet{opacity:0}.mb-fill{transform:scaleY(1)}}',
    ]
    return '<style>' + ''.join(rules) + '</style>'


def micro_batch_svg(batch: int, block: int, accum: int, labels: dict[str, str]) -> str:
    """The picture: micro-batches on the left, their gradients summing in the middle, one optimizer step right."""
    shown = max(1, min(accum, SHOWN))
    height = TOP + shown * ROW + 36
    esc = html.escape
    out = [
        f'<svg viewBox="0 0 620 {height}" width="100%" role="img" aria-label="{esc(labels["aria"])}" '
        f'xmlns="http://www.w3.org/2000/svg" style="max-width:620px;font-family:inherit">',
        _style(shown),
    ]
    out.append(f'<text x="10" y="20" font-size="12" fill="{theme.MUTED}">{esc(labels["micro"])}</text>')
    out.append(f'<text x="330" y="20" font-size="12" fill="{theme.MUTED}">{esc(labels["sum"])}</text>')
    for i in range(shown):
        y = TOP + i * ROW
        out.append(
            f'<rect x="10" y="{y}" width="150" height="{ROW - 6}" rx="5" fill="{theme.PART_COLORS["embedding"]}" '
            f'stroke="{theme.PART_STROKE}" stroke-width="0.8"/>'
        )
        text = labels['row'].format(i=i + 1, batch=batch, block=block)
        out.append(f'<text x="85" y="{y + 16}" font-size="11" text-anchor="middle">{esc(text)}</text>')
        out.append(
            f'<circle class="mb-packet" style="animation-delay:{i * SLOT_S:.2f}s" cx="172" cy="{y + 12}" r="6" '
            f'fill="{theme.TRAIN}"/>'
        )
    box_h = shown * ROW - 6
    out.append(
        f'<rect x="330" y="{TOP}" width="110" height="{box_h}" rx="6" fill="#fff" stroke="{theme.PART_STROKE}"/>'
    )
    out.append(
        f'<rect class="mb-fill" x="334" y="{TOP + 4}" width="102" height="{box_h - 8}" rx="4" '
        f'fill="{theme.TRAIN}" fill-opacity="0.35"/>'
    )
    out.append(f'<text x="385" y="{TOP + box_h / 2 + 4}" font-size="12" text-anchor="middle">Σ ∇</text>')
    mid = TOP + box_h / 2
    out.append(f'<line x1="440" y1="{mid}" x2="470" y2="{mid}" stroke="{theme.INK}" stroke-width="1.5"/>')
    out.append(
        f'<rect class="mb-step" x="470" y="{mid - 22}" width="140" height="44" rx="8" fill="#fff" '
        f'stroke="{theme.PRIMARY}" stroke-width="2"/>'
    )
    out.append(f'<text x="540" y="{mid + 4}" font-size="12" text-anchor="middle">{esc(labels["step"])}</text>')
    if accum > shown:
        more = labels['more'].format(n=accum - shown)
        out.append(
            f'<text x="85" y="{height - 12}" font-size="11" text-anchor="middle" fill="{theme.MUTED}">'
            f'{esc(more)}</text>'
        )
    out.append('</svg>')
    return ''.join(out)


class micro_batches(ui.column):  # noqa: N801 - a NiceGUI component
    """The formula and the animation; `show(batch, block, accum, processes)` redraws both."""

    def __init__(self, *, tr: Translator, marker: str) -> None:
        super().__init__()
        self.tr = tr
        self.labels = {k: tr(f'components.micro.{k}') for k in ('aria', 'micro', 'sum', 'row', 'step', 'more')}
        self.classes('w-full gap-2').mark(marker)
        with self:
            self.formula = ui.label().classes('font-mono text-base').mark(f'{marker}-formula')
            self.ddp = ui.label().classes('font-mono text-sm text-gray-600').mark(f'{marker}-ddp')
            self.picture = ui.html('', sanitize=False).classes('w-full')  # our own escaped SVG
            ui.label(tr('components.micro.why')).classes(theme.HELP)

    def show(self, batch: int, block: int, accum: int, processes: int = 1) -> None:
        """Redraw for a new batch size, block size, accumulation or process count (this page runs one process;
        the second line is the same run under torchrun on `processes`)."""
        self.formula.set_text(formula(batch, block, accum, 1, self.tr))
        total = tokens_per_iter(batch, block, accum, processes)
        self.ddp.set_text(self.tr('components.micro.ddp', procs=processes, total=f'{total:,}'))
        self.picture.set_content(micro_batch_svg(batch, block, accum, self.labels))
