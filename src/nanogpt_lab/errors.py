"""Errors a learner can meet: a stable code and its parameters, worded by the message catalogs.

`raise DataError('data.empty', path=str(path))`: the code names a template in `messages/en.json` and
`messages/zh_CN.json` (both must have it; a test checks every code raised in `src/`). `str(e)` is the English
sentence, for the CLI and logs; the API, job events and pages carry `e.code` and `e.params` and say it in the
reader's language (`e.message(lang)`). Parameters are JSON values (paths as strings) or nested `messages.ref(...)`.
"""

from __future__ import annotations

from typing import Any

from nanogpt_lab.messages import DEFAULT_LANGUAGE, plain, render


class Coded(Exception):
    """An exception whose words come from the catalogs: `code` names the template, `params` fill it."""

    def __init__(self, code: str, /, **params: Any) -> None:
        self.code = code
        self.params = plain(params)
        super().__init__(render(code, self.params))

    def message(self, lang: str = DEFAULT_LANGUAGE) -> str:
        """The message in `lang` ('en' or 'zh-CN')."""
        return render(self.code, self.params, lang)

    def __reduce__(self) -> tuple:
        # rebuilt from code and params (a multiprocessing pool sends errors back pickled)
        return _rebuild, (type(self), self.code, self.params)


def _rebuild(cls: type[Coded], code: str, params: dict[str, Any]) -> Coded:
    return cls(code, **params)


class LabError(Coded, ValueError):
    """Bad input or an impossible request, worded for the person who made it; the base of every engine error."""


def describe(e: BaseException, lang: str = DEFAULT_LANGUAGE) -> tuple[str, str | None, dict[str, Any] | None]:
    """(message in `lang`, code, params) of any exception: a coded one speaks `lang`, others their own str()."""
    if isinstance(e, Coded):
        return e.message(lang), e.code, e.params
    return str(e) or e.__class__.__name__, None, None
