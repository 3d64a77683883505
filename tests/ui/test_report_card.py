"""Stage 7's report card on the page: a real chain's card (nanoGPT's baby base → a short SFT → a short DPO, scored by
`nanogpt-lab report`), its table, chart, download and before-and-after answers, in both languages; "Make the report
card" runs the `report` job on the chosen run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nicegui.testing import User


@pytest.fixture
def dpo_run(dpo_chain, dpo_card, workspace_home: Path) -> str:
    """The session's DPO run, its report card written, as a run of this workspace."""
    shutil.copytree(dpo_chain[0], workspace_home / 'runs' / 'dpo-run')
    return 'dpo-run'


async def test_the_runs_card_side_by_side_with_its_answers(user: User, dpo_run: str, dpo_card, one, text) -> None:
    card = dpo_card[0]
    await user.open(f'/alignment?lang=en&mode=real&model=run:{dpo_run}')
    headline = text(user, 'report-headline')
    assert headline.startswith('Held-out exact match — Base · baby: English ') and 'DPO · dpo: English' in headline
    rows = one(user, 'report-table').rows
    assert [r['model'].split(' · ')[0] for r in rows] == ['Base', 'SFT', 'DPO']
    sft = card['models'][1]
    assert rows[1]['bpc'] == f'{sft["text_loss"]["shakespeare_char"]["bits_per_char"]:.3f}'
    assert rows[1]['en'] == f'{100 * sft["tasks"]["en"]["accuracy"]:.0f}%'
    assert rows[2]['provenance'].startswith(f'dpo · {card["models"][2]["provenance"]["commit"][:10]} · cpu · ')
    kinds = one(user, 'report-chart').rows  # the chart's table: per kind and language, beside chance
    assert {r['kind'].rsplit(' ', 1)[1] for r in kinds} == {'(EN)', '(ZH)'} and '(chance ' in kinds[0]['m1']
    assert one(user, 'report-download').props['href'] == f'/api/runs/{dpo_run}/report.json'
    pairs = card['before_after']
    assert text(user, 'report-answers-summary').startswith(f'Before ({pairs["before"]}): {pairs["correct"]["before"]} ')
    answers = one(user, 'report-answers-table').rows
    assert len(answers) == pairs['total'] and answers[0]['before'][0] in '✓✗'
    await user.open(f'/alignment?lang=zh-CN&mode=real&model=run:{dpo_run}')
    assert text(user, 'report-headline').startswith('留出精确匹配率——基础模型 · baby：英文 ')


async def test_make_the_report_card_runs_the_report_job(user: User, dpo_run: str, workspace_home: Path, until) -> None:
    from nanogpt_lab.ui.components.job_progress import jobs_client

    (workspace_home / 'runs' / dpo_run / 'report.json').unlink()
    await user.open(f'/alignment?lang=en&mode=real&model=run:{dpo_run}')
    await user.should_see('This run has no report card yet: press Make the report card.')
    user.find(marker='report-make').click()
    manager = jobs_client()
    await until(lambda: any(j['kind'] == 'report' for j in manager.list()))
    job = next(j for j in manager.list() if j['kind'] == 'report')
    assert job['config']['out_dir'].endswith(dpo_run)
    manager.cancel(job['id'])
    await until(lambda: manager.get(job['id'])['status'] in ('cancelled', 'failed', 'succeeded'), timeout=60)


async def test_real_mode_without_a_run_asks_for_one(user: User, text) -> None:
    await user.open('/alignment?lang=en&mode=real')
    assert text(user, 'report-headline').startswith('The report card scores a run of this workspace')


async def test_simulation_shows_the_recorded_dpo_runs_card(user: User, one, text) -> None:
    from nanogpt_lab.simulation import assets

    card = assets.read_json('dpo-lab-tasks', 'report.json')['card']
    await user.open('/alignment?lang=en')
    rows = one(user, 'report-table').rows
    stages = zip(('Base', 'SFT', 'DPO'), card['models'], strict=True)
    assert [r['model'] for r in rows] == [f'{stage} · {m["name"]}' for stage, m in stages]
    assert text(user, 'report-chart-provenance').startswith('simulated · recorded: dpo-lab-tasks (')
    assert len(one(user, 'report-answers-table').rows) == card['before_after']['total']
    assert one(user, 'report-download').text == 'Download report.json'  # the recorded file, offered as it is
