"""The contamination guard: an evaluation prompt that a model also saw in training makes its score a memory test.

Prompts are compared with case folded and whitespace removed ("What is 2 + 3?" matches "what is 2+3 ?"): the guard
looks for the same question however it is spaced, not for a similar one.
Training prompts (SFT conversations, DPO pairs) are matched exactly; a pretraining text is searched for each
prompt as a substring, when it is small enough to read (a char corpus such as tiny Shakespeare).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

MAX_RAW_CHARS = 50_000_000  # a pretraining text larger than this is not searched (the report says so)
MIN_SUBSTRING_CHARS = 12  # shorter prompts ("hi") occur in any corpus by chance: only exact prompt matches count


def fold(text: str) -> str:
    """The form prompts are compared in: case folded, whitespace removed."""
    return ''.join(text.casefold().split())


@dataclass(frozen=True)
class Overlap:
    """One evaluation prompt found in one training source."""

    prompt: str
    source: str  # e.g. 'sft: lab-tasks (train)' or 'base: shakespeare_char (train.bin)'

    def to_json(self) -> dict[str, str]:
        """As report.json lists it."""
        return asdict(self)


def find_overlaps(
    eval_prompts: Iterable[str],
    prompt_sources: Mapping[str, Iterable[str]],
    text_sources: Mapping[str, str] | None = None,
) -> list[Overlap]:
    """Every (evaluation prompt, source) where the prompt is a training prompt of the source, or is in its text."""
    wanted = {fold(p): p for p in eval_prompts if fold(p)}
    found: list[Overlap] = []
    for source, prompts in prompt_sources.items():
        seen = {fold(p) for p in prompts}
        found += [Overlap(original, source) for key, original in wanted.items() if key in seen]
    for source, text in (text_sources or {}).items():
        haystack = fold(text)
        found += [
            Overlap(original, source)
            for key, original in wanted.items()
            if len(key) >= MIN_SUBSTRING_CHARS and key in haystack
        ]
    return found
