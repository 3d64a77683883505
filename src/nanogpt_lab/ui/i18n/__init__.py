"""Every string the lab shows, in English and Simplified Chinese: `en.json` and `zh_CN.json` hold the same keys.

Keys are namespaced by where they appear (`shell.`, `stages.`, `components.`, `data.`, `tokenizers.`,
`architecture.`, `pretraining.`, `finetuning.`, `inference.`); a stage adds keys only to its own namespace.
`Translator(lang)('data.title', n=3)` looks a key up and fills its `{placeholders}`. What the engine, the jobs and
the server say (errors, log lines) lives once, by code, in `nanogpt_lab/messages/`: `tr.error(e)`,
`tr.message(code, params)` and `tr.event_message(event)` say it in the page's language.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from nanogpt_lab import messages
from nanogpt_lab.errors import describe
from nanogpt_lab.messages import DEFAULT_LANGUAGE, LANGUAGES, from_accept_language, normalize

log = logging.getLogger(__name__)

__all__ = [
    'DEFAULT_LANGUAGE',
    'LANGUAGES',
    'Translator',
    'catalog',
    'from_accept_language',
    'normalize',
    'pick_language',
]


@lru_cache(maxsize=len(LANGUAGES))  # the files ship with the package and never change while the lab runs
def catalog(lang: str) -> dict[str, str]:
    """All UI strings of one language, with dotted keys."""
    return messages.load_catalog(Path(__file__).parent, lang)


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

    def message(self, code: str, params: dict[str, Any] | None = None) -> str:
        """An engine message (`messages/` catalog: errors, log lines) by its code, in this page's language."""
        return messages.render(code, params, self.lang)

    def error(self, e: BaseException) -> str:
        """What went wrong, in this page's language: a coded error by its code, anything else as it says."""
        return describe(e, self.lang)[0]

    def coded(self, code: str | None, params: dict[str, Any] | None, fallback: str | None) -> str:
        """An engine message by code in this language; `fallback` (its English words) when it has no known code."""
        if code and code in messages.catalog(self.lang):
            return messages.render(code, params, self.lang)
        return fallback or ''

    def event_message(self, event: dict[str, Any]) -> str:
        """A log event's message, or an end event's error, in this language when it carries a code."""
        if event.get('type') == 'end':
            return self.coded(event.get('error_code'), event.get('error_params'), event.get('error'))
        return self.coded(event.get('code'), event.get('params'), event.get('message'))

    def number(self, value: float, digits: int = 0) -> str:
        """A number with thousands separators (both languages group digits in threes)."""
        return f'{value:,.{digits}f}'
