"""Stages 4–6 in Debian's Chromium: both languages and both modes with screenshots, offline, no console errors; the
inference slider redrawing its chart; a replay drawn live; and a real run: train on CPU, watch the loss chart
gain points, stop it, export it from the page (download, snippets, /docs), sample from it.

With `pytest --screenshots` the screenshots land in artifacts/screenshots/ (gitignored). The lab is `nanogpt-lab
serve` on a free loopback port with its own workspace: tiny Shakespeare prepared, and nanoGPT's baby checkpoint as
a finished run.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

STAGES = {4: 'pretraining', 5: 'finetuning', 6: 'inference'}
NAMES = {'en': ('Pretraining', 'Fine-tuning', 'Inference'), 'zh-CN': ('预训练', '微调', '推理与生成')}


@pytest.fixture(scope='module')
def lab(
    serve_lab: Any, tmp_path_factory: pytest.TempPathFactory, char_data_dir: Path, nanogpt_baby_ckpt: Path
) -> Iterator[str]:
    """The lab with tiny Shakespeare prepared and nanoGPT's baby checkpoint as the run 'baby'."""
    home = tmp_path_factory.mktemp('lab_home_4_6')
    shutil.copytree(char_data_dir / 'shakespeare_char', home / 'data' / 'shakespeare_char')
    run = home / 'runs' / 'baby'
    run.mkdir(parents=True)
    shutil.copyfile(nanogpt_baby_ckpt / 'ckpt.pt', run / 'ckpt.pt')
    shutil.copyfile(char_data_dir / 'shakespeare_char' / 'meta.pkl', run / 'meta.pkl')
    job = {'id': 'baby', 'kind': 'train', 'status': 'succeeded', 'config': {'dataset': 'shakespeare_char'}}
    (run / 'job.json').write_text(json.dumps(job))
    with serve_lab(home, tmp_path_factory.mktemp('lab_log') / 'server.log') as url:
        yield url


def _distribution_drawn(watch: Any) -> bool:
    return bool(watch.series('after the pipeline (sampled from)') or watch.series('经过采样流程（实际抽样的分布）'))


@pytest.mark.parametrize('lang', ['en', 'zh-CN'])
def test_walk_stages_4_to_6_in_both_languages_and_modes(lab: str, watched: Any, lang: str) -> None:
    watch = watched(locale=lang)
    page = watch.page
    for mode in ('simulation', 'real'):
        for number, slug in STAGES.items():
            model = '&model=run:baby' if slug == 'inference' and mode == 'real' else ''
            page.goto(f'{lab}/{slug}?lang={lang}&mode={mode}{model}', wait_until='networkidle')
            if model:
                for _ in range(100):
                    if _distribution_drawn(watch):
                        break
                    page.wait_for_timeout(200)
                assert _distribution_drawn(watch)
            body = page.inner_text('body')
            assert all(name in body for name in NAMES[lang])
            assert (f'第 {number} 阶段' if lang == 'zh-CN' else f'Stage {number}') in body
            assert watch.squeezed_switches() == []  # no switch label one character a line
            assert watch.cut_chart_text() == []  # no axis name cut off at a chart's edge
            watch.shot(f'{lang}-{mode}-{number}-{slug}')


def test_inference_first_slider_redraws_and_tokens_show_alternatives(lab: str, watched: Any) -> None:
    watch = watched()
    page = watch.page
    page.goto(f'{lab}/inference?lang=en&mode=real&model=run:baby', wait_until='networkidle')
    page.wait_for_function("() => document.body.innerText.includes('Loaded on')", timeout=60_000)
    assert page.locator('canvas, svg').first.evaluate('e => e.tagName') == 'CANVAS'  # the chart comes first
    before = watch.series('after the pipeline (sampled from)')
    slider = page.get_by_role('slider', name='temperature')  # a name and the value, for a screen reader
    assert slider.get_attribute('aria-valuetext') == '0.8'
    box = slider.bounding_box()
    page.mouse.click(box['x'] + box['width'] * 0.85, box['y'] + box['height'] / 2)  # temperature 0.8 → 2.0
    expect(slider).to_have_attribute('aria-valuetext', '2')
    for _ in range(50):
        if watch.series('after the pipeline (sampled from)') != before:
            break
        page.wait_for_timeout(100)
    assert watch.series('after the pipeline (sampled from)') != before
    page.get_by_text('Step', exact=True).click()
    token = page.locator('[data-token="0"]')
    token.wait_for()
    token.hover()
    assert 'the five likeliest were:' in token.get_attribute('title')
    watch.shot('en-real-inference-step')
    page.get_by_label('Your line, e.g. ROMEO').fill('ROMEO: Good morrow.')
    page.get_by_role('button', name='Send').click()
    page.wait_for_function("() => document.querySelector('.q-message-received .q-message-text-content')"
                           "?.innerText.length > 3", timeout=30_000)  # fmt: skip
    mine, reply = page.locator('.q-message-sent .q-message-text'), page.locator('.q-message-received .q-message-text')
    assert mine.bounding_box()['x'] > reply.bounding_box()['x'] + 100  # your line on the right, the reply left
    assert not reply.inner_text().startswith('\n')  # no blank line first
    page.get_by_label('Prompt', exact=True).fill('Price: 5 €')
    page.get_by_text('cannot read the prompt').first.wait_for()
    assert watch.series('after the pipeline (sampled from)') == []  # no distribution of the previous prompt


