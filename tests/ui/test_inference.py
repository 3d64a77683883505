"""Stage 6: the sampling controls redraw the next-token distribution from cached logits; step, generate, samples
side by side, chat; a learner's run (nanoGPT's own baby checkpoint) and the bundled model as the model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from nanogpt_lab.ui.stages.inference import TEMPERATURES, TOP_KS


def _one(user: User, marker: str) -> ui.element:
    elements = user.find(marker=marker).elements
    assert len(elements) == 1, marker
    return next(iter(elements))


def _series(chart: ui.element, name_index: int) -> list[float]:
    return [d['value'] if isinstance(d, dict) else d for d in chart.options['series'][name_index]['data']]


def _tokens(user: User) -> int:
    return _one(user, 'generated').content.count('data-token=')


def _idle(user: User) -> bool:
    return _one(user, 'generate').enabled


@pytest.fixture
def torch_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let pages load models (torch) after they are up, as `nanogpt-lab serve` does; request it before `user`."""
    monkeypatch.setenv('NANOGPT_LAB_UI_DETECT_DEVICE', '1')


@pytest.fixture
def baby_run(workspace_home: Path, nanogpt_baby_ckpt: Path, char_data_dir: Path) -> str:
    """nanoGPT's own baby checkpoint as a finished run in the workspace, its meta.pkl beside it (as the lab keeps)."""
    run = workspace_home / 'runs' / 'baby'
    run.mkdir(parents=True)
    shutil.copyfile(nanogpt_baby_ckpt / 'ckpt.pt', run / 'ckpt.pt')
    shutil.copyfile(char_data_dir / 'shakespeare_char' / 'meta.pkl', run / 'meta.pkl')
    (run / 'job.json').write_text(json.dumps({'id': 'baby', 'kind': 'train', 'status': 'succeeded'}))
    return 'baby'


async def _open_run(user: User, until, run: str) -> ui.element:
    await user.open(f'/inference?lang=en&mode=real&model=run:{run}&max=12')
    chart = _one(user, 'next-chart-chart')
    await until(lambda: bool(chart.options.get('series')), timeout=60)
    return chart


async def test_every_control_redraws_from_the_same_logits(torch_pages: None, baby_run: str, user: User, until) -> None:
    chart = await _open_run(user, until, baby_run)
    assert _one(user, 'next-chart-provenance').text == 'live · cpu · Your run baby'
    raw, final = _series(chart, 0), _series(chart, 1)
    assert abs(sum(final) - 1) < 0.05 and raw != final  # temperature 0.8 sharpens the model's own softmax
    _one(user, 'temperature').value = TEMPERATURES.index(3.0)
    await until(lambda: _series(chart, 1) != final)
    assert _series(chart, 0) == raw  # the model's probabilities never change: only the pipeline after them
    assert max(_series(chart, 1)) < max(final)  # a higher temperature flattens
    _one(user, 'top_k').value = TOP_KS.index(1)
    await until(lambda: sum(1 for v in _series(chart, 1) if v > 0) == 1)
    pipeline = _one(user, 'pipeline-chart-chart').options
    titles = [t['subtext'] for t in pipeline['title']]
    assert titles[3].startswith('1 kept') and titles[0].startswith('65 kept')
    assert any('markLine' in s for s in pipeline['series'])  # the top-k cut line
    assert _one(user, 'top_k-value').text == '1'


async def test_step_generate_reset_and_the_same_seed(torch_pages: None, baby_run: str, user: User, until) -> None:
    await _open_run(user, until, baby_run)
    user.find(marker='step').click()
    await until(lambda: _tokens(user) == 1 and _idle(user))
    assert _one(user, 'last-draw').text.startswith('Last draw:')
    assert 'the five likeliest were:' in _one(user, 'generated').content  # hover: the top-5 alternatives
    user.find(marker='generate').click()
    await until(lambda: _tokens(user) == 13 and _idle(user))
    first = re.sub(r'<[^>]+>', '', _one(user, 'generated').content)
    user.find(marker='reset').click()
    await until(lambda: _tokens(user) == 0)
    user.find(marker='generate').click()
    await until(lambda: _tokens(user) == 12 and _idle(user))
    user.find(marker='step').click()
    await until(lambda: _tokens(user) == 13)
    assert re.sub(r'<[^>]+>', '', _one(user, 'generated').content) == first  # same seed, same draws


async def test_samples_side_by_side_chat_and_a_bad_prompt(torch_pages: None, baby_run: str, user: User, until) -> None:
    await _open_run(user, until, baby_run)
    user.find(marker='run-samples').click()
    columns = [c for c in user.find(marker='sample-column').elements]
    await until(lambda: _all_sampled(columns) and _idle(user), timeout=60)
    texts = {_column_text(c) for c in columns}
    assert len(texts) == 3  # three seeds, three different samples
    await user.should_see('seed 1339')
    _one(user, 'chat-input').value = 'ROMEO: Good morrow.'
    user.find(marker='chat-send').click()
    await until(lambda: any(_reply(user)), timeout=60)
    _one(user, 'prompt').value = 'Price: 5 €'
    await until(lambda: 'cannot read the prompt' in _one(user, 'prompt-error').text)


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


async def test_simulation_mode_samples_the_bundled_model(torch_pages: None, user: User, until) -> None:
    from nanogpt_lab.simulation import assets

    if not any(a.name == 'tiny-shakespeare-char' for a in assets.list_assets(kind='model')):
        pytest.skip('the bundled tiny model is not recorded in this checkout yet')
    await user.open('/inference?lang=zh-CN')
    chart = _one(user, 'next-chart-chart')
    await until(lambda: bool(chart.options.get('series')), timeout=60)
    assert _one(user, 'next-chart-provenance').text.startswith('实测')
    await user.should_see('自带小模型（字符级莎士比亚）')


async def test_pages_without_torch_say_so(user: User) -> None:
    await user.open('/inference?lang=en')
    await user.should_see('The model is not loaded on this page')
    assert _one(user, 'step').enabled is False
