"""The one error the alignment engine raises for bad input: a stable code and its parameters beside the message.

The message is English for the terminal and the logs; a page or an API answer translates by `code` and fills in
`params` (i18n namespace `alignment_engine`).
"""

from __future__ import annotations

from typing import Any


class AlignmentError(ValueError):
    """Bad conversations, a base the chat template cannot serve, a message over the limit, ..."""

    def __init__(self, code: str, message: str, /, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params
