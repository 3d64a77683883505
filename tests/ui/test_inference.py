"""Stage 6: the sampling controls redraw the next-token distribution from cached logits; step, generate, samples
side by side, chat; a learner's run (nanoGPT's own baby checkpoint) and the bundled model as the model."""

from __future__ import annotations

import re

from nicegui import ui
from nicegui.testing import User

from nanogpt_lab.ui.components.sampling_controls import TEMPERATURES, TOP_KS


def _series(chart: ui.element, name_index: int) -> list[float]:
    return [d['value'] if isinstance(d, dict) else d for d in chart.options['series'][name_index]['data']]


def _tokens(user: User, one) -> int:
    return one(user, 'generated').content.count('data-token=')


def _idle(user: User, one) -> bool:
    return one(user, 'generate').enabled


async def _open_run(user: User, one, until, run: str) -> ui.element:
    await user.open(f'/inference?lang=en&mode=real&model=run:{run}&max=12')
    chart = one(user, 'next-chart-chart')
    await until(lambda: bool(chart.options.get('series')), timeout=60)
    return chart


async def test_every_control_redraws_from_the_same_logits(
    torch_pages: None, baby_run: str, user: User, until, one
) -> None:
    chart = await _open_run(user, one, until, baby_run)
    assert one(user, 'next-chart-provenance').text == 'live · cpu · Your run baby'
    raw, final = _series(chart, 0), _series(chart, 1)
    assert abs(sum(final) - 1) < 0.05 and raw != final  # temperature 0.8 sharpens the model's own softmax
    one(user, 'temperature').value = TEMPERATURES.index(3.0)
    await until(lambda: _series(chart, 1) != final)
    assert _series(chart, 0) == raw  # the model's probabilities never change: only the pipeline after them
    assert max(_series(chart, 1)) < max(final)  # a higher temperature flattens
    one(user, 'top_k').value = TOP_KS.index(1)
    await until(lambda: sum(1 for v in _series(chart, 1) if v > 0) == 1)
    pipeline = one(user, 'pipeline-chart-chart').options
    titles = [t['subtext'] for t in pipeline['title']]
    assert titles[3].startswith('1 kept') and titles[0].startswith('65 kept')
    assert any('markLine' in s for s in pipeline['series'])  # the top-k cut line
    assert one(user, 'top_k-value').text == '1'


async def test_step_generate_reset_and_the_same_seed(torch_pages: None, baby_run: str, user: User, until, one) -> None:
    await _open_run(user, one, until, baby_run)
    user.find(marker='step').click()
    await until(lambda: _tokens(user, one) == 1 and _idle(user, one))
    assert one(user, 'last-draw').text.startswith('Last draw:')
    assert 'the five likeliest were:' in one(user, 'generated').content  # hover: the top-5 alternatives
    user.find(marker='generate').click()
    await until(lambda: _tokens(user, one) == 13 and _idle(user, one))
    first = re.sub(r'<[^>]+>', '', one(user, 'generated').content)
    user.find(marker='reset').click()
    await until(lambda: _tokens(user, one) == 0)
    user.find(marker='generate').click()
    await until(lambda: _tokens(user, one) == 12 and _idle(user, one))
    user.find(marker='step').click()
    await until(lambda: _tokens(user, one) == 13)
    assert re.sub(r'<[^>]+>', '', one(user, 'generated').content) == first  # same seed, same draws


async def test_samples_side_by_side_chat_and_a_bad_prompt(
    torch_pages: None, baby_run: str, user: User, until, one
) -> None:
    await _open_run(user, one, until, baby_run)
    user.find(marker='run-samples').click()
    columns = [c for c in user.find(marker='sample-column').elements]
    await until(lambda: _all_sampled(columns) and _idle(user, one), timeout=60)
    texts = {_column_text(c) for c in columns}
    assert len(texts) == 3  # three seeds, three different samples
    await user.should_see('seed 1339')
    one(user, 'chat-input').value = 'ROMEO: Good morrow.'
    user.find(marker='chat-send').click()
    await until(lambda: any(_reply(user)), timeout=60)
    one(user, 'prompt').value = 'Price: 5 €'
    await until(lambda: 'cannot read the prompt' in one(user, 'prompt-error').text)


def _column_text(column: ui.element) -> str:
    html = next(e for e in column.descendants() if isinstance(e, ui.html))
    return html.content


def _all_sampled(columns: list[ui.element]) -> bool:
    return all(_column_text(c).count('data-token=') == 12 for c in columns)


def _reply(user: User) -> list[str]:
    try:
        replies = user.find(marker='chat-reply').elements
    except AssertionError:  # not there yet
        return []
    return [e.text for r in replies for e in r.descendants() if isinstance(e, ui.label) and e.text]


async def test_simulation_mode_samples_the_bundled_model(torch_pages: None, user: User, until, one) -> None:
    from nanogpt_lab.simulation import assets

    assert any(a.name == 'tiny-shakespeare-char' for a in assets.list_assets(kind='model'))
    await user.open('/inference?lang=zh-CN')
    chart = one(user, 'next-chart-chart')
    await until(lambda: bool(chart.options.get('series')), timeout=60)
    assert one(user, 'next-chart-provenance').text.startswith('实测')
    await user.should_see('自带小模型（字符级莎士比亚）')


async def test_pages_without_torch_say_so(user: User, one) -> None:
    await user.open('/inference?lang=en')
    await user.should_see('The model is not loaded on this page')
    assert one(user, 'step').enabled is False
