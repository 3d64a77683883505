"""Every string the lab shows, in English and Simplified Chinese: `en.json` and `zh_CN.json` hold the same keys.

Keys are namespaced by where they appear (`shell.`, `stages.`, `components.`, `data.`, `tokenizers.`,
`architecture.`, `pretraining.`, `finetuning.`, `inference.`, `errors.`); a stage adds keys only to its own
namespace. `Translator(lang)('data.title', n=3)` looks a key up and fills its `{placeholders}`.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LANGUAGES = {'en': 'English', 'zh-CN': '简体中文'}  # code -> the language's own name, as the switch shows it
DEFAULT_LANGUAGE = 'en'
_FILES = {'en': 'en.json', 'zh-CN': 'zh_CN.json'}


def flatten(tree: dict[str, Any], prefix: str = '') -> dict[str, str]:
    """{'a': {'b': 'x'}} -> {'a.b': 'x'}: nested JSON is easier to edit, dotted keys easier to use."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            flat.update(flatten(value, f'{name}.'))
        else:
            flat[name] = str(value)
    return flat


@lru_cache(maxsize=len(_FILES))  # the files ship with the package and never change while the lab runs
def catalog(lang: str) -> dict[str, str]:
    """All strings of one language, with dotted keys."""
    if lang not in _FILES:
        raise ValueError(f"language '{lang}' is not one of {', '.join(_FILES)}")
    path = Path(__file__).with_name(_FILES[lang])
    return flatten(json.loads(path.read_text(encoding='utf-8')))


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
    """The first language we have among a browser's Accept-Language preferences, in its order of quality."""
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


def pick_language(query: str | None, stored: str | None, accept_language: str | None) -> str:
    """A link's ?lang= wins (a shared view), then what this browser chose before, then the browser's languages."""
    return normalize(query) or normalize(stored) or from_accept_language(accept_language) or DEFAULT_LANGUAGE


class Translator:
    """Looks strings up in one language; a missing key is logged and shown as the key, never crashes a page."""

    def __init__(self, lang: str):
        self.lang = lang
        self.strings = catalog(lang)

    def __call__(self, key: str, **values: Any) -> str:
        text = self.strings.get(key)
        if text is None:
            log.error('missing UI string %r for language %s', key, self.lang)
            return key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        """Whether a key exists (for optional texts such as a stable error code's translation)."""
        return key in self.strings

    def number(self, value: float, digits: int = 0) -> str:
        """A number with thousands separators (both languages group digits in threes)."""
        return f'{value:,.{digits}f}'
