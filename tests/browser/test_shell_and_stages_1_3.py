"""The lab in Debian's Chromium: the shell and stages 1–3 in both languages and both modes, offline, no console
errors; clicks that only a real browser makes (SVG parts, uploads, the stepper); screenshots for people to look at.

With `pytest --screenshots` the screenshots land in artifacts/screenshots/ (gitignored). The server is `nanogpt-lab
serve` in a subprocess on a free loopback port with its own workspace, as a learner starts it.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

STAGES = ('data', 'tokenizers', 'architecture')


@pytest.fixture(scope='module')
def lab(serve_lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`nanogpt-lab serve` on a free port with a fresh workspace; yields its base URL."""
    with serve_lab(tmp_path_factory.mktemp('lab_home'), tmp_path_factory.mktemp('lab_log') / 'server.log') as url:
        yield url


def _settle(page: Any, slug: str) -> None:
    """Wait for what each stage computes after load (tokenizers run in a worker thread)."""
    if slug == 'tokenizers':
        page.wait_for_function("() => !document.body.innerText.includes('…\\n')", timeout=20_000)


@pytest.mark.parametrize('lang', ['en', 'zh-CN'])
def test_walk_the_shell_and_stages_in_both_modes(lab: str, watched: Any, lang: str) -> None:
    watch = watched()
    page = watch.page
    names = ['Data', 'Tokeniz', 'Architecture', 'Pretrain', 'Fine-tun', 'Inference']
    if lang == 'zh-CN':
        names = ['数据', '分词', '架构', '预训练', '微调', '推理']
    for mode in ('simulation', 'real'):
        for number, slug in enumerate(STAGES, start=1):
            page.goto(f'{lab}/{slug}?lang={lang}&mode={mode}', wait_until='networkidle')
            _settle(page, slug)
            body = page.inner_text('body')
            assert all(n in body for n in names), f'stage names missing on /{slug}'
            assert ('第 ' if lang == 'zh-CN' else 'Stage ') + str(number) in body
            assert ('模拟' if lang == 'zh-CN' else 'Simulation') in body
            assert watch.squeezed_switches() == []  # '以表格显示' not one character a line
            assert watch.cut_chart_text() == []  # no axis name cut off at a chart's edge
            watch.shot(f'{lang}-{mode}-{number}-{slug}')
    page.get_by_text(names[-1], exact=False).first.click()  # the stepper's last stage, as a learner would
    page.wait_for_url(re.compile(r'/inference\?'))
    watch.shot(f'{lang}-stage-6')


def test_language_mode_and_size_live_in_the_url(lab: str, watched: Any) -> None:
    watch = watched(locale='zh-CN')
    page = watch.page
    page.goto(f'{lab}/architecture', wait_until='networkidle')
    assert '第 3 阶段' in page.inner_text('body')  # the browser's language is the default
    page.get_by_text('English', exact=True).click()
    page.wait_for_url(re.compile(r'lang=en'))
    page.get_by_text('XL', exact=True).first.click()
    page.wait_for_url(re.compile(r'size=gpt2-xl'))
    page.get_by_text('Real', exact=True).click()
    page.wait_for_url(re.compile(r'mode=real'))
    shared = page.url
    page.goto(f'{lab}/data', wait_until='networkidle')  # language and mode are remembered for this browser
    assert 'Real mode' in page.inner_text('body')
    other = watched()  # a second browser (a student) opens the teacher's link
    other.page.goto(shared, wait_until='networkidle')
    body = other.page.inner_text('body')
    assert '1,557,611,200' in body and 'Real mode' in body and 'Stage 3' in body


