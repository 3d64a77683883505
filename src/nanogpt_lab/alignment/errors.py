"""The one error the alignment engine raises for bad input: a catalog code and its parameters (`nanogpt_lab.errors`).

Codes are `alignment_engine.*` (conversations, template, SFT, evaluation) and `dpo.*` (preference pairs); their
English and Chinese words live in `messages/en.json` and `messages/zh_CN.json`.
"""

from __future__ import annotations

from typing import Any

from nanogpt_lab.errors import LabError


class AlignmentError(LabError):
    """Bad conversations, a base the chat template cannot serve, a message over the limit, ..."""

    def __init__(self, code: str, /, *english: str, **params: Any) -> None:
        super().__init__(code, **params)
        if english:  # dpo.* raises still pass their own English until they move to the catalogs (BOARD 22:46)
            self.args = (english[0],)
