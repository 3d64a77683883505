"""Both languages have every key, the same placeholders, and every key the code asks for."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from nanogpt_lab.ui import i18n

UI_SRC = Path(i18n.__file__).resolve().parents[1]
KEY_CALL = re.compile(r"""\btr\(\s*'([a-z_][\w.-]*)'""")  # tr('literal.key' ...); f-string keys are checked below


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_languages_have_the_same_keys() -> None:
    en, zh = i18n.catalog('en'), i18n.catalog('zh-CN')
    assert set(en) - set(zh) == set(), 'keys missing in zh_CN.json'
    assert set(zh) - set(en) == set(), 'keys missing in en.json'
    assert len(en) > 200


def test_placeholders_match_between_languages() -> None:
    en, zh = i18n.catalog('en'), i18n.catalog('zh-CN')
    wrong = {
        k: (_placeholders(en[k]), _placeholders(zh[k])) for k in en if _placeholders(en[k]) != _placeholders(zh[k])
    }
    assert wrong == {}


def test_no_string_is_empty_and_chinese_is_chinese() -> None:
    en, zh = i18n.catalog('en'), i18n.catalog('zh-CN')
    assert [k for k, v in {**en, **zh}.items() if not v.strip()] == []
    names = [
        zh[f'stages.{s}.name'] for s in ('data', 'tokenizers', 'architecture', 'pretraining', 'finetuning', 'inference')
    ]
    assert names == ['数据准备', '分词器', '模型架构', '预训练', '微调', '推理与生成']


def test_every_literal_key_in_the_code_exists() -> None:
    keys = set(i18n.catalog('en'))
    used = {m for path in UI_SRC.rglob('*.py') for m in KEY_CALL.findall(path.read_text(encoding='utf-8'))}
    assert len(used) > 100
    assert sorted(used - keys) == []


@pytest.mark.parametrize('slug', ['data', 'tokenizers', 'architecture', 'pretraining', 'finetuning', 'inference'])
def test_every_stage_has_a_name_and_goal(slug: str) -> None:
    for lang in i18n.LANGUAGES:
        strings = i18n.catalog(lang)
        assert strings[f'stages.{slug}.name'] and strings[f'stages.{slug}.goal']


def test_dynamic_keys_of_the_architecture_page_exist() -> None:
    from nanogpt_lab.ui.stages.architecture import PARTS, SIZES  # through the page, as it loads them

    keys = set(i18n.catalog('en'))
    wanted = {f'architecture.parts.{p}.{f}' for p in PARTS for f in ('label', 'what')}
    wanted |= {f'architecture.size.{s}' for s in SIZES}
    assert sorted(wanted - keys) == []


@pytest.mark.parametrize(
    ('query', 'stored', 'header', 'expected'),
    [
        ('zh-CN', 'en', 'en-US', 'zh-CN'),  # a shared link wins
        (None, 'zh-CN', 'en-US', 'zh-CN'),  # then what this browser chose
        (None, None, 'fr-FR,zh-TW;q=0.8,en;q=0.5', 'zh-CN'),  # then the browser's order of preference
        (None, None, 'de,en-GB;q=0.9', 'en'),
        (None, None, None, 'en'),
        ('klingon', None, 'zh', 'zh-CN'),  # junk in the URL is ignored
    ],
)
def test_pick_language(query: str | None, stored: str | None, header: str | None, expected: str) -> None:
    assert i18n.pick_language(query, stored, header) == expected


def test_missing_key_is_logged_and_shown_as_the_key(caplog: pytest.LogCaptureFixture) -> None:
    tr = i18n.Translator('en')
    assert tr('no.such.key') == 'no.such.key'
    assert 'missing UI string' in caplog.text
    assert tr('shell.stage_n', n=3, name='X') == 'Stage 3 · X'
    with pytest.raises(ValueError, match='klingon'):
        i18n.catalog('klingon')


def test_engine_messages_reach_the_page_in_its_language() -> None:
    from nanogpt_lab.config import ConfigError
    from nanogpt_lab.events import log_fields
    from nanogpt_lab.ui.components.real_mode_panel import log_line

    zh, en = i18n.Translator('zh-CN'), i18n.Translator('en')
    e = ConfigError('config.divisible', key='n_embd', n_embd=100, n_head=3)
    assert (zh.error(e), en.error(e)) == ('n_embd（100）必须能被 n_head（3）整除', str(e))
    assert zh.error(ValueError('a library said so')) == 'a library said so'  # no code: its own words
    built = {'type': 'log', 't': 0, **log_fields('log.model_built', source='scratch', millions='0.80', tokens=768,
             device='cpu', dtype='float32', compiled={'code': 'log.compile.not_compiled', 'params': {}},
             why={'code': 'log.compile.fixed', 'params': {'value': False}})}  # fmt: skip
    assert built['message'].startswith('scratch: 0.80M parameters, 768 tokens per iteration')
    line = '[信息] scratch：0.80M 个参数，每步 768 个 token，cpu float32，未编译（compile=False）'
    assert log_line(built, zh).endswith(line)
    end = {'type': 'end', 't': 0, 'status': 'cancelled', 'error': 'stopped at iteration 8',
           'error_code': 'training.stopped.plain', 'error_params': {'iter': 8}}  # fmt: skip
    assert log_line(end, zh).endswith('结束：已取消 · 在第 8 步停止')
    assert zh.coded('no.such.code', None, 'as printed') == 'as printed'  # a foreign program's line shows as printed