def test_replay_draws_the_loss_chart_as_events_arrive(lab: str, watched: Any) -> None:
    watch = watched()
    page = watch.page
    page.goto(f'{lab}/pretraining?lang=en&mode=simulation&speed=10', wait_until='networkidle')
    page.get_by_text('Start', exact=True).click()
    counts = []
    for _ in range(80):
        page.wait_for_timeout(250)
        counts.append(len(watch.series('train loss')))
        if len([c for c in dict.fromkeys(counts) if c]) >= 3:
            break
    assert len([c for c in dict.fromkeys(counts) if c]) >= 3, counts  # the chart grew while the replay ran
    page.get_by_text('Stop', exact=True).first.click()
    page.get_by_text(re.compile(r'^Stopped( after [\d,]+ iterations)?\.$')).wait_for(timeout=30_000)
    watch.shot('en-simulation-4-replay')


@pytest.mark.slow
def test_real_mode_train_watch_stop_then_sample(lab: str, watched: Any) -> None:
    watch = watched()
    page = watch.page
    page.goto(f'{lab}/pretraining?lang=en&mode=real', wait_until='networkidle')
    tiny = {
        'Layers (n_layer)': 2,
        'Attention heads (n_head)': 2,
        'Width (n_embd)': 32,
        'Context length (block_size)': 32,
        'Batch size (batch_size)': 4,
        'Iterations (max_iters)': 5000,
        'Eval interval (eval_interval)': 25,
    }
    for label, value in tiny.items():
        field = page.get_by_label(label, exact=True)
        field.fill(str(value))
        field.press('Tab')
    page.wait_for_function("() => document.body.innerText.includes('--max_iters=5000')")
    page.get_by_text('Start', exact=True).click()
    seen: list[int] = []
    for _ in range(240):
        page.wait_for_timeout(250)
        seen.append(len(watch.series('train loss')))
        if seen[-1] >= 50 and len({c for c in seen if c}) >= 3:
            break
    assert seen[-1] >= 50 and len({c for c in seen if c}) >= 3, seen[-10:]  # it gained points as it trained
    watch.shot('en-real-4-training')
    page.get_by_text('Stop', exact=True).first.click()
    page.get_by_text(re.compile(r'^Stopped( after [\d,]+ iterations)?\.$')).wait_for(timeout=60_000)
    page.get_by_text(re.compile(r'Checkpoint: runs/train-')).wait_for(timeout=30_000)
    page.get_by_text('Resume', exact=True).wait_for()  # a stop is a stop: it offers to go on, in no red
    assert 'This did not work' not in page.inner_text('body')
    run = re.search(r'runs/(train-[\w-]+)/ckpt\.pt', page.inner_text('body')).group(1)
    # the export panel offers the stopped run: an export job, its folder as a download, snippets to copy, /docs
    assert f'"out_dir": "{run}"' in page.inner_text('body')
    page.get_by_role('button', name='Export', exact=True).click()
    link = page.get_by_role('link', name='Download the folder (.zip)')
    link.wait_for(timeout=60_000)
    assert link.get_attribute('href') == f'/api/exports/{run}-hf/download'
    archive = page.request.get(lab + link.get_attribute('href'))
    assert archive.ok and archive.body()[:2] == b'PK'  # a zip of the Hugging Face folder
    assert 'from_pretrained' in page.inner_text('body') and page.get_by_role('button', name='Copy').count() >= 3
    assert page.get_by_role('link', name='API reference (/docs)').get_attribute('href') == '/docs'
    watch.shot('en-real-4-exported')
    page.goto(f'{lab}/inference?lang=en&mode=real&model=run:{run}&max=40', wait_until='networkidle')
    page.wait_for_function("() => document.body.innerText.includes('Loaded on')", timeout=60_000)
    page.get_by_text('Generate', exact=True).click()
    page.locator('[data-token="39"]').wait_for(timeout=60_000)
    watch.shot('en-real-6-sample-from-the-run')
