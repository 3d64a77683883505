"""The GPT-2 diagram: embeddings → N × block → ln_f → lm_head, drawn as SVG with one clickable shape per part.

Pre-LN (GPT-2) puts each LayerNorm inside the branch, so the residual stream runs straight through the block;
post-LN (GPT-1) puts it on the stream after each add, so every layer's signal passes through a LayerNorm.
The drawing shows exactly that difference. Parts are keyed by the names used in `nanogpt_lab.model.gpt`.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from nicegui import ui

from nanogpt_lab.ui import theme

WIDTH, ROW, GAP = 460, 30, 10
STREAM_X = 56  # the residual stream's vertical line
BRANCH_X, BRANCH_W = 110, 330  # boxes beside the stream (a branch the stream can bypass)
FULL_X, FULL_W = 20, 420  # boxes across the stream (everything passes through them)


@dataclass(frozen=True)
class Box:
    """One drawn part: its id (`part-<id>` in the SVG), kind (for its colour), label, and where it sits."""

    part: str
    kind: str
    label: str
    x: int
    y: int
    w: int


@dataclass(frozen=True)
class Layout:
    """Where everything sits: boxes top to bottom, where branches leave (`taps`) and rejoin (`adds`) the stream."""

    boxes: list[Box]
    taps: list[int]
    adds: list[int]
    block: tuple[int, int]
    height: int


def layout(ln_position: str, labels: dict[str, str]) -> Layout:
    """Lay the parts out for pre-LN (GPT-2) or post-LN (GPT-1)."""
    boxes: list[Box] = []
    taps: list[int] = []
    adds: list[int] = []
    y = 46

    def put(part: str, kind: str, across: bool = False) -> None:
        nonlocal y
        x, w = (FULL_X, FULL_W) if across else (BRANCH_X, BRANCH_W)
        boxes.append(Box(part, kind, labels[part], x, y, w))
        y += ROW + GAP

    def add() -> None:
        nonlocal y
        adds.append(y + 10)
        y += 30

    boxes.append(Box('wte', 'embedding', labels['wte'], FULL_X, y, FULL_W // 2 - 5))
    boxes.append(Box('wpe', 'embedding', labels['wpe'], FULL_X + FULL_W // 2 + 5, y, FULL_W // 2 - 5))
    y += ROW + GAP + 24
    top = y - 12
    pre = ln_position == 'pre'
    for branch in (('c_attn', 'attention', 'attn_proj'), ('c_fc', 'gelu', 'mlp_proj')):
        norm = 'ln_1' if branch[0] == 'c_attn' else 'ln_2'
        taps.append(y + ROW // 2)
        if pre:
            put(norm, 'norm')
        for part in branch:
            put(part, 'attention' if branch[0] == 'c_attn' else 'mlp')
        add()
        if not pre:
            put(norm, 'norm', across=True)
    bottom = y
    y += 18
    if pre:
        put('ln_f', 'norm', across=True)
    put('lm_head', 'head', across=True)
    return Layout(boxes, taps, adds, (top, bottom), y + 30)


def diagram_svg(ln_position: str, n_layer: int, selected: str | None, labels: dict[str, str]) -> str:
    """The whole diagram as SVG markup (escaped; ids `part-<name>` for clicks)."""
    plan = layout(ln_position, labels)
    (top, bottom), height = plan.block, plan.height
    esc = html.escape
    out = [
        f'<rect x="4" y="{top}" width="{WIDTH - 8}" height="{bottom - top}" rx="10" fill="none" '
        f'stroke="#94a3b8" stroke-dasharray="6 4"/>',
        f'<text x="{WIDTH - 8}" y="{top - 6}" text-anchor="end" font-size="13" font-weight="700" '
        f'fill="{theme.INK}">{esc(labels["block_times"].format(n=n_layer))}</text>',
        f'<text x="{WIDTH // 2}" y="22" text-anchor="middle" font-size="12" fill="{theme.MUTED}">'
        f'{esc(labels["input"])}</text>',
        f'<line x1="{STREAM_X}" y1="{top - 20}" x2="{STREAM_X}" y2="{bottom + 10}" stroke="{theme.INK}" '
        f'stroke-width="3"/>',
    ]
    for y in plan.taps:  # a branch leaves the stream
        out.append(f'<line x1="{STREAM_X}" y1="{y}" x2="{BRANCH_X}" y2="{y}" stroke="{theme.INK}" stroke-width="1.5"/>')
    for i, y in enumerate(plan.adds):  # the residual add: the branch's output joins the stream
        out.append(f'<line x1="{STREAM_X}" y1="{y}" x2="{BRANCH_X}" y2="{y}" stroke="{theme.INK}" stroke-width="1.5"/>')
        out.append(
            f'<circle id="part-residual-{i}" cx="{STREAM_X}" cy="{y}" r="11" fill="#fff" stroke="{theme.INK}" '
            f'stroke-width="2" pointer-events="all" style="cursor:pointer"/>'
        )
        out.append(
            f'<text x="{STREAM_X}" y="{y + 5}" text-anchor="middle" font-size="16" pointer-events="none">+</text>'
        )
    for box in plan.boxes:
        out.append(_box(box, box.part == selected))
    out.append(
        f'<text x="{WIDTH // 2}" y="{height - 10}" text-anchor="middle" font-size="12" fill="{theme.MUTED}">'
        f'{esc(labels["output"])}</text>'
    )
    return ''.join(out)


def _box(box: Box, selected: bool) -> str:
    stroke, width = (theme.PART_SELECTED, 3) if selected else (theme.PART_STROKE, 1)
    return (
        f'<rect id="part-{box.part}" x="{box.x}" y="{box.y}" width="{box.w}" height="{ROW}" rx="6" '
        f'fill="{theme.PART_COLORS[box.kind]}" stroke="{stroke}" stroke-width="{width}" pointer-events="all" '
        f'style="cursor:pointer"/>'
        f'<text x="{box.x + box.w / 2}" y="{box.y + 20}" text-anchor="middle" font-size="13" fill="{theme.INK}" '
        f'pointer-events="none">{html.escape(box.label)}</text>'
    )


class architecture_diagram(ui.interactive_image):  # noqa: N801 - a NiceGUI component
    """The clickable diagram; `on_select(part)` gets the part's name; `draw(...)` redraws it in place."""

    def __init__(
        self,
        ln_position: str,
        n_layer: int,
        selected: str | None,
        labels: dict[str, str],
        on_select: Callable[[str], None],
    ) -> None:
        height = layout(ln_position, labels).height
        super().__init__(size=(WIDTH, height), content=diagram_svg(ln_position, n_layer, selected, labels))
        self.labels = labels
        self.classes('w-full max-w-[460px]')
        self.props['aria-label'] = labels['aria']
        self.on('svg:pointerdown', lambda e: _picked(e.args, on_select))

    def draw(self, ln_position: str, n_layer: int, selected: str | None) -> None:
        """Redraw for a new LayerNorm position, depth or selection."""
        self.props['size'] = (WIDTH, layout(ln_position, self.labels).height)
        self.set_content(diagram_svg(ln_position, n_layer, selected, self.labels))


def _picked(args: dict, on_select: Callable[[str], None]) -> None:
    element_id = str(args.get('element_id') or '')
    if element_id.startswith('part-'):
        on_select(element_id.removeprefix('part-').split('-')[0])  # part-residual-1 -> residual
