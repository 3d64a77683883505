"""The words of every error and log line the lab's code can produce, in English and Simplified Chinese.

`en.json` and `zh_CN.json` map a stable code (`config.divisible`, `data.binary`, `log.model_built`) to a template
with `{placeholders}`. Code raises `LabError(code, **params)` or emits a `log` event with `code` and `params`; the
CLI prints the English, the API answers in the request's `Accept-Language`, the page renders the same code in its
own language. This package sits below every layer (it imports nothing of the lab), so the engine, the jobs, the
server and the UI all read the one catalog; the UI's own texts stay in `ui/i18n/`.

A parameter may itself be a message, `{"code": ..., "params": {...}}` (see `ref`), or a list of them, rendered in
the same language: a phase of training, a kind of file, the faults of a checkpoint.
"""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path, PurePath
from typing import Any

log = logging.getLogger(__name__)

LANGUAGES = {'en': 'English', 'zh-CN': '简体中文'}  # code -> the language's own name, as the switch shows it
DEFAULT_LANGUAGE = 'en'
FILES = {'en': 'en.json', 'zh-CN': 'zh_CN.json'}  # the same file names in ui/i18n/


def flatten(tree: Mapping[str, Any], prefix: str = '') -> dict[str, str]:
    """{'a': {'b': 'x'}} -> {'a.b': 'x'}: nested JSON is easier to edit, dotted keys easier to use."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            flat.update(flatten(value, f'{name}.'))
        else:
            flat[name] = str(value)
    return flat


def load_catalog(folder: Path, lang: str) -> dict[str, str]:
    """The flattened strings of one language from `folder`'s en.json / zh_CN.json."""
    if lang not in FILES:
        raise ValueError(f"language '{lang}' is not one of {', '.join(FILES)}")
    return flatten(json.loads((folder / FILES[lang]).read_text(encoding='utf-8')))


@lru_cache(maxsize=len(FILES))  # the files ship with the package and never change while the lab runs
def catalog(lang: str) -> dict[str, str]:
    """Every message template of one language, by code."""
    return load_catalog(Path(__file__).parent, lang)


def placeholders(template: str) -> set[str]:
    """The parameter names a template uses: 'n_embd ({n_embd})' -> {'n_embd'}."""
    return {name.split('.')[0].split('[')[0] for _, name, _, _ in string.Formatter().parse(template) if name}


def plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as JSON takes them: paths become strings."""
    return {k: str(v) if isinstance(v, PurePath) else v for k, v in params.items()}


def ref(code: str, /, **params: Any) -> dict[str, Any]:
    """A message as a parameter of another one (rendered in the reader's language), JSON-ready."""
    return {'code': code, 'params': plain(params)}


def render(code: str, params: Mapping[str, Any] | None = None, lang: str = DEFAULT_LANGUAGE) -> str:
    """The message `code` with `params`, in `lang` (English where a language lacks it); never raises."""
    params = {k: _param(v, lang) for k, v in (params or {}).items()}
    for language in dict.fromkeys((lang if lang in FILES else DEFAULT_LANGUAGE, DEFAULT_LANGUAGE)):
        template = catalog(language).get(code)
        if template is None:
            continue
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError, TypeError) as e:
            log.error('message %r in %s does not fit its parameters %r: %s', code, language, params, e)
    log.error('no message %r in the catalogs', code)
    return ' '.join([code, *(f'{k}={v}' for k, v in params.items())])


def _param(value: Any, lang: str) -> Any:
    """A nested message (or a list of them, joined by '; ') renders in the same language; anything else as it is."""
    if isinstance(value, Mapping) and set(value) == {'code', 'params'}:
        return render(value['code'], value['params'], lang)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
        return '; '.join(str(_param(v, lang)) for v in value)
    return value


def normalize(code: str | None) -> str | None:
    """Map 'zh', 'zh-cn', 'zh_CN', 'zh-Hans' to 'zh-CN' and 'en-GB' to 'en'; None for languages we lack."""
    if not code:
        return None
    code = code.strip().replace('_', '-').lower()
    if code.startswith('zh'):
        return 'zh-CN'
    if code.startswith('en'):
        return 'en'
    return None


def from_accept_language(header: str | None) -> str | None:
    """The first language we have among an Accept-Language header's choices, by quality (q=0 means never)."""
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or '').split(',')):
        code, _, q = part.strip().partition(';q=')
        try:
            quality = float(q) if q else 1.0
        except ValueError:
            quality = 0.0
        lang = normalize(code)
        if lang and quality > 0:
            choices.append((-quality, i, lang))
    return min(choices)[2] if choices else None
