"""BPE merge replay: the same merges as the plain minbpe-style loop, counts and lengths right, fast enough to replay."""

from __future__ import annotations

import time

import pytest

from nanogpt_lab.tokenizers import TokenizerError, bpe_merge_replay, sequence_after
from nanogpt_lab.tokenizers.gpt2 import GPT2_PATTERN


def naive_bpe(text: str, num_merges: int, pattern: str | None) -> list[tuple[tuple[int, int], int, int]]:
    """The textbook loop (recount every pair after every merge): (pair, count, length) per merge."""
    import regex

    chunks = [list(c.encode()) for c in (regex.findall(pattern, text) if pattern else [text])]
    out = []
    for rank in range(num_merges):
        stats: dict[tuple[int, int], int] = {}
        for ids in chunks:
            for pair in zip(ids, ids[1:], strict=False):
                stats[pair] = stats.get(pair, 0) + 1
        pair = max(stats, key=lambda p: (stats[p], -p[0], -p[1]), default=None)  # ties: the smallest pair
        if pair is None or stats[pair] < 2:
            break  # no pair repeats
        new = 256 + rank
        merged = []
        for ids in chunks:
            res, i = [], 0
            while i < len(ids):
                if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                    res.append(new)
                    i += 2
                else:
                    res.append(ids[i])
                    i += 1
            merged.append(res)
        chunks = merged
        out.append((pair, stats[pair], sum(map(len, chunks))))
    return out


@pytest.mark.parametrize('pattern', [GPT2_PATTERN, None])
def test_same_merges_as_the_naive_loop(shakespeare_txt, pattern):
    text = shakespeare_txt.read_text()[:2_000] + ' 你好你好 🙂🙂 aaaa'
    steps = list(bpe_merge_replay(text, 120, pattern))
    assert [(s.pair, s.count, s.length) for s in steps] == naive_bpe(text, 120, pattern)
    assert [s.new_id for s in steps] == list(range(256, 256 + len(steps)))


def test_token_bytes_build_up_and_stop_where_no_pair_repeats():
    steps = list(bpe_merge_replay('aaaaaaaa', 10, None))
    assert [(s.pair, s.count, s.token, s.length) for s in steps] == [
        ((97, 97), 7, b'aa', 4),
        ((256, 256), 3, b'aaaa', 2),
    ]  # (257, 257) is seen once: no pattern, so no third merge
    assert list(bpe_merge_replay('', 5)) == []


def test_partial_utf8_tokens_are_shown_as_bytes():
    first = next(bpe_merge_replay('你你你', 1))  # e4 bd a0 x3: both pairs seen 3 times, the smaller wins
    assert first.token == b'\xbd\xa0' and first.text == '\\xbd\\xa0'


def test_twenty_thousand_characters_replay_completely(shakespeare_txt):
    text = shakespeare_txt.read_text()[:20_000]
    t0 = time.perf_counter()
    steps = list(bpe_merge_replay(text, 500))
    elapsed = time.perf_counter() - t0  # speed itself is measured in benchmarks; here only report it
    assert len(steps) == 500
    assert steps[0].length < len(text.encode('utf-8'))
    assert all(a.length > b.length for a, b in zip(steps, steps[1:], strict=False))
    assert steps[-1].length < len(text) // 2, f'took {elapsed:.2f}s'


def test_limits():
    with pytest.raises(TokenizerError, match='num_merges'):
        list(bpe_merge_replay('abc', -1))
    with pytest.raises(TokenizerError, match='at most'):
        list(bpe_merge_replay('a' * 100_001, 1))


@pytest.mark.parametrize('pattern', [GPT2_PATTERN, None])
def test_the_sequence_after_k_merges_is_the_naive_loops(shakespeare_txt, pattern):
    """What stage 2 shows at step k: the text's ids after the first k merges, shrinking to each step's length."""
    import regex

    text = shakespeare_txt.read_text()[:1_500] + ' 你好你好 🙂🙂'
    steps = list(bpe_merge_replay(text, 80, pattern))
    chunks = [list(c.encode()) for c in (regex.findall(pattern, text) if pattern else [text])]
    assert sequence_after(text, [], pattern=pattern) == [i for c in chunks for i in c]
    for k, step in enumerate(steps, start=1):
        chunks = [_merge(ids, step.pair, step.new_id) for ids in chunks]
        if k in (1, 10, 80):
            ids = sequence_after(text, steps[:k], pattern=pattern)
            assert ids == [i for c in chunks for i in c] and len(ids) == step.length
    first = sequence_after(text, steps, max_bytes=200)  # the start only: exactly the whole sequence's first ids
    assert 40 < len(first) < len(sequence_after(text, steps)) and sequence_after(text, steps)[: len(first)] == first


def _merge(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
