"""The export panel (stages 4 and 5): a run exported as a job with progress, offered as a download, and how another
program uses it — Python for the folder, the lab's HTTP and OpenAI-style APIs for the run — each with copy."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
from nicegui import app
from nicegui.testing import User

from nanogpt_lab.server.schemas import GenerateIn


async def test_a_finished_run_exports_downloads_and_says_how_to_use_it(
    baby_run: str, user: User, until, text, one, found
) -> None:
    await user.open('/pretraining?lang=en&mode=real')
    assert one(user, 'export-run').value == baby_run
    assert not found(user, marker='export-python') and '"out_dir": "baby"' in text(user, 'export-http')
    assert "client.completions.create(model='baby', prompt='ROMEO:'" in text(user, 'export-openai')
    assert one(user, 'export-docs').props['href'] == '/docs'
    user.find(marker='export-start').click()
    await until(lambda: found(user, marker='export-folder') and text(user, 'export-folder'), timeout=120)
    folder = text(user, 'export-folder')
    assert folder.endswith('exports/baby-hf') and f'GPT2LMHeadModel.from_pretrained("{folder}")' in text(
        user, 'export-python'
    )
    assert 'char_vocab.json' in text(user, 'export-python')  # a char run: the snippet maps characters itself
    href = one(user, 'export-download').props['href']
    assert href == '/api/exports/baby-hf/download'
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url='http://127.0.0.1') as client:
        answer = await client.get(href)  # the link the page offers serves the folder
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert 'baby-hf/model.safetensors' in archive.namelist()
    user.find(marker='export-python-copy').click()  # every snippet has its copy button


async def test_simulation_mode_names_the_bundled_model_in_chinese(user: User, text, one) -> None:
    await user.open('/finetuning?lang=zh-CN')
    assert text(user, 'export-simulation').startswith('导出适用于你自己的运行')
    curl = text(user, 'export-http')
    assert '"init_from": "bundled"' in curl
    body = json.loads(curl.split("-d '", 1)[1].rstrip("'"))
    assert GenerateIn.model_validate(body).init_from == 'bundled'  # the body the snippet sends is one the API takes
    assert "model='bundled'" in text(user, 'export-openai')


async def test_stage_7_exports_its_chat_runs_and_its_snippets_chat(baby_run: str, user: User, text, one) -> None:
    await user.open('/alignment?lang=en&mode=simulation')
    assert "client.chat.completions.create(model='bundled-chat'" in text(user, 'export-openai')
    assert '"init_from": "bundled-chat"' in text(user, 'export-http')
    await user.open('/alignment?lang=en&mode=real')
    assert one(user, 'export-run').value is None  # stage 7 offers SFT and DPO runs: the pretraining run is not one
