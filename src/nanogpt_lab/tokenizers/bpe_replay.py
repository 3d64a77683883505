"""Train a small byte-level BPE on the learner's text and replay it one merge at a time (stage 2's animation).

The text is cut into GPT-2's pre-tokenizer pieces (merges never cross them, as in GPT-2) and laid out as one
linked list of byte tokens. `where[pair]` holds the positions where each adjacent pair starts, so a merge only
touches the places it changes and updates the counts of their neighbours; the next pair comes from a heap.
That keeps 20,000 characters × hundreds of merges well under a second, where recounting every pair after
each merge (minbpe's simple loop) takes many seconds.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from nanogpt_lab.tokenizers.base import TokenizerError
from nanogpt_lab.tokenizers.gpt2 import GPT2_PATTERN

MAX_REPLAY_CHARS = 100_000  # a teaching tool: bigger texts belong to a real tokenizer trainer
MAX_MERGES = 20_000

Pair = tuple[int, int]


@dataclass(frozen=True)
class MergeStep:
    """One merge: `pair` (seen `count` times) becomes `new_id`; `length` is the token count after it."""

    rank: int  # 0 for the first merge
    pair: Pair
    count: int  # adjacent occurrences before the merge (overlaps counted, as minbpe's get_stats does)
    new_id: int  # 256 + rank
    token: bytes  # the bytes the new id stands for
    text: str  # those bytes as text; a partial character shows as \xNN
    length: int  # tokens in the whole text after this merge


class _Sequence:
    """The text as a doubly linked list of token ids, with the positions of every adjacent pair."""

    def __init__(self, pieces: list[bytes]):
        self.ids: list[int] = []
        self.prev: list[int] = []
        self.next: list[int] = []
        for piece in pieces:
            base = len(self.ids)
            for k, b in enumerate(piece):
                self.ids.append(b)
                self.prev.append(base + k - 1 if k else -1)
                self.next.append(base + k + 1 if k + 1 < len(piece) else -1)  # -1: merges stop at piece ends
        self.length = len(self.ids)
        self.where: dict[Pair, set[int]] = defaultdict(set)
        for i, j in enumerate(self.next):
            if j != -1:
                self.where[(self.ids[i], self.ids[j])].add(i)

    def merge(self, pair: Pair, new_id: int) -> set[Pair]:
        """Replace every non-overlapping occurrence of `pair`, left to right; return the pairs whose counts moved."""
        a, b = pair
        changed = {pair}
        for i in sorted(self.where[pair]):
            if i not in self.where[pair]:
                continue  # an overlapping occurrence ("aaa") already consumed by the merge on its left
            j = self.next[i]
            p, q = self.prev[i], self.next[j]
            if p != -1:
                self._move(p, (self.ids[p], a), (self.ids[p], new_id), changed)
            if q != -1:
                self._move(j, (b, self.ids[q]), None, changed)
                self._add(i, (new_id, self.ids[q]), changed)
            self.where[pair].discard(i)
            self.ids[i], self.ids[j] = new_id, -1
            self.next[i] = q
            if q != -1:
                self.prev[q] = i
            self.length -= 1
        del self.where[pair]
        return changed

    def _move(self, pos: int, old: Pair, new: Pair | None, changed: set[Pair]) -> None:
        self.where[old].discard(pos)
        changed.add(old)
        if new is not None:
            self._add(pos, new, changed)

    def _add(self, pos: int, pair: Pair, changed: set[Pair]) -> None:
        self.where[pair].add(pos)
        changed.add(pair)


def _pieces(text: str, pattern: str | None, max_bytes: int | None = None) -> list[bytes]:
    """The pre-tokenizer pieces as UTF-8 (the whole text as one without a pattern); with `max_bytes`, only those
    within the text's first bytes (at least one), without splitting the rest of a long text."""
    if not pattern:
        return [text.encode('utf-8')]
    import regex  # tiktoken's own dependency; supports the possessive quantifiers in GPT-2's pattern

    pieces, total = [], 0
    for match in regex.finditer(pattern, text):
        piece = match.group().encode('utf-8')
        if max_bytes is not None and pieces and total + len(piece) > max_bytes:
            break
        pieces.append(piece)
        total += len(piece)
    return pieces


def _check(text: str, num_merges: int) -> None:
    if len(text) > MAX_REPLAY_CHARS:
        raise TokenizerError('tokenizer.replay.too_long', n=len(text), max=MAX_REPLAY_CHARS)
    if not 0 <= num_merges <= MAX_MERGES:
        raise TokenizerError('tokenizer.replay.merges', key='num_merges', num_merges=num_merges, max=MAX_MERGES)


def bpe_merge_replay(text: str, num_merges: int, pattern: str | None = GPT2_PATTERN) -> Iterator[MergeStep]:
    """Learn up to `num_merges` byte-pair merges on `text`, yielding each as it happens.

    The most frequent adjacent pair wins; ties go to the smallest pair of ids. It stops early when no pair occurs
    twice: a pair seen once is no pattern, and merging it only memorises the text. `pattern=None` merges across
    the whole text as minbpe's BasicTokenizer does (slower on long texts).
    Example: list(bpe_merge_replay('aaab', 1, None))[0] -> pair (97, 97), count 2, new_id 256, length 3.
    """
    _check(text, num_merges)
    seq = _Sequence(_pieces(text, pattern))
    vocab = {i: bytes([i]) for i in range(256)}
    heap = [(-len(pos), pair) for pair, pos in seq.where.items()]
    heapq.heapify(heap)
    for rank in range(num_merges):
        while heap:
            neg, pair = heapq.heappop(heap)
            if len(seq.where.get(pair, ())) == -neg:
                break  # an up-to-date entry; stale ones (counts since changed) are dropped
        else:
            return
        if -neg < 2:
            return  # no pair repeats any more
        new_id = 256 + rank
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        for p in seq.merge(pair, new_id):
            if seq.where.get(p):
                heapq.heappush(heap, (-len(seq.where[p]), p))
        token = vocab[new_id]
        text_ = token.decode('utf-8', errors='backslashreplace')
        yield MergeStep(rank, pair, -neg, new_id, token, text_, seq.length)


def sequence_after(
    text: str, steps: Sequence[MergeStep], max_bytes: int | None = None, pattern: str | None = GPT2_PATTERN
) -> list[int]:
    """The text's token ids after these merges (a replay's first k steps), so a page can show the sequence itself
    shrinking. `max_bytes` keeps the pieces within the text's first bytes: merges never cross pieces, so those
    tokens are exactly the whole text's first ones."""
    _check(text, len(steps))
    seq = _Sequence(_pieces(text, pattern, max_bytes))
    for step in steps:
        seq.merge(step.pair, step.new_id)
    return [i for i in seq.ids if i != -1]
