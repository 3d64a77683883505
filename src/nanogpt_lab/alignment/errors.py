"""The one error the alignment engine raises for bad input: a catalog code and its parameters (`nanogpt_lab.errors`).

Codes are `alignment_engine.*` (conversations, template, SFT, evaluation) and `dpo.*` (preference pairs); their
English and Chinese words live in `messages/en.json` and `messages/zh_CN.json`.
"""

from __future__ import annotations

from nanogpt_lab.errors import LabError


class AlignmentError(LabError):
    """Bad conversations or preference pairs, a base the chat template cannot serve, a message over the limit, ..."""
