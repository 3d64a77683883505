"""The message catalogs: every code the code raises or emits has English and Chinese words that fit its parameters.

The source is read, not run: each call that names a code with a string literal (`DataError('data.empty', path=...)`,
`emit_log(emit, 'log.prepared', ...)`, `ref('training.phase.building')`, `ApiError(404, 'api.no_dataset', ...)`)
is checked against both catalogs, its keyword arguments against the template's placeholders.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from nanogpt_lab import messages
from nanogpt_lab.errors import Coded, LabError, describe

SRC = Path(messages.__file__).resolve().parents[1]
CODE = re.compile(r'^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)+$')
# callee name -> index of the positional argument that is the code
CODE_ARG = {'ApiError': 1, 'emit_log': 1, 'log_fields': 0, 'ref': 0, 'render': 0, 'message': 0, 'coded': 0}
NOT_PARAMS = {'field', 'level'}  # keyword arguments of ApiError / emit_log that are not template parameters
# templates with no words of their own: a flag, a command line, a key and a nested message
NO_WORDS = {
    'log.compile.fixed',
    'log.nanogpt_command',
    'training.init_from_failed',
    'training.resume_failed',
    'config.keyed',
}


def _callee(node: ast.Call) -> str | None:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _coded_classes(trees: list[ast.Module]) -> set[str]:
    """Names of every exception class that takes a code: Coded and its subclasses, found by their bases."""
    names, bases = {'Coded'}, {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {b.id for b in node.bases if isinstance(b, ast.Name)}
    while grown := {n for n, b in bases.items() if b & names} - names:
        names |= grown
    return names


def _uses() -> tuple[list[tuple[str, str, set[str] | None]], set[str]]:
    """(code, where, keyword names or None for **kwargs) of every literal use, and prefixes of f-string codes."""
    uses, prefixes = [], set()
    trees = {path: ast.parse(path.read_text(encoding='utf-8')) for path in SRC.rglob('*.py')}
    coded = _coded_classes(list(trees.values()))
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _callee(node)
            index = CODE_ARG.get(name, 0 if name in coded else None)
            if index is None or len(node.args) <= index:
                continue
            arg = node.args[index]
            where = f'{path.relative_to(SRC)}:{node.lineno}'
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and CODE.match(arg.value):
                uses.append((arg.value, where, _keywords(node, name)))
            elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
                prefixes.add(arg.values[0].value)
    return uses, prefixes


def _keywords(node: ast.Call, name: str | None) -> set[str] | None:
    if any(k.arg is None for k in node.keywords):
        return None  # **params: checked where they were built
    names = {k.arg for k in node.keywords if k.arg not in NOT_PARAMS}
    if name in ('message', 'coded', 'render') and len(node.args) > 1:  # tr.message(code, {'name': value})
        params = node.args[1]
        if not isinstance(params, ast.Dict):
            return None
        names |= {k.value for k in params.keys if isinstance(k, ast.Constant)}
    return names


USES, PREFIXES = _uses()


def _placeholders(template: str) -> set[str]:
    return messages.placeholders(template)


def test_both_languages_have_every_code() -> None:
    en, zh = messages.catalog('en'), messages.catalog('zh-CN')
    assert sorted(set(en) - set(zh)) == [], 'codes missing in zh_CN.json'
    assert sorted(set(zh) - set(en)) == [], 'codes missing in en.json'
    assert len(en) > 300


def test_every_code_the_source_uses_has_words_in_both_languages() -> None:
    assert len(USES) > 300
    for lang in messages.LANGUAGES:
        strings = messages.catalog(lang)
        missing = sorted({f'{code} ({where})' for code, where, _ in USES if code not in strings})
        assert missing == [], f'codes without a {lang} template'
        dynamic = [p for p in PREFIXES if CODE.match(p + 'x') and not any(k.startswith(p) for k in strings)]
        assert dynamic == [], f'f-string codes with no {lang} template under their prefix'


def test_templates_ask_only_for_parameters_the_code_gives() -> None:
    wrong = []
    for code, where, given in USES:
        if given is None:
            continue
        for lang in messages.LANGUAGES:
            extra = _placeholders(messages.catalog(lang).get(code, '')) - given
            if extra:
                wrong.append(f'{where} {code} [{lang}] needs {sorted(extra)}, gets {sorted(given)}')
    assert wrong == []


def test_chinese_never_asks_for_a_parameter_english_lacks() -> None:
    en, zh = messages.catalog('en'), messages.catalog('zh-CN')
    # Chinese may leave out an English-only detail (a library's own words); it may not invent one
    assert {
        k: _placeholders(zh[k]) - _placeholders(en[k]) for k in en if _placeholders(zh[k]) - _placeholders(en[k])
    } == {}


def test_every_template_is_used_and_chinese_is_chinese() -> None:
    used = {code for code, _, _ in USES} | {
        node.value  # a code handed on through a variable (`_no_write_path(values, key, 'config.data_dir_fixed')`)
        for path in SRC.rglob('*.py')
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8')))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.match(node.value)
    }
    en, zh = messages.catalog('en'), messages.catalog('zh-CN')
    unused = [k for k in en if k not in used and not any(k.startswith(p) for p in PREFIXES if p)]
    assert unused == [], 'templates no code uses'
    not_chinese = [k for k in zh if not re.search(r'[\u4e00-\u9fff]', zh[k]) and k not in NO_WORDS]
    assert not_chinese == []


def _sample_params(template: str) -> dict[str, object]:
    """A value for each placeholder that its format spec accepts: a number where it formats one."""
    params: dict[str, object] = {}
    for _, name, spec, _ in string.Formatter().parse(template):
        if name:
            params[name] = 1234 if spec else 'x'
    return params


@pytest.mark.parametrize('lang', list(messages.LANGUAGES))
def test_every_template_renders(lang: str) -> None:
    for code, template in messages.catalog(lang).items():
        params = _sample_params(messages.catalog('en')[code]) | _sample_params(template)
        assert template.format(**params), code


def test_an_error_speaks_both_languages_and_survives_pickling() -> None:
    import pickle

    from nanogpt_lab.config import ConfigError, TrainConfig, build

    with pytest.raises(ConfigError) as caught:
        build(TrainConfig, {'n_layer': 2, 'n_head': 3, 'n_embd': 100})
    e = caught.value
    assert (e.code, e.key, e.params) == ('config.divisible', 'n_embd', {'key': 'n_embd', 'n_embd': 100, 'n_head': 3})
    assert str(e) == 'n_embd (100) must be divisible by n_head (3)'
    assert e.message('zh-CN') == 'n_embd（100）必须能被 n_head（3）整除'
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is ConfigError and again.params == e.params and str(again) == str(e)
    assert describe(ValueError('plain')) == ('plain', None, None)


def test_nested_messages_render_in_the_same_language() -> None:
    e = LabError('data.binary', path='a.png', kind=messages.ref('data.filetype.png'))
    assert str(e) == 'a.png is not text: it looks like a PNG image'
    assert e.message('zh-CN') == 'a.png 不是文本：它看起来是一张 PNG 图片'
    listed = LabError('checkpoint.mismatch', args='{}', detail=[messages.ref('checkpoint.keys.missing', keys='a')] * 2)
    assert listed.message('zh-CN').endswith('缺少：a; 缺少：a')


def test_an_unknown_code_never_crashes() -> None:
    assert str(Coded('no.such.code', n=1)) == 'no.such.code n=1'
    assert messages.render('data.empty', {}) == 'data.empty'  # a missing parameter: the code, never a crash


@pytest.mark.parametrize(
    ('header', 'expected'),
    [
        ('zh-CN', 'zh-CN'),
        ('en-US,zh-CN;q=0.9', 'en'),
        ('fr,zh;q=0.5,en;q=0.4', 'zh-CN'),
        ('zh-CN;q=0,en', 'en'),  # q=0 means "not this one"
        ('de', None),
        (None, None),
    ],
)
def test_accept_language_honours_quality(header: str | None, expected: str | None) -> None:
    assert messages.from_accept_language(header) == expected
