"""Components take data and return their element: chips, chart cards, provenance, the diagram."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from nanogpt_lab.ui.components import charts
from nanogpt_lab.ui.components.architecture_diagram import diagram_svg, layout
from nanogpt_lab.ui.components.part_detail import PARTS
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.token_view import TokenChip, chips_html, visible_text
from nanogpt_lab.ui.i18n import Translator

TR = Translator('en')
LABELS = {p: TR(f'architecture.parts.{p}.label') for p in PARTS} | {
    k: TR(f'architecture.diagram.{k}') for k in ('input', 'output', 'block_times', 'aria')
}


def test_visible_whitespace_keeps_line_breaks() -> None:
    assert visible_text('a b\n\tc', show_whitespace=True) == 'a·b↵\n→c'
    assert visible_text('a b', show_whitespace=False) == 'a b'


def test_chips_escape_text_and_hover_shows_id_and_bytes() -> None:
    html = chips_html(
        [TokenChip('<script>', 7, '3c 73'), TokenChip('\\xe4', 9, 'e4', partial=True)],
        TR,
        show_whitespace=False,
        show_ids=True,
    )
    assert '<script>' not in html and '&lt;script&gt;' in html
    assert 'title="id 7 · bytes 3c 73"' in html
    assert 'part of a multi-byte character' in html
    assert '>9</span>' in html


def test_provenance_says_where_numbers_come_from() -> None:
    assert Provenance.live('cpu', 'run-1').text(TR) == 'live · cpu · run-1'
    recorded = Provenance.asset('baby-char-2000', '2026-11-28', TR)
    assert recorded.text(TR).startswith('simulated · recorded: baby-char-2000 (2026-11-28, cpu (')
    assert recorded.text(TR).endswith(', threads: 1))') and 'sim record' in recorded.detail
    zh = Provenance.asset('baby-char-2000', '2026-11-28', Translator('zh-CN'))
    assert zh.text(Translator('zh-CN')).endswith('，1 线程））') and zh.detail.startswith('由 `nanogpt-lab sim record')
    assert Provenance.formula('PaLM').text(Translator('zh-CN')) == '公式 · PaLM'


def test_post_ln_diagram_has_no_ln_f_and_norms_across_the_stream() -> None:
    pre, post = layout('pre', LABELS), layout('post', LABELS)
    assert 'ln_f' in [b.part for b in pre.boxes] and 'ln_f' not in [b.part for b in post.boxes]
    ln_pre = next(b for b in pre.boxes if b.part == 'ln_1')
    ln_post = next(b for b in post.boxes if b.part == 'ln_1')
    assert ln_pre.w < ln_post.w  # pre-LN sits in the branch; post-LN spans the residual stream
    svg = diagram_svg('pre', 12, 'c_attn', LABELS)
    assert svg.count('id="part-') == len(pre.boxes) + len(pre.adds)
    assert '× 12 blocks' in svg and 'stroke-width="3"' in svg  # the selected part is outlined


def test_split_bar_uses_the_fixed_train_and_val_colours() -> None:
    from nanogpt_lab.ui import theme

    options = charts.split_bar(900, 100, 'train', 'val')
    assert [s['itemStyle']['color'] for s in options['series']] == [theme.TRAIN, theme.VAL]
    assert options['series'][1]['name'] == 'val 100 (10.0%)'


async def test_chart_card_redraws_in_place(user: User) -> None:
    from nanogpt_lab.ui.components.chart_card import chart_card

    @ui.page('/card')
    def page() -> None:
        card = chart_card(
            'T',
            charts.bar(['a'], [charts.Series('s', [1], '#000')]),
            provenance=Provenance.formula('f'),
            summary='one',
            columns=[('k', 'K')],
            rows=[{'k': 1}],
            tr=TR,
            marker='c',
        )
        ui.button(
            'go',
            on_click=lambda: card.set_data(
                charts.bar(['a'], [charts.Series('s', [2], '#000')]), rows=[{'k': 2}], summary='two'
            ),
        )

    await user.open('/card')
    chart = next(iter(user.find(marker='c-chart').elements))
    user.find('go').click()
    assert chart.options['series'][0]['data'] == [2]
    assert chart.options['aria']['label']['description'] == 'two'
    await user.should_see('two')
    next(iter(user.find(marker='c-table-toggle').elements)).value = True
    assert next(iter(user.find(marker='c-table').elements)).rows == [{'k': 2}]