def test_real_clicks_on_the_diagram_chart_table_and_tokenizer_box(lab: str, watched: Any) -> None:
    watch = watched()
    page = watch.page
    page.goto(f'{lab}/architecture?lang=en&size=custom&n_layer=2&n_head=3&n_embd=100', wait_until='networkidle')
    page.get_by_text('Not a valid model').first.wait_for()  # a shared invalid shape: its error, no other model
    expect(page.locator('#part-c_fc')).to_be_hidden()
    error = page.get_by_role('alert').filter(has_text='Not a valid model').bounding_box()
    fields = [f.bounding_box() for f in page.locator('.q-field--error').all()]
    assert fields and all(f['y'] + f['height'] <= error['y'] + 1 for f in fields)  # under the red lines, not on
    page.goto(f'{lab}/architecture?lang=en', wait_until='networkidle')
    attention = page.locator('.attention-map').first  # the bundled model's real attention pattern
    attention.locator('[data-token="3"]').wait_for(timeout=60_000)
    attention.locator('canvas').hover(position={'x': 21, 'y': 21})  # the first cell: token 0 attends to itself
    expect(attention).to_contain_text(re.compile(r'→ .+: 1\.000'))
    attention.locator('[data-token="3"]').hover()
    expect(attention).to_contain_text('attends to:')
    page.locator('#part-c_fc').click()  # an SVG shape, clicked where it is drawn
    page.get_by_text('transformer.h[i].mlp.c_fc').wait_for()
    page.get_by_text(re.compile(r'activations are ≤ 0')).first.wait_for()  # and the part's real numbers open
    page.get_by_text('Post-LN (GPT-1)', exact=True).click()
    page.wait_for_function("() => !document.querySelector('#part-ln_f')")
    breakdown = page.locator('.q-card', has_text='Where the parameters are')  # stage 3 has other charts above it
    breakdown.get_by_text('Show as table').click()
    page.get_by_role('cell', name='MLP (all blocks)').wait_for()
    page.goto(f'{lab}/tokenizers?lang=en', wait_until='networkidle')
    box = page.locator('textarea')
    box.fill('hello hello hello')
    page.get_by_text('A 256-token context holds about 256 characters', exact=False).first.wait_for()
    page.get_by_text('中文', exact=True).click()
    page.wait_for_function("() => document.querySelector('textarea').value.startsWith('床前明月光')")
    watch.shot('en-tokenizers-chinese')


def test_real_mode_upload_prepare_statistics(lab: str, watched: Any, shakespeare_txt: Path, tmp_path: Path) -> None:
    """Your own text: the file goes through the lab's upload route, is named (prefilled), prepared, shown."""
    sample = tmp_path / 'hamlet.txt'
    sample.write_bytes(shakespeare_txt.read_bytes()[:40_000])
    watch = watched()
    page = watch.page
    page.goto(f'{lab}/data?lang=en&mode=real', wait_until='networkidle')
    assert page.locator('input[type=file]').count() >= 4  # every card takes a file
    custom = page.locator('.q-uploader', has_text='Drop a file here')
    custom.locator('input[type=file]').set_input_files(str(sample))
    expect(page.get_by_label('Dataset name')).to_have_value('hamlet')  # prefilled from the file's name
    page.get_by_text('Upload and prepare').click()
    page.get_by_text('Statistics: hamlet').wait_for(timeout=60_000)
    page.get_by_text('✓ hamlet is prepared.').wait_for()
    body = page.inner_text('body')
    assert 'live · this machine · data/hamlet' in body and '40,000' in body
    watch.shot('en-real-upload-statistics')
    bad = tmp_path / 'notes.txt'
    bad.write_bytes(b'too short\n')
    custom = page.locator('.q-uploader', has_text='Drop a file here')
    custom.locator('input[type=file]').set_input_files(str(bad))
    page.get_by_text('Upload and prepare').click()
    page.get_by_text('This text is too small').wait_for(timeout=60_000)
    assert '✓ notes' not in page.inner_text('body')  # no ✓ for a preparation that failed


def test_offline_cards_take_their_own_files_in_chinese(
    lab: str, watched: Any, shakespeare_txt: Path, shared_data: Path, tmp_path: Path
) -> None:
    """Without the network: tiny Shakespeare's card takes input.txt; the Tang poems' card refuses a hostile .zip
    with the reason and takes the poems' JSON files, several at once; each shows the upload, prepares, ticks."""
    watch = watched(locale='zh-CN')
    page = watch.page
    page.goto(f'{lab}/data?lang=zh-CN&mode=real', wait_until='networkidle')
    card = page.locator('.q-card', has_text='没有网络？选择你手头的 tiny Shakespeare').first
    card.locator('input[type=file]').set_input_files(str(shakespeare_txt))
    page.get_by_text('✓ shakespeare_char 已准备好。').wait_for(timeout=120_000)
    assert '1,003,854' in page.inner_text('body') or '1,115,394' in page.inner_text('body')
    watch.shot('zh-offline-card-prepared')
    hostile = tmp_path / 'poems.zip'
    with zipfile.ZipFile(hostile, 'w') as zf:
        zf.writestr('../../evil.json', '[]')
    tang = page.locator('.q-card', has_text='没有网络？选择你手头的唐诗文件').first
    tang.locator('input[type=file]').set_input_files(str(hostile))
    expect(tang).to_contain_text('这个 .zip 被拒绝了，没有解压任何文件。（这个 .zip 里有一项名为「../../evil.json」')
    watch.errors[:] = [e for e in watch.errors if 'status of 422' not in e]  # the route's refusal, as intended
    poems = shared_data / 'chinese-poetry' / 'quantangshi'
    tang.locator('input[type=file]').set_input_files(
        [str(poems / 'poet.tang.0.json'), str(poems / 'poet.tang.1000.json')]
    )
    page.get_by_text('✓ tang_poems 已准备好。').wait_for(timeout=120_000)
    watch.shot('zh-offline-tang-prepared')
