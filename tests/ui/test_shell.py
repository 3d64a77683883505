"""The shell around every stage: stepper, mode and language switches, device badge, shareable URLs."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from nanogpt_lab.ui.i18n import catalog
from nanogpt_lab.ui.stages import STAGES

EN_NAMES = ['Data', 'Tokeniz', 'Architecture', 'Pretrain', 'Fine-tun', 'Inference', 'Alignment']
ZH_NAMES = ['数据', '分词', '架构', '预训练', '微调', '推理', '对齐']


async def test_first_page_names_all_seven_stages_and_the_mode_switch(user: User) -> None:
    await user.open('/?lang=en')
    for name in EN_NAMES:
        await user.should_see(name)
    await user.should_see('Simulation')
    await user.should_see('Stage 1 · Data preparation')
    for stage in STAGES:  # each stage's one-line goal is in the stepper
        await user.should_see(catalog('en')[stage.goal_key])


async def test_chinese_names_and_default_language_from_the_browser(user: User) -> None:
    user.http_client.headers['Accept-Language'] = 'zh-CN,zh;q=0.9,en;q=0.5'
    await user.open('/')
    for name in ZH_NAMES:
        await user.should_see(name)
    await user.should_see('模拟模式')
    await user.should_see('第 1 阶段 · 数据准备')


async def test_stepper_links_keep_language_and_mode(user: User) -> None:
    await user.open('/?lang=zh-CN&mode=real')
    links = {el.props['href'] for el in user.find(marker='stage-inference').elements}
    assert links == {'/inference?lang=zh-CN&mode=real'}
    user.find(marker='stage-inference').click()
    await user.should_see('第 6 阶段 · 推理与生成', retries=100)  # the click builds another page: up to 10 s, not 0.3
    await user.should_see('真实模式：任务在本机上运行，图表显示实时测量结果。')


@pytest.mark.parametrize('slug', [s.slug for s in STAGES])
async def test_every_stage_page_opens(user: User, slug: str) -> None:
    await user.open(f'/{slug}?lang=en')
    stage = next(s for s in STAGES if s.slug == slug)
    await user.should_see(f'Stage {stage.number} · {catalog("en")[stage.name_key]}')


async def test_mode_switch_reloads_in_the_other_mode_and_is_remembered(user: User) -> None:
    await user.open('/architecture?lang=en')
    await user.should_see('Simulation mode: results appear instantly')
    user.find(marker='mode-switch').elements.pop().value = 'real'
    await user.should_see('Real mode: jobs run on this machine')
    await user.open('/architecture')  # no mode in the URL: this browser's last choice
    await user.should_see('Real mode: jobs run on this machine')


async def test_language_switch_is_remembered(user: User) -> None:
    await user.open('/tokenizers?lang=en')
    user.find(marker='language-switch').elements.pop().value = 'zh-CN'
    await user.should_see('第 2 阶段 · 分词器')
    await user.open('/data')
    await user.should_see('第 1 阶段 · 数据准备')


async def test_device_badge_shows_the_cpu_without_torch(user: User) -> None:
    from nanogpt_lab import hardware

    await user.open('/?lang=en')
    badge = user.find(marker='device-badge').elements.pop()
    text = ' '.join(el.text for el in badge.descendants() if hasattr(el, 'text'))
    assert f'{hardware.cpu_threads()} threads' in text


@pytest.fixture
def detecting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages run the (torch-importing) device detection; list it before `user`, which reads the setting."""
    monkeypatch.setenv('NANOGPT_LAB_UI_DETECT_DEVICE', '1')


async def test_device_badge_detects_the_device_after_the_page_is_up(detecting: None, user: User, until) -> None:
    from nanogpt_lab.ui.components import device_badge

    await user.open('/architecture?lang=en')  # the badge's detection runs in a worker thread after 0.2 s
    await until(lambda: device_badge.full_info.cache_info().currsize == 1, timeout=60)
    info = device_badge.full_info()
    assert info['detected'] and info['cpu']['threads'] >= 1 and 'torch' in info
    await user.should_see('this machine (detected)')


async def test_unknown_url_values_fall_back_to_defaults(user: User) -> None:
    await user.open('/architecture?lang=xx&mode=turbo&size=gpt9&part=nope&batch=abc')
    await user.should_see('Stage 3 · Architecture')
    await user.should_see('124,439,808')
